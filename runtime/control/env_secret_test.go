package control

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A Redis URL the control backend cannot read is an error naming the
// variable and the URL with its password hidden, however the password is
// written (go-redis's parse errors quote the URL whole).
func TestBackendFromEnvBadRedisURLHidesThePassword(t *testing.T) {
	const pass = "Hunter2hunter2"
	for _, url := range []string{
		"redis://user:" + pass + "@localhost:notaport/0",
		"redis://user:" + pass + "@localhost:99999",
		"redis://:" + pass + "@localhost/abc",
		"redis://user:" + pass + "/x@localhost:6379/0",
		"redis://user:x#" + pass + "@localhost:6379/0",
		"redis://user:" + pass + "?x@localhost:6379/0",
		"redis+sentinel://user:" + pass + "@h1,h2/m",
	} {
		_, err := backendFromLookup("", lookupFrom(map[string]string{"BALDUR_CONTROL_REDIS_URL": url}))
		require.Error(t, err, url)
		assert.Contains(t, err.Error(), "BALDUR_CONTROL_REDIS_URL: control redis url ", url)
		for i := 0; i+4 <= len(pass); i++ {
			require.NotContains(t, err.Error(), pass[i:i+4], "%s: the password leaks", url)
		}
	}
}
