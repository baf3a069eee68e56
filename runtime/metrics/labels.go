package metrics

import (
	"strings"
	"sync"
)

// maxLabelLen bounds a free-form label value: a runaway value (a key pasted
// as a domain) must not bloat every scrape.
const maxLabelLen = 128

// freeForm makes v a valid, bounded label value.
func freeForm(v string) string {
	v = strings.ToValidUTF8(v, "\uFFFD")
	if len(v) > maxLabelLen {
		v = strings.ToValidUTF8(v[:maxLabelLen], "")
	}
	return v
}

// labelCap keeps at most max distinct free-form values of one label, first
// come first kept, for the Collector's whole life: a value never moves
// between its own series and "__other__", so counters stay monotonic.
type labelCap struct {
	mu       sync.Mutex
	max      int
	admitted map[string]struct{}
}

func newLabelCap(max int) *labelCap {
	return &labelCap{max: max, admitted: make(map[string]struct{}, max)}
}

// label returns the value to use for v: v itself when it is known (from the
// method list) or admitted, else Other.
func (l *labelCap) label(v string, known map[string]struct{}) string {
	if _, ok := known[v]; ok {
		return v
	}
	v = freeForm(v)
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.admitted[v]; ok {
		return v
	}
	if len(l.admitted) < l.max {
		l.admitted[v] = struct{}{}
		return v
	}
	return Other
}
