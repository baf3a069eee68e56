package browser_test

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
	"github.com/baldur-go/baldur/runtime/schedule"
)

// newBrowser starts headless Chromium at exe for one test (see browser),
// stopped when the test ends.
func newBrowser(t *testing.T, exe string) context.Context {
	t.Helper()
	ctx, stop := browser(t, exe, 1100)
	t.Cleanup(stop)
	return ctx
}

// TestFleetPanelInRealChromium signs in as a viewer and finds the fleet
// panel: this process leads, the scheduled tasks with their next run, and
// the watchdog's loops.
func TestFleetPanelInRealChromium(t *testing.T) {
	exe := chromiumPath(t)
	rt, err := runtime.New(context.Background(), runtime.Config{Logger: quiet, StateDir: t.TempDir()})
	require.NoError(t, err)
	defer rt.Close()
	require.NoError(t, rt.Schedule("nightly", "0 3 * * *", func(context.Context) error { return nil }, schedule.TaskOptions{}))
	origin := serve(t, admin.Options{Runtime: rt, Control: rt.Control(), Logger: quiet, Security: admin.Security{Keys: keys()}})

	ctx := newBrowser(t, exe)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(origin+"/"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-loaded="true"]`)),
		chromedp.SendKeys(chromedp.ID("key"), viewerKey),
		chromedp.Click(chromedp.ID("who")),
		until(`document.getElementById("role").textContent === "role: viewer"`),
		until(`!document.getElementById("fleet-card").hidden`),
		until(`document.querySelector('#fleet-schedule tr[data-task="nightly"]') !== null`),
	))
	leader, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("fleet-leader")))
	require.NoError(t, err)
	assert.Contains(t, leader, "LEADER")
	assert.Contains(t, leader, "this process")
	row, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#fleet-schedule tr[data-task="nightly"]`)))
	require.NoError(t, err)
	assert.Contains(t, row, "0 3 * * *")
	assert.Contains(t, row, "not run yet")
	loops, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("fleet-watchdog")))
	require.NoError(t, err)
	assert.Contains(t, loops, "leader_renewal")
	assert.Contains(t, loops, "scheduler")
}
