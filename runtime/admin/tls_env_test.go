package admin

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/internal/env"
)

func TestServerOptionsFromEnvTLSBothOrNeither(t *testing.T) {
	t.Parallel()
	o, err := serverOptionsFromLookup(env.Map(map[string]string{"BALDUR_ADMIN_TLS_CERT": "/etc/c.pem", "BALDUR_ADMIN_TLS_KEY": "/etc/k.pem"}))
	require.NoError(t, err)
	assert.Equal(t, "/etc/c.pem", o.TLSCertFile)
	assert.Equal(t, "/etc/k.pem", o.TLSKeyFile)

	_, err = serverOptionsFromLookup(env.Map(map[string]string{"BALDUR_ADMIN_TLS_CERT": "/etc/c.pem"}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "BALDUR_ADMIN_TLS_CERT is set but BALDUR_ADMIN_TLS_KEY is not")
	_, err = serverOptionsFromLookup(env.Map(map[string]string{"BALDUR_ADMIN_TLS_KEY": "/etc/k.pem", "BALDUR_ADMIN_TLS_CERT": " "}))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "BALDUR_ADMIN_TLS_KEY is set but BALDUR_ADMIN_TLS_CERT is not")
}
