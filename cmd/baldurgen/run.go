package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/baldur-go/baldur/generator"
)

type options struct {
	patterns       []string
	tags           []string
	explain, check bool
}

// run generates and, unless told not to, writes: only this step touches the
// file system, and only when the whole generation succeeded.
func run(o options, stdout, stderr io.Writer) int {
	cwd, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(stderr, "baldurgen: %v\n", err)
		return 1
	}
	res, err := generator.Generate(generator.Config{Patterns: o.patterns, Tags: o.tags})
	if err != nil {
		var list generator.ErrorList
		if errors.As(err, &list) {
			for _, l := range list.Lines(cwd) {
				fmt.Fprintln(stderr, l)
			}
		} else {
			fmt.Fprintf(stderr, "baldurgen: %v\n", err)
		}
		return 1
	}
	if o.explain {
		fmt.Fprint(stdout, res.Explain())
	}
	if o.check {
		return check(res, cwd, stderr)
	}
	if o.explain {
		return 0
	}
	if err := write(res); err != nil {
		fmt.Fprintf(stderr, "baldurgen: %v\n", err)
		return 1
	}
	return 0
}

// check lists what a regeneration would change.
func check(res *generator.Result, cwd string, stderr io.Writer) int {
	var problems []string
	for _, f := range res.Files {
		old, err := os.ReadFile(f.Path)
		switch {
		case errors.Is(err, os.ErrNotExist):
			problems = append(problems, rel(cwd, f.Path)+": missing")
		case err != nil:
			problems = append(problems, rel(cwd, f.Path)+": "+err.Error())
		case !bytes.Equal(old, f.Content):
			problems = append(problems, rel(cwd, f.Path)+": out of date")
		}
	}
	for _, s := range res.Stale {
		problems = append(problems, rel(cwd, s)+": stale (its source has no //baldur:protect interface left)")
	}
	if len(problems) == 0 {
		return 0
	}
	fmt.Fprintln(stderr, "baldurgen -check: generated files are not up to date; run go generate ./... (or baldurgen ./...):")
	for _, p := range problems {
		fmt.Fprintln(stderr, "\t"+p)
	}
	return 1
}

// write leaves identical files untouched, replaces the others atomically and
// deletes the stale ones.
func write(res *generator.Result) error {
	for _, f := range res.Files {
		if old, err := os.ReadFile(f.Path); err == nil && bytes.Equal(old, f.Content) {
			continue
		}
		tmp, err := os.CreateTemp(filepath.Dir(f.Path), ".baldurgen-*.tmp")
		if err != nil {
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
		_, werr := tmp.Write(f.Content)
		cerr := tmp.Close()
		if err := errors.Join(werr, cerr, os.Chmod(tmp.Name(), 0o644)); err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
		if err := os.Rename(tmp.Name(), f.Path); err != nil {
			os.Remove(tmp.Name())
			return fmt.Errorf("write %s: %w", f.Path, err)
		}
	}
	for _, s := range res.Stale {
		if err := os.Remove(s); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("delete stale %s: %w", s, err)
		}
	}
	return nil
}

func rel(cwd, path string) string {
	if r, err := filepath.Rel(cwd, path); err == nil && !filepath.IsAbs(r) && len(r) > 0 && r[0] != '.' {
		return r
	}
	return path
}
