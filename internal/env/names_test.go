package env_test

import (
	"bufio"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/env"
)

var baldurName = regexp.MustCompile(`BALDUR_[A-Z0-9_]*`)

// namesInCode returns every BALDUR_ name found in the string literals of the
// library module's non-test Go files (nested modules, testdata and hidden
// folders left out), with a file where it appears. A name ending in "_" is
// a prefix the code completes (BALDUR_EVENT_LOGGING_ + family + …).
func namesInCode(t *testing.T, root string) map[string]string {
	t.Helper()
	found := map[string]string{}
	listFile := filepath.Join(root, "internal", "env", "names.go") // the list itself reads nothing
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			base := d.Name()
			if path != root && (base == "testdata" || strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_")) {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != root {
				return filepath.SkipDir // a module of its own
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") || path == listFile {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			for _, name := range baldurName.FindAllString(s, -1) {
				if _, seen := found[name]; !seen {
					found[name] = rel
				}
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	return found
}

// readmeEnvTable returns the variables named in the first column-with-names
// of the README's "Runtime behaviour and defaults" table.
func readmeEnvTable(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	names := map[string]bool{}
	in, table := false, false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## Runtime behaviour and defaults"
			table = false
		case in && strings.HasPrefix(line, "|"):
			table = true
			cells := strings.Split(line, "|")
			if len(cells) < 4 {
				continue
			}
			for _, m := range regexp.MustCompile("`(BALDUR_[A-Z0-9_<>]+)`").FindAllStringSubmatch(cells[2], -1) {
				names[m[1]] = true
			}
		case in && table:
			in = false // the table ended
		}
	}
	require.NoError(t, sc.Err())
	require.NotEmpty(t, names, "no BALDUR_ variable found in the README's Runtime behaviour and defaults table")
	return names
}

// TestEveryVariableTheCodeReadsIsKnownAndInTheREADME collects every BALDUR_
// name in the library's sources and fails on one that env.Vars lacks, or
// that the README's environment table lacks; and on a table row or a Vars
// entry the code no longer mentions.
func TestEveryVariableTheCodeReadsIsKnownAndInTheREADME(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	code := namesInCode(t, root)
	require.NotEmpty(t, code)
	table := readmeEnvTable(t, filepath.Join(root, "README.md"))

	var missingVars, missingREADME []string
	for name, file := range code {
		if strings.HasSuffix(name, "_") { // a prefix: some variable must start with it
			ok := false
			for _, v := range env.Vars {
				ok = ok || strings.HasPrefix(v.Name, name)
			}
			if !ok {
				missingVars = append(missingVars, name+"… ("+file+")")
			}
			continue
		}
		if !env.Known(name) {
			missingVars = append(missingVars, name+" ("+file+")")
		}
	}
	for _, v := range env.Vars {
		if !v.Harness && !table[v.Name] {
			missingREADME = append(missingREADME, v.Name)
		}
	}
	sort.Strings(missingVars)
	sort.Strings(missingREADME)
	assert.Empty(t, missingVars, "the code reads these, env.Vars (internal/env/names.go) does not list them")
	assert.Empty(t, missingREADME, "env.Vars lists these, the README's environment table does not")

	var stale []string
	for name := range table {
		known := false
		for _, v := range env.Vars {
			known = known || (v.Name == name && !v.Harness)
		}
		if !known {
			stale = append(stale, name+" (README)")
		}
	}
	for _, v := range env.Vars {
		if v.Harness {
			continue
		}
		_, exact := code[v.Name]
		_, prefix := code[v.Prefix()]
		if !exact && !prefix {
			stale = append(stale, v.Name+" (env.Vars)")
		}
	}
	sort.Strings(stale)
	assert.Empty(t, stale, "named but read nowhere in the code")
}

func TestKnownMatchesNamesAndPatterns(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]bool{
		"BALDUR_CB_WINDOW":                      true,
		"BALDUR_CB_WINDOWS":                     false,
		"BALDUR_BULKHEAD_DATABASE":              true,
		"BALDUR_BULKHEAD_EXTERNAL_API":          true,
		"BALDUR_BULKHEAD_":                      false,
		"BALDUR_BULKHEAD_db":                    false,
		"BALDUR_EVENT_LOGGING_CB_LOG_LEVEL":     true,
		"BALDUR_EVENT_LOGGING_LOG_LEVEL":        false,
		"BALDUR_EVENT_LOGGING_REPLAY_LEVEL":     false,
		"BALDUR_DLQ_TEST_CHILD":                 true,
		"BALDUR_PROTECT_DEFAULT_TIMEOUT_SECOND": false,
	} {
		assert.Equal(t, want, env.Known(name), name)
	}
}

func TestUnknownNamesTheNearestKnownVariable(t *testing.T) {
	t.Parallel()
	got := env.Unknown([]string{
		"PATH=/bin", "BALDUR_CB_WINDWO=60s", "BALDUR_CB_WINDOW=60s", "BALDUR_REDIS_URLL=redis://u:secret@h/0",
		"BALDUR_ZZZZZZZZZZZZZZZZ=1", "BALDUR_CB_WINDWO=61s", "BALDUR_DLQ_TEST_CHILD=1", "BALDUR_BULKHEAD_DATABASE=3",
	})
	assert.Equal(t, []env.Stranger{
		{Name: "BALDUR_CB_WINDWO", Nearest: "BALDUR_CB_WINDOW"},
		{Name: "BALDUR_REDIS_URLL", Nearest: "BALDUR_REDIS_URL"},
		{Name: "BALDUR_ZZZZZZZZZZZZZZZZ"},
	}, got)
	assert.Nil(t, env.Unknown([]string{"HOME=/root", "BALDUR_LOG_LEVEL=info"}))
}
