// Package spell finds the nearest of a set of known words, so that a typo in
// a directive key or a BALDUR_* variable is answered with "did you mean …?".
// It measures edit distance with adjacent transpositions counted as one edit.
package spell

import "strings"

// Distance is the edit distance between a and b counting an adjacent
// transposition as one edit ("retyr" is one step from "retry"). Inputs longer
// than 64 bytes are as far as their length from everything: fuzzed input
// does not pay for the table.
func Distance(a, b string) int {
	if len(a) > 64 {
		return len(a)
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}

// Nearest returns the word of known closest to w (case-insensitive; the first
// of equals wins) and its distance, and ok=false when known is empty or the
// best is more than half of w's length away: a guess that far off misleads
// more than it helps. A known word of 3 bytes or more that w contains counts
// as distance 1 ("retry_max" is near "retry").
func Nearest(w string, known []string) (best string, d int, ok bool) {
	lw := strings.ToLower(w)
	d = -1
	for _, k := range known {
		lk := strings.ToLower(k)
		kd := Distance(lw, lk)
		if len(lk) >= 3 && strings.Contains(lw, lk) {
			kd = min(kd, 1)
		}
		if d < 0 || kd < d {
			best, d = k, kd
		}
	}
	if d < 0 || 2*d > len(w) {
		return "", d, false
	}
	return best, d, true
}
