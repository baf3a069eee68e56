// Package modules holds the test that keeps the library module lean: what
// `go get github.com/baldur-go/baldur` brings is what the runtime and the
// generator import, and the examples, benchmarks, browser test and golden
// cases live in modules of their own (README, Architecture).
package modules
