package generator

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/baldur-go/baldur/annotations"
	"github.com/baldur-go/baldur/runtime"
)

// fallback_on= is checked at generate time against the kinds the runtime
// tells apart: the two lists must be the same.
func TestFallbackOnKindsAreTheRuntimes(t *testing.T) {
	t.Parallel()
	assert.Equal(t, runtime.FailureKindNames(), annotations.FailureKinds)
}
