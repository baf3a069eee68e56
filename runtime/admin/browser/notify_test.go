package browser_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
	"github.com/baldur-go/baldur/runtime/notify"
	"github.com/baldur-go/baldur/runtime/schedule"
)

const adminKey = "admin-key-0123456789"

// TestNotifyPanelAndFleetActionsInRealChromium signs in as an admin on an
// unlocked server: the alerts panel shows the webhook channel by scheme and
// host only, a test alert reaches the webhook and its answer is shown; the
// fleet panel's "Run now" runs a task on the spot.
func TestNotifyPanelAndFleetActionsInRealChromium(t *testing.T) {
	exe := chromiumPath(t)
	var hits atomic.Int32
	hook := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	defer hook.Close()
	rt, err := runtime.New(context.Background(), runtime.Config{Logger: quiet, StateDir: t.TempDir(),
		Notify: notify.Config{WebhookURL: hook.URL + "/hooks/SECRET-PATH"}})
	require.NoError(t, err)
	defer rt.Close()
	var runs atomic.Int32
	require.NoError(t, rt.Schedule("nightly", "0 3 * * *", func(context.Context) error { runs.Add(1); return nil }, schedule.TaskOptions{}))
	origin := serve(t, admin.Options{Runtime: rt, Control: rt.Control(), Logger: quiet,
		Security: admin.Security{Keys: append(keys(), admin.Key{Role: admin.RoleAdmin, Secret: adminKey}), Unlocked: true}})

	ctx := newBrowser(t, exe)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(origin+"/"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-loaded="true"]`)),
		chromedp.SendKeys(chromedp.ID("key"), adminKey),
		chromedp.Click(chromedp.ID("who")),
		until(`document.getElementById("role").textContent === "role: admin"`),
		until(`!document.getElementById("notify-card").hidden`),
		until(`document.querySelector('#notify-channels tr[data-channel="webhook"]') !== null`),
	))
	card, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("notify-card")))
	require.NoError(t, err)
	assert.NotContains(t, card, "SECRET", "a webhook URL's path never reaches the console")
	assert.Contains(t, card, hook.URL+"/xxxxx")
	assert.Contains(t, card, "HIGH, CRITICAL")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("notify-reason"), "checking the hook"),
		chromedp.Click(chromedp.ID("notify-test")),
		until(`document.querySelector('#notify-results li[data-channel="webhook"]') !== null`),
	))
	result, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("notify-results")))
	require.NoError(t, err)
	assert.Contains(t, result, "webhook")
	assert.Contains(t, result, "delivered, 200")
	assert.Equal(t, int32(1), hits.Load(), "the test alert reached the webhook")

	require.NoError(t, chromedp.Do(ctx,
		until(`document.querySelector('#fleet-schedule tr[data-task="nightly"] button.run-task') !== null`),
		chromedp.Click(chromedp.CSS(`#fleet-schedule tr[data-task="nightly"] button.run-task`)),
		until(`document.getElementById("message").textContent.includes("Task nightly ran now.")`),
	))
	assert.Equal(t, int32(1), runs.Load(), "Run now ran the task")
}
