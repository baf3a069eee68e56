package admin

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/env"
)

func TestSecurityFromEnv(t *testing.T) {
	sec, err := securityFromLookup(env.Map(map[string]string{
		"BALDUR_ADMIN_KEY":       "aaaaaaaaaaaaaaaa1",
		"BALDUR_ADMIN_KEYS":      "viewer:bbbbbbbbbbbbbbbb2, operator:cccccccccccccccc3",
		"BALDUR_ADMIN_UNLOCK":    "1",
		"BALDUR_ALLOWED_ORIGINS": "https://Ops.Example.com, http://10.0.0.5:9090",
	}))
	require.NoError(t, err)
	assert.Equal(t, []Key{{RoleAdmin, "aaaaaaaaaaaaaaaa1"}, {RoleViewer, "bbbbbbbbbbbbbbbb2"}, {RoleOperator, "cccccccccccccccc3"}}, sec.Keys)
	assert.True(t, sec.Unlocked)
	assert.Equal(t, []string{"https://ops.example.com", "http://10.0.0.5:9090"}, sec.AllowedOrigins)

	sec, err = securityFromLookup(env.Map(nil))
	require.NoError(t, err)
	assert.Empty(t, sec.Keys)
	assert.False(t, sec.Unlocked)
}

func TestSecurityFromEnvErrorsNameTheVariableNotTheKey(t *testing.T) {
	for want, vars := range map[string]map[string]string{
		"BALDUR_ADMIN_KEY: key is 5 characters, want at least 16":                                            {"BALDUR_ADMIN_KEY": "short"},
		"BALDUR_ADMIN_KEYS: entry 1: want role:key":                                                          {"BALDUR_ADMIN_KEYS": "nocolonhere-secret-secret"},
		"BALDUR_ADMIN_KEYS: entry 2: the part before the first \":\" ([hidden, 4 characters]) is not a role": {"BALDUR_ADMIN_KEYS": "admin:aaaaaaaaaaaaaaaa1,root:secretsecretsecret"},
		"BALDUR_ADMIN_KEYS: entry 1 (viewer): key contains a space":                                          {"BALDUR_ADMIN_KEYS": "viewer:secret secretsecret"},
		"the same key appears twice":                                                                         {"BALDUR_ADMIN_KEY": "aaaaaaaaaaaaaaaa1", "BALDUR_ADMIN_KEYS": "viewer:aaaaaaaaaaaaaaaa1"},
		`BALDUR_ADMIN_UNLOCK="yes please"`:                                                                   {"BALDUR_ADMIN_UNLOCK": "yes please"},
		`BALDUR_ALLOWED_ORIGINS: origin "ops.example.com"`:                                                   {"BALDUR_ALLOWED_ORIGINS": "ops.example.com"},
		`BALDUR_ALLOWED_ORIGINS: origin "https://x.example/path"`:                                            {"BALDUR_ALLOWED_ORIGINS": "https://x.example/path"},
	} {
		_, err := securityFromLookup(env.Map(vars))
		require.Error(t, err, want)
		assert.Contains(t, err.Error(), want)
		for k, v := range vars {
			if k != "BALDUR_ADMIN_UNLOCK" && k != "BALDUR_ALLOWED_ORIGINS" {
				assert.NotContains(t, err.Error(), v, "a key never appears in an error")
			}
		}
	}
}

func TestSecurityFromEnvSwappedRoleAndKeyHidesTheKey(t *testing.T) {
	const key = "s3cret-Key-0123456789"
	for _, v := range []string{key + ":operator", "admin:aaaaaaaaaaaaaaaa1, " + key + ":admin", key} {
		_, err := securityFromLookup(env.Map(map[string]string{"BALDUR_ADMIN_KEYS": v}))
		require.Error(t, err, v)
		assert.Contains(t, err.Error(), "BALDUR_ADMIN_KEYS: entry ")
		for i := 0; i+4 <= len(key); i++ {
			require.NotContains(t, err.Error(), key[i:i+4], "no four bytes of the key appear in the error")
		}
	}
}

func TestRoleOfIsExactAndAmbiguityFree(t *testing.T) {
	g := Security{Keys: []Key{{RoleViewer, "viewer-0123456789"}, {RoleAdmin, "admin-0123456789ab"}}}.resolve("9090")
	assert.Equal(t, RoleViewer, g.roleOf("viewer-0123456789"))
	assert.Equal(t, RoleAdmin, g.roleOf("admin-0123456789ab"))
	assert.Equal(t, RoleNone, g.roleOf("admin-0123456789a"), "a prefix is not the key")
	assert.Equal(t, RoleNone, g.roleOf("admin-0123456789abc"))
	assert.Equal(t, RoleNone, g.roleOf(""))
}

func TestOperatorName(t *testing.T) {
	assert.Equal(t, "operator key", operatorName("", "", RoleOperator))
	assert.Equal(t, "alice (admin)", operatorName(" alice ", "", RoleAdmin))
	assert.Equal(t, "bob (viewer)", operatorName("alice", "bob", RoleViewer))
	assert.Equal(t, "ev il (admin)", operatorName("ev\nil\x00", "", RoleAdmin), "control characters are dropped, a line break becomes a space")
	assert.Equal(t, "evil (admin)", operatorName("e\u202ev\u200bil\u2066", "", RoleAdmin), "format characters (bidi, zero-width) are dropped")
}

func BenchmarkRoleOf(b *testing.B) {
	g := Security{Keys: []Key{{RoleViewer, "viewer-0123456789"}, {RoleAdmin, "admin-0123456789ab"}}}.resolve("9090")
	for b.Loop() {
		g.roleOf("admin-0123456789ab")
	}
}
