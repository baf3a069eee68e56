package redact

import (
	"strings"
	"testing"
)

func TestDSNHidesPasswordsInBothForms(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ raw, want, secret string }{
		{"postgres://app:s3cr3t-pw@db:5432/audit?sslmode=disable", `"postgres://app:xxxxx@db:5432/audit?sslmode=disable"`, "s3cr3t-pw"},
		{"host=db user=app password=s3cr3t-pw dbname=audit", `"host=db user=app password=xxxxx dbname=audit"`, "s3cr3t-pw"},
		{"host=db password = 'a \\' secret' dbname=x", `"host=db password = xxxxx dbname=x"`, "secret"},
		{"host=db password='unterminated s3cr3t", `"xxxxx"`, "s3cr3t"},
		{"host=db dbname=x", `"host=db dbname=x"`, ""},
	} {
		got := DSN(tc.raw)
		if got != tc.want {
			t.Errorf("DSN(%q) = %s, want %s", tc.raw, got, tc.want)
		}
		if tc.secret != "" && strings.Contains(got, tc.secret) {
			t.Errorf("DSN(%q) shows the password: %s", tc.raw, got)
		}
		if tc.secret != "" && strings.Contains(Scrub("parse error near "+tc.raw, DSNSecrets(tc.raw)...), tc.secret) {
			t.Errorf("Scrub with DSNSecrets(%q) leaves the password", tc.raw)
		}
	}
}
