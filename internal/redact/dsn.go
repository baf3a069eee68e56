package redact

import (
	"strconv"
	"strings"
)

// DSN returns a database connection string, quoted, with its passwords
// hidden: a URL ("postgres://user:pw@host/db?sslpassword=…") as URL hides
// them, and a keyword/value string ("host=h password=pw") with the value of
// every keyword SecretName flags replaced by Mask. A string that is neither
// is hidden whole when it mentions a password.
func DSN(raw string) string {
	if strings.Contains(raw, "://") {
		return URL(raw)
	}
	pairs, ok := keywordPairs(raw)
	if !ok {
		if SecretName(raw) {
			return strconv.Quote(Mask)
		}
		return strconv.Quote(raw)
	}
	var b strings.Builder
	last := 0
	for _, p := range pairs {
		if !SecretName(p.key) {
			continue
		}
		b.WriteString(raw[last:p.from])
		b.WriteString(Mask)
		last = p.to
	}
	b.WriteString(raw[last:])
	return strconv.Quote(b.String())
}

// DSNSecrets returns the texts DSN hides in raw: what an error about raw
// must never repeat (hand them to Scrub).
func DSNSecrets(raw string) []string {
	if strings.Contains(raw, "://") {
		return strings.Split(Hidden(raw), "\x00")
	}
	pairs, ok := keywordPairs(raw)
	if !ok {
		return []string{raw}
	}
	var out []string
	for _, p := range pairs {
		if SecretName(p.key) {
			out = append(out, raw[p.from:p.to])
		}
	}
	return out
}

// keywordPair is one keyword and where its value lies in the string.
type keywordPair struct {
	key      string
	from, to int
}

// keywordPairs reads libpq's keyword/value form: keyword = value, values
// bare or in single quotes with backslash escapes, separated by spaces.
func keywordPairs(s string) ([]keywordPair, bool) {
	var out []keywordPair
	i := 0
	space := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r') {
			i++
		}
	}
	for {
		space()
		if i == len(s) {
			return out, len(out) > 0
		}
		k := i
		for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != '\t' {
			i++
		}
		key := s[k:i]
		space()
		if key == "" || i == len(s) || s[i] != '=' {
			return nil, false
		}
		i++
		space()
		from := i
		if i < len(s) && s[i] == '\'' {
			i++
			for i < len(s) && s[i] != '\'' {
				if s[i] == '\\' {
					i++
				}
				i++
			}
			if i >= len(s) {
				return nil, false // unterminated quote
			}
			i++
		} else {
			for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r' {
				i++
			}
		}
		out = append(out, keywordPair{key: key, from: from, to: i})
	}
}
