package generator

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestChainSpellsIdempotencyAndItsOptions(t *testing.T) {
	for want, s := range map[string]Spec{
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
	keys := make(map[string]*Key)
	for _, pkg := range res.Packages {
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
	spell := func(k *Key) string {
		var b strings.Builder
		for _, s := range k.Steps {
			switch s.Kind {
			case KeySelect:
				b.WriteString("." + s.Field)
			case KeyDeref:
				b.WriteString(" *")
			case KeyNilCheck:
				b.WriteString(" [" + s.Path + "]")
			}
		}
		return b.String()
	}
	for name, want := range map[string]struct {
		steps string
		conv  KeyConv
	}{
		"ByParam":               {"", KeyString},
		"ByPointerPath":         {" [req].Order [req.Order].ID", KeyString},
		"ByPromoted":            {".Meta.RequestID", KeyString},
		"ByUint":                {" [req].Meta.Seq", KeyUint},
		"ByStringer":            {".Ref", KeyStringer},
		"ByBigInt":              {".Order [req.Order].Total [req.Order.Total]", KeyStringer},
		"ByInt":                 {" [n] *", KeyInt},
		"ByEmbeddedPointer":     {".Meta [env.Meta].RequestID", KeyString},
		"ByEnum":                {" [env].Status", KeyInt},
		"ByPointerToPointer":    {" [req] * [*req].Order [req.Order].ID", KeyString},
		"ByPointerToPointerInt": {" [id] * [*id] *", KeyUint},
		"ByInterface":           {" [s]", KeyStringer},
	} {
		k := keys[name]
		require.NotNil(t, k, name)
		assert.Equal(t, want.steps, spell(k), name)
		assert.Equal(t, want.conv, k.Conv, name)
	}
}
