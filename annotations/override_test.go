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
	if got != "retry backoff timeout bulkhead_wait" {
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
