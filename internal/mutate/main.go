// Command mutate measures how strong the tests are: it plants one plausible
// bug at a time (the list in mutants.go) in a scratch copy of the module, runs
// the tests of the packages that should notice, and prints the kill rate and
// the survivors. `make mutate` runs it; it is not part of `make test` or CI
// (a few minutes of tests per planted bug), run it before a release.
//
//	go run ./internal/mutate [-run regexp] [-keep] [-v]
//
// A planted bug is killed when its packages' tests fail (the first failing
// test is named), and survives when they pass. A mutant whose text is not
// found exactly once ("stale": the code moved) or that does not compile is an
// error in the list, counted apart, and makes the command exit 1 so that the
// list is kept up to date. Packages whose tests fail before any bug is planted
// are reported and their mutants skipped.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

func main() {
	run := flag.String("run", "", "only the mutants whose name matches this regexp")
	keep := flag.Bool("keep", false, "keep the scratch copy and print where it is")
	verbose := flag.Bool("v", false, "print the test output of every surviving mutant")
	timeout := flag.Duration("timeout", 10*time.Minute, "bound on one package test run")
	flag.Parse()
	if err := mutate(*run, *keep, *verbose, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "mutate:", err)
		os.Exit(1)
	}
}

func mutate(filter string, keep, verbose bool, timeout time.Duration) error {
	re, err := regexp.Compile(filter)
	if err != nil {
		return fmt.Errorf("-run %q: %w", filter, err)
	}
	var selected []mutant
	for _, m := range mutants {
		if re.MatchString(m.name) {
			selected = append(selected, m)
		}
	}
	if len(selected) == 0 {
		return fmt.Errorf("no mutant matches -run %q", filter)
	}
	root, err := gitOutput(".", "rev-parse", "--show-toplevel")
	if err != nil {
		return err
	}
	scratch, err := os.MkdirTemp("", "baldur-mutate-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("scratch copy:", scratch)
	} else {
		defer os.RemoveAll(scratch)
	}
	if err := copyModule(strings.TrimSpace(root), scratch); err != nil {
		return err
	}

	// Baseline: every package involved must pass before anything is planted.
	var pkgs []string
	for _, m := range selected {
		pkgs = append(pkgs, m.pkgs...)
	}
	slices.Sort(pkgs)
	pkgs = slices.Compact(pkgs)
	red := map[string]bool{}
	for _, p := range pkgs {
		fmt.Printf("baseline %-28s ", p)
		res := goTest(scratch, timeout, p)
		switch {
		case res.err != nil:
			return res.err
		case res.failed:
			red[p] = true
			fmt.Printf("FAIL (%s): its mutants are skipped\n", res.why())
		default:
			fmt.Printf("ok (%s)\n", res.took.Round(time.Second))
		}
	}

	var killed, survived, skipped, broken []mutant
	for i, m := range selected {
		fmt.Printf("[%2d/%d] %-44s ", i+1, len(selected), m.name)
		if slices.ContainsFunc(m.pkgs, func(p string) bool { return red[p] }) {
			skipped = append(skipped, m)
			fmt.Println("SKIPPED (a package fails without it)")
			continue
		}
		path := filepath.Join(scratch, m.file)
		orig, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if n := bytes.Count(orig, []byte(m.old)); n != 1 {
			broken = append(broken, m)
			fmt.Printf("STALE: %q occurs %d times in %s (want once)\n", m.old, n, m.file)
			continue
		}
		if err := os.WriteFile(path, bytes.Replace(orig, []byte(m.old), []byte(m.new), 1), 0o644); err != nil {
			return err
		}
		res := goTest(scratch, timeout, m.pkgs...)
		if err := os.WriteFile(path, orig, 0o644); err != nil {
			return err
		}
		switch {
		case res.err != nil:
			return res.err
		case res.buildFailed:
			broken = append(broken, m)
			fmt.Println("DOES NOT COMPILE:", res.why())
		case res.failed:
			killed = append(killed, m)
			fmt.Printf("killed by %s (%s)\n", res.why(), res.took.Round(time.Second))
		default:
			survived = append(survived, m)
			fmt.Printf("SURVIVED (%s)\n", res.took.Round(time.Second))
			if verbose {
				fmt.Println(res.output)
			}
		}
	}

	measured := len(killed) + len(survived)
	fmt.Println()
	if measured > 0 {
		fmt.Printf("kill rate: %d of %d planted bugs caught (%.0f %%)\n", len(killed), measured, 100*float64(len(killed))/float64(measured))
	}
	for _, m := range survivors(survived) {
		fmt.Println("  survivor:", m)
	}
	if len(skipped) > 0 {
		fmt.Printf("%d skipped: their packages fail without any bug planted\n", len(skipped))
	}
	if len(broken) > 0 {
		return fmt.Errorf("%d mutants no longer apply (stale or not compiling): update internal/mutate/mutants.go", len(broken))
	}
	return nil
}

func survivors(ms []mutant) []string {
	out := make([]string, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.name+" ("+m.file+"): "+m.why)
	}
	return out
}

type testResult struct {
	failed, buildFailed bool
	firstFail           string
	output              string
	took                time.Duration
	err                 error // the go command could not run at all
}

func (r testResult) why() string {
	if r.firstFail != "" {
		return r.firstFail
	}
	if r.buildFailed {
		if i := strings.Index(r.output, "\n"); i > 0 {
			return r.output[:i]
		}
	}
	return "a failing test run"
}

var failLine = regexp.MustCompile(`(?m)^\s*--- FAIL: (\S+)|^panic: test timed out|^FAIL\s+\S+\s+\[(build|setup) failed\]`)

// goTest runs the packages' tests (without -race, -short so that the crash
// tests which re-run themselves for a minute stay out) in dir.
func goTest(dir string, timeout time.Duration, pkgs ...string) testResult {
	ctx, cancel := context.WithTimeout(context.Background(), timeout+time.Minute)
	defer cancel()
	args := append([]string{"test", "-count=1", "-short", "-failfast", "-timeout", timeout.String()}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	res := testResult{output: out.String(), took: time.Since(start)}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return res
	case !errors.As(err, &exit):
		res.err = fmt.Errorf("go test %s: %w", strings.Join(pkgs, " "), err)
		return res
	}
	res.failed = true
	for _, m := range failLine.FindAllStringSubmatch(res.output, -1) {
		switch {
		case m[2] != "":
			res.buildFailed = true
		case m[1] != "" && res.firstFail == "":
			res.firstFail = m[1]
		case strings.HasPrefix(m[0], "panic: test timed out") && res.firstFail == "":
			res.firstFail = "a test timeout"
		}
	}
	return res
}

// copyModule copies the files git knows of (tracked, and untracked ones not
// ignored: uncommitted work is measured too) from root to dst.
func copyModule(root, dst string) error {
	list, err := gitOutput(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	if err != nil {
		return err
	}
	sc := bufio.NewScanner(strings.NewReader(list))
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexByte(data, 0); i >= 0 {
			return i + 1, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	for sc.Scan() {
		rel := sc.Text()
		if err := copyFile(filepath.Join(root, rel), filepath.Join(dst, rel)); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // deleted in the working tree
			}
			return err
		}
	}
	return sc.Err()
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil || st.IsDir() {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, st.Mode().Perm())
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func gitOutput(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}
