package shape

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/runtime/clock"
)

// ThrottleSettings configures a Throttle. Zero values mean the defaults.
type ThrottleSettings struct {
	// K is how many requests per accepted one the client sends before it
	// starts rejecting locally; 0 means 2, the value the SRE book suggests.
	// Lower is more aggressive (1.1 rejects as soon as a tenth of the calls
	// fail); higher lets more doomed calls through.
	K float64
	// Window is the trailing span the counts cover; 0 means two minutes, as
	// in the book.
	Window time.Duration
	// Clock is the time source; nil means clock.Real().
	Clock clock.Clock
	// Sent, when set, is a running count of the calls sent kept elsewhere
	// (the runtime's per-call counters), read when the probability is
	// computed: the quiet path then writes nothing. nil: Allow counts.
	Sent func() int64
}

// Throttle defaults.
const (
	DefaultThrottleK      = 2
	DefaultThrottleWindow = 2 * time.Minute
	// throttleRecompute bounds how often a rejecting throttle folds its
	// window to move the probability (successes arrive without the time).
	throttleRecompute = 100 * time.Millisecond
)

// Throttle is client-side adaptive throttling, as in the Google SRE book,
// chapter "Handling Overload": over the trailing window it counts requests
// (every call, those it rejected itself included) and accepts (calls the
// dependency did not fail), and rejects a new call locally with probability
//
//	max(0, (requests − K·accepts) / (requests + 1))
//
// So while the dependency accepts at least one call in K, nothing is
// rejected; when it accepts at most C calls a second, the client sends about
// K·C a second and sheds the rest before sending it, and a trickle still goes
// through to see it recover. Its own rejections count as requests not
// accepted, so after a full outage the probability comes down over a few
// windows once the failures have left the window, not at once.
//
// The hot path (Allow while the probability is 0, Success) is one atomic
// load and one atomic add: a success adds to requests, and accepts are
// requests minus failures minus local rejections, which are counted on the
// slow path.
type Throttle struct {
	p atomic.Uint64 // the rejection probability, math.Float64bits; 0 when quiet
	w *window       // calls = sent; a = failures; b = local rejections
	k float64

	counts      bool         // Allow counts the calls sent (no Sent source)
	recomputeAt atomic.Int64 // ns since the window's epoch
	rejected    atomic.Uint64
}

// NewThrottle checks s and builds its throttle.
func NewThrottle(s ThrottleSettings) (*Throttle, error) {
	if s.K == 0 {
		s.K = DefaultThrottleK
	}
	if s.K < 1 || math.IsNaN(s.K) || math.IsInf(s.K, 0) {
		return nil, fmt.Errorf("adaptive throttle: K %v is below 1", s.K)
	}
	if s.Window == 0 {
		s.Window = DefaultThrottleWindow
	}
	if s.Window < time.Second {
		return nil, fmt.Errorf("adaptive throttle: window %s is under a second", s.Window)
	}
	return &Throttle{w: newWindow(s.Clock, s.Window, 24, s.Sent), k: s.K, counts: s.Sent == nil}, nil
}

// Allow counts a request and reports whether to send it; false is a local
// rejection (answer it with ErrThrottled). Every allowed call must end in
// Success or Failure.
func (t *Throttle) Allow() bool {
	if t.p.Load() != 0 {
		return t.allow()
	}
	if t.counts {
		t.w.calls.Add(1)
	}
	return true
}

func (t *Throttle) allow() bool {
	p := math.Float64frombits(t.p.Load())
	if now := t.w.now(); now >= t.recomputeAt.Load() {
		t.recomputeAt.Store(now + int64(throttleRecompute))
		p = t.recompute(0, 0)
	}
	if rand.Float64() >= p {
		if t.counts {
			t.w.calls.Add(1)
		}
		return true
	}
	t.rejected.Add(1)
	t.recompute(0, 1)
	return false
}

// Success records that the dependency accepted an allowed call. Accepted is
// the default (requests minus what was not accepted): nothing to count.
func (t *Throttle) Success() {}

// Failure records that the dependency refused or failed an allowed call.
func (t *Throttle) Failure() { t.recompute(1, 0) }

// recompute adds failures and local rejections and sets the probability:
// requests are the calls sent and those rejected, accepts those sent less
// the failures.
func (t *Throttle) recompute(failures, rejections int64) float64 {
	c := t.w.add(failures, rejections)
	requests, accepts := c.calls+c.b, max(0, c.calls-c.a)
	p := max(0, (float64(requests)-t.k*float64(accepts))/float64(requests+1))
	t.p.Store(math.Float64bits(p))
	return p
}

// Shedding reports, with one atomic load and no side effect, whether Allow
// could shed a call now (the probability is above 0). While it is not, a
// caller may admit without Allow and call Sent instead.
func (t *Throttle) Shedding() bool { return t.p.Load() != 0 }

// Sent counts a call admitted without Allow (while not Shedding): one
// atomic add, or nothing when the calls sent are counted elsewhere
// (ThrottleSettings.Sent).
func (t *Throttle) Sent() {
	if t.counts {
		t.w.calls.Add(1)
	}
}

// Probability is the current local rejection probability.
func (t *Throttle) Probability() float64 { return math.Float64frombits(t.p.Load()) }

// Rejected is how many calls the throttle rejected locally.
func (t *Throttle) Rejected() uint64 { return t.rejected.Load() }

// K is the throttle's multiplier.
func (t *Throttle) K() float64 { return t.k }
