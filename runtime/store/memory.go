package store

import "github.com/baldur-go/baldur/runtime/clock"

// Memory is the in-process store for tests and single-process use: the
// embedded store's state machine without a log. Nothing survives Close.
type Memory struct {
	*engine
}

var _ Store = (*Memory)(nil)

// MemoryOptions configure NewMemoryWith. The zero value is usable.
type MemoryOptions struct {
	// Clock drives expiry and stream IDs. Default: the system clock.
	Clock clock.Clock
}

// NewMemory returns an empty memory store on the system clock.
func NewMemory() *Memory { return NewMemoryWith(MemoryOptions{}) }

// NewMemoryWith returns an empty memory store.
func NewMemoryWith(opts MemoryOptions) *Memory {
	return &Memory{engine: newEngine(opts.Clock, "memory store")}
}
