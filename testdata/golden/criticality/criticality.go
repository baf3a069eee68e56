// Package criticality: what emergency mode sheds last. The interface's
// criticality reaches every method; a method may override it.
package criticality

import "context"

// Search is shed first: low from HIGH.
//
//baldur:protect name=search criticality=low retry=2
type Search interface {
	// Find inherits low.
	Find(ctx context.Context, q string) ([]string, error)

	// Suggest is normal: shed only at CRITICAL.
	//baldur:protect criticality=normal
	Suggest(ctx context.Context, prefix string) ([]string, error)
}

// Payments is never shed.
//
//baldur:protect name=payments
type Payments interface {
	//baldur:protect criticality=high
	Charge(ctx context.Context, orderID string, cents int64) error

	// Refund leaves criticality unset: normal.
	Refund(ctx context.Context, orderID string) error
}
