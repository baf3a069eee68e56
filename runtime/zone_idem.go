package runtime

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"unicode/utf8"

	"github.com/baldur-go/baldur/runtime/idem"
)

// The idempotency steps of a zone. A wrapper generated for a method with
// idempotency= runs, around its usual breaker → retry → timeout body:
//
//	fp := runtime.NewHasher().String(orderID).Int64(cents)   // every argument but a leading context
//	claim, err = z.Claim(ctx, orderID, fp.Sum())            // or err = z.NoKey("req.Order is nil")
//	if claim.Replayed() { decode with z.DecodeResults and return }
//	defer z.Release(ctx, &claim)                              // a panic releases the key
//	... the body ...
//	z.Complete(ctx, &claim, err == nil, encodedResults)       // results only with idempotency_replay
//
// Keys are what the generated code extracted from the idempotency= path:
// non-empty, at most 255 bytes (idem.MaxKeyLen), valid UTF-8. A key outside
// these limits, or a nil pointer on the path, fails the call with a
// *NoKeyError (errors.Is ErrNoKey) before the inner method runs.
//
// Outcomes: a nil error keeps the key for the memory TTL (duplicates are
// refused with ErrDuplicate, or answered with the stored results in replay
// mode); an error after the last attempt, a breaker or bulkhead refusal, a
// panic or a cancellation releases it, so the caller may retry at once. A
// fallback's answer is never stored: the claim is released before the
// fallback runs, since the operation itself failed.
//
// Dry-run never blocks: a duplicate, a reused key, a missing key or an
// unreachable store is recorded as a would-have decision ("idempotency",
// "block") and the call runs unguarded. The kill switch skips idempotency
// entirely (the wrapper calls the inner method before any of this).

// Hasher computes the argument fingerprint of a claim (see idem.Hasher); an
// alias so that generated code needs no import beyond this package.
type Hasher = idem.Hasher

// NewHasher returns an empty fingerprint hasher.
func NewHasher() Hasher { return idem.NewHasher() }

// HashJSON adds v, encoded with encoding/json, to h. Generated code uses it
// for arguments of kinds the Hasher has no method for (structs, slices other
// than []byte, maps, pointers, type parameters): it allocates, through reflection,
// where the basic kinds cost nothing. JSON leaves out unexported struct
// fields, so they do not count towards the fingerprint; maps are encoded with
// sorted keys, so equal maps hash alike. Types JSON refuses by their type (a
// func field) never get here: baldurgen leaves them out of the fingerprint.
// A value JSON cannot encode (a NaN, a cycle, a failing MarshalJSON) adds the
// encoding error's text instead: the call still runs, and the fingerprint
// still depends on the other arguments.
func HashJSON(h Hasher, v any) Hasher {
	b, err := json.Marshal(v)
	if err != nil {
		return h.String("json error: " + err.Error())
	}
	return h.Bytes(b)
}

// HashStringer adds s.String() to h, or the Nil marker when s is nil.
// Generated code uses it for arguments of an interface type with a String
// method, the only interfaces the fingerprint reads (baldurgen leaves other
// interfaces, readers, funcs and channels out, and -explain says so).
func HashStringer(h Hasher, s fmt.Stringer) Hasher {
	if s == nil {
		return h.Nil()
	}
	return h.String(s.String())
}

// Claim is one call's hold on its idempotency key, from Zone.Claim to
// Zone.Complete (or Zone.Release). It is a small value: keep it on the stack
// and pass its address. The zero Claim runs the call unguarded; Complete and
// Release ignore it.
type Claim struct {
	idem.Claim
	key     string
	settled bool
}

// request builds the gate's request from the spec: a few words copied, no allocation.
func (z *Zone) request(key string, fingerprint uint64) idem.Request {
	return idem.Request{
		Domain:          z.spec.Service,
		Operation:       z.operation(),
		Key:             key,
		Fingerprint:     fingerprint,
		ExecutionWindow: z.spec.IdemTTL,
		FailOpen:        z.spec.IdemFailOpen,
		Replay:          z.spec.IdemReplay,
		RefuseDegraded:  z.refuseDegraded(),
	}
}

// What an idempotent method does while the store is DEGRADED
// (idempotency_degraded=, BALDUR_IDEMPOTENCY_DEGRADED): serve runs it on a
// claim in the local store, which cannot see the keys other processes
// claimed (nor those this process claimed more than RecentKeys ago);
// refuse fails it with ErrIdempotencyUnavailable.
const (
	IdemDegradedServe      = "serve"
	IdemDegradedRefuse     = "refuse"
	EnvIdempotencyDegraded = "BALDUR_IDEMPOTENCY_DEGRADED"
)

// refuseDegraded reads the method's posture; a value other than serve or
// refuse in a hand-written ZoneSpec refuses, the side that cannot duplicate.
func (z *Zone) refuseDegraded() bool {
	switch z.spec.IdemDegraded {
	case IdemDegradedServe:
		return false
	case "":
		return !z.spec.IdemFailOpen && z.rt.cfg.IdempotencyDegraded == IdemDegradedRefuse
	}
	return true
}

func (z *Zone) operation() string {
	if z.spec.Operation != "" {
		return z.spec.Operation
	}
	return z.spec.Method
}

// NoKey returns the error a call fails with when the generated code cannot
// extract its key, such as z.NoKey("req.Order is nil"): a *NoKeyError naming
// the idempotency= path (errors.Is ErrNoKey). In dry-run it records the
// would-have decision and returns nil, and the call runs unguarded.
func (z *Zone) NoKey(reason string) error {
	err := &NoKeyError{Service: z.spec.Service, Method: z.spec.Method, Path: z.spec.Idempotency, Reason: reason}
	if z.rt.wouldHave(z, "idempotency", "block", err.Error()) {
		return nil
	}
	return err
}

// Claim claims key for this call in the runtime's idempotency gate, under
// the service's domain and the method's operation, with the argument
// fingerprint the generated code computed. Without error the Claim says what
// to do: Replayed (return what DecodeResults gives), otherwise run the call
// and Complete it. Errors:
//
//	*NoKeyError (ErrNoKey)                            key empty, over 255 bytes or not UTF-8
//	*idem.DuplicateError (ErrDuplicate)               the key is running or completed
//	*idem.KeyReuseError (ErrKeyReuse)                 the key came first with other arguments
//	*idem.UnavailableError (ErrIdempotencyUnavailable) store unreachable, failing closed
//	the context's error                               ctx ended while claiming
//
// With idempotency_fail_open an unreachable store runs the call unguarded
// instead. In dry-run no error is returned: it is recorded as a would-have
// decision and the call runs unguarded (a replay too: the inner method runs).
func (z *Zone) Claim(ctx context.Context, key string, fingerprint uint64) (Claim, error) {
	c, err := z.rt.gate.Claim(ctx, z.request(key, fingerprint))
	if err != nil {
		if badKey(key) {
			err = &NoKeyError{Service: z.spec.Service, Method: z.spec.Method, Path: z.spec.Idempotency, Reason: keyReason(key)}
		}
		z.idem.count(claimErrorOutcome(err))
		if errors.Is(err, ErrIdempotencyUnavailable) {
			z.idemUnavailable(ctx, err)
		}
		if z.rt.wouldHave(z, "idempotency", "block", err.Error()) {
			return Claim{}, nil
		}
		return Claim{}, err
	}
	switch {
	case c.Replayed():
		z.idem.count(IdemReplayed)
		if z.rt.wouldHave(z, "idempotency", "replay", "duplicate of completed key "+key) {
			return Claim{}, nil
		}
	case c.Unguarded():
		z.idem.count(IdemFailOpen)
	default:
		z.idem.count(IdemClaimed)
	}
	return Claim{Claim: c, key: key}, nil
}

// Idempotency outcomes, as counted per method (see Runtime.IdempotencyOutcomes).
const (
	IdemClaimed     = "claimed"     // the call owned its key and ran
	IdemDuplicate   = "duplicate"   // refused: the key was running or completed
	IdemReplayed    = "replayed"    // answered with the first execution's results
	IdemKeyReuse    = "key_reuse"   // refused: the key came first with other arguments
	IdemUnavailable = "unavailable" // refused: the store was unreachable (fail-closed)
	IdemFailOpen    = "fail_open"   // ran unguarded: the store was unreachable (fail-open)
	IdemNoKey       = "no_key"      // refused: no usable key
	IdemCanceled    = "canceled"    // the caller's context ended while claiming
)

var idemOutcomes = [...]string{IdemClaimed, IdemDuplicate, IdemReplayed, IdemKeyReuse, IdemUnavailable, IdemFailOpen, IdemNoKey, IdemCanceled}

func claimErrorOutcome(err error) string {
	switch {
	case errors.Is(err, ErrNoKey):
		return IdemNoKey
	case errors.Is(err, ErrDuplicate):
		return IdemDuplicate
	case errors.Is(err, ErrKeyReuse):
		return IdemKeyReuse
	case errors.Is(err, ErrIdempotencyUnavailable):
		return IdemUnavailable
	}
	return IdemCanceled
}

// idemCounters counts one idempotent method's claim outcomes. The calls it
// counts already make a store round trip, so plain atomics are cheap here.
type idemCounters struct {
	n [len(idemOutcomes)]atomic.Uint64
	// alerted is when this method last raised idem_unavailable (unix ns).
	alerted atomic.Int64
}

func (c *idemCounters) count(outcome string) {
	for i, o := range idemOutcomes {
		if o == outcome {
			c.n[i].Add(1)
			return
		}
	}
}

// IdemOutcome is one idempotency outcome count of one method.
type IdemOutcome struct {
	Service, Method, Outcome string
	Count                    uint64
}

// IdempotencyOutcomes returns the claim outcomes of every idempotent method
// since the runtime started (outcomes never seen are left out).
func (rt *Runtime) IdempotencyOutcomes() []IdemOutcome {
	rt.mu.Lock()
	zones := make([]*Zone, 0, len(rt.zones))
	for _, z := range rt.zones {
		if z.idem != nil {
			zones = append(zones, z)
		}
	}
	rt.mu.Unlock()
	var out []IdemOutcome
	for _, z := range zones {
		for i, o := range idemOutcomes {
			if n := z.idem.n[i].Load(); n > 0 {
				out = append(out, IdemOutcome{Service: z.spec.Service, Method: z.spec.Method, Outcome: o, Count: n})
			}
		}
	}
	slices.SortFunc(out, func(a, b IdemOutcome) int {
		return cmp.Or(cmp.Compare(a.Service, b.Service), cmp.Compare(a.Method, b.Method), cmp.Compare(a.Outcome, b.Outcome))
	})
	return out
}

// badKey reports whether the gate refuses key itself (rather than the
// domain or operation); it runs only on Claim's error path.
func badKey(key string) bool {
	return key == "" || len(key) > idem.MaxKeyLen || !utf8.ValidString(key)
}

func keyReason(key string) string {
	switch {
	case key == "":
		return "key is empty"
	case len(key) > idem.MaxKeyLen:
		return fmt.Sprintf("key is %d bytes, over the limit of %d", len(key), idem.MaxKeyLen)
	default:
		return "key is not valid UTF-8"
	}
}

// Complete records the outcome of the call: succeeded keeps the key for the
// memory TTL (with results, the encoded results, stored for duplicates in
// replay mode); otherwise the key is released so the caller can retry. It
// does nothing for a zero, unguarded or replayed claim, nor for one already
// settled. A store failure here is logged by the gate and not returned: the
// call has run, and an error would invite the caller to run it again.
func (z *Zone) Complete(ctx context.Context, c *Claim, succeeded bool, results []byte) {
	if c.settled {
		return
	}
	c.settled = true
	if c.Owned() {
		_ = z.rt.gate.Complete(ctx, c.Claim, succeeded, results)
	}
}

// Release releases a claim the call never completed: the wrapper defers it,
// so that a panic (or runtime.Goexit) in the inner method frees the key for
// a retry instead of holding it for the whole execution window. After
// Complete it does nothing.
func (z *Zone) Release(ctx context.Context, c *Claim) {
	if c.settled {
		return
	}
	c.settled = true
	if !c.Owned() {
		return
	}
	z.rt.log.LogAttrs(ctx, slog.LevelWarn, "idem.claim_released",
		slog.String("service", z.spec.Service), slog.String("method", z.spec.Method),
		slog.String("key", c.key), slog.String("reason", "the inner method panicked or exited its goroutine"))
	_ = z.rt.gate.Complete(ctx, c.Claim, false, nil)
}

// EncodeResults encodes a successful call's results (a generated struct of
// them) for idempotency_replay. A value encoding/json refuses (a NaN, a
// failing MarshalJSON) is logged and nothing is stored: duplicates then get
// ErrDuplicate instead of a replay.
func (z *Zone) EncodeResults(results any) []byte {
	b, err := json.Marshal(results)
	if err != nil {
		z.rt.log.LogAttrs(context.Background(), slog.LevelWarn, "idem.results_unencodable",
			slog.String("service", z.spec.Service), slog.String("method", z.spec.Method), slog.String("error", err.Error()))
		return nil
	}
	return b
}

// DecodeResults decodes the results a replayed claim carries into results,
// a pointer to the generated struct EncodeResults was given. Results that
// were not stored or do not decode (the types changed between deployments)
// give an error matching ErrDuplicate: the first execution completed, but
// its answer cannot be replayed.
func (z *Zone) DecodeResults(c *Claim, results any) error {
	b := c.Results()
	var err error
	if len(b) == 0 {
		err = fmt.Errorf("no results were stored")
	} else if err = json.Unmarshal(b, results); err == nil {
		return nil
	}
	dup := &idem.DuplicateError{Domain: z.spec.Service, Operation: z.operation(), Key: c.key, State: idem.StateCompleted, Err: err}
	z.rt.log.LogAttrs(context.Background(), slog.LevelWarn, "idem.replay_failed",
		slog.String("service", z.spec.Service), slog.String("method", z.spec.Method),
		slog.String("key", c.key), slog.String("error", err.Error()))
	return fmt.Errorf("%s.%s: cannot replay idempotency key %q: %v: %w", z.spec.Service, z.spec.Method, c.key, err, dup)
}
