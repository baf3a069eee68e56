// Package iterate: iterators run after the call returns, when the
// timeout's context is already cancelled.
package iterate

import (
	"context"
	"iter"
)

type Item struct{ ID string }

// Page holds an iterator over the rest.
type Page struct {
	Items []Item
	Rest  iter.Seq[Item]
}

// Items is an alias of an iterator.
type Items = iter.Seq[Item]

//baldur:protect name=items timeout=2s
type Store interface {
	All(ctx context.Context) (iter.Seq[Item], error)
	Pairs(ctx context.Context) (iter.Seq2[string, Item], error)
	First(ctx context.Context) (*Page, error)
	Aliased(ctx context.Context) (Items, error)
	//baldur:protect timeout=off
	Lazy(ctx context.Context) (iter.Seq[Item], error)
	Count(ctx context.Context) (int, error)
}
