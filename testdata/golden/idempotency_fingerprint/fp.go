// Package fp: what the idempotency fingerprint reads and leaves out. Funcs,
// channels, readers and interfaces other than fmt.Stringer are left out by
// name (never hashed as a fixed string); a reader in a field is read past.
package fp

import (
	"bytes"
	"context"
	"fmt"
	"io"
)

// Options are an S3-like client's per-call options.
type Options struct {
	Region string
}

// PutObjectInput carries the key and a body JSON cannot see.
type PutObjectInput struct {
	Bucket         string
	Key            string
	IdempotencyKey string
	Body           io.Reader
	Parts          []Part
}

// Part holds a reader too.
type Part struct {
	N    int
	Data io.Reader
}

// Hooks holds a func in an exported field: encoding/json refuses it.
type Hooks struct {
	Name    string
	OnRetry func(attempt int)
}

// Tagged leaves its func out of JSON on purpose, so the rest is read.
type Tagged struct {
	Name    string
	OnRetry func(attempt int) `json:"-"`
}

// Point keys a map JSON cannot encode.
type Point struct{ X, Y int }

//baldur:protect name=objects
type Objects interface {
	// The S3 shape: the options are funcs, the body is read past.
	//baldur:protect idempotency=in.IdempotencyKey
	PutObject(ctx context.Context, in *PutObjectInput, optFns ...func(*Options)) (string, error)
	// Nothing but the key is fingerprinted: key reuse cannot be detected.
	//baldur:protect idempotency=key
	Upload(ctx context.Context, key string, body io.Reader, done chan<- error, opts ...func(*Options)) error
	// A fmt.Stringer is read by its String method; any, error and a
	// concrete reader are left out.
	//baldur:protect idempotency=key
	Label(ctx context.Context, key string, label fmt.Stringer, meta any, cause error, buf *bytes.Buffer) error
	// Types JSON refuses are left out; a json:"-" field is not in the way.
	//baldur:protect idempotency=key
	Hook(ctx context.Context, key string, hooks Hooks, tagged Tagged, grid map[Point]int, cents int64) error
	// Only the key: nothing else to tell a reuse by, and nothing to say.
	//baldur:protect idempotency=key
	Only(ctx context.Context, key string) error
}
