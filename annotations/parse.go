package annotations

import (
	"errors"
	"fmt"
	"go/ast"
	"go/scanner"
	"go/token"
	"strconv"
	"strings"
	"time"

	"github.com/baldur-go/baldur/internal/spell"
	"github.com/baldur-go/baldur/runtime/backoff"
)

// prefix starts every directive. Like //go: lines it has no space after
// "//", so "// baldur:protect" stays an ordinary comment.
const prefix = "//baldur:"

// Limits on durations: beyond them a value is a typo (timeout=5000h), not a
// policy anyone wants.
const (
	maxTimeout      = 24 * time.Hour
	maxBackoff      = time.Hour
	maxBulkheadWait = 24 * time.Hour
	maxIdemTTL      = 7 * 24 * time.Hour
	maxRetry        = 100
	maxBulkhead     = 1_000_000
	// A breaker that needs more failures than this, or stays open longer,
	// is not guarding anything.
	maxBreakerThreshold = 1000
	maxBreakerRecovery  = time.Hour
	maxBurst            = 1_000_000
	maxRateWait         = 24 * time.Hour
)

// Parse reads the directives of one comment group: a type's doc, a method's
// doc or trailing comment. It walks cg.List, because cg.Text() drops
// directives, and returns nil when the group has no //baldur:protect or
// //baldur:skip line.
//
// Several //baldur:protect lines on one node are merged; a key written twice
// and //baldur:protect next to //baldur:skip are errors. Every problem is
// appended to errs at the offending key or value; errs may be nil to discard them.
func Parse(fset *token.FileSet, cg *ast.CommentGroup, errs *scanner.ErrorList) *Directive {
	if cg == nil {
		return nil
	}
	var d *Directive
	for _, c := range cg.List {
		l := &line{fset: fset, text: c.Text, pos: c.Slash, errs: errs}
		kind, args, ok := l.kind()
		if !ok {
			continue
		}
		if d == nil {
			d = &Directive{Kind: kind, Pos: c.Slash}
		} else if d.Kind != kind {
			l.errorf(0, "//baldur:%s conflicts with //baldur:%s at %s; a node takes one or the other", kind, d.Kind, l.lineCol(d.Pos))
			continue
		}
		l.parseArgs(args, d)
	}
	return d
}

// ParseLine parses the text of one comment line, such as
// "//baldur:protect retry=3 timeout=5s", whose "//" is at pos. It reports
// ok=false, and no error, for a line that is not a //baldur: directive; an
// unknown directive such as "//baldur:protct" is an error and also ok=false.
func ParseLine(fset *token.FileSet, text string, pos token.Pos, errs *scanner.ErrorList) (d Directive, ok bool) {
	l := &line{fset: fset, text: text, pos: pos, errs: errs}
	kind, args, ok := l.kind()
	if !ok {
		return Directive{}, false
	}
	d = Directive{Kind: kind, Pos: pos}
	l.parseArgs(args, &d)
	return d, true
}

// line is one comment line being parsed; offsets are bytes from its "//".
type line struct {
	fset *token.FileSet
	text string
	pos  token.Pos
	errs *scanner.ErrorList
}

func (l *line) errorf(off int, format string, args ...any) {
	if l.errs == nil {
		return
	}
	var p token.Position
	if l.fset != nil {
		p = l.fset.Position(l.pos + token.Pos(off))
	}
	l.errs.Add(p, fmt.Sprintf(format, args...))
}

// lineCol shows where an earlier key was written, short enough for a message.
func (l *line) lineCol(pos token.Pos) string {
	if l.fset == nil || !pos.IsValid() {
		return "an earlier line"
	}
	p := l.fset.Position(pos)
	return fmt.Sprintf("%d:%d", p.Line, p.Column)
}

// kind recognises the directive and returns the offset where its arguments start.
func (l *line) kind() (Kind, int, bool) {
	if !strings.HasPrefix(l.text, prefix) {
		return 0, 0, false
	}
	end := len(prefix)
	for end < len(l.text) && !isSpace(l.text[end]) {
		end++
	}
	switch name := l.text[len(prefix):end]; name {
	case "protect":
		return Protect, end, true
	case "skip":
		return Skip, end, true
	case "":
		l.errorf(2, "empty directive %q; want //baldur:protect or //baldur:skip", l.text[:end])
	default:
		l.errorf(len(prefix), "unknown directive %q; want //baldur:protect or //baldur:skip", l.text[:end])
	}
	return 0, 0, false
}

// word is one space-separated argument and its offset in the line.
type word struct {
	off int
	s   string
}

// words splits the arguments at spaces. Inside parentheses a space does not
// split when a ")" follows on the line, so "exp(1s, 10s)" stays one word and
// gets one clear error instead of two confusing ones.
func (l *line) words(from int) []word {
	var out []word
	t := l.text
	i := from
	for i < len(t) {
		if isSpace(t[i]) {
			i++
			continue
		}
		start, depth := i, 0
		for ; i < len(t); i++ {
			c := t[i]
			if c == '(' {
				depth++
			} else if c == ')' && depth > 0 {
				depth--
			} else if isSpace(c) && (depth == 0 || !strings.Contains(t[i:], ")")) {
				break
			}
		}
		out = append(out, word{start, t[start:i]})
	}
	return out
}

func (l *line) parseArgs(from int, d *Directive) {
	ws := l.words(from)
	for i := 0; i < len(ws); i++ {
		w := ws[i]
		if strings.HasPrefix(w.s, "//") {
			l.errorf(w.off, "a directive line cannot carry a trailing comment; move the comment to its own line")
			return
		}
		if d.Kind == Skip {
			l.skipName(w, d)
			continue
		}
		eq := strings.IndexByte(w.s, '=')
		var next *word
		if i+1 < len(ws) {
			next = &ws[i+1]
		}
		switch {
		case eq == 0:
			l.errorf(w.off, "%q has no key; want key=value", w.s)
		case eq < 0 && next != nil && next.s[0] == '=':
			// "retry = 3" or "retry =3": one error, not three.
			val := next.s[1:]
			i++
			if val == "" && i+1 < len(ws) {
				val = ws[i+1].s
				i++
			}
			if val == "" {
				val = "<value>"
			}
			l.errorf(next.off, "no spaces allowed around \"=\"; write %s=%s", w.s, val)
		case eq == len(w.s)-1 && next != nil && !strings.ContainsAny(next.s, "=/") && KeyByName(next.s) == nil:
			// "retry= 3"
			i++
			l.errorf(w.off, "no spaces allowed after \"=\"; write %s%s", w.s, next.s)
		default:
			l.keyValue(w, eq, &d.Policy)
		}
	}
}

func (l *line) skipName(w word, d *Directive) {
	switch {
	case strings.Contains(w.s, "="):
		l.errorf(w.off, "skip: takes method names, not %q; want //baldur:skip or //baldur:skip Name1 Name2", w.s)
	case !isIdent(w.s):
		l.errorf(w.off, "skip: %q is not a method name; want //baldur:skip or //baldur:skip Name1 Name2", w.s)
	default:
		for i, n := range d.SkipNames {
			if n == w.s {
				l.errorf(w.off, "skip: %s is listed twice; first at %s", n, l.lineCol(d.SkipNamesPos[i]))
				return
			}
		}
		d.SkipNames = append(d.SkipNames, w.s)
		d.SkipNamesPos = append(d.SkipNamesPos, l.pos+token.Pos(w.off))
	}
}

func (l *line) keyValue(w word, eq int, p *Policy) {
	a := &arg{line: l, keyOff: w.off, key: w.s}
	if eq > 0 {
		a.key, a.val, a.valOff = w.s[:eq], w.s[eq+1:], w.off+eq+1
	}
	k := KeyByName(a.key)
	switch {
	case k == nil:
		l.errorf(w.off, "%s", unknownKey(a.key))
		return
	case eq < 0 && k.bare() == "":
		l.errorf(w.off, "%s: needs a value, such as %s=%s; want %s", a.key, a.key, k.Example, k.Want)
		return
	case eq < 0:
		a.val, a.valOff = k.bare(), w.off
	case a.val == "":
		l.errorf(w.off, "%s: missing value after \"=\"; want %s", a.key, k.Want)
		return
	}
	a.want = k.Want
	k.field.parse(a, p)
}

// arg is one key=value being parsed.
type arg struct {
	*line
	key, val       string
	keyOff, valOff int
	want           string
}

// fail reports a bad value at off, ending with what the key accepts.
func (a *arg) fail(off int, format string, args ...any) {
	a.errorf(off, "%s: %s; want %s", a.key, fmt.Sprintf(format, args...), a.want)
}

// set stores v unless the key was already written on this node.
func set[T any](a *arg, o *Opt[T], v T) {
	if o.Set {
		a.errorf(a.keyOff, "duplicate key %q; first written at %s", a.key, a.lineCol(o.Pos))
		return
	}
	*o = Opt[T]{Set: true, Val: v, Pos: a.pos + token.Pos(a.keyOff)}
}

func isOn(s string) bool  { return s == "on" || s == "true" }
func isOff(s string) bool { return s == "off" || s == "false" }

func (a *arg) onOff() (bool, bool) {
	if isOn(a.val) || isOff(a.val) {
		return isOn(a.val), true
	}
	a.fail(a.valOff, "%q is not valid", a.val)
	return false, false
}

// label checks name= and operation=: they end up in store keys and metric
// labels, so the charset is small. operation also takes upper case because
// its default is the method name.
func (a *arg) label(upper bool) bool {
	for i := 0; i < len(a.val); i++ {
		c := a.val[i]
		ok := 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == '-' ||
			upper && 'A' <= c && c <= 'Z'
		if !ok {
			a.fail(a.valOff, "%q is not valid", a.val)
			return false
		}
	}
	return true
}

// count parses retry= and bulkhead=: 1..hi, or off stored as 0.
func (a *arg) count(hi int) (int, bool) {
	if isOff(a.val) {
		return 0, true
	}
	n, err := strconv.Atoi(a.val)
	switch {
	case errors.Is(err, strconv.ErrRange):
		a.fail(a.valOff, "%s is out of range", a.val)
	case err != nil && isOn(a.val):
		a.fail(a.valOff, "%q needs a number", a.val)
	case err != nil:
		a.fail(a.valOff, "%q is not a number", a.val)
	case n < 1 || n > hi:
		a.fail(a.valOff, "%s is out of range", a.val)
	default:
		return n, true
	}
	return 0, false
}

// duration parses a positive duration up to limit; with off, "off" stores 0.
func (a *arg) duration(off bool, limit time.Duration) (time.Duration, bool) {
	if off && isOff(a.val) {
		return 0, true
	}
	return a.parseDuration(a.valOff, a.val, a.key+":", limit)
}

// parseDuration checks one duration, labelled "timeout:" or "backoff: max".
func (a *arg) parseDuration(off int, s, label string, limit time.Duration) (time.Duration, bool) {
	d, err := time.ParseDuration(s)
	if err != nil {
		if _, nerr := strconv.ParseFloat(s, 64); nerr == nil {
			a.errorf(off, "%s %q has no unit; want %ss or %sms, for example", label, s, s, s)
		} else {
			a.errorf(off, "%s %q is not a Go duration; want %s", label, s, a.want)
		}
		return 0, false
	}
	if d <= 0 {
		a.errorf(off, "%s %s must be greater than 0; want %s", label, s, a.want)
		return 0, false
	}
	if d > limit {
		a.errorf(off, "%s %s is too long; want at most %s", label, s, backoff.ShortDuration(limit))
		return 0, false
	}
	return d, true
}

// backoff parses exp(base,max) and const(d). Errors point at the argument
// inside the parentheses that is wrong.
func (a *arg) backoff() (backoff.Policy, bool) {
	v := a.val
	if i := strings.IndexFunc(v, func(r rune) bool { return r < 128 && isSpace(byte(r)) }); i >= 0 {
		a.fail(a.valOff+i, "no spaces allowed inside %q", v)
		return backoff.Policy{}, false
	}
	var kind backoff.Kind
	var inner string
	switch {
	case (strings.HasPrefix(v, "exp(") || strings.HasPrefix(v, "const(")) && !strings.HasSuffix(v, ")"):
		a.fail(a.valOff, "%q is missing \")\"", v)
		return backoff.Policy{}, false
	case strings.HasPrefix(v, "exp("):
		kind, inner = backoff.Exp, v[len("exp("):len(v)-1]
	case strings.HasPrefix(v, "const("):
		kind, inner = backoff.Const, v[len("const("):len(v)-1]
	default:
		a.fail(a.valOff, "%q is not valid", v)
		return backoff.Policy{}, false
	}
	off := a.valOff + strings.IndexByte(v, '(') + 1
	parts := strings.Split(inner, ",")
	if kind == backoff.Const {
		if len(parts) != 1 {
			a.fail(a.valOff, "const takes one duration, got %q", v)
			return backoff.Policy{}, false
		}
		d, ok := a.parseDuration(off, inner, "backoff: delay", maxBackoff)
		return backoff.Policy{Kind: backoff.Const, Base: d}, ok
	}
	if len(parts) != 2 {
		a.fail(a.valOff, "exp takes two durations, base and max, got %q", v)
		return backoff.Policy{}, false
	}
	base, ok := a.parseDuration(off, parts[0], "backoff: base", maxBackoff)
	if !ok {
		return backoff.Policy{}, false
	}
	maxOff := off + len(parts[0]) + 1
	maxD, ok := a.parseDuration(maxOff, parts[1], "backoff: max", maxBackoff)
	if !ok {
		return backoff.Policy{}, false
	}
	if maxD < base {
		a.errorf(maxOff, "backoff: max %s is less than base %s; want base <= max", parts[1], parts[0])
		return backoff.Policy{}, false
	}
	return backoff.Policy{Kind: backoff.Exp, Base: base, Max: maxD}, true
}

// path parses fallback= (one identifier) and idempotency= (an identifier
// or a dotted field path). "off" stores "" to lift an interface default.
func (a *arg) path(dotted bool) (string, bool) {
	if isOff(a.val) {
		return "", true
	}
	if !dotted {
		if !isIdent(a.val) {
			a.fail(a.valOff, "%q is not a Go identifier", a.val)
			return "", false
		}
		return a.val, true
	}
	off := a.valOff
	for i, seg := range strings.Split(a.val, ".") {
		switch {
		case seg == "" && off == a.valOff+len(a.val):
			a.fail(off-1, "%q ends with \".\"", a.val)
			return "", false
		case seg == "":
			a.fail(off, "%q has an empty name before \".\"", a.val)
			return "", false
		case !isIdent(seg) && i == 0:
			a.fail(off, "%q is not a Go identifier", seg)
			return "", false
		case !isIdent(seg):
			a.fail(off, "field %q is not a Go identifier", seg)
			return "", false
		}
		off += len(seg) + 1
	}
	return a.val, true
}

// isIdent accepts Go identifiers other than the blank one, which names nothing.
func isIdent(s string) bool { return s != "_" && token.IsIdentifier(s) }

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// unknownKey names the closest key, or lists them all when none is close.
func unknownKey(k string) string {
	names := make([]string, len(keys))
	for i, s := range keys {
		names[i] = s.Name
	}
	if best, _, ok := spell.Nearest(k, names); ok {
		return fmt.Sprintf("unknown key %q; did you mean %q?", k, best)
	}
	return fmt.Sprintf("unknown key %q; want one of %s", k, strings.Join(names, ", "))
}
