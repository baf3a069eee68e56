// Package redact is the one place that turns a URL or a key the runtime reads
// into text fit for an error, a log line or the console: passwords and keys
// never come out of it.
//
// The rules lean towards hiding too much. In a URL, everything between the
// user name and the last "@" is the password, whatever it contains (an
// unencoded "/", "?", "#" or "@" included); the value of every query option
// whose name holds "password", "secret", "token" or "key" is hidden; and a
// fragment is hidden whole (no URL the runtime reads has a meaningful one).
package redact

import (
	"net/url"
	"strconv"
	"strings"
)

// Mask replaces every hidden part.
const Mask = "xxxxx"

// URL returns raw, quoted, with its passwords hidden (see the package rules).
func URL(raw string) string { return strconv.Quote(plain(raw)) }

func plain(raw string) string {
	scheme, rest, hide := mask(raw)
	if hide == nil {
		if strings.ContainsAny(raw, "@?#") {
			return Mask // not a URL at all: nothing tells the password from the rest
		}
		return raw
	}
	return scheme + "://" + masked(rest, hide)
}

// masked is s with each run of hidden bytes replaced by one Mask.
func masked(s string, hide []bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch {
		case !hide[i]:
			b.WriteByte(s[i])
		case i == 0 || !hide[i-1]:
			b.WriteString(Mask)
		}
	}
	return b.String()
}

// Hidden is the text URL hides in raw (its hidden runs, NUL-separated; the
// whole of raw when it is no URL): what an error about raw must never repeat.
func Hidden(raw string) string {
	_, rest, hide := mask(raw)
	if hide == nil {
		return raw
	}
	var runs []string
	for i := 0; i < len(rest); i++ {
		j := i
		for j < len(rest) && hide[j] {
			j++
		}
		if j > i {
			runs = append(runs, rest[i:j])
			i = j
		}
	}
	return strings.Join(runs, "\x00")
}

// mask splits raw at "://" and marks the bytes of the rest to hide; hide is
// nil when raw has no "://".
func mask(raw string) (scheme, rest string, hide []bool) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "", "", nil
	}
	// Each rule marks the bytes it hides; a byte any rule marks is hidden.
	// The rules are applied to the text as written, not one after the
	// other, so that no reading of the URL shows what another hides.
	hide = make([]bool, len(rest))
	mark := func(from, to int) {
		for i := from; i < to; i++ {
			hide[i] = true
		}
	}
	at := strings.LastIndex(rest, "@")
	if at >= 0 {
		if c := strings.IndexByte(rest[:at], ':'); c >= 0 {
			mark(c+1, at) // the password, whatever it holds
		}
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		markQuery(rest, q+1, mark)
	}
	if q := strings.IndexByte(rest[at+1:], '?'); at >= 0 && q >= 0 {
		markQuery(rest, at+1+q+1, mark)
	}
	if h := strings.IndexByte(rest[at+1:], '#'); h >= 0 {
		mark(at+1+h+1, len(rest)) // the fragment
	}
	return scheme, rest, hide
}

// markQuery marks the values of the secret options of the query starting
// at rest[from:]. A value runs to the next "&" or the end: a "#" in it is
// taken as part of the secret, not as the start of a fragment.
func markQuery(rest string, from int, mark func(from, to int)) {
	for from <= len(rest) {
		end := strings.IndexByte(rest[from:], '&')
		if end < 0 {
			end = len(rest)
		} else {
			end += from
		}
		if eq := strings.IndexByte(rest[from:end], '='); eq >= 0 {
			k := rest[from : from+eq]
			name, err := url.QueryUnescape(k)
			if err != nil {
				name = k
			}
			if SecretName(name) {
				mark(from+eq+1, end)
			}
		}
		from = end + 1
	}
}

// SecretName reports whether an option of this name carries a secret.
func SecretName(name string) bool {
	n := strings.ToLower(name)
	for _, s := range []string{"pass", "secret", "token", "key", "auth"} {
		if strings.Contains(n, s) {
			return true
		}
	}
	return false
}

// Scrub returns msg with every run of at least four bytes that also appears
// in one of the secrets replaced by Mask: the last line of defence for a
// message built by code that did not know what was secret (a parser's error
// quoting a piece of its input).
func Scrub(msg string, secrets ...string) string {
	for _, s := range secrets {
		msg = scrubOne(msg, s)
	}
	return msg
}

const minRun = 4

func scrubOne(msg, secret string) string {
	if len(secret) < minRun || len(msg) < minRun {
		return msg
	}
	// A run of minRun or more bytes of secret is made of its minRun-grams:
	// hiding every gram of msg that secret holds hides every such run (and
	// at worst a little more), in time linear in both.
	grams := make(map[string]struct{}, len(secret))
	for i := 0; i+minRun <= len(secret); i++ {
		grams[secret[i:i+minRun]] = struct{}{}
	}
	hide := make([]bool, len(msg))
	found := false
	for i := 0; i+minRun <= len(msg); i++ {
		if _, ok := grams[msg[i:i+minRun]]; ok {
			for k := i; k < i+minRun; k++ {
				hide[k] = true
			}
			found = true
		}
	}
	if !found {
		return msg
	}
	return masked(msg, hide)
}

// Key describes an admin key or other secret without any of its content.
func Key(secret string) string {
	return "[hidden, " + strconv.Itoa(len(secret)) + " characters]"
}
