// Package shape holds the load-shaping policies of the baldur runtime: a
// token-bucket rate limiter (also shared by a fleet through the store), a
// retry budget, client-side adaptive throttling and an adaptive concurrency
// limit. Each decides whether a call is sent now; none of them runs the call.
//
// Why one package for the four: they are one job (admit, delay or refuse a
// call before it reaches the dependency), they share the time source
// (runtime/clock), the sliding window (window.go) and the hot-path idiom (an
// atomic take with no clock read on the success path), and the Zone composes
// them in one order. A package per policy would export that shared plumbing
// or copy it four times. The types are self-contained: each is usable and
// tested on its own, with a fake clock, and knows nothing of Zone.
//
// Hot path: when quiet (below the rate, no failures, below the limit) each
// policy's success path reads no clock and allocates nothing; the clock is
// read once per batch of tokens, per retry, per failure or per sampled call.
// The README's "Measured" section has the figures and the command.
package shape
