package browser_test

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
	"github.com/baldur-go/baldur/runtime/canary"
)

// canaryAdminKey signs the panic button in: it is the admin's.
const canaryAdminKey = "admin-key-0123456789"

// TestCanaryPanelInRealChromium loads the console with a rollout running,
// sees its stages, cohort figures and verdict, starts a second rollout of
// the service from the form, and presses the panic button.
func TestCanaryPanelInRealChromium(t *testing.T) {
	exe := chromiumPath(t)
	rt, err := runtime.New(context.Background(), runtime.Config{CallStats: true, Logger: quiet, StateDir: t.TempDir()})
	require.NoError(t, err)
	defer rt.Close()
	rt.Zone(runtime.ZoneSpec{Service: "payments", Method: "Charge", Breaker: true, Attempts: 3})
	r, err := rt.Canary().Start(context.Background(), canary.Request{
		Scope: canary.Scope{Kind: canary.ScopeMethod, Service: "payments", Method: "Charge"}, Directive: "retry=5", Who: "test"})
	require.NoError(t, err)
	origin := serve(t, admin.Options{Runtime: rt, Control: rt.Control(), Logger: quiet, Security: admin.Security{
		Keys: append(keys(), admin.Key{Role: admin.RoleAdmin, Secret: canaryAdminKey}), Unlocked: true}})

	ctx, stop := browser(t, exe, 1400)
	defer stop()
	problems := pageProblems(t, ctx)
	row := `document.querySelector('#canary-rows tr[data-rollout="` + r.ID + `"]')`
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(origin+"/"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-loaded="true"]`)),
		chromedp.SendKeys(chromedp.ID("key"), canaryAdminKey),
		chromedp.SendKeys(chromedp.ID("who"), "chromium"),
		chromedp.Click(chromedp.ID("disable-reason")),
		until(`document.getElementById("role").textContent === "role: admin"`),
		until(row+` !== null && `+row+`.dataset.state === "running"`),
	))
	txt, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#canary-rows tr[data-rollout="`+r.ID+`"]`)))
	require.NoError(t, err)
	assert.Contains(t, txt, "[1%] → 10% → 50% → 100%", "the stages, the current one marked")
	assert.Contains(t, txt, "0 calls", "the cohort figures")
	assert.Contains(t, txt, "wait: ", "the verdict")

	// A second rollout from the form, on the service.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("canary-scope"), "payments"),
		chromedp.SendKeys(chromedp.ID("canary-directive"), "retry=2"),
		chromedp.SendKeys(chromedp.ID("canary-stages"), "10,100"),
		chromedp.SendKeys(chromedp.ID("canary-reason"), "try fewer retries"),
		chromedp.Click(chromedp.ID("canary-start")),
		until(`document.querySelectorAll('#canary-rows tr[data-state="running"]').length === 2`),
	))
	list, err := rt.Canary().List(context.Background())
	require.NoError(t, err)
	var second canary.Rollout
	for _, x := range list {
		if x.ID != r.ID {
			second = x
		}
	}
	assert.Equal(t, canary.Scope{Kind: canary.ScopeService, Service: "payments"}, second.Scope, "the form's scope")
	assert.Equal(t, "retry=2", second.Directive)
	assert.Equal(t, []float64{10, 100}, second.Stages)
	assert.Equal(t, canary.StateRunning, second.State)

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Clear(chromedp.ID("canary-reason")),
		chromedp.SendKeys(chromedp.ID("canary-reason"), "revert all"),
		chromedp.SendKeys(chromedp.ID("confirm"), "CONFIRM"),
		chromedp.Click(chromedp.ID("canary-panic")),
		until(row+`.dataset.state === "rolled_back"`),
	))
	got, err := rt.Canary().Get(context.Background(), r.ID)
	require.NoError(t, err)
	assert.Equal(t, canary.StateRolledBack, got.State)
	assertNoPageProblems(t, problems())
}
