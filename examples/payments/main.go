// Command payments is the baldur-go demo: a payments service whose processor
// and ledger are protected by generated wrappers. Run it with `make demo`: a
// scripted scenario prints, in plain words, each policy acting, and exits 0
// when every policy behaved as it should.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/breaker"
	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/idem"
)

func main() {
	serveFlag := flag.Bool("serve", false, "keep simulated traffic flowing and the admin console up until interrupted")
	flag.Parse()
	cfg, err := runtime.ConfigFromEnv() // BALDUR_STATE_DIR etc. are honoured; the breaker is tuned below
	if err != nil {
		fmt.Fprintln(os.Stderr, "payments:", err)
		os.Exit(1)
	}
	if *serveFlag {
		if err := serve(context.Background(), cfg, os.Stdout, nil); err != nil {
			fmt.Fprintln(os.Stderr, "payments:", err)
			os.Exit(1)
		}
		return
	}
	if err := scenario(context.Background(), os.Stdout, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "payments:", err)
		os.Exit(1)
	}
}

// scenario walks through every policy once and checks that each acted.
func scenario(ctx context.Context, w io.Writer, cfg runtime.Config) error {
	out := &lockedWriter{w: w} // breaker timers and ledger goroutines narrate too
	cfg.Logger = slog.New(narrator{out})
	cfg.Breaker = runtime.BreakerConfig{
		FailureThreshold: 5,
		RecoveryTimeout:  300 * time.Millisecond, // short, so that the demo sees the breaker probe
		HalfOpenMaxCalls: 2,
	}
	cfg.OnBreakerChange = func(t breaker.Transition) {
		if !strings.HasPrefix(t.Reason, "remote") {
			fmt.Fprintf(out, "   >> breaker %q: %s → %s (%s)\n", t.Name, t.From, t.To, t.Reason)
		}
	}
	rt, err := runtime.New(ctx, cfg)
	if err != nil {
		return err
	}
	defer rt.Close()

	proc := &processor{out: out}
	gw := NewProtectedPaymentGateway(proc, rt)
	ledger := NewProtectedLedger(&books{delay: 100 * time.Millisecond}, rt)

	// Breaker state survives restarts in the store: an earlier run that was
	// interrupted may have left one open. The scenario starts from closed.
	for _, name := range rt.BreakerNames() {
		if b, _ := rt.Breaker(name); b.State() != breaker.Closed {
			fmt.Fprintf(out, "(breaker %q was left %s by an earlier run; resetting it for the scenario)\n", name, b.State())
			b.Reset("demo start")
		}
	}
	// The queue's counters are cumulative and outlive a run: remember where they start.
	paymentsDLQ := func() (dlq.GroupStats, error) {
		st, err := rt.DLQ().Stats(ctx)
		for _, d := range st.Domains {
			if d.Domain == "payments" {
				return d, err
			}
		}
		return dlq.GroupStats{}, err
	}
	atStart, err := paymentsDLQ()
	if err != nil {
		return err
	}
	step := func(n int, title string) { fmt.Fprintf(out, "\n%d. %s\n", n, title) }

	// Order ids are unique per run: the embedded store remembers completed
	// charges across runs, as it should.
	run := strconv.FormatInt(time.Now().UnixNano()%1_000_000, 36)
	order := func(n int) string { return fmt.Sprintf("order-%s-%d", run, n) }

	step(1, "A flaky processor: two attempts fail, retry gets the third through.")
	proc.failTimes(2)
	rcpt, err := gw.Charge(ctx, order(1), 42_00)
	if err != nil {
		return fmt.Errorf("step 1: charge failed: %w", err)
	}
	fmt.Fprintf(out, "   charge %s: receipt %s after %d processor calls\n", order(1), rcpt.ID, proc.calls.Load())

	if _, err := gw.Balance(ctx, "acct-7"); err != nil {
		return fmt.Errorf("step 1: balance failed: %w", err)
	}

	step(2, "Idempotency: charging the same order again is refused, the processor is not called.")
	before := proc.calls.Load()
	_, err = gw.Charge(ctx, order(1), 42_00)
	var dup *idem.DuplicateError
	if !errors.As(err, &dup) || !errors.Is(err, runtime.ErrDuplicate) || proc.calls.Load() != before {
		return fmt.Errorf("step 2: want a duplicate refusal, got %v", err)
	}
	fmt.Fprintf(out, "   charge %s again: %v (first seen %s ago)\n", order(1), err, time.Since(dup.FirstSeen).Round(time.Millisecond))

	step(3, "The processor goes down: every attempt fails until the breaker opens (5 failures in the window, counting step 1's two); each failed charge is parked in the dead-letter queue.")
	proc.setDown(true)
	for i := 2; ; i++ {
		_, err := gw.Charge(ctx, order(i), 10_00)
		if errors.Is(err, runtime.ErrOpen) {
			fmt.Fprintf(out, "   charge %s: %v\n", order(i), err)
			break
		}
		fmt.Fprintf(out, "   charge %s failed after its retries: %v\n", order(i), err)
		if i > 10 {
			return errors.New("step 3: the breaker never opened")
		}
	}

	step(4, "While the breaker is open, calls are rejected at once, without touching the processor.")
	before = proc.calls.Load()
	start := time.Now()
	_, err = gw.Charge(ctx, order(99), 10_00)
	took := time.Since(start)
	if !errors.Is(err, runtime.ErrOpen) || proc.calls.Load() != before {
		return fmt.Errorf("step 4: want a fast rejection, got %v", err)
	}
	fmt.Fprintf(out, "   charge %s: rejected in %s: %v\n", order(99), took, err)

	step(5, "A fallback answers: Balance falls back to the last balance seen.")
	bal, err := gw.Balance(ctx, "acct-7")
	if err != nil {
		return fmt.Errorf("step 5: fallback did not answer: %w", err)
	}
	fmt.Fprintf(out, "   balance acct-7: %d (from cachedBalance, the processor is unreachable)\n", bal)

	step(6, "The processor recovers; after the recovery timeout the breaker probes and closes.")
	proc.setDown(false)
	b, _ := rt.Breaker("payments")
	for deadline := time.Now().Add(5 * time.Second); b.State() != breaker.HalfOpen; {
		if time.Now().After(deadline) {
			return errors.New("step 6: the breaker never went half-open")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := range 2 {
		r, err := gw.Charge(ctx, order(100+i), 1_00)
		if err != nil {
			return fmt.Errorf("step 6: probe %d failed: %w", i+1, err)
		}
		fmt.Fprintf(out, "   probe charge %s: ok (%s)\n", r.OrderID, r.ID)
	}
	if s := b.State(); s != breaker.Closed {
		return fmt.Errorf("step 6: breaker is %s after two good probes, want CLOSED", s)
	}

	step(7, "The dead-letter queue: the charges that failed while the processor was down were parked, and were replayed through the wrapper when the breaker closed.")
	var parked dlq.GroupStats
	for deadline := time.Now().Add(10 * time.Second); ; {
		if parked, err = paymentsDLQ(); err != nil {
			return fmt.Errorf("step 7: %w", err)
		}
		if parked.Resolved > atStart.Resolved && parked.Pending == 0 && parked.Replaying == 0 {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("step 7: the parked charges were not replayed: %+v", parked)
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Fprintf(out, "   dead-letter queue for payments: %d replayed and resolved, %d pending, %d needing review\n",
		parked.Resolved-atStart.Resolved, parked.Pending, parked.NeedsReview)

	step(8, "The bulkhead: the ledger takes two writes at a time; the others are refused at once.")
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		refused int
	)
	for i := range 4 {
		wg.Go(func() {
			err := ledger.Record(ctx, Entry{OrderID: fmt.Sprintf("order-%d", i), Cents: 1})
			mu.Lock()
			defer mu.Unlock()
			if errors.Is(err, runtime.ErrBulkheadFull) {
				refused++
				fmt.Fprintf(out, "   ledger write %d: %v\n", i, err)
			}
		})
		time.Sleep(5 * time.Millisecond) // let the first two take their slots
	}
	wg.Wait()
	if refused != 2 {
		return fmt.Errorf("step 8: %d writes refused, want 2", refused)
	}
	fmt.Fprintln(out, "   two ledger writes went through; two were refused")

	fmt.Fprintln(out, "\nEvery policy acted as directed.")
	return nil
}

// narrator turns the runtime's retry events into plain words and drops the rest.
type narrator struct{ out io.Writer }

func (narrator) Enabled(_ context.Context, l slog.Level) bool { return l >= slog.LevelDebug }
func (n narrator) WithAttrs([]slog.Attr) slog.Handler         { return n }
func (n narrator) WithGroup(string) slog.Handler              { return n }

func (n narrator) Handle(_ context.Context, r slog.Record) error {
	if r.Message != "retry.attempt_scheduled" {
		return nil
	}
	var method string
	var attempt int64
	var delay time.Duration
	r.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "method":
			method = a.Value.String()
		case "attempt":
			attempt = a.Value.Int64()
		case "delay":
			delay = a.Value.Duration()
		}
		return true
	})
	fmt.Fprintf(n.out, "   >> retry: %s attempt %d failed; next attempt in %s\n", method, attempt, delay.Round(time.Millisecond))
	return nil
}

// lockedWriter serialises writes from the scenario, the breaker's timers and
// the ledger's goroutines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
