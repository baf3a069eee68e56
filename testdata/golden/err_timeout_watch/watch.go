// Package watch: a client-go-like typed client. Watch returns an interface
// whose ResultChan is fed after Watch returns, so a timeout, here inherited
// from the interface, would close the watch as the call returns.
package watch

import "context"

// Event is one change a watch delivers.
type Event struct {
	Type   string
	Object any
}

// Interface is watch.Interface: the channel outlives the call.
type Interface interface {
	Stop()
	ResultChan() <-chan Event
}

// ListOptions selects what to list or watch.
type ListOptions struct {
	LabelSelector   string
	ResourceVersion string
}

// PodList is data: a timeout fits List.
type PodList struct {
	ResourceVersion string
	Items           []string
}

// Informer is concrete; its pointer method Events returns a channel.
type Informer struct {
	events chan Event
}

func (i *Informer) Events() <-chan Event { return i.events }

// Session holds a watch in a field.
type Session struct {
	ID    string
	Watch Interface
}

// Watcher is embedded: its Watch inherits the interface-level timeout too.
type Watcher interface {
	WatchAll(ctx context.Context, opts ListOptions) (Interface, error)
}

//baldur:protect timeout=30s
type PodInterface interface {
	List(ctx context.Context, opts ListOptions) (*PodList, error)
	Watch(ctx context.Context, opts ListOptions) (Interface, error)
	Inform(ctx context.Context, opts ListOptions) (Informer, error)
	Open(ctx context.Context) (*Session, error)
	Watcher
	// Lifted: the caller's context bounds the watch.
	//baldur:protect timeout=off
	WatchLong(ctx context.Context, opts ListOptions) (Interface, error)
}

//baldur:protect timeout=10s
//baldur:skip WatchAll
type Lifted interface {
	Watcher
	List(ctx context.Context, opts ListOptions) (*PodList, error)
}
