package leader

import "context"

type tokenKey struct{}

// WithToken returns ctx carrying the fencing token of the term a task runs
// under; the scheduler gives it to every leader-only task.
func WithToken(ctx context.Context, tok Token) context.Context {
	return context.WithValue(ctx, tokenKey{}, tok)
}

// TokenFrom returns the fencing token ctx carries, and false when it carries none.
func TokenFrom(ctx context.Context) (Token, bool) {
	tok, ok := ctx.Value(tokenKey{}).(Token)
	return tok, ok && tok != 0
}
