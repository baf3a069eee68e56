package generator

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChainSpellsIdempotencyAndItsOptions(t *testing.T) {
	for want, s := range map[string]zoneSpec{
		"idempotency(orderID) → breaker": {Method: "Charge", Breaker: true, Idempotency: "orderID", Operation: "Charge"},
		"idempotency(req.Order.ID, operation place, window 1m30s, fail-open, replay)": {
			Method: "Place", Idempotency: "req.Order.ID", Operation: "place",
			IdemTTL: 90 * time.Second, IdemFailOpen: true, IdemReplay: true,
		},
	} {
		assert.Equal(t, want, s.Chain())
	}
}

// -explain shows each idempotent method's key and options, from the golden inputs.
func TestExplainShowsIdempotency(t *testing.T) {
	res, _ := generateGolden(t)
	out := res.Explain()
	for _, line := range []string{
		"  payments.Charge: idempotency(orderID) → breaker → retry(3, exp(100ms,10s)) → timeout(5s) → dlq",
		"  orders.ByPointerPath: idempotency(req.Order.ID, operation place-order) → breaker",
		"  charges.Charge: idempotency(orderID, window 1m30s, replay) → breaker → retry(2, const(10ms))",
		"  mailer.Send: idempotency(msgID, fail-open) → breaker",
		"  notifier.NotifyStrict: idempotency(id, window 2m) → breaker",
	} {
		assert.Contains(t, strings.Split(out, "\n"), line)
	}
}

// The resolved key path is what the wrapper walks: nil checks where a
// pointer or an interface could stop it, embedded fields spelled out.
func TestKeyPathResolution(t *testing.T) {
	res, _ := generateGolden(t)
	keys := make(map[string]*keyPath)
	for _, pkg := range res.packages {
		if !strings.HasSuffix(pkg.Path, "/idempotency_paths") {
			continue
		}
		for _, f := range pkg.Files {
			for _, it := range f.Interfaces {
				for _, m := range it.Methods {
					keys[m.Name] = m.Key
				}
			}
		}
	}
	spell := func(k *keyPath) string {
		var b strings.Builder
		for _, s := range k.Steps {
			switch s.Kind {
			case keySelect:
				b.WriteString("." + s.Field)
			case keyDeref:
				b.WriteString(" *")
			case keyNilCheck:
				b.WriteString(" [" + s.Path + "]")
			}
		}
		return b.String()
	}
	for name, want := range map[string]struct {
		steps string
		conv  keyConv
	}{
		"ByParam":               {"", keyString},
		"ByPointerPath":         {" [req].Order [req.Order].ID", keyString},
		"ByPromoted":            {".Meta.RequestID", keyString},
		"ByUint":                {" [req].Meta.Seq", keyUint},
		"ByStringer":            {".Ref", keyStringer},
		"ByBigInt":              {".Order [req.Order].Total [req.Order.Total]", keyStringer},
		"ByInt":                 {" [n] *", keyInt},
		"ByEmbeddedPointer":     {".Meta [env.Meta].RequestID", keyString},
		"ByEnum":                {" [env].Status", keyInt},
		"ByPointerToPointer":    {" [req] * [*req].Order [req.Order].ID", keyString},
		"ByPointerToPointerInt": {" [id] * [*id] *", keyUint},
		"ByInterface":           {" [s]", keyStringer},
	} {
		k := keys[name]
		require.NotNil(t, k, name)
		assert.Equal(t, want.steps, spell(k), name)
		assert.Equal(t, want.conv, k.Conv, name)
	}
}

// -explain says, under each idempotent method, which arguments the
// fingerprint reads and which it leaves out by name, and when key reuse
// cannot be detected at all.
func TestExplainSaysWhatTheFingerprintReadsAndLeavesOut(t *testing.T) {
	res, _ := generateGolden(t)
	out := res.Explain()
	want := `  objects.PutObject: idempotency(in.IdempotencyKey) → breaker
    fingerprint reads: in (not the content of in.Body, in.Parts[].Data)
    fingerprint leaves out: optFns (holds a func, which encoding/json cannot encode)
  objects.Upload: idempotency(key) → breaker
    fingerprint reads: key
    fingerprint leaves out: body (is a reader, whose content the call consumes); done (is a channel); opts (holds a func, which encoding/json cannot encode)
    key reuse cannot be detected: every argument but the key is left out of the fingerprint
  objects.Label: idempotency(key) → breaker
    fingerprint reads: key, label
    fingerprint leaves out: meta (is an interface other than fmt.Stringer); cause (is an interface other than fmt.Stringer); buf (is a reader, whose content the call consumes)
  objects.Hook: idempotency(key) → breaker
    fingerprint reads: key, tagged, cents
    fingerprint leaves out: hooks (holds a func (field OnRetry), which encoding/json cannot encode); grid (holds a map keyed by fp.Point, which encoding/json cannot encode)
  objects.Only: idempotency(key) → breaker
    fingerprint reads: key
`
	assert.Contains(t, out, want)
	// A method whose only other content is the rest of the key's struct can
	// still tell a reuse; so can one whose other arguments are all read.
	assert.Contains(t, out, "  orders.ByPointerPath: idempotency(req.Order.ID, operation place-order) → breaker\n    fingerprint reads: req\n")
	assert.Equal(t, 1, strings.Count(out, "key reuse cannot be detected"), "only Upload is blind to reuse")
}

// The fingerprint's choice, per argument, is by type; the emitter hashes
// exactly the arguments it reads.
func TestFingerprintLeavesOutByType(t *testing.T) {
	res, _ := generateGolden(t)
	got := make(map[string]string)
	for _, pkg := range res.packages {
		if !strings.HasSuffix(pkg.Path, "/idempotency_fingerprint") && !strings.HasSuffix(pkg.Path, "/idempotency_paths") {
			continue
		}
		for _, f := range pkg.Files {
			for _, it := range f.Interfaces {
				for _, m := range it.Methods {
					for _, a := range m.Fingerprint {
						got[m.Name+"."+a.Name] = a.Out
					}
				}
			}
		}
	}
	for arg, out := range map[string]string{
		"Kinds.ch":               "is a channel",
		"Kinds.fn":               "is a func",
		"Kinds.c64":              "",
		"Kinds.m":                "",
		"Kinds.xs":               "",
		"ByInterface.s":          "", // a fmt.Stringer: read by String
		"PutObject.in":           "",
		"PutObject.optFns":       "holds a func, which encoding/json cannot encode",
		"Upload.body":            "is a reader, whose content the call consumes",
		"Label.label":            "",
		"Label.meta":             "is an interface other than fmt.Stringer",
		"Label.cause":            "is an interface other than fmt.Stringer",
		"Label.buf":              "is a reader, whose content the call consumes",
		"Hook.tagged":            "",
		"Hook.grid":              "holds a map keyed by fp.Point, which encoding/json cannot encode",
		"ByPointerToPointer.req": "",
	} {
		have, ok := got[arg]
		if assert.True(t, ok, "no fingerprint entry for %s", arg) {
			assert.Equal(t, out, have, arg)
		}
	}
}
