package browser_test

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
)

const chaosAdminKey = "admin-key-chaos-0123456789"

// TestChaosPanelInRealChromium starts a fault-injection experiment from the
// chaos panel with an admin key, sees it listed and the breaker marked CHAOS,
// and stops it from the panel.
func TestChaosPanelInRealChromium(t *testing.T) {
	exe := chromiumPath(t)
	rt, err := runtime.New(context.Background(), runtime.Config{CallStats: true, Logger: quiet, StateDir: t.TempDir()})
	require.NoError(t, err)
	defer rt.Close()
	rt.Zone(runtime.ZoneSpec{Service: "payments", Method: "Charge", Breaker: true})
	origin := serve(t, admin.Options{Runtime: rt, Control: rt.Control(), Logger: quiet, Security: admin.Security{Keys: append(keys(), admin.Key{Role: admin.RoleAdmin, Secret: chaosAdminKey}), Unlocked: true}})

	ctx, stop := browser(t, exe, 1400)
	defer stop()
	problems := pageProblems(t, ctx)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(origin+"/"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-loaded="true"]`)),
		chromedp.SendKeys(chromedp.ID("key"), chaosAdminKey),
		chromedp.SendKeys(chromedp.ID("who"), "chromium"),
		chromedp.Click(chromedp.ID("disable-reason")),
		until(`document.getElementById("role").textContent === "role: admin"`),
		until(`document.body.dataset.chaosLoaded === "true" && !document.getElementById("chaos-empty").hidden`),
		chromedp.SendKeys(chromedp.ID("chaos-service"), "payments"),
		chromedp.SendKeys(chromedp.ID("chaos-errors"), "20"),
		chromedp.SendKeys(chromedp.ID("chaos-latency"), "200ms"),
		chromedp.SendKeys(chromedp.ID("chaos-for"), "5m"),
		chromedp.SendKeys(chromedp.ID("chaos-reason"), "game day"),
		chromedp.SendKeys(chromedp.ID("confirm"), "CONFIRM"),
		chromedp.Click(chromedp.ID("chaos-inject")),
		until(`document.querySelector('#chaos tr[data-chaos-row="payments"]') !== null`),
		until(`document.querySelector('#breakers [data-chaos="payments"]') !== null`),
	))
	assert.True(t, rt.Chaos().Active("payments"), "in force on the server")
	row, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#chaos tr[data-chaos-row="payments"]`)))
	require.NoError(t, err)
	assert.Contains(t, row, "errors 20%, latency 200ms on 100%")
	assert.Contains(t, row, "chromium (admin)")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`button[data-chaos-stop="payments"]`)),
		until(`!document.getElementById("chaos-empty").hidden`),
		until(`document.querySelector('#breakers [data-chaos="payments"]') === null`),
	))
	assert.False(t, rt.Chaos().Active("payments"))
	assertNoPageProblems(t, problems())
}
