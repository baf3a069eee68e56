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

// TestPolicyPanelInRealChromium loads the console in headless Chromium on
// an unlocked server, sets an override from the policy panel and sees it in
// the table of effective values (from "override payments.Charge"), sees a
// key that cannot change at run time refused with the reason, and removes
// the override.
func TestPolicyPanelInRealChromium(t *testing.T) {
	exe := chromiumPath(t)
	rt, err := runtime.New(context.Background(), runtime.Config{Logger: quiet, StateDir: t.TempDir()})
	require.NoError(t, err)
	defer rt.Close()
	rt.Zone(runtime.ZoneSpec{Service: "payments", Method: "Charge", Breaker: true, Attempts: 3})
	origin := serve(t, admin.Options{Runtime: rt, Control: rt.Control(), Logger: quiet, Security: admin.Security{Keys: keys(), Unlocked: true}})

	ctx, stop := browser(t, exe, 1400)
	defer stop()
	problems := pageProblems(t, ctx)
	retry := `document.querySelector('#pol-zones tr[data-zone="payments.Charge"][data-key="retry"]')`
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(origin+"/"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-loaded="true"]`)),
		chromedp.SendKeys(chromedp.ID("key"), operatorKey),
		chromedp.SendKeys(chromedp.ID("who"), "chromium"),
		chromedp.Click(chromedp.ID("disable-reason")),
		until(`document.getElementById("role").textContent === "role: operator"`),
		until(`document.body.dataset.policyLoaded === "true" && `+retry+` !== null`),
	))

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("pol-scope"), "payments.Charge"),
		chromedp.SendKeys(chromedp.ID("pol-values"), "dlq=on"),
		chromedp.SendKeys(chromedp.ID("pol-reason"), "incident 42"),
		chromedp.SendKeys(chromedp.ID("confirm"), "CONFIRM"),
		chromedp.Click(chromedp.ID("pol-set")),
		until(`document.getElementById("message").textContent.includes("dlq: cannot change at run time")`),
	))
	assert.Empty(t, rt.Policy().Doc().Overrides, "nothing stored")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("pol-values"), "retry=5"),
		chromedp.Click(chromedp.ID("pol-set")),
		until(retry+`.textContent.includes("override payments.Charge")`),
		until(`document.querySelector('#pol-overrides tr[data-scope="payments.Charge"]') !== null`),
	))
	list, err := rt.Policy().List("payments.Charge")
	require.NoError(t, err)
	assert.Equal(t, "5", list[0].Settings[0].Value, "in force on the server")

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("pol-unset")),
		until(`!document.getElementById("pol-overrides-none").hidden`),
	))
	assert.Empty(t, rt.Policy().Doc().Overrides)
	assertNoPageProblems(t, problems())
}
