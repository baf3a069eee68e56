package annotations

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseOverride(t *testing.T) {
	t.Parallel()
	base := Policy{Retry: Opt[int]{Set: true, Val: 3}, Timeout: Opt[time.Duration]{Set: true, Val: time.Second},
		Deadline: Opt[time.Duration]{Set: true, Val: 10 * time.Second}}
	ok := []struct{ in, want string }{
		{"retry=5 timeout=2s", "retry=5 timeout=2s"},
		{"  backoff=exp(50ms,1s) ", "backoff=exp(50ms,1s)"},
		{"retry=off", "retry=off"},
		{"timeout=off", "timeout=off"},
	}
	for _, c := range ok {
		p, err := ParseOverride(c.in)
		if err == nil {
			err = CheckOverride(base, p)
		}
		if err != nil {
			t.Errorf("ParseOverride(%q): %v", c.in, err)
			continue
		}
		if got := p.String(); got != c.want {
			t.Errorf("ParseOverride(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	bad := []struct{ in, want string }{
		{"", "at least one key=value"},
		{"retry=500", "retry: 500 is out of range; want 1..100 or off"},
		{"retry = 5", `no spaces allowed around "="`},
		{"retyr=5", `unknown key "retyr"`},
		{"timeout=2 s", ""},
		{"idempotency=orderID", "idempotency: cannot change at run time: it changes the code baldurgen generates"},
		{"dlq", "dlq: cannot change at run time"},
		{"fallback=cached", "fallback: cannot change at run time"},
		{"compartment=db", "compartment: cannot change at run time"},
		{"retry=off backoff=const(1s)", "backoff: needs retry, which is off"},
		{"timeout=20s", "deadline=10s is not longer than timeout=20s"},
		{"retry=2 retry=3", "retry"},
		{"//baldur:protect retry=3", "write the keys alone"},
	}
	for _, c := range bad {
		p, err := ParseOverride(c.in)
		if err == nil {
			err = CheckOverride(base, p)
		}
		if err == nil {
			t.Errorf("ParseOverride(%q): no error", c.in)
			continue
		}
		if _, isOE := err.(*OverrideError); !isOE {
			t.Errorf("ParseOverride(%q): %T, want *OverrideError", c.in, err)
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("ParseOverride(%q) = %q, want it to contain %q", c.in, err, c.want)
		}
	}
}

func TestRuntimeKeysAreNotShapeKeys(t *testing.T) {
	t.Parallel()
	got := strings.Join(RuntimeKeys(), " ")
	if got != "breaker_threshold breaker_recovery retry backoff timeout bulkhead bulkhead_wait" {
		t.Errorf("RuntimeKeys() = %q", got)
	}
}

func TestEveryRuntimeKeyHasOneRolloutType(t *testing.T) {
	t.Parallel()
	types := []string{RolloutRetry, RolloutTimeout, RolloutBreaker, RolloutBulkhead}
	for i := range keys {
		k := &keys[i]
		switch {
		case k.Runtime && !slices.Contains(types, k.Rollout):
			t.Errorf("key %s is Runtime with rollout type %q; want one of %v", k.Name, k.Rollout, types)
		case !k.Runtime && k.Rollout != "":
			t.Errorf("key %s has rollout type %q but is not Runtime", k.Name, k.Rollout)
		}
	}
	for _, c := range []struct{ in, want string }{
		{"retry=5 backoff=const(1ms)", "retry"},
		{"timeout=2s retry=2", "retry timeout"},
		{"bulkhead_wait=10ms", "bulkhead"},
		{"bulkhead=5 breaker_recovery=10s breaker_threshold=3", "breaker bulkhead"},
	} {
		p, err := ParseOverride(c.in)
		if err != nil {
			t.Fatalf("ParseOverride(%q): %v", c.in, err)
		}
		if got := strings.Join(RolloutTypes(p), " "); got != c.want {
			t.Errorf("RolloutTypes(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// The breaker's keys and bulkhead are overrides of what the service's
// methods share: good and bad values, and the refusals for one method, in
// a canary and of bulkhead=off.
func TestOverrideSharedKeys(t *testing.T) {
	t.Parallel()
	base := Policy{Bulkhead: Opt[int]{Set: true, Val: 10}}
	for _, in := range []string{"breaker_threshold=10", "breaker_threshold=1000 breaker_recovery=1h", "breaker_recovery=30s", "bulkhead=20", "bulkhead=1 bulkhead_wait=50ms"} {
		p, err := ParseOverride(in)
		if err == nil {
			err = CheckOverride(base, p)
		}
		if err != nil {
			t.Errorf("ParseOverride(%q): %v", in, err)
		} else if p.String() != in {
			t.Errorf("ParseOverride(%q) = %q", in, p.String())
		}
	}
	for in, want := range map[string]string{
		"breaker_threshold=0":    "breaker_threshold: 0 is out of range; want 1..1000",
		"breaker_threshold=1001": "breaker_threshold: 1001 is out of range; want 1..1000",
		"breaker_threshold=off":  `breaker_threshold: "off" is not a number`,
		"breaker_threshold=ten":  `breaker_threshold: "ten" is not a number`,
		"breaker_recovery=90m":   "breaker_recovery: 90m is too long; want at most 1h",
		"breaker_recovery=30":    `breaker_recovery: "30" has no unit`,
		"bulkhead=off":           "bulkhead: cannot be switched off at run time: a running service keeps its compartment",
		"bulkhead=1000001":       "bulkhead: 1000001 is out of range",
	} {
		_, err := ParseOverride(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseOverride(%q) = %v, want it to contain %q", in, err, want)
		}
	}

	o, err := ParseOverride("retry=2 breaker_threshold=10 bulkhead=20")
	if err != nil {
		t.Fatal(err)
	}
	err = CheckMethodOverride("payments", o)
	want := "breaker_threshold: cannot be overridden for one method: the service's breaker is shared by all the service's methods; " +
		"override the service (payments) or *; bulkhead: cannot be overridden for one method: the compartment bulkhead= makes is shared " +
		"by all the service's methods; override the service (payments) or *"
	if err == nil || err.Error() != want {
		t.Errorf("CheckMethodOverride = %v\nwant %s", err, want)
	}
	if _, isOE := err.(*OverrideError); !isOE {
		t.Errorf("CheckMethodOverride: %T, want *OverrideError", err)
	}
	if !SetsShared(o) {
		t.Errorf("SetsShared(%s) = false", o.String())
	}
	retry, _ := ParseOverride("retry=2 bulkhead_wait=1s")
	if err := CheckMethodOverride("payments", retry); err != nil {
		t.Errorf("CheckMethodOverride(retry, bulkhead_wait) = %v", err)
	}
	if SetsShared(retry) {
		t.Errorf("SetsShared(retry, bulkhead_wait) = true")
	}
}
