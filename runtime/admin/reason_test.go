package admin_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Bidi controls and other format characters never reach a history: a name
// with U+202E (right-to-left override) cannot make a log or terminal line
// read backwards, nor a zero-width space hide in a reason.
func TestWhoAndReasonLoseFormatCharacters(t *testing.T) {
	f := newFixture(t, fixtureOpts{unlocked: true})
	r := f.do(t, req{method: "POST", path: "/api/baldur/control/disable/", key: adminKey,
		body: `{"confirm":"CONFIRM","reason":"incident\u200b 42\u202e","who":"mallory\u202egnp.exe\u2066"}`})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, false, r.json["pending_fleet"], "the store is reachable: the change is in the shared state")
	h := f.ctl.History()
	require.Len(t, h, 1)
	assert.Equal(t, "mallorygnp.exe (admin)", h[0].Who)
	assert.Equal(t, "incident 42", h[0].Reason)

	r = f.do(t, req{method: "POST", path: "/api/baldur/control/enable/", key: adminKey,
		body: `{"confirm":"CONFIRM"}`, headers: map[string]string{"X-Baldur-Operator": "\u202eecila"}})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, "ecila (admin)", f.ctl.History()[0].Who)
}
