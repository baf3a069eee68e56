package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

var updateScripts = flag.Bool("update", false, "rewrite the testscript files' want sections from what the commands printed")

// leakCheckedM runs the tests and then goleak, so that testscript.Main can
// still re-execute this binary as baldurgen.
type leakCheckedM struct{ m *testing.M }

func (l leakCheckedM) Run() int {
	code := l.m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			os.Stderr.WriteString("goleak: " + err.Error() + "\n")
			return 1
		}
	}
	return code
}

// TestMain re-executes the test binary as the real baldurgen command when a
// script runs "exec baldurgen", the way stringer and gofumpt test their CLIs.
func TestMain(m *testing.M) {
	testscript.Main(leakCheckedM{m}, map[string]func(){
		"baldurgen": main,
	})
}

// goEnv is the go command's cache locations, which the scripts' sandbox
// (HOME=/no-home) would otherwise lose.
func goEnv(t *testing.T) map[string]string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOCACHE", "GOMODCACHE", "GOPATH").Output()
	require.NoError(t, err)
	v := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.Len(t, v, 3)
	return map[string]string{"GOCACHE": v[0], "GOMODCACHE": v[1], "GOPATH": v[2]}
}

// TestScriptsRunTheRealCommand runs testdata/script/*.txtar: each starts
// baldurgen as a separate process on a small module.
func TestScriptsRunTheRealCommand(t *testing.T) {
	env := goEnv(t)
	testscript.Run(t, testscript.Params{
		Dir:           "testdata/script",
		UpdateScripts: *updateScripts,
		Setup: func(e *testscript.Env) error {
			for k, v := range env {
				e.Setenv(k, v)
			}
			e.Setenv("GOPROXY", "off")
			e.Setenv("GOFLAGS", "")
			e.Setenv("GOTOOLCHAIN", "local")
			e.Setenv("GOWORK", "off")
			return nil
		},
	})
}

// TestExitStatus pins the exit codes, which scripts cannot tell apart.
func TestExitStatus(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644))
	}
	write("go.mod", "module example.com/x\n\ngo 1.26\n")
	write("x.go", "package x\n\nimport \"context\"\n\n//baldur:protect retry=3\ntype Svc interface {\n\tDo(ctx context.Context) error\n}\n")
	t.Chdir(dir)

	run := func(args ...string) (int, string) {
		var out, errb bytes.Buffer
		code := baldurgen(args, &out, &errb)
		return code, out.String() + errb.String()
	}
	code, out := run("-nosuchflag")
	assert.Equal(t, 2, code, out)
	code, out = run("x.go")
	assert.Equal(t, 2, code, out)
	assert.Contains(t, out, "works on packages, not files")

	code, out = run("-check")
	assert.Equal(t, 1, code, "missing file: %s", out)
	code, out = run()
	assert.Equal(t, 0, code, out)
	code, out = run("-check")
	assert.Equal(t, 0, code, out)

	write("x.go", "package x\n\n//baldur:protect retry=0\ntype Svc interface {\n\tDo() error\n}\n")
	code, out = run()
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "x.go:3:")
}
