package backoff_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/runtime/backoff"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDelays(t *testing.T) {
	t.Parallel()
	c := backoff.Policy{Kind: backoff.Const, Base: 7 * time.Millisecond}
	for n := 1; n < 5; n++ {
		assert.Equal(t, 7*time.Millisecond, c.Delay(n))
	}
	e := backoff.Policy{Kind: backoff.Exp, Base: 100 * time.Millisecond, Max: time.Second}
	for range 200 {
		assert.Less(t, e.Delay(1), 100*time.Millisecond, "full jitter under base for the first retry")
		assert.Less(t, e.Delay(3), 400*time.Millisecond)
		d := e.Delay(90) // far past the cap, and past where the shift overflows
		assert.GreaterOrEqual(t, d, time.Duration(0))
		assert.Less(t, d, time.Second)
	}
	assert.Equal(t, backoff.Default, backoff.Policy{}.Normalized())
	assert.Equal(t, "exp(100ms,1s)", e.String())
	assert.Equal(t, "const(7ms)", c.String())
	assert.Equal(t, "exp(1m,1h)", backoff.Policy{Kind: backoff.Exp, Base: time.Minute, Max: time.Hour}.String())
}

// TestExpStaysUnderItsCapAtEveryAttempt: the full-jitter draw before retry n
// is below min(Max, Base*2^(n-1)) for every n, including the attempts where
// the doubling passes Max and those where it overflows, and the draws spread
// over that range (the cap limits the delay, it does not replace it).
func TestExpStaysUnderItsCapAtEveryAttempt(t *testing.T) {
	t.Parallel()
	e := backoff.Policy{Kind: backoff.Exp, Base: 100 * time.Millisecond, Max: time.Second}
	for n := 1; n <= 130; n++ {
		ceiling := e.Max
		if n <= 4 {
			ceiling = e.Base << (n - 1) // 100, 200, 400, 800 ms
		}
		longest := time.Duration(0)
		for range 200 {
			d := e.Delay(n)
			require.GreaterOrEqual(t, d, time.Duration(0), "retry %d", n)
			require.Less(t, d, ceiling, "retry %d: the delay is capped at %s", n, ceiling)
			longest = max(longest, d)
		}
		require.Greater(t, longest, ceiling/2, "retry %d: 200 draws stay under half of %s", n, ceiling)
	}
}
