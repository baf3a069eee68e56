package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCleanEscapesWhatATerminalActsOn(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain name, ünïcode ✓":              "plain name, ünïcode ✓",
		"\x1b[2J\x1b]0;pwned\x07":            `\x1b[2J\x1b]0;pwned\x07`,
		"ok\nFORGED line\r\tx":               `ok\nFORGED line\r\tx`,
		"abc\u202edcba":                      `abc\u202edcba`,
		"\u2066iso\u2069 \u200b\u200e\ufeff": `\u2066iso\u2069 \u200b\u200e\ufeff`,
		"del\x7f c1\u0085\u009b":             `del\x7f c1\u0085\u009b`,
		"sep\u2028\u2029":                    `sep\u2028\u2029`,
		"bad utf8 \xff\xfe":                  `bad utf8 \xff\xfe`,
		"tag \U000E0041":                     `tag \U000e0041`,
	} {
		assert.Equal(t, want, clean(in), "%q", in)
	}
	assert.Equal(t, "line 1\nline 2 \\x1b[31m", cleanLines("line 1\nline 2 \x1b[31m"))
}

func TestCleanTreeCleansValuesAndKeys(t *testing.T) {
	t.Parallel()
	got := cleanTree(map[string]any{
		"name\x1b": "a\u202eb",
		"list":     []any{"x\ny", 3.0, true, nil},
		"days":     []any{map[string]any{"text": "day\n\x1b[2Jend"}},
	})
	assert.Equal(t, map[string]any{
		`name\x1b`: `a\u202eb`,
		"list":     []any{`x\ny`, 3.0, true, nil},
		"days":     []any{map[string]any{"text": "day\n\\x1b[2Jend"}},
	}, got)
}

// JSON output keeps every value exact: it decodes to what the server sent,
// with nothing raw that a terminal acts on.
func TestJSONSafeKeepsValuesExact(t *testing.T) {
	t.Parallel()
	v := map[string]any{"reason": "\x1b]0;t\x07 \u202eevil\u2066 \x7f\u0085 \U000E0041 ok ✓"}
	b, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	safe := jsonSafe(b)
	var back map[string]any
	require.NoError(t, json.Unmarshal(safe, &back))
	assert.Equal(t, v, back)
	for _, raw := range []string{"\x1b", "\x07", "\u202e", "\u2066", "\x7f", "\u0085", "\U000E0041"} {
		assert.False(t, bytes.Contains(safe, []byte(raw)), "%q left raw in %s", raw, safe)
	}
	assert.Contains(t, string(safe), "✓")
}
