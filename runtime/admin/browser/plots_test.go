package browser_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/clock"
)

// TestPlotsInRealChromium records a few minutes of traffic on a fake clock,
// with a scripted outage that opens the payments breaker, and loads the
// console in headless Chromium: the plots panel draws as many points as the
// runtime recorded, the breaker band shows the OPEN minute, the dashboard
// has a sparkline per service, and no script or CSP error occurs.
func TestPlotsInRealChromium(t *testing.T) {
	exe := chromiumPath(t)
	ctx0 := context.Background()
	clk := clock.NewFake(time.Now().Truncate(time.Minute).Add(-5*time.Minute + 30*time.Second))
	rt, err := runtime.New(ctx0, runtime.Config{CallStats: true, Logger: quiet, StateDir: t.TempDir(), Clock: clk})
	require.NoError(t, err)
	defer rt.Close()
	pay := rt.Zone(runtime.ZoneSpec{Service: "payments", Method: "Charge", Breaker: true})
	rt.Zone(runtime.ZoneSpec{Service: "ledger", Method: "Post", Breaker: true})
	call := func(fail error) {
		if p, err := pay.Enter(ctx0); err == nil {
			pay.Done(ctx0, p, fail, 1)
		}
	}
	// Two calm minutes, an outage minute, two more minutes.
	for minute := range 5 {
		for range 10 {
			if minute == 2 {
				call(errors.New("payments down"))
			} else {
				call(nil)
			}
		}
		clk.Advance(time.Minute)
	}
	origin := serve(t, admin.Options{Runtime: rt, Control: rt.Control(), Logger: quiet, Security: admin.Security{Keys: keys()}})

	// What the runtime recorded, through the API.
	req, _ := http.NewRequest(http.MethodGet, origin+adminapi.URL(adminapi.SeriesPath("payments")), nil)
	req.Header.Set(adminapi.KeyHeader, viewerKey)
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	var want adminapi.Series
	require.NoError(t, json.NewDecoder(res.Body).Decode(&want))
	res.Body.Close()
	require.Len(t, want.Minutes, 5)
	opened := 0
	for _, p := range want.Minutes {
		if p.Worst == "OPEN" {
			opened++
		}
	}
	require.Positive(t, opened, "the outage opened the breaker: %+v", want.Minutes)

	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx0,
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1400),
	)
	defer cancelAlloc()
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	defer cancelCtx()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()
	problems := pageProblems(t, ctx)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(origin+"/"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-loaded="true"]`)),
		chromedp.SendKeys(chromedp.ID("key"), viewerKey),
		chromedp.Click(chromedp.ID("who")),
		until(`document.querySelector('#plots[data-service="payments"] svg[data-chart="calls"]') !== null`),
	), "the plots panel renders payments")

	eval := func(expr string) string {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		require.NoError(t, err, expr)
		return s
	}
	assert.Equal(t, strconv.Itoa(len(want.Minutes)), eval(`document.querySelector('#plots svg[data-chart="calls"]').dataset.points`),
		"the chart has the points the runtime recorded")
	assert.Equal(t, strconv.Itoa(len(want.Minutes)), eval(`String(document.querySelectorAll('#plots svg[data-chart="calls"] g.point').length)`),
		"every recorded minute is drawn on the hour axis")
	assert.Equal(t, strconv.Itoa(opened), eval(`String(document.querySelectorAll('#plots rect.band[data-state="OPEN"]').length)`),
		"the OPEN minute shows as a band")
	assert.NotEqual(t, "0", eval(`String(document.querySelectorAll('#plots line.transition[data-to="OPEN"]').length)`),
		"the transition to OPEN is marked")
	sparks := eval(`[...document.querySelectorAll('#sparks [data-spark]')].map(e => e.dataset.spark + ":" + e.querySelector("svg").dataset.points).join(",")`)
	assert.Equal(t, "ledger:5,payments:5", sparks, "a sparkline per service in the dashboard")

	// The verdict's reason opens the plot of the service in trouble.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("plots-service"), "ledger"),
		discard(chromedp.Evaluate[bool](`document.getElementById("plots-service").dispatchEvent(new Event("change"))`)),
		until(`document.querySelector('#plots[data-service="ledger"]') !== null`),
		chromedp.Click(chromedp.ID("verdict-reason")),
		until(`document.querySelector('#plots[data-service="payments"]') !== null`),
	), "the verdict's reason links to the plot that explains it")

	// The last day, per hour: one hour in progress at least.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("plots-range"), "hours"),
		discard(chromedp.Evaluate[bool](`document.getElementById("plots-range").dispatchEvent(new Event("change"))`)),
		until(`document.querySelector('#plots svg[data-chart="calls"]').dataset.points === "`+strconv.Itoa(len(want.Hours))+`"`),
	))
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile("/tmp/baldur-plots.png", shot, 0o644))
	t.Log("screenshot: /tmp/baldur-plots.png")

	assertNoPageProblems(t, problems())
}
