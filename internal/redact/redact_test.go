package redact

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestURL(t *testing.T) {
	t.Parallel()
	for raw, want := range map[string]string{
		"redis://localhost:6379/0":                          "redis://localhost:6379/0",
		"redis://user:pw@localhost:6379/0":                  "redis://user:xxxxx@localhost:6379/0",
		"redis://:pw@localhost":                             "redis://:xxxxx@localhost",
		"redis://user@localhost":                            "redis://user@localhost",
		"redis://user:pa/ss@localhost:6379/0":               "redis://user:xxxxx@localhost:6379/0",
		"redis://user:pa#ss@localhost:6379/0":               "redis://user:xxxxx@localhost:6379/0",
		"redis://user:pa?ss@localhost:6379/0":               "redis://user:xxxxx@localhost:6379/0",
		"redis://user:pa@ss@localhost:6379/0":               "redis://user:xxxxx@localhost:6379/0",
		"redis://h/m?db=1&sentinel_password=s3&pool_size=2": "redis://h/m?db=1&sentinel_password=xxxxx&pool_size=2",
		"redis://h/m?sentinel_password=a#b@c":               "redis://h/m?sentinel_password=xxxxx",
		"redis://h/0?Pass%77ord=abc":                        "redis://h/0?Pass%77ord=xxxxx",
		"redis://h/0#fragment":                              "redis://h/0#xxxxx",
		"localhost:6379":                                    "localhost:6379",
		"user:pw@localhost":                                 "xxxxx",
	} {
		assert.Equal(t, `"`+want+`"`, URL(raw), raw)
	}
}

func TestHiddenIsWhatURLHides(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "pa/ss", Hidden("redis://u:pa/ss@h/0"))
	assert.Equal(t, "pw\x00s3", Hidden("redis://u:pw@h/0?sentinel_password=s3"))
	assert.Equal(t, "", Hidden("redis://h:6379/0"))
}

func TestScrub(t *testing.T) {
	t.Parallel()
	assert.Equal(t, `invalid port ":xxxxx" after host`, Scrub(`invalid port ":hunter2" after host`, "hunter2/x"))
	assert.Equal(t, "abc is short", Scrub("abc is short", "abc"), "runs under four bytes stay")
	assert.Equal(t, "no secret here", Scrub("no secret here", "hunter2"))
	assert.Equal(t, "a xxxxx b xxxxx", Scrub("a wxyz b klmn", "wxyz\x00klmn"))
}

func TestKey(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "[hidden, 20 characters]", Key("0123456789abcdefghij"))
}
