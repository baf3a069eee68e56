package browser_test

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
	"github.com/baldur-go/baldur/runtime/emergency"
)

// TestShapingPanelInRealChromium signs in as a viewer and finds the
// load-shaping panel with the runtime's own figures: a rate limit's tokens
// left after three calls, the adaptive concurrency limit halved by the
// emergency level HIGH, the throttle's probability and the retry budget's
// floor.
func TestShapingPanelInRealChromium(t *testing.T) {
	exe := chromiumPath(t)
	rt, err := runtime.New(context.Background(), runtime.Config{Logger: quiet, StateDir: t.TempDir()})
	require.NoError(t, err)
	defer rt.Close()
	quotes := rt.Zone(runtime.ZoneSpec{Service: "quotes", Method: "Get", Breaker: true, Rate: "100/h", Burst: 40})
	for range 3 {
		p, err := quotes.Enter(context.Background())
		require.NoError(t, err)
		quotes.Done(context.Background(), p, nil, 1)
	}
	rt.Zone(runtime.ZoneSpec{Service: "orders", Method: "Place", Breaker: true, Attempts: 3, RetryBudget: "20%",
		Throttle: runtime.Adaptive, Concurrency: runtime.Adaptive, Criticality: runtime.CriticalityHigh})
	_, err = rt.Emergency().Declare(context.Background(), "test", emergency.High, "browser test")
	require.NoError(t, err)
	origin := serve(t, admin.Options{Runtime: rt, Control: rt.Control(), Logger: quiet, Security: admin.Security{Keys: keys()}})

	ctx := newBrowser(t, exe)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(origin+"/"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-loaded="true"]`)),
		chromedp.SendKeys(chromedp.ID("key"), viewerKey),
		chromedp.Click(chromedp.ID("who")),
		until(`document.getElementById("role").textContent === "role: viewer"`),
		until(`!document.getElementById("shaping-card").hidden`),
		until(`document.querySelector('#shaping tr[data-method="quotes.Get"]') !== null`),
	))
	text := func(sel string) string {
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return s
	}
	assert.Contains(t, text("#shaping-level"), "emergency level HIGH: retry budgets, rate limits and adaptive concurrency limits halved")
	rate := text(`#shaping tr[data-method="quotes.Get"] td[data-cell="rate"]`)
	assert.Contains(t, rate, "17 / 40 tokens", "the pool's 7 left of a batch of 10, and 10 of the bucket's 21 at a token's double cost")
	assert.Contains(t, rate, "100/h")
	assert.Contains(t, rate, "halved")
	conc := text(`#shaping tr[data-method="orders.Place"] td[data-cell="concurrency"]`)
	assert.Contains(t, conc, "0 / 10", "the adaptive limit of 20, halved")
	assert.Contains(t, conc, "halved")
	assert.Contains(t, text(`#shaping tr[data-method="orders.Place"] td[data-cell="throttle"]`), "0.0 %")
	budget := text(`#shaping tr[data-method="orders.Place"] td[data-cell="budget"]`)
	assert.Contains(t, budget, "0 / 50 retries", "the floor of 100, halved")
	assert.Contains(t, budget, "20%")
}
