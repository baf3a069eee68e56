// Package dlq: the argument record and the replayer of dlq methods, for
// nested structs, slices, maps, times and pointers, a variadic, a method
// without a context, unnamed parameters, a fallback, and package names that
// the replayer's locals must not hide.
package dlq

import (
	"context"
	"encoding/json"
	"time"
)

// Address is nested in Customer.
type Address struct {
	Street string
	Lines  []string
}

// Customer nests every kind a parked argument may hold.
type Customer struct {
	Name    string
	Address *Address
	Tags    map[string][]int
	Since   time.Time
	Nick    *string
	Homes   map[int64]Address `json:"homes,omitempty"`
	// OnSave is not data, and JSON is told to leave it out.
	OnSave func() `json:"-"`
}

// Money keeps its cents unexported but encodes them itself.
type Money struct{ cents int64 }

// MarshalJSON encodes the cents.
func (m Money) MarshalJSON() ([]byte, error) { return json.Marshal(m.cents) }

// UnmarshalJSON decodes the cents.
func (m *Money) UnmarshalJSON(b []byte) error { return json.Unmarshal(b, &m.cents) }

// raw and args are package names the replayer's locals must not hide.
type (
	raw  []byte
	args struct{ N int }
)

// Orders parks its failed calls.
//
//baldur:protect name=orders dlq retry=2 backoff=const(10ms)
type Orders interface {
	Place(ctx context.Context, c Customer, items []Address, total Money, at time.Time, note *string) (string, error)
	// Tag forwards ...string, parked as a slice and replayed with tags...
	Tag(ctx context.Context, id string, tags ...string) error
	// Flush has no context: a replay runs it under its own.
	Flush(batch map[int64][]byte, opts ...int) error
	// Mixed has unnamed parameters and several results.
	Mixed(context.Context, string, int, raw) (int, bool, error)
	// Store takes the package's raw and args types.
	//baldur:protect retry=off
	Store(ctx context.Context, r raw, a args, w *args) error
	// Quote parks only when its fallback fails too.
	//baldur:protect fallback=cachedQuote
	Quote(ctx context.Context, sku string) (int64, error)
	//baldur:protect dlq=off
	Plain(ctx context.Context, id string) error
}

// cachedQuote answers Quote while the pricing service is down.
func cachedQuote(_ context.Context, _ string, err error) (int64, error) { return 0, err }
