package browser_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/await"
	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin"
	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/store"
)

// chromiumPath finds a Chromium, or skips (fails with BALDUR_REQUIRE_CHROMIUM=1).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("BALDUR_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("no chromium on PATH and BALDUR_REQUIRE_CHROMIUM=1 (Debian: apt-get install -y chromium)")
	}
	t.Skip("no chromium on PATH (Debian: apt-get install -y chromium); set BALDUR_REQUIRE_CHROMIUM=1 to make this a failure")
	return ""
}

// TestConsoleInRealChromium loads the console in headless Chromium, sees
// dry-run on sent with the confirmation and refused because the server is
// locked, sees dry-run started on the server's side, sees a breaker action
// refused because the server is locked, and finds a parked dead letter in
// the DLQ panel, opens it and replays it.
func TestConsoleInRealChromium(t *testing.T) {
	exe := chromiumPath(t)

	rt, err := runtime.New(context.Background(), runtime.Config{CallStats: true, Logger: quiet, StateDir: t.TempDir()})
	require.NoError(t, err)
	defer rt.Close()
	rt.Zone(runtime.ZoneSpec{Service: "payments", Method: "Charge", Breaker: true, Bulkhead: 8})
	rt.Zone(runtime.ZoneSpec{Service: "payments", Method: "Refund", Breaker: true})
	ledger := rt.Zone(runtime.ZoneSpec{Service: "ledger", Method: "Post", Breaker: true})
	lb, _ := rt.Breaker("ledger")
	lb.ForceOpen("maintenance window")
	// The runtime's own control: a second one would fight the file-backed
	// control runtime.New attached, which re-reads its file every few seconds.
	ctl := rt.Control()
	mem := store.NewMemory()
	defer mem.Close()
	q, err := dlq.New(mem, dlq.Options{Logger: quiet, ReplayRate: -1})
	require.NoError(t, err)
	defer q.Close()
	replayed := make(chan string, 1)
	q.Register("ledger", "Post", "sig1", func(_ context.Context, args []byte) error {
		replayed <- string(args)
		return nil
	})
	var parked []string
	for _, order := range []string{"o-42", "o-43"} {
		id, err := q.Park(context.Background(), dlq.Capture{Domain: "ledger", Method: "Post", Signature: "sig1",
			Args: []byte(`{"order":"` + order + `"}`), Err: errors.New("ledger unavailable"), Attempts: 3})
		require.NoError(t, err)
		parked = append(parked, id)
	}
	origin := serve(t, admin.Options{Runtime: rt, Control: ctl, Logger: quiet, Queue: q,
		Security: admin.Security{Keys: keys()}})

	ctx := newBrowser(t, exe)

	var (
		mu       sync.Mutex
		requests []string
		problems []string
		dryRunOn []string // bodies the page posted to control/dry-run/on/
	)
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			requests = append(requests, e.Request.URL)
			if strings.HasSuffix(e.Request.URL, "/control/dry-run/on/") {
				var body []byte
				for _, p := range e.Request.PostDataEntries {
					body = append(body, p.Bytes...)
				}
				dryRunOn = append(dryRunOn, string(body))
			}
		case *cdpruntime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		case *cdpruntime.EventConsoleAPICalled:
			if e.Type == cdpruntime.ConsoleAPICalledTypeError {
				problems = append(problems, "console.error")
			}
		}
	}))

	apiControl := func() adminapi.ControlStatus {
		req, _ := http.NewRequest(http.MethodGet, origin+adminapi.URL(adminapi.PathControl), nil)
		req.Header.Set(adminapi.KeyHeader, viewerKey)
		res, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		var body adminapi.ControlAnswer
		require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
		return body.Control
	}
	text := func(id string) string {
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID(id)))
		require.NoError(t, err)
		return s
	}

	require.NoError(t, chromedp.Do(ctx,
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.Enable, network.EnableParams{})
			return err
		}),
		chromedp.Navigate(origin+"/"),
		chromedp.WaitVisible(chromedp.CSS(`body[data-loaded="true"]`)),
		// Sign in through the form: the key field saves on change (blur).
		chromedp.SendKeys(chromedp.ID("key"), operatorKey),
		chromedp.SendKeys(chromedp.ID("who"), "chromium"),
		chromedp.Click(chromedp.ID("disable-reason")),
		until(`document.getElementById("role").textContent === "role: operator"`),
	))
	lockHidden, err := chromedp.Run(ctx, chromedp.JavascriptAttribute[bool](chromedp.ID("lock-banner"), "hidden"))
	require.NoError(t, err)
	assert.False(t, lockHidden, "the lock banner shows on a locked server")

	// Dry-run on is gated like the kill switch: the page sends the typed
	// confirmation, and this locked server refuses it.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.ID("confirm"), "CONFIRM"),
		chromedp.Click(chromedp.ID("dryrun-on")),
		until(`document.getElementById("message").textContent.includes("gate: unlock")`),
	))
	assert.False(t, rt.DryRun(), "refused: the mode did not move")
	mu.Lock()
	sent := append([]string(nil), dryRunOn...)
	mu.Unlock()
	require.Len(t, sent, 1)
	assert.Contains(t, sent[0], `"confirm":"CONFIRM"`)

	// Dry-run started on the server's side shows in the page, and the API agrees.
	_, err = ctl.StartDryRun(context.Background(), "chromium-test", "rehearsal")
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx, until(`document.getElementById("status-mode").textContent === "DRY_RUN"`)))
	st := apiControl()
	assert.Equal(t, "DRY_RUN", st.Mode)
	assert.Equal(t, "chromium-test", st.ChangedBy)
	assert.True(t, rt.DryRun())

	// A destructive action on a locked server is refused, and the page says why.
	require.NoError(t, chromedp.Do(ctx,
		discard(chromedp.Evaluate[string](`document.getElementById("message").textContent = ""`)),
		chromedp.Click(chromedp.CSS(`button[data-breaker="payments"][data-action="force-open"]`)),
		until(`document.getElementById("message").textContent.includes("gate: unlock")`),
	))
	message := text("message")
	assert.Contains(t, message, "Refused (403, gate: unlock): destructive actions are locked on this server")
	assert.Contains(t, message, "BALDUR_ADMIN_UNLOCK=1")
	pb, _ := rt.Breaker("payments")
	assert.Equal(t, breaker.Closed, pb.State(), "the refused action changed nothing")

	// The DLQ panel lists the parked entries; details show the arguments;
	// Replay runs the replayer and the entry leaves the unresolved list.
	row := func(id string) string { return `document.querySelector('#dlq tbody tr[data-dlq-id="` + id + `"]')` }
	button := func(id, action string) chromedp.CSS {
		return chromedp.CSS(`button[data-dlq="` + id + `"][data-action="` + action + `"]`)
	}
	require.NoError(t, chromedp.Do(ctx,
		until(row(parked[0])+` !== null && `+row(parked[1])+` !== null`),
		until(`document.getElementById("dlq-stats").textContent.includes("ledger: 2 pending")`),
		chromedp.Click(button(parked[0], "details")),
		until(`document.getElementById("dlq-detail-body").textContent.includes('"order": "o-42"')`),
	))
	assert.Contains(t, text("dlq-detail-body"), `"error": "ledger unavailable"`)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(button(parked[0], "replay")),
		until(`document.getElementById("message").textContent.includes("now resolved")`),
		until(row(parked[0])+` === null`),
	))
	assert.Equal(t, `{"order":"o-42"}`, await.Recv(t, replayed, "the replayed call"))
	e, err := q.Get(context.Background(), parked[0])
	require.NoError(t, err)
	assert.Equal(t, dlq.StateResolved, e.State)
	// Purge is the admin's: refused to this operator's key, and said so.
	err = chromedp.Do(ctx,
		chromedp.Click(button(parked[1], "purge")),
		until(`document.getElementById("message").textContent.includes("gate: role")`),
	)
	require.NoError(t, err, "message: %s", text("message"))
	assert.Contains(t, text("message"), "this action needs the admin role")
	e, err = q.Get(context.Background(), parked[1])
	require.NoError(t, err)
	assert.Equal(t, dlq.StatePending, e.State)

	// The audit panel lists what happened: the breaker forced open by code
	// (an automated action) and the refused attempts above, with their gate.
	require.NoError(t, chromedp.Do(ctx,
		until(`document.querySelector("#audit tbody").textContent.includes("breaker.state_changed")`),
		until(`document.querySelector("#audit tbody").textContent.includes("unlock: destructive actions are locked")`),
	))

	// A would-have decision shows in the timeline; then take the screenshot.
	p, err := ledger.Enter(context.Background())
	require.NoError(t, err, "dry-run lets the call through the open breaker")
	ledger.Done(context.Background(), p, nil, 1)
	require.NoError(t, chromedp.Do(ctx, until(`document.querySelectorAll("#would-have tbody tr").length === 1`)))
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile("/tmp/baldur-console.png", shot, 0o644))
	t.Log("screenshot: /tmp/baldur-console.png")

	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, requests)
	for _, u := range requests {
		assert.True(t, strings.HasPrefix(u, origin+"/"), "request outside the server: %s", u)
	}
	assert.Empty(t, problems, "no script error or console error (a CSP violation would show here)")
}

// discard turns an action that returns a value into one for chromedp.Do.
func discard[T any](a chromedp.Action[T]) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		_, err := a(ctx, t)
		return chromedp.Void{}, err
	}
}
