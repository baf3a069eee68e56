package store

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// subscriptionBuffer is how many messages a subscriber may lag behind before
// new ones are dropped for it; publishers never wait for subscribers.
const subscriptionBuffer = 256

// hub is the in-process change feed of the memory and embedded stores.
type hub struct {
	mu      sync.RWMutex
	subs    map[string]map[*hubSub]struct{}
	closed  bool
	dropped atomic.Int64
}

func newHub() *hub { return &hub{subs: make(map[string]map[*hubSub]struct{})} }

type hubSub struct {
	h        *hub
	ch       chan Message
	channels []string
	done     bool // guarded by h.mu
}

func (s *hubSub) C() <-chan Message { return s.ch }

func (s *hubSub) Close() error {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	s.closeLocked()
	return nil
}

func (s *hubSub) closeLocked() {
	if s.done {
		return
	}
	s.done = true
	for _, c := range s.channels {
		delete(s.h.subs[c], s)
		if len(s.h.subs[c]) == 0 {
			delete(s.h.subs, c)
		}
	}
	close(s.ch)
}

func (h *hub) subscribe(ctx context.Context, channels []string) (Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if len(channels) == 0 {
		return nil, fmt.Errorf("subscribe without channels: %w", ErrInvalid)
	}
	for _, c := range channels {
		if err := validKey(c); err != nil {
			return nil, err
		}
	}
	s := &hubSub{h: h, ch: make(chan Message, subscriptionBuffer), channels: slices.Compact(slices.Sorted(slices.Values(channels)))}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errClosed
	}
	for _, c := range s.channels {
		if h.subs[c] == nil {
			h.subs[c] = make(map[*hubSub]struct{})
		}
		h.subs[c][s] = struct{}{}
	}
	return s, nil
}

// publish delivers msgs without blocking: a full subscriber loses the message
// (and it is counted), because a slow reader must not stall writers.
func (h *hub) publish(msgs ...Message) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	for _, m := range msgs {
		for s := range h.subs[m.Channel] {
			select {
			case s.ch <- Message{Channel: m.Channel, Payload: slices.Clone(m.Payload)}:
			default:
				h.dropped.Add(1)
			}
		}
	}
}

func (h *hub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for _, set := range h.subs {
		for s := range set {
			s.closeLocked()
		}
	}
}
