package modules

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// root is the repository's root, where the library module's go.mod is.
const root = "../.."

// forbidden are the modules (and the module paths below them) that only the
// examples, benchmarks and the browser test need: none may enter the library
// module's build list.
var forbidden = []string{
	"google.golang.org/grpc",
	"go.uber.org/fx",
	"go.uber.org/dig",
	"github.com/google/wire",
	"github.com/chromedp",
	"github.com/failsafe-go",
	"github.com/sony/gobreaker",
	"github.com/redis/rueidis",
	"golang.org/x/perf",
}

func goCmd(t *testing.T, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	// The library module on its own, as `go get` sees it: not the workspace.
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.Output()
	var stderr []byte
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = ee.Stderr
	}
	require.NoError(t, err, "go %s:\n%s", strings.Join(args, " "), stderr)
	return out
}

func TestLibraryBuildListHasNoExampleBenchOrBrowserModule(t *testing.T) {
	t.Parallel()
	list := strings.Fields(string(goCmd(t, "list", "-m", "-f", "{{.Path}}", "all")))
	require.Equal(t, "github.com/baldur-go/baldur", list[0], "go list -m all starts with the main module")
	for _, path := range list {
		for _, bad := range forbidden {
			if path == bad || strings.HasPrefix(path, bad+"/") {
				t.Errorf("the library module's build list has %s: move what needs it into examples/, bench/ or runtime/admin/browser/ (README, Architecture)", path)
			}
		}
	}
}

// TestWorkspaceListsEveryModule: go.work joins every go.mod of the tree, so
// that editors and `go test ./examples/...` from the root see them all.
func TestWorkspaceListsEveryModule(t *testing.T) {
	t.Parallel()
	var found []string
	require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if d.Name() == "go.mod" {
			rel, err := filepath.Rel(root, filepath.Dir(path))
			found = append(found, filepath.ToSlash(rel))
			return err
		}
		return nil
	}))
	var work struct{ Use []struct{ DiskPath string } }
	require.NoError(t, json.Unmarshal(goCmd(t, "work", "edit", "-json", "go.work"), &work))
	var used []string
	for _, u := range work.Use {
		used = append(used, filepath.ToSlash(filepath.Clean(u.DiskPath)))
	}
	slices.Sort(found)
	slices.Sort(used)
	require.Equal(t, found, used, "go.work's use list and the go.mod files of the tree disagree")
}

// TestNoMergeConflictMarkers: a merge left half resolved (conflict markers
// committed in a console page, a doc or a source file) fails here, whatever
// the file's language and whether or not anything parses it.
func TestNoMergeConflictMarkers(t *testing.T) {
	t.Parallel()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); path != root && (strings.HasPrefix(name, ".") && name != ".ci" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if slices.Contains(b, 0) {
			return nil // binary
		}
		for i, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "<<<<<<< ") || strings.HasPrefix(line, ">>>>>>> ") {
				t.Errorf("%s:%d: a merge conflict marker: %q", path, i+1, line)
			}
		}
		return nil
	})
	require.NoError(t, err)
}
