package admin

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime/dlq"
)

// Every queue error an action can meet has its status and gate, ErrFull
// included (no action parks today, but the mapping is the contract).
func TestDLQErrorsMapToStatusAndGate(t *testing.T) {
	h := &Handler{log: slog.New(slog.DiscardHandler)}
	for _, c := range []struct {
		err  error
		code int
		gate string
	}{
		{fmt.Errorf("entry x: %w", dlq.ErrNotFound), http.StatusNotFound, GateNotFound},
		{fmt.Errorf("redrive x: %w", dlq.ErrState), http.StatusConflict, GateState},
		{fmt.Errorf("replay x: %w", dlq.ErrBusy), http.StatusConflict, GateBusy},
		{fmt.Errorf("park: %w", dlq.ErrFull), http.StatusServiceUnavailable, GateFull},
		{fmt.Errorf("cursor: %w", dlq.ErrInvalid), http.StatusBadRequest, GateInput},
		{dlq.ErrClosed, http.StatusServiceUnavailable, GateUnavailable},
		{fmt.Errorf("read entry x: connection refused"), http.StatusServiceUnavailable, GateBackend},
	} {
		w := httptest.NewRecorder()
		c0 := &call{h: h, w: w, r: httptest.NewRequest(http.MethodPost, "/api/baldur/dlq/x/replay/", nil)}
		c0.dlqRefuse(c.err, "x")
		assert.Equal(t, c.code, w.Code, c.err.Error())
		var r Refusal
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &r))
		assert.Equal(t, c.gate, r.Gate, c.err.Error())
		assert.NotEmpty(t, r.Error)
		assert.NotEmpty(t, r.Hint)
	}
}
