package redact

import (
	"strings"
	"testing"
)

func TestEndpointKeepsOnlySchemeAndHost(t *testing.T) {
	t.Parallel()
	cases := []struct{ raw, want, secret string }{
		{"https://hooks.slack.com/services/T000/B000/XXXXSECRET", `"https://hooks.slack.com/xxxxx"`, "XXXXSECRET"},
		{"https://user:hunter22@example.com/hook", `"https://example.com/xxxxx"`, "hunter22"},
		{"http://127.0.0.1:9093", `"http://127.0.0.1:9093"`, ""},
		{"http://127.0.0.1:9093/", `"http://127.0.0.1:9093"`, ""},
		{"https://example.com?token=abcdef", `"https://example.com/xxxxx"`, "abcdef"},
		{"not a url secretvalue", `"xxxxx"`, "secretvalue"},
		{"://secretvalue", `"xxxxx"`, "secretvalue"},
		{"mailto:secretvalue@example.com", `"xxxxx"`, "secretvalue"},
		{"https://exa mple.com/secretvalue", `"xxxxx"`, "secretvalue"},
	}
	for _, c := range cases {
		got := Endpoint(c.raw)
		if got != c.want {
			t.Errorf("Endpoint(%q) = %s, want %s", c.raw, got, c.want)
		}
		if c.secret != "" && strings.Contains(got, c.secret) {
			t.Errorf("Endpoint(%q) = %s shows %q", c.raw, got, c.secret)
		}
	}
}
