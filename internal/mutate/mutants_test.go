package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestEveryMutantStillApplies: each planted bug's text is found exactly once
// in its file, so that `make mutate` (not part of CI) does not find the
// list stale on the day it is run; a refactor that moves the code updates
// the mutant in the same change.
func TestEveryMutantStillApplies(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	names := map[string]bool{}
	for _, m := range mutants {
		if names[m.name] {
			t.Errorf("mutant %s is listed twice", m.name)
		}
		names[m.name] = true
		src, err := os.ReadFile(filepath.Join(root, m.file))
		if err != nil {
			t.Errorf("mutant %s: %v", m.name, err)
			continue
		}
		if n := bytes.Count(src, []byte(m.old)); n != 1 {
			t.Errorf("mutant %s: its text is found %d times in %s, want once: update internal/mutate/mutants.go", m.name, n, m.file)
		}
		if m.old == m.new || len(m.pkgs) == 0 || m.why == "" {
			t.Errorf("mutant %s: needs a change, the packages that notice it and why", m.name)
		}
	}
}
