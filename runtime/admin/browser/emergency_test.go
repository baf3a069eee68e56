package browser_test

import (
	"context"
	"os"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
	"github.com/baldur-go/baldur/runtime/emergency"
)

// TestEmergencyPanelInRealChromium loads the console in headless Chromium
// on an unlocked server, declares HIGH from the emergency panel (the server
// sheds nothing yet but is at HIGH), declares STRICT from the governance
// panel and sees the gate blocked by it, and sees a forced release refused
// to an operator's key.
func TestEmergencyPanelInRealChromium(t *testing.T) {
	exe := chromiumPath(t)
	rt, err := runtime.New(context.Background(), runtime.Config{CallStats: true, Logger: quiet, StateDir: t.TempDir()})
	require.NoError(t, err)
	defer rt.Close()
	rt.Zone(runtime.ZoneSpec{Service: "payments", Method: "Charge", Breaker: true})
	origin := serve(t, admin.Options{Runtime: rt, Control: rt.Control(), Logger: quiet, Security: admin.Security{Keys: keys(), Unlocked: true}})

	ctx, stop := browser(t, exe, 1400)
	defer stop()

	problems := pageProblems(t, ctx)
	text := func(id string) string {
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
		require.NoError(t, err)
		return s
	}

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(origin+"/"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-loaded="true"]`)),
		chromedp.SendKeys(chromedp.ID("key"), operatorKey),
		chromedp.SendKeys(chromedp.ID("who"), "chromium"),
		chromedp.Click(chromedp.ID("disable-reason")),
		until(`document.getElementById("role").textContent === "role: operator"`),
		until(`document.body.dataset.emergencyLoaded === "true" && document.getElementById("em-level").textContent === "NORMAL"`),
		until(`document.querySelectorAll("#gov-checks tr").length === 4`),
	))
	assert.Equal(t, "Automation allowed.", text("gov-verdict"))

	// Declare HIGH: reason and confirmation from the page.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("em-reason"), "payments and ledger down"),
		chromedp.SendKeys(chromedp.ID("confirm"), "CONFIRM"),
		chromedp.Click(chromedp.ID("em-declare")),
		until(`document.getElementById("em-level").textContent === "HIGH"`),
	))
	assert.Equal(t, emergency.High, rt.EmergencyLevel(), "in force on the server")
	assert.Contains(t, text("em-detail"), "declared by chromium (operator): payments and ledger down")
	// At HIGH the gate blocks automation on the emergency check.
	require.NoError(t, chromedp.Do(ctx, until(`document.getElementById("gov-verdict").textContent.includes("blocked by emergency")`)))

	// STRICT from the governance panel.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("gov-reason"), "release freeze"),
		chromedp.SendKeys(chromedp.ID("gov-timeout"), "30m"),
		chromedp.Click(chromedp.ID("gov-strict-on")),
		until(`document.getElementById("gov-strict").textContent.includes("release freeze")`),
		until(`document.querySelector('#gov-checks tr[data-check="strict"]').textContent.includes("block")`),
	))
	assert.NotNil(t, rt.Governance().Status(context.Background()).Strict)

	// Forcing the level down is the admin's: refused to this key, and said so.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(chromedp.ID("em-force")),
		until(`document.getElementById("message").textContent.includes("gate: role")`),
	))
	assert.Equal(t, emergency.High, rt.EmergencyLevel())

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile("/tmp/baldur-console-emergency.png", shot, 0o644))
	t.Log("screenshot: /tmp/baldur-console-emergency.png")
	assertNoPageProblems(t, problems())
}
