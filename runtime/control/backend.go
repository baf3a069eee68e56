package control

import (
	"context"
	"sync"
)

// Backend persists the control state. Implementations: Memory (tests), File
// (the default, one host), Redis (fleet-wide).
type Backend interface {
	// Load returns the stored state, Default() when nothing is stored, or an
	// error. A stored state that cannot be decoded is set aside (renamed, never
	// deleted) and reported as an error wrapping ErrCorrupt, whose *CorruptError
	// says where it went; the next Load then finds nothing.
	Load(ctx context.Context) (State, error)
	// Update applies fn to the stored state atomically (with respect to every
	// process sharing the backend) and stores the result. Corrupt stored state
	// is handled as in Load: set aside and reported, fn not called.
	Update(ctx context.Context, fn func(State) (State, error)) (State, error)
	// Describe names where the state lives, for status pages and logs.
	Describe() string
	// Close releases the backend's resources.
	Close() error
}

// Watcher is implemented by backends shared between processes: Watch calls
// changed (from its own goroutine) whenever another process may have changed
// the state, until ctx is done. It returns once the subscription is
// established, so a change made after Watch returns is never missed.
type Watcher interface {
	Watch(ctx context.Context, changed func()) (stop func(), err error)
}

// Memory keeps the state in process memory. It is for tests and for
// processes that want the switches without persistence.
type Memory struct {
	mu    sync.Mutex
	state *State
}

// NewMemory returns an empty memory backend.
func NewMemory() *Memory { return &Memory{} }

// Load implements Backend.
func (m *Memory) Load(context.Context) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == nil {
		return Default(), nil
	}
	return m.state.clone(), nil
}

// Update implements Backend.
func (m *Memory) Update(_ context.Context, fn func(State) (State, error)) (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur := Default()
	if m.state != nil {
		cur = m.state.clone()
	}
	next, err := fn(cur)
	if err != nil {
		return State{}, err
	}
	next = next.clone()
	m.state = &next
	return next.clone(), nil
}

// Describe implements Backend.
func (m *Memory) Describe() string { return "memory" }

// Close implements Backend.
func (m *Memory) Close() error { return nil }
