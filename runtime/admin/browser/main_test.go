package browser_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cdpruntime "github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/runtime/admin"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	operatorKey = "operator-key-0123456789"
	viewerKey   = "viewer-key-0123456789"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// keys are the console's sign-in keys: one operator, one viewer (the purge
// the test tries needs the admin role that neither has).
func keys() []admin.Key {
	return []admin.Key{{Role: admin.RoleOperator, Secret: operatorKey}, {Role: admin.RoleViewer, Secret: viewerKey}}
}

// serve serves the admin handler on a free loopback port until the test
// ends and returns its origin, e.g. http://127.0.0.1:43210 (the port is the
// one the handler's default host and origin gates allow).
func serve(t *testing.T, opts admin.Options) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	_, opts.Port, _ = net.SplitHostPort(ln.Addr().String())
	h, err := admin.New(opts)
	require.NoError(t, err)
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// browser starts headless Chromium (exe) for one test, with a 60 s bound on
// everything the test does in it; the returned cancel stops it.
func browser(t *testing.T, exe string, height int) (context.Context, context.CancelFunc) {
	t.Helper()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, height),
	)
	ctx, cancelCtx := chromedp.NewContext(allocCtx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	return ctx, func() { cancelTimeout(); cancelCtx(); cancelAlloc() }
}

// pageProblems collects the page's uncaught exceptions and console errors
// (a CSP violation is one) from now on; the func returned reads them.
func pageProblems(t *testing.T, ctx context.Context) func() []string {
	t.Helper()
	var (
		mu       sync.Mutex
		problems []string
	)
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *cdpruntime.EventExceptionThrown:
			problems = append(problems, "exception: "+e.ExceptionDetails.Text)
		case *cdpruntime.EventConsoleAPICalled:
			if e.Type == cdpruntime.ConsoleAPICalledTypeError {
				problems = append(problems, "console.error")
			}
		}
	}))
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(problems)
	}
}

func assertNoPageProblems(t *testing.T, problems []string) {
	t.Helper()
	assert.Empty(t, problems, "no script error or console error (a CSP violation would show here): %s", strings.Join(problems, "; "))
}

// until polls a JavaScript expression until it is true, for at most 10s.
func until(expr string) chromedp.Action[chromedp.Void] {
	return discard(chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second)))
}
