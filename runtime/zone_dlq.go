package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"

	"github.com/baldur-go/baldur/runtime/dlq"
	"github.com/baldur-go/baldur/runtime/idem"
)

// The dead-letter steps of a zone. A wrapper generated for a method with dlq
// ends, after its retries and its fallback, with
//
//	if err != nil {
//		err = z.Park(ctx, protectedPaymentsChargeSignature, protectedPaymentsChargeArgs{orderID, cents}, err, attempt)
//	}
//
// (the signature a const, the record a struct type of one field per
// parameter but a leading context, both declared once per method), so the
// arguments are built and encoded on the failure path only. Its constructor
// registers a replayer, a method of the wrapper that decodes the same type with DecodeArgs and
// calls the wrapper again, so that a replay meets every policy of a live
// call, idempotency included:
//
//	w.zCharge.RegisterReplayer(protectedPaymentsChargeSignature, w.replayCharge)
//
// What is parked: an error the caller gets, after the last attempt and after
// a fallback that failed too (a fallback's answer is an answer: nothing is
// parked), when it is a failure as the breaker counts them, or a breaker or
// bulkhead refusal. An error the classifier counts as a success (a 4xx, a
// declined card) or the caller's own cancellation is not parked: replaying it
// would not change the answer, or would run what the caller gave up.
// Idempotency refusals (duplicate, reused key, no key) return before the
// body and are never parked either.
//
// Under a replay, the zone's fallback does not answer (the entry must see
// the operation's own outcome) and Park stores nothing: the queue records
// the outcome on the entry being replayed. In dry-run Park records a
// would-have decision ("dlq", "park") and stores nothing; with the kill
// switch off the wrapper calls the inner method directly and none of this
// runs.
//
// The signature is the generator's hash of the parameters' names and types
// (plus, for a generic interface, its type arguments, see TypeArg): an entry
// parked under another signature is not replayed but goes to needs_review.

// NotParkedError is what a dlq method returns when its failure could not be
// parked: the call's own error, and why the queue did not take it. It
// matches both with errors.Is and errors.As: the call's error (ErrOpen,
// the inner method's sentinel...) and the cause (ErrDLQFull under the reject
// strategy, a store error, an argument encoding/json refused).
type NotParkedError struct {
	Service, Method string
	Err             error // the error of the call
	Cause           error // why it was not parked
}

func (e *NotParkedError) Error() string {
	return e.Err.Error() + " (not parked in the dead-letter queue: " + e.Cause.Error() + ")"
}

// Unwrap returns the call's error and the cause.
func (e *NotParkedError) Unwrap() []error { return []error{e.Err, e.Cause} }

// replayZone marks a context as the replay of one of this zone's entries.
type replayZone struct{}

func (z *Zone) replaying(ctx context.Context) bool {
	rz, _ := ctx.Value(replayZone{}).(*Zone)
	return rz == z
}

// Park parks a failed call for a typed replay: args is the generated struct
// of the call's arguments, encoded here with encoding/json; attempts is how
// many attempts were made (the one a breaker refused included). It returns
// the error the caller gets: err itself, or a *NotParkedError when the call
// should have been parked but could not be (ErrDLQFull under the reject
// strategy, a store error, an argument JSON cannot encode).
func (z *Zone) Park(ctx context.Context, signature string, args any, err error, attempts int) error {
	if err == nil || z.replaying(ctx) || !z.parkable(ctx, err) {
		return err
	}
	if z.rt.DryRun() {
		z.rt.wouldHave(z, "dlq", "park", "after "+strconv.Itoa(attempts)+" attempt(s): "+err.Error())
		return err
	}
	payload, jerr := json.Marshal(args)
	if jerr != nil {
		return z.notParked(ctx, err, fmt.Errorf("encode the arguments: %w", jerr))
	}
	// The caller's deadline must not cost the entry: the write is short, and
	// the call has failed already.
	id, perr := z.rt.dlq.q.Park(context.WithoutCancel(ctx), dlq.Capture{
		Domain: z.spec.Service, Method: z.spec.Method, Signature: signature,
		Args: payload, Err: err, Attempts: attempts,
	})
	if perr != nil {
		return z.notParked(ctx, err, perr)
	}
	if z.traced {
		z.tracePark(ctx, id, attempts)
	}
	return err
}

// parkable: a failure as the breaker counts it, or a refusal.
func (z *Zone) parkable(ctx context.Context, err error) bool {
	if injected(err) {
		return false // a rehearsal's failure: the call never ran, and a replay would make it real traffic
	}
	if errors.Is(err, ErrOpen) || errors.Is(err, ErrBulkheadFull) {
		return true
	}
	return classify(ctx, err, z.rt.cfg.Classifier) == Failure
}

func (z *Zone) notParked(ctx context.Context, err, cause error) error {
	if !errors.Is(cause, dlq.ErrFull) { // the queue logged its refusal already
		z.rt.log.LogAttrs(ctx, slog.LevelError, "dlq.park_failed",
			slog.String("domain", z.spec.Service), slog.String("operation", z.spec.Method),
			slog.String("error", err.Error()), slog.String("reason", cause.Error()))
	}
	return &NotParkedError{Service: z.spec.Service, Method: z.spec.Method, Err: err, Cause: cause}
}

// RegisterReplayer makes fn the replayer of the zone's parked calls
// captured with signature, in the runtime's queue; a later registration
// (another wrapper of the same service and method) replaces it. fn decodes
// the arguments with DecodeArgs and calls the wrapper. A replay that the
// idempotency gate answers with ErrDuplicate because the key completed
// counts as resolved: the operation already took effect, after the capture
// (the caller retried it) or in an earlier replay whose outcome was lost.
func (z *Zone) RegisterReplayer(signature string, fn func(ctx context.Context, args []byte) error) {
	d := z.rt.dlq
	d.domains.Store(z.spec.Service, true)
	d.q.Register(z.spec.Service, z.spec.Method, signature, func(ctx context.Context, args []byte) error {
		err := fn(context.WithValue(ctx, replayZone{}, z), args)
		var dup *idem.DuplicateError
		if errors.As(err, &dup) && dup.State == idem.StateCompleted {
			id, _ := dlq.ReplayOf(ctx)
			z.rt.log.LogAttrs(ctx, slog.LevelInfo, "dlq.replay_duplicate",
				slog.String("id", id), slog.String("domain", z.spec.Service), slog.String("operation", z.spec.Method),
				slog.String("key", dup.Key), slog.String("reason", "idempotency key completed already: resolved without running again"))
			return nil
		}
		return err
	})
}

// FallbackOutsideReplay is Fallback for a dlq method: under the replay of
// one of the zone's entries the fallback does not answer, since the entry
// is resolved only by the operation itself.
func (z *Zone) FallbackOutsideReplay(ctx context.Context, err error) bool {
	if err == nil || z.replaying(ctx) {
		return false
	}
	return z.Fallback(ctx, err)
}

// DecodeArgs decodes parked arguments into args, a pointer to the generated
// struct Park was given. Decoding is strict, since a replay with a field
// silently dropped or zeroed is worse than none: an unknown field (one
// removed or renamed since the capture), a type mismatch or trailing data
// fail with an error wrapped by dlq.Undecodable, and the entry goes to
// needs_review with the reason.
func DecodeArgs(raw []byte, args any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(args); err != nil {
		return dlq.Undecodable(fmt.Errorf("decode parked arguments: %w", err))
	}
	if dec.More() {
		return dlq.Undecodable(errors.New("decode parked arguments: data after the argument record"))
	}
	return nil
}

// TypeArg spells a type argument of a generic interface for the signature
// of its dlq methods: "[example.com/shop.User]". Instantiations of one
// generic interface share their zones (service and method), and so their
// replayer: with the type arguments in the signature, an entry parked by
// one instantiation and met by another's replayer goes to needs_review
// instead of being decoded into the wrong type.
func TypeArg[T any]() string {
	t := reflect.TypeFor[T]()
	if t.Name() != "" && t.PkgPath() != "" {
		return "[" + t.PkgPath() + "." + t.Name() + "]"
	}
	return "[" + t.String() + "]"
}
