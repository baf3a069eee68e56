package annotations

import (
	"fmt"
	"go/token"
	"strconv"
	"strings"
	"time"
)

// maxHedge bounds hedge=: extra attempts beyond the first.
const maxHedge = 10

// hedgeKeys are the hedging rows of the key table (the README's "Load
// shaping", Hedging): hedge=N extra attempts after hedge_delay=, only on a
// method declared safe to repeat (idempotent, or idempotency=).
var hedgeKeys = [...]Key{
	{Name: "hedge", Want: "1..10 or off", Example: "2", Feature: true, Spec: "Hedge", Enable: "hedge=1..10",
		Conflict: hedgeConflict,
		field:    opt(count(maxHedge), func(p *Policy) *Opt[int] { return &p.Hedge })},
	{Name: "hedge_delay", Want: wantDuration + ", or a latency percentile p50..p99.9 such as p95", Example: "p95",
		Requires: "hedge", Spec: "HedgeDelay",
		field: opt(hedgeDelayKind, func(p *Policy) *Opt[string] { return &p.HedgeDelay })},
	{Name: "idempotent", Want: wantSwitch,
		field: opt(onOff, func(p *Policy) *Opt[bool] { return &p.Idempotent })},
}

// hedgeDelayKind: a Go duration (at most an hour) or pNN, a percentile of
// the zone's sampled latencies; kept as written.
var hedgeDelayKind = kind[string]{parse: (*arg).hedgeDelay, format: func(s string) string { return s },
	on: func(s string) bool { return s != "" }}

func (a *arg) hedgeDelay() (string, bool) {
	if q, ok := strings.CutPrefix(a.val, "p"); ok {
		f, err := strconv.ParseFloat(q, 64)
		if err != nil || f < 50 || f > 99.9 {
			a.fail(a.valOff, "%q is not a percentile from p50 to p99.9", a.val)
			return "", false
		}
		return a.val, true
	}
	if _, ok := a.parseDuration(a.valOff, a.val, a.key+":", time.Hour); !ok {
		return "", false
	}
	return a.val, true
}

// hedgeConflict: a hedge repeats the call while the first attempt still
// runs, so the method must be declared safe to repeat, and a parked call
// (dlq) would be replayed once for several attempts that may have landed.
func hedgeConflict(p *Policy, lineCol func(token.Pos) string) string {
	switch {
	case p.Hedge.Val == 0:
		return ""
	case p.DLQ.Val:
		return fmt.Sprintf("hedge=%d and dlq (written at %s): hedged attempts may have reached the dependency when the call "+
			"is parked, so a replay would repeat them; keep one (hedge=off or dlq=off on the method)", p.Hedge.Val, lineCol(p.DLQ.Pos))
	case !p.Idempotent.Val && p.Idempotency.Val == "":
		return fmt.Sprintf("hedge=%d repeats the call while the first attempt still runs, and the method is not declared safe "+
			"to repeat; write idempotent (or idempotency=<param>) on it, or remove hedge", p.Hedge.Val)
	}
	return ""
}
