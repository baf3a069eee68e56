package admin_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/admin"
	"github.com/baldur-go/baldur/runtime/audit"
)

// The audit routes over real actions: the list with its filters and pages,
// one record, the chain verified, and a forced release acknowledged by an
// admin with a note (itself on record).
func TestAuditRoutes(t *testing.T) {
	f := newFixture(t, fixtureOpts{unlocked: true})
	ctx := context.Background()
	post := func(path, key, body string) resp {
		return f.do(t, req{method: http.MethodPost, path: path, key: key, body: body,
			headers: map[string]string{admin.OperatorHeader: "alice", admin.RequestIDHeader: "req-" + path}})
	}
	require.Equal(t, http.StatusOK, post("/api/baldur/breakers/payments/force-open/", operatorKey, `{"confirm":"CONFIRM","reason":"drill"}`).code)
	require.Equal(t, http.StatusOK, post("/api/baldur/breakers/payments/force-close/", operatorKey, `{"confirm":"CONFIRM","reason":"it is fine"}`).code)
	refused := post("/api/baldur/control/disable/", viewerKey, `{"confirm":"CONFIRM","reason":"let me"}`)
	require.Equal(t, http.StatusForbidden, refused.code)
	assert.Equal(t, "req-/api/baldur/control/disable/", refused.header.Get(admin.RequestIDHeader))
	require.NoError(t, f.rt.Audit().Sync(ctx))

	list := func(query string) []any {
		t.Helper()
		r := f.do(t, req{path: "/api/baldur/audit/" + query, key: viewerKey})
		require.Equal(t, http.StatusOK, r.code, r.raw)
		return r.json["records"].([]any)
	}
	recs := list("?actor=alice&action=breakers.*")
	require.Len(t, recs, 2)
	closeRec := recs[0].(map[string]any)
	assert.Equal(t, "breakers.force_close", closeRec["action"])
	assert.Equal(t, "payments", closeRec["target"])
	assert.Equal(t, "it is fine", closeRec["reason"])
	assert.Equal(t, "operator#2", closeRec["key"])
	assert.Equal(t, "alice", closeRec["operator"])
	assert.Equal(t, true, closeRec["review_required"])
	assert.Equal(t, "req-/api/baldur/breakers/payments/force-close/", closeRec["request_id"])

	recs = list("?outcome=refused")
	require.Len(t, recs, 1)
	assert.Equal(t, "control.disable", recs[0].(map[string]any)["action"])
	assert.Contains(t, recs[0].(map[string]any)["detail"], "role: ")
	assert.Len(t, list("?action=breakers.*&limit=1"), 1)
	recs = list("?review=pending")
	require.Len(t, recs, 1)
	seq := uint64(recs[0].(map[string]any)["seq"].(float64))

	r := f.do(t, req{path: "/api/baldur/audit/?actor=x&colour=red", key: viewerKey})
	assert.Equal(t, http.StatusBadRequest, r.code)
	assert.Equal(t, admin.GateInput, r.json["gate"])
	r = f.do(t, req{path: "/api/baldur/audit/?since=yesterday", key: viewerKey})
	assert.Equal(t, http.StatusBadRequest, r.code)

	// Acknowledging: an admin's, with a note; a second time is a conflict.
	ack := "/api/baldur/audit/" + itoa(seq) + "/acknowledge/"
	r = post(ack, operatorKey, `{"reason":"checked"}`)
	assert.Equal(t, http.StatusForbidden, r.code, "an admin acknowledges")
	r = post(ack, adminKey, `{}`)
	assert.Equal(t, http.StatusBadRequest, r.code, "a note is needed")
	r = post(ack, adminKey, `{"reason":"checked with alice: planned"}`)
	require.Equal(t, http.StatusOK, r.code, r.raw)
	r = post(ack, adminKey, `{"reason":"again"}`)
	assert.Equal(t, http.StatusConflict, r.code)
	require.NoError(t, f.rt.Audit().Sync(ctx))
	assert.Empty(t, list("?review=pending"))
	acks := list("?action=" + audit.ActionAcknowledge)
	require.Len(t, acks, 4, "the acknowledgement, and the three attempts refused or failed")
	var done map[string]any
	for _, a := range acks {
		if a.(map[string]any)["outcome"] == audit.OutcomeOK {
			done = a.(map[string]any)
		}
	}
	require.NotNil(t, done)
	assert.Equal(t, "checked with alice: planned", done["reason"])
	assert.Equal(t, float64(seq), done["acknowledges"])
	assert.Equal(t, "admin#1", done["key"])

	r = f.do(t, req{path: "/api/baldur/audit/" + itoa(seq) + "/", key: viewerKey})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, "breakers.force_close", get(r.json, "record", "action"))
	r = f.do(t, req{path: "/api/baldur/audit/999/", key: viewerKey})
	assert.Equal(t, http.StatusNotFound, r.code)

	r = f.do(t, req{path: "/api/baldur/audit/verify/", key: viewerKey})
	assert.Equal(t, http.StatusForbidden, r.code, "verify walks the whole chain: operators only")
	r = f.do(t, req{path: "/api/baldur/audit/verify/", key: operatorKey})
	require.Equal(t, http.StatusOK, r.code, r.raw)
	assert.Equal(t, true, r.json["ok"])
	assert.GreaterOrEqual(t, r.json["checked"], float64(7))
}

func itoa(n uint64) string {
	b := []byte{}
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
		if n == 0 {
			return string(b)
		}
	}
}
