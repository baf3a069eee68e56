package admin

import (
	"encoding/json"
	"net/http"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

// Gate names a refusal: which check said no (the contract's names, kept here
// for the server's callers).
const (
	GateRoute       = adminapi.GateRoute
	GateMethod      = adminapi.GateMethod
	GateHost        = adminapi.GateHost
	GateOrigin      = adminapi.GateOrigin
	GateKey         = adminapi.GateKey
	GateRole        = adminapi.GateRole
	GateUnlock      = adminapi.GateUnlock
	GateContentType = adminapi.GateContentType
	GateBody        = adminapi.GateBody
	GateConfirm     = adminapi.GateConfirm
	GateInput       = adminapi.GateInput
	GateNotFound    = adminapi.GateNotFound
	GateKillSwitch  = adminapi.GateKillSwitch
	GateState       = adminapi.GateState
	GateBusy        = adminapi.GateBusy
	GateFull        = adminapi.GateFull
	GateBackend     = adminapi.GateBackend
	GateUnavailable = adminapi.GateUnavailable
	GateGovernance  = adminapi.GateGovernance
	GateLeader      = adminapi.GateLeader
)

// Refusal is the JSON body of every 4xx/5xx answer.
type Refusal = adminapi.Refusal

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":"encoding the answer failed","gate":"internal","hint":"see the server log"}`)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
