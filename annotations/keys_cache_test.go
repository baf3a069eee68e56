package annotations

import (
	"go/scanner"
	"go/token"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The result-cache keys: accepted forms, refusals with their position, and
// the combinations Check refuses.
func TestCacheKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		text string
		want Policy
	}{
		{"//baldur:protect cache=30s", Policy{Cache: val(30 * time.Second)}},
		{"//baldur:protect cache=1m cache_key=req.Tenant.ID stale_if_error=5m",
			Policy{Cache: val(time.Minute), CacheKey: val("req.Tenant.ID"), StaleIfError: val(5 * time.Minute)}},
		{"//baldur:protect cache=off", Policy{Cache: val(time.Duration(0))}},
		{"//baldur:protect cache=24h stale_if_error=168h", Policy{Cache: val(24 * time.Hour), StaleIfError: val(168 * time.Hour)}},
	} {
		d, ok, errs := parseText(tc.text)
		require.True(t, ok, tc.text)
		require.Empty(t, errs, tc.text)
		assert.Equal(t, tc.want, noPos(d.Policy), tc.text)
		assert.Equal(t, tc.text[len("//baldur:protect "):], d.Policy.String(), "printed as written")
	}
	for _, tc := range []struct{ text, err string }{
		{"//baldur:protect cache=25h", `x.go:1:24: cache: 25h is too long; want at most 24h`},
		{"//baldur:protect cache", `x.go:1:18: cache: needs a value, such as cache=30s; want a Go duration such as 250ms or 5s, or off`},
		{"//baldur:protect cache=1m stale_if_error=169h", `x.go:1:42: stale_if_error: 169h is too long; want at most 168h`},
		{"//baldur:protect cache=1m cache_key=a..b", `x.go:1:39: cache_key: "a..b" has an empty name before "."; want a parameter name or a param.Field path`},
	} {
		_, _, errs := parseText(tc.text)
		assert.Equal(t, []string{tc.err}, errs, tc.text)
	}
}

func TestCheckCache(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args string
		errs []string
	}{
		{"cache=30s cache_key=id stale_if_error=5m retry=3", nil},
		{"cache=off idempotency=id", nil},
		{"cache_key=id stale_if_error=5m", []string{
			`x.go:1:18: cache_key: needs cache, which is not set; set cache=<duration> or remove cache_key`,
			`x.go:1:31: stale_if_error: needs cache, which is not set; set cache=<duration> or remove stale_if_error`,
		}},
		{"cache=30s idempotency=id", []string{
			`x.go:1:18: cache=30s and idempotency=id (written at 1:28): a cached answer skips the call, and idempotency= guards a write that must run once; cache a read, or remove cache`}},
		{"cache=30s dlq", []string{
			`x.go:1:18: cache=30s and dlq (written at 1:28): a parked call is replayed to make it, which a cached read never needs; keep one (cache=off or dlq=off on the method)`}},
	} {
		fset := token.NewFileSet()
		var errs scanner.ErrorList
		Check(fset, policyAt(t, fset, tc.args), &errs)
		assert.Equal(t, tc.errs, messages(errs), tc.args)
	}
}

func TestMergeCacheOffDropsTheInterfaceTuning(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	got := Merge(policyAt(t, fset, "cache=30s cache_key=id stale_if_error=5m"), policyAt(t, fset, "cache=off idempotency=id"))
	assert.Equal(t, "idempotency=id cache=off", got.String())
	var errs scanner.ErrorList
	Check(fset, got, &errs)
	assert.Empty(t, errs)
}
