package modecheck

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Cached answers 7 when its script has nothing for it.
func (f *fake) Cached(_ context.Context, sku string) (int64, error) {
	if err := f.next("Cached"); err != nil {
		return 0, err
	}
	return 7, nil
}

// cacheRows are the result cache's row of TestPoliciesInEachMode: the same
// key twice.
func cacheRows() []struct {
	policy string
	parked bool
	cells  map[string]cell
} {
	ctx := context.Background()
	twice := func(t *testing.T, e *env) {
		t.Helper()
		for range 2 {
			v, err := e.svc.Cached(ctx, "sku-1")
			require.NoError(t, err)
			require.Equal(t, int64(7), v)
		}
	}
	return []struct {
		policy string
		parked bool
		cells  map[string]cell
	}{
		{"cache", false, map[string]cell{
			live: func(t *testing.T, e *env, _ string) {
				twice(t, e)
				assert.Equal(t, 1, e.inner.count("Cached"), "the second call is answered from the cache")
			},
			dryRun: func(t *testing.T, e *env, _ string) {
				twice(t, e)
				assert.Equal(t, 2, e.inner.count("Cached"), "a hit lets the call through")
				assert.Equal(t, []string{"Cached:cache:hit"}, e.wouldHave())
			},
			disabled: func(t *testing.T, e *env, _ string) {
				twice(t, e)
				assert.Equal(t, 2, e.inner.count("Cached"), "the cache is not read")
			},
		}},
	}
}
