package env_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/baldur-go/baldur/internal/env"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestReaderReadsEveryKind(t *testing.T) {
	t.Parallel()
	r := env.New(env.Map(map[string]string{
		"N": " 7 ", "TTL": "60", "D": "1m30s", "DSECS": "0.5", "Z": "0", "B": "Off", "S": "/var/lib/x",
		"URL_B": "redis://127.0.0.1:2", "URL_C": "redis://127.0.0.1:3",
	}))
	var (
		n        int
		ttl      time.Duration
		d, ds, z time.Duration
		b        = true
		s        string
	)
	assert.True(t, r.Int("N", 1, &n))
	assert.True(t, r.Seconds("TTL", &ttl))
	assert.True(t, r.Duration("D", &d))
	assert.True(t, r.Duration("DSECS", &ds))
	assert.True(t, r.DurationOrZero("Z", &z))
	assert.True(t, r.Bool("B", &b))
	assert.True(t, r.String("S", nil, &s))
	url, from := r.URL(nil, "URL_A", "URL_B", "URL_C")
	require.NoError(t, r.Err())
	assert.Equal(t, 7, n)
	assert.Equal(t, time.Minute, ttl)
	assert.Equal(t, 90*time.Second, d)
	assert.Equal(t, 500*time.Millisecond, ds)
	assert.Zero(t, z)
	assert.False(t, b)
	assert.Equal(t, "/var/lib/x", s)
	assert.Equal(t, "redis://127.0.0.1:2", url, "the first set variable wins")
	assert.Equal(t, "URL_B", from)
}

func TestUnsetLeavesTheDefault(t *testing.T) {
	t.Parallel()
	r := env.New(env.Map(nil))
	n, d, b, s := 5, time.Second, true, "keep"
	assert.False(t, r.Int("N", 1, &n))
	assert.False(t, r.Duration("D", &d))
	assert.False(t, r.Bool("B", &b))
	assert.False(t, r.String("S", nil, &s))
	url, from := r.URL(nil, "U")
	assert.Equal(t, 5, n)
	assert.Equal(t, time.Second, d)
	assert.True(t, b)
	assert.Equal(t, "keep", s)
	assert.Empty(t, url+from)
	assert.NoError(t, r.Err())
}

// Every malformed value is reported, each naming its variable; a URL's value
// (it may hold a password) never appears.
func TestReaderCollectsEveryErrorWithTheVariableName(t *testing.T) {
	t.Parallel()
	r := env.New(env.Map(map[string]string{
		"N": "five", "LOW": "0", "TTL": "1.5", "D": "soon", "NEG": "-3s", "ZERO": "0", "NEGZ": "-1",
		"B": "sometimes", "S": " ", "U": "redis://:hunter2@127.0.0.1:x",
	}))
	var (
		n    int
		d    time.Duration
		b    bool
		s    string
		errU = errors.New("redis url: bad port")
	)
	r.Int("N", 1, &n)
	r.Int("LOW", 1, &n)
	r.Seconds("TTL", &d)
	r.Duration("D", &d)
	r.Duration("NEG", &d)
	r.Duration("ZERO", &d)
	r.DurationOrZero("NEGZ", &d)
	r.Bool("B", &b)
	r.String("S", func(v string) error { return errors.New("want a directory path") }, &s)
	url, from := r.URL(func(string) error { return errU }, "U")
	r.Add(errors.New("K: told by the caller"))
	err := r.Err()
	require.Error(t, err)
	for _, want := range []string{
		`N="five": want a whole number ≥ 1`,
		`LOW="0": want a whole number ≥ 1`,
		`TTL="1.5": want whole seconds ≥ 1`,
		`D="soon": want a Go duration such as "30s" or a number of seconds`,
		`NEG="-3s": want a positive duration`,
		`ZERO="0": want a positive duration`,
		`NEGZ="-1": want a duration ≥ 0`,
		`B="sometimes": want on or off (true or false, 1 or 0)`,
		`S=" ": want a directory path`,
		`U: redis url: bad port`,
		`K: told by the caller`,
	} {
		assert.Contains(t, err.Error(), want)
	}
	assert.ErrorIs(t, err, errU)
	assert.NotContains(t, err.Error(), "hunter2")
	assert.Equal(t, "U", from, "a bad URL still says where it came from")
	assert.NotEmpty(t, url)
	assert.Zero(t, n, "a bad value leaves the destination alone")
	assert.Zero(t, d)
}

func TestParseDuration(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"30s": 30 * time.Second, "30": 30 * time.Second, " 1.5 ": 1500 * time.Millisecond, "2m": 2 * time.Minute,
	} {
		got, err := env.ParseDuration(in, false)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, in := range []string{"", "x", "NaN", "Inf", "1e300", "-1", "0"} {
		_, err := env.ParseDuration(in, false)
		assert.Error(t, err, in)
	}
	d, err := env.ParseDuration("0", true)
	require.NoError(t, err)
	assert.Zero(t, d)
}
