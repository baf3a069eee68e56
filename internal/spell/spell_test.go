package spell_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/internal/spell"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestDistanceCountsATranspositionAsOneEdit(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"retry", "retry", 0}, {"retyr", "retry", 1}, {"rety", "retry", 1}, {"retryy", "retry", 1},
		{"", "abc", 3}, {"abc", "", 3}, {"kitten", "sitting", 3},
		{"BALDUR_CB_WINDWO", "BALDUR_CB_WINDOW", 1},
	} {
		assert.Equal(t, c.want, spell.Distance(c.a, c.b), "%q %q", c.a, c.b)
	}
	long := string(make([]byte, 65))
	assert.Equal(t, 65, spell.Distance(long, "x"), "long input is far from everything")
}

func TestNearestSuggestsOnlyWhatIsClose(t *testing.T) {
	t.Parallel()
	known := []string{"BALDUR_CB_WINDOW", "BALDUR_CB_RECOVERY_TIMEOUT", "BALDUR_LOG_LEVEL"}
	best, d, ok := spell.Nearest("BALDUR_CB_WINDWO", known)
	assert.True(t, ok)
	assert.Equal(t, "BALDUR_CB_WINDOW", best)
	assert.Equal(t, 1, d)
	best, _, ok = spell.Nearest("baldur_log_levl", known)
	assert.True(t, ok, "case does not matter")
	assert.Equal(t, "BALDUR_LOG_LEVEL", best)
	_, _, ok = spell.Nearest("zzzz", known)
	assert.False(t, ok, "nothing within half the length")
	_, _, ok = spell.Nearest("x", nil)
	assert.False(t, ok)
	best, _, ok = spell.Nearest("retry_max", []string{"retry", "timeout"})
	assert.True(t, ok, "a contained word is near")
	assert.Equal(t, "retry", best)
}
