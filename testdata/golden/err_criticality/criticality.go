// Package criticality: misuses of criticality are positioned errors and
// nothing is written.
package criticality

import "context"

//baldur:protect name=shop criticality=urgent
type Shop interface {
	//baldur:protect criticality
	Bare(ctx context.Context) error
	//baldur:protect criticality=HIGH
	Upper(ctx context.Context) error
	//baldur:protect criticality=off
	Off(ctx context.Context) error
}
