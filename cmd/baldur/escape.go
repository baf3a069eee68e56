package main

import (
	"bytes"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Every string the server sends passes through clean before a human reads
// it: a dead letter's error text is written by the protected dependency, a
// breaker name or a reason by whoever has a key, and none of them may move
// the cursor, clear the screen, set the window title, forge a line or
// reverse the text around it. JSON output (--json) keeps every value exact,
// with the same characters written as \u escapes.

// clean escapes control characters (C0, DEL, C1), Unicode format characters
// (bidi controls such as U+202E, zero-width characters), line and paragraph
// separators and invalid UTF-8, Go style: \n, \x1b, \u202e.
func clean(s string) string { return escape(s, false) }

// cleanLines is clean that keeps line breaks: for text rendered in lines.
func cleanLines(s string) string { return escape(s, true) }

func escape(s string, keepNewlines bool) string {
	if !needsEscape(s, keepNewlines) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' && keepNewlines:
			b.WriteByte('\n')
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x80 && unsafeRune(r):
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r) && r > 0xffff:
			fmt.Fprintf(&b, `\U%08x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func needsEscape(s string, keepNewlines bool) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || (unsafeRune(r) && !(keepNewlines && r == '\n')) {
			return true
		}
		i += n
	}
	return false
}

// unsafeRune: what a terminal may act on or draw misleadingly.
func unsafeRune(r rune) bool {
	return unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp)
}

// cleanTree is the server's answer with every string (map keys included)
// cleaned; a rendered report's "text" keeps its line breaks.
func cleanTree(v any) any {
	switch x := v.(type) {
	case string:
		return clean(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = cleanTree(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			if s, ok := e.(string); ok && k == "text" {
				out[clean(k)] = cleanLines(s)
				continue
			}
			out[clean(k)] = cleanTree(e)
		}
		return out
	}
	return v
}

// jsonSafe rewrites, in encoded JSON, every character clean would escape
// as a \u escape: the same JSON values, nothing a terminal acts on.
// (encoding/json already escapes C0 controls, U+2028 and U+2029, and
// replaces invalid UTF-8.)
func jsonSafe(b []byte) []byte {
	if !bytes.ContainsFunc(b, func(r rune) bool { return r >= 0x7f && unsafeRune(r) }) {
		return b
	}
	var out bytes.Buffer
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r >= 0x7f && unsafeRune(r) {
			if r > 0xffff {
				hi, lo := utf16.EncodeRune(r)
				fmt.Fprintf(&out, `\u%04x\u%04x`, hi, lo)
			} else {
				fmt.Fprintf(&out, `\u%04x`, r)
			}
		} else {
			out.Write(b[i : i+n])
		}
		i += n
	}
	return out.Bytes()
}
