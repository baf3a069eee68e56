package control

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func lookupFrom(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func TestBackendFromEnv(t *testing.T) {
	b, err := backendFromLookup("", lookupFrom(nil))
	require.NoError(t, err)
	assert.Equal(t, "file:"+filepath.Join(".baldur", "control.json"), b.Describe())

	b, err = backendFromLookup("/srv/state", lookupFrom(map[string]string{"BALDUR_STATE_DIR": "/elsewhere"}))
	require.NoError(t, err)
	assert.Equal(t, "file:/srv/state/control.json", b.Describe(), "the caller's state dir wins")

	b, err = backendFromLookup("", lookupFrom(map[string]string{"BALDUR_STATE_DIR": "/elsewhere"}))
	require.NoError(t, err)
	assert.Equal(t, "file:/elsewhere/control.json", b.Describe())

	b, err = backendFromLookup("", lookupFrom(map[string]string{"REDIS_URL": "redis://127.0.0.1:6379/0"}))
	require.NoError(t, err)
	assert.Equal(t, "redis:baldur:{control}", b.Describe())
	require.NoError(t, b.Close())

	b, err = backendFromLookup("", lookupFrom(map[string]string{"BALDUR_REDIS_URL": "redis://127.0.0.1:6379/0", "BALDUR_CONTROL_BACKEND": "memory"}))
	require.NoError(t, err)
	assert.Equal(t, "memory", b.Describe())

	for env, want := range map[string]map[string]string{
		`BALDUR_CONTROL_BACKEND="etcd"`:           {"BALDUR_CONTROL_BACKEND": "etcd"},
		`BALDUR_CONTROL_BACKEND=redis: set`:       {"BALDUR_CONTROL_BACKEND": "redis"},
		`BALDUR_REDIS_URL: control redis`:         {"BALDUR_REDIS_URL": "http://nope"},
		`BALDUR_STATE_DIR="  ": want a directory`: {"BALDUR_STATE_DIR": "  "},
	} {
		_, err := backendFromLookup("", lookupFrom(want))
		require.Error(t, err, env)
		assert.Contains(t, err.Error(), env)
	}
}
