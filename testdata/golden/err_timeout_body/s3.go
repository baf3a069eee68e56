// Package s3: an AWS-SDK-v2-like client. GetObject returns a struct whose
// Body is read after the call, so a timeout would fail the read with
// context canceled; data-only results and in-memory buffers are fine.
package s3

import (
	"bytes"
	"context"
	"io"
)

// Options are the per-call functional options.
type Options struct {
	Region string
}

type GetObjectInput struct {
	Bucket *string
	Key    *string
}

// GetObjectOutput holds the body: read after GetObject returns.
type GetObjectOutput struct {
	Body          io.ReadCloser
	ContentLength *int64
	Metadata      map[string]string
}

// HeadObjectOutput is data only.
type HeadObjectOutput struct {
	ContentLength *int64
	ETag          *string
	body          io.ReadCloser // unexported: not the caller's to read
}

// Stream embeds the part holding the body: Body is promoted.
type Stream struct {
	Payload
	Name string
}

type Payload struct {
	Body io.Reader
}

//baldur:protect name=s3
type Client interface {
	//baldur:protect timeout=10s
	GetObject(ctx context.Context, in *GetObjectInput, optFns ...func(*Options)) (*GetObjectOutput, error)
	//baldur:protect timeout=10s
	HeadObject(ctx context.Context, in *GetObjectInput, optFns ...func(*Options)) (*HeadObjectOutput, error)
	//baldur:protect timeout=10s
	Open(ctx context.Context, key string) (io.ReadCloser, error)
	//baldur:protect timeout=10s
	Select(ctx context.Context, key string) (string, Stream, error)
	// A *bytes.Buffer is in memory when the call returns.
	//baldur:protect timeout=10s
	Download(ctx context.Context, key string) (*bytes.Buffer, error)
}
