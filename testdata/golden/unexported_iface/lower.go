// Package lower: an unexported interface gets unexported wrapper names, and
// two interfaces in one file share one generated file.
package lower

import "context"

//baldur:protect
type paymentGateway interface {
	Charge(ctx context.Context, cents int64) error
}

// HTTPClient becomes the service http_client.
//
//baldur:protect
type HTTPClient interface {
	Do(ctx context.Context, url string) ([]byte, error)
}
