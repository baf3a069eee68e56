// Command http shows a typed HTTP client protected by baldur. The client's
// error type carries the HTTP status and the server's Retry-After hint, which
// is all the runtime needs: 429 and 5xx count against the breaker and are
// retried (after the hint, when there is one), other 4xx are answers.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/store"
)

//go:generate go run github.com/baldur-go/baldur/cmd/baldurgen

// Quote is the last price of a symbol.
type Quote struct {
	Symbol string `json:"symbol"`
	Cents  int64  `json:"cents"`
}

// QuoteClient reads quotes from the quote service.
//
//baldur:protect name=quotes retry=3 backoff=exp(50ms,1s) timeout=2s
type QuoteClient interface {
	GetQuote(ctx context.Context, symbol string) (Quote, error)
}

// StatusError is a non-2xx answer. StatusCode and RetryAfter are the two
// methods the baldur runtime looks for.
type StatusError struct {
	Code  int
	Retry time.Duration // from Retry-After; 0 when absent
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("quote service answered %d %s", e.Code, http.StatusText(e.Code))
}

// StatusCode is the HTTP status.
func (e *StatusError) StatusCode() int { return e.Code }

// RetryAfter is the server's hint; it replaces the backoff before the next attempt.
func (e *StatusError) RetryAfter() time.Duration { return e.Retry }

// HTTPQuotes is the raw QuoteClient over HTTP.
type HTTPQuotes struct {
	BaseURL string
	Client  *http.Client
}

// GetQuote asks GET {BaseURL}/quotes/{symbol}.
func (c *HTTPQuotes) GetQuote(ctx context.Context, symbol string) (Quote, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.BaseURL+"/quotes/"+url.PathEscape(symbol), nil)
	if err != nil {
		return Quote{}, fmt.Errorf("get quote %s: %w", symbol, err)
	}
	resp, err := c.Client.Do(req)
	if err != nil {
		return Quote{}, fmt.Errorf("get quote %s: %w", symbol, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body) // drain, so the connection is reused
		return Quote{}, &StatusError{Code: resp.StatusCode, Retry: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	var q Quote
	if err := json.NewDecoder(resp.Body).Decode(&q); err != nil {
		return Quote{}, fmt.Errorf("get quote %s: decode: %w", symbol, err)
	}
	return q, nil
}

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date.
// Anything else, or a moment already past, is no hint.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil {
		return max(time.Duration(s)*time.Second, 0)
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}

// feed is a stand-in quote service: it answers its script of statuses first
// (429 with Retry-After: 1), then 200, or 503 while down; unknown symbols 404.
type feed struct {
	mu     sync.Mutex
	script []int
	down   bool
	hits   []time.Time
}

func (f *feed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.hits = append(f.hits, time.Now())
	code := http.StatusOK
	switch {
	case len(f.script) > 0:
		code, f.script = f.script[0], f.script[1:]
	case f.down:
		code = http.StatusServiceUnavailable
	}
	f.mu.Unlock()
	symbol := r.PathValue("symbol")
	if code == http.StatusOK && symbol != "BLDR" {
		code = http.StatusNotFound
	}
	if code == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "1")
	}
	if code != http.StatusOK {
		w.WriteHeader(code)
		return
	}
	_ = json.NewEncoder(w).Encode(Quote{Symbol: symbol, Cents: 4_200})
}

func (f *feed) set(down bool, script ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down, f.script = down, script
}

func (f *feed) requests() []time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]time.Time(nil), f.hits...)
}

// newFeed serves a feed on a loopback httptest server.
func newFeed() (*feed, *httptest.Server) {
	f := &feed{}
	mux := http.NewServeMux()
	mux.Handle("GET /quotes/{symbol}", f)
	return f, httptest.NewServer(mux)
}

func main() {
	if err := run(context.Background(), os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run walks the client through a rate limit, an outage blip, a bad symbol and
// a lasting outage.
func run(ctx context.Context, out io.Writer) error {
	f, srv := newFeed()
	defer srv.Close()
	// The demo keeps breaker state in memory; a service leaves Store unset
	// (embedded store under StateDir) or sets RedisURL.
	mem := store.NewMemory()
	defer mem.Close()
	rt, err := runtime.New(ctx, runtime.Config{
		Store:   mem,
		Breaker: runtime.BreakerConfig{FailureThreshold: 5},
		Logger:  slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return err
	}
	defer rt.Close()
	quotes := NewProtectedQuoteClient(&HTTPQuotes{BaseURL: srv.URL, Client: srv.Client()}, rt)

	call := func(what, symbol string) {
		before := len(f.requests())
		q, err := quotes.GetQuote(ctx, symbol)
		var se *StatusError
		switch {
		case errors.Is(err, runtime.ErrOpen):
			fmt.Fprintf(out, "%s: rejected by the open breaker", what)
		case errors.As(err, &se):
			fmt.Fprintf(out, "%s: %d", what, se.Code)
		case err != nil:
			fmt.Fprintf(out, "%s: %v", what, err)
		default:
			fmt.Fprintf(out, "%s: %s at %d cents", what, q.Symbol, q.Cents)
		}
		fmt.Fprintf(out, " (requests: %d)\n", len(f.requests())-before)
	}
	f.set(false, http.StatusTooManyRequests, http.StatusServiceUnavailable)
	call("429 then 503 then 200", "BLDR")
	call("unknown symbol", "NOPE")
	f.set(true)
	call("outage", "BLDR")
	call("outage, again", "BLDR")
	return nil
}
