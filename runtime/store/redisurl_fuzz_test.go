package store_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/baldur-go/baldur/internal/redact"
	"github.com/baldur-go/baldur/runtime/store"
)

// FuzzRedisURLNeverRepeatsThePassword builds Redis URLs around a password
// (in the user part, or as a sentinel_password option) and asserts that no
// run of four or more of its bytes appears in any error about the URL, nor
// in the URL as redacted for logs.
func FuzzRedisURLNeverRepeatsThePassword(f *testing.F) {
	for _, s := range []struct {
		scheme, user, pass, host, tail string
		inQuery                        bool
	}{
		{"redis", "user", "hunter2hunter2", "localhost:6379", "/0", false},
		{"redis", "user", "pa/ss#wo?rd", "localhost:6379", "/0", false},
		{"redis", "", "secret/with/slashes", "localhost:notaport", "", false},
		{"redis", "u", "p@ss:w0rd!", "127.0.0.1:70000", "/abc", false},
		{"redis", "u", "p%zzword", "localhost", "?bogus=1", false},
		{"redis", "u", "pass?word", "localhost", "/1/2#frag", false},
		{"redis+sentinel", "u", "sentinel-secret", "h1:26379,h2", "/mymaster", false},
		{"rediss+cluster", "u", "clu/ster#pw", "h1:7000,,h2", "", false},
		{"redis+sentinel", "", "abcd#efgh", "h1", "/m", true},
		{"redis", "", "hunter2hunter2", "localhost:bad", "/0", true},
	} {
		f.Add(s.scheme, s.user, s.pass, s.host, s.tail, s.inQuery)
	}
	f.Fuzz(func(t *testing.T, scheme, user, pass, host, tail string, inQuery bool) {
		if len(pass) < 4 || len(pass) > 64 || len(scheme)+len(user)+len(host)+len(tail) > 256 {
			t.Skip("a password of 4 to 64 bytes in a URL of a few hundred")
		}
		if inQuery && strings.Contains(pass, "&") {
			// An unencoded "&" ends a query value: what follows is another option.
			t.Skip("& splits a query option")
		}
		user = strings.NewReplacer(":", "", "@", "").Replace(user) // the password starts at the first ":"
		build := func(pw string) string {
			if inQuery {
				h := strings.NewReplacer("@", "", "?", "", "#", "").Replace(host)
				return scheme + "://" + h + "/m?sentinel_password=" + pw
			}
			return scheme + "://" + user + ":" + pw + "@" + host + tail
		}
		raw, twin := build(pass), build(rotate(pass))
		public := scheme + " " + user + " " + host + " " + tail
		for _, check := range []struct {
			what string
			out  func(string) string
		}{
			{"ParseRedisURL", func(u string) string { return errText(store.ParseRedisURL(u)) }},
			{"ParseSingleRedisURL", func(u string) string { _, err := store.ParseSingleRedisURL(u); return errText(err) }},
			{"redact.URL", redact.URL},
		} {
			got, twinGot := check.out(raw), check.out(twin)
			if w := leaked(got, twinGot, pass, public); w != "" {
				t.Fatalf("%s(%q) repeats %q of the password %q:\n%s", check.what, raw, w, pass, got)
			}
		}
	})
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// leaked returns a run of four bytes of pass (raw or as %q would print it)
// that out shows, unless the run is also in the URL's public parts or in
// twinOut, the answer for the same URL with every letter and digit of the
// password changed (so the run is fixed text of the message, not an echo).
func leaked(out, twinOut, pass, public string) string {
	quoted := strconv.Quote(pass)
	for _, p := range []string{pass, quoted[1 : len(quoted)-1]} {
		for i := 0; i+4 <= len(p); i++ {
			w := p[i : i+4]
			if strings.Contains(out, w) && !strings.Contains(twinOut, w) && !strings.Contains(public, w) {
				return w
			}
		}
	}
	return ""
}

// rotate moves each letter and digit one place within its class (a-f and
// A-F apart, so that %XX escapes stay valid): the twin parses the same way.
func rotate(s string) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9':
			b[i] = '0' + (c-'0'+1)%10
		case c >= 'a' && c <= 'f':
			b[i] = 'a' + (c-'a'+1)%6
		case c >= 'g' && c <= 'z':
			b[i] = 'g' + (c-'g'+1)%20
		case c >= 'A' && c <= 'F':
			b[i] = 'A' + (c-'A'+1)%6
		case c >= 'G' && c <= 'Z':
			b[i] = 'G' + (c-'G'+1)%20
		}
	}
	return string(b)
}
