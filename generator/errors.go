package generator

import (
	"fmt"
	"go/scanner"
	"go/token"
	"path/filepath"
	"sort"
	"strings"
)

// ErrorList is every problem Generate found, each with its file:line:col,
// sorted by position. Generate returns all of them at once so that one run
// shows the user everything to fix.
type ErrorList []*scanner.Error

func (l ErrorList) Error() string { return strings.Join(l.Lines(""), "\n") }

// Lines formats each error as "file:line:col: message". With dir set, file
// names inside dir are printed relative to it, the way the go command does.
func (l ErrorList) Lines(dir string) []string {
	out := make([]string, len(l))
	for i, e := range l {
		p := e.Pos
		if dir != "" && p.Filename != "" {
			if rel, err := filepath.Rel(dir, p.Filename); err == nil && !strings.HasPrefix(rel, "..") {
				p.Filename = rel
			}
		}
		switch {
		case p.Filename == "":
			out[i] = e.Msg
		case p.Line == 0:
			out[i] = p.Filename + ": " + e.Msg
		default:
			out[i] = p.String() + ": " + e.Msg
		}
	}
	return out
}

// collector keeps every error with its position, the way go/types' error
// handler does, instead of stopping at the first one.
type collector struct {
	fset *token.FileSet
	list scanner.ErrorList
}

func (c *collector) errorf(pos token.Pos, format string, args ...any) {
	c.list.Add(c.fset.Position(pos), fmt.Sprintf(format, args...))
}

func (c *collector) addAt(p token.Position, msg string) { c.list.Add(p, msg) }

func (c *collector) count() int { return len(c.list) }

// result sorts the errors by position and drops exact duplicates (an
// interface-level key checked once per method reports the same problem
// several times). It returns nil when there is no error.
func (c *collector) result() error {
	if len(c.list) == 0 {
		return nil
	}
	l := ErrorList(c.list)
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i].Pos, l[j].Pos
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Column != b.Column {
			return a.Column < b.Column
		}
		return false
	})
	type key struct {
		pos token.Position
		msg string
	}
	seen := make(map[key]bool, len(l))
	out := l[:0]
	for _, e := range l {
		if k := (key{e.Pos, e.Msg}); !seen[k] {
			seen[k] = true
			out = append(out, e)
		}
	}
	return out
}
