package browser_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/emergency"
)

// TestReplayRateAndEmergencyBandInRealChromium scripts a scenario on a fake
// clock — a calm minute, a minute that replays three dead letters while an
// operator declares HIGH, a minute after the release — and finds on the
// payments plot the replay-rate bars (three replays in their minute) and
// the emergency band (HIGH in that minute, with the change marked), on the
// same time axis as the breaker band.
func TestReplayRateAndEmergencyBandInRealChromium(t *testing.T) {
	exe := chromiumPath(t)
	ctx0 := context.Background()
	clk := clock.NewFake(time.Now().Truncate(time.Minute).Add(-3*time.Minute + 30*time.Second))
	rt, err := runtime.New(ctx0, runtime.Config{CallStats: true, Logger: quiet, StateDir: t.TempDir(), Clock: clk})
	require.NoError(t, err)
	defer rt.Close()
	pay := rt.Zone(runtime.ZoneSpec{Service: "payments", Method: "Charge", Breaker: true})
	calls := func(n int) {
		for range n {
			if p, err := pay.Enter(ctx0); err == nil {
				pay.Done(ctx0, p, nil, 1)
			}
		}
	}
	q := rt.DLQ()
	q.Register("payments", "Charge", "sig1", func(context.Context, []byte) error { return nil })
	calls(5)
	clk.Advance(time.Minute)
	calls(5)
	for range 3 {
		id, err := q.Park(ctx0, dlq.Capture{Domain: "payments", Method: "Charge", Signature: "sig1",
			Args: json.RawMessage(`{}`), Err: errors.New("processor unavailable"), Attempts: 1})
		require.NoError(t, err)
		_, err = q.Replay(ctx0, id)
		require.NoError(t, err)
	}
	_, err = rt.Emergency().Declare(ctx0, "ops", emergency.High, "drill")
	require.NoError(t, err)
	clk.Advance(time.Minute)
	_, err = rt.Emergency().ForceRelease(ctx0, "ops", emergency.Normal, "CONFIRM", "drill over")
	require.NoError(t, err)
	calls(5)
	clk.Advance(time.Minute)
	origin := serve(t, admin.Options{Runtime: rt, Control: rt.Control(), Logger: quiet, Security: admin.Security{Keys: keys()}})

	ctx := newBrowser(t, exe)
	problems := pageProblems(t, ctx)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(origin+"/"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-loaded="true"]`)),
		chromedp.SendKeys(chromedp.ID("key"), viewerKey),
		chromedp.Click(chromedp.ID("who")),
		until(`document.querySelector('#plots[data-service="payments"] svg[data-chart="replays"]') !== null`),
	), "the plots panel renders payments with its replay chart")
	eval := func(expr string) string {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
		require.NoError(t, err, expr)
		return s
	}
	assert.Equal(t, "0,3,0", eval(`[...document.querySelectorAll('#plots svg[data-chart="replays"] g.point')].map(g => g.dataset.replays).join(",")`),
		"three replays in their minute, none around it")
	assert.Equal(t, "NORMAL,HIGH,HIGH", eval(`[...document.querySelectorAll('#plots svg[data-chart="emergency"] rect.emg')].map(r => r.dataset.level).join(",")`),
		"the emergency band: HIGH from the declaring minute to the minute it was released in")
	assert.NotEqual(t, "0", eval(`String(document.querySelectorAll('#plots svg[data-chart="emergency"] line.annotation[data-kind="emergency"]').length)`),
		"the level changes are marked on the band")
	assert.Equal(t, "3", eval(`String(document.querySelector('#plots svg[data-chart="state"]').dataset.points)`),
		"the breaker band is on the same minutes")
	assert.Contains(t, eval(`document.getElementById("plots-scope").textContent`), "1 process merged")
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile("/tmp/baldur-plots-track.png", shot, 0o644))
	t.Log("screenshot: /tmp/baldur-plots-track.png")

	assertNoPageProblems(t, problems())
}
