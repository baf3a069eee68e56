// Package bulkhead: an interface-level bulkhead is one compartment named
// after the service; a method-level bulkhead gets "service.Method".
package bulkhead

import "context"

// Search shares a compartment of 10, except Reindex with its own of 1.
//
//baldur:protect bulkhead=10 bulkhead_wait=100ms
type Search interface {
	Query(ctx context.Context, q string) ([]string, error)
	//baldur:protect bulkhead=1
	Reindex(ctx context.Context) error
	//baldur:protect bulkhead=off
	Stats(ctx context.Context) (int, error)
}
