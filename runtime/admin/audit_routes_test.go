package admin

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/audit"
)

// Every action of the route table (a method other than GET) leaves exactly
// one audit record per request, whatever happens to it: refused by a gate
// (outcome refused, the gate named), or passed. The matrix is the table's own,
// so a route added later is audited, and tested, without a line here.
func TestEveryActionRouteIsAuditedWhateverHappens(t *testing.T) {
	t.Parallel()
	keys := []Key{{RoleAdmin, matrixAdmin}, {RoleOperator, matrixOperator}, {RoleViewer, matrixViewer}}
	unlocked := matrixHandler(t, Security{Keys: keys, Unlocked: true})
	locked := matrixHandler(t, Security{Keys: keys})
	noKeys := matrixHandler(t, Security{Unlocked: true})
	type want struct {
		action, outcome, gate, key, role string
	}
	wants := map[*Handler]map[string]want{unlocked: {}, locked: {}, noKeys: {}}
	id := func(t *testing.T, w interface{ Header() http.Header }) string {
		t.Helper()
		v := w.Header().Get(RequestIDHeader)
		require.NotEmpty(t, v, "the answer carries the request id")
		return v
	}
	actions := 0
	for _, rt := range unlocked.routes {
		for _, ep := range rt.eps {
			if ep.probe || ep.method == http.MethodGet {
				continue
			}
			actions++
			path := pathOf(rt.pattern)
			action := actionName(rt.pattern)
			w := matrixRequest{key: matrixKeys[ep.role]}.send(unlocked, ep.method, path)
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			keyName := map[Role]string{RoleAdmin: "admin#1", RoleOperator: "operator#2", RoleViewer: "viewer#3"}[ep.role]
			wants[unlocked][id(t, w)] = want{action, audit.OutcomeOK, "", keyName, ep.role.String()}
			for _, rc := range refusalsFor(ep) {
				h := unlocked
				switch {
				case rc.locked:
					h = locked
				case rc.noKeys:
					h = noKeys
				}
				w := rc.req.send(h, ep.method, path)
				require.Equal(t, rc.code, w.Code, "%s %s: %s", path, rc.name, w.Body.String())
				wants[h][id(t, w)] = want{action: action, outcome: audit.OutcomeRefused, gate: rc.gate}
			}
		}
	}
	require.GreaterOrEqual(t, actions, 14, "the table's actions were walked")

	ctx := context.Background()
	for h, byID := range wants {
		tr := h.rt.Audit()
		require.NoError(t, tr.Sync(ctx))
		page, err := tr.List(ctx, audit.Query{Limit: audit.MaxLimit})
		require.NoError(t, err)
		got := map[string]audit.Record{}
		for _, r := range page.Records {
			if r.Operator == audit.OperatorRuntime {
				continue // the runtime's own actions (none expected here, but not the point)
			}
			_, dup := got[r.RequestID]
			assert.False(t, dup, "one record per request: %s %s", r.RequestID, r.Action)
			got[r.RequestID] = r
		}
		assert.Len(t, got, len(byID))
		for reqID, w := range byID {
			r, ok := got[reqID]
			if !assert.True(t, ok, "no record of %s %s (%s)", w.action, w.outcome, w.gate) {
				continue
			}
			assert.Equal(t, w.action, r.Action, reqID)
			assert.Equal(t, w.outcome, r.Outcome, "%s %s", r.Action, r.Detail)
			if w.gate != "" {
				assert.Contains(t, r.Detail, w.gate+": ", r.Action)
			} else {
				assert.Equal(t, w.key, r.Key, r.Action)
				assert.Equal(t, w.role, r.Role, r.Action)
				assert.Equal(t, "matrix", r.Reason)
			}
		}
		raw, _ := json.Marshal(page)
		for _, secret := range []string{matrixAdmin, matrixOperator, matrixViewer} {
			assert.NotContains(t, string(raw), secret, "a key in the audit trail")
		}
		res, err := tr.Verify(ctx)
		require.NoError(t, err)
		assert.True(t, res.OK(), "%+v", res.Broken)
	}
}

func TestActionNames(t *testing.T) {
	t.Parallel()
	for pattern, want := range map[string]string{
		"breakers/{name}/force-open": "breakers.force_open",
		"control/dry-run/on":         "control.dry_run.on",
		"dlq/{id}/replay":            "dlq.replay",
		"dlq/purge":                  "dlq.purge",
	} {
		assert.Equal(t, want, actionName(pattern))
	}
}
