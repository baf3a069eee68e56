package admin

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/baldur-go/baldur/runtime"
	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/control"
)

// The contract spells the confirmation itself (it imports nothing from the
// runtime); the control package is what checks it when going live.
func TestContractConfirmationIsControls(t *testing.T) {
	t.Parallel()
	assert.Equal(t, control.Confirmation, adminapi.Confirmation)
}

// Every route in the table is a path the contract names, so a client that
// builds its paths from adminapi reaches every endpoint.
func TestRouteTableUsesContractPaths(t *testing.T) {
	t.Parallel()
	h := matrixHandler(t, Security{})
	known := map[string]bool{}
	for _, p := range []string{adminapi.PathIndex, adminapi.PathWhoami, adminapi.PathHealth, adminapi.PathHealthLive,
		adminapi.PathHealthReady, adminapi.PathHealthPool, adminapi.PathHealthPing, adminapi.PathMetrics,
		adminapi.PathSummary, adminapi.PathReport, adminapi.PathBreakers, adminapi.PathBreaker,
		adminapi.PathBreakerReset, adminapi.PathBreakerForceOpen, adminapi.PathBreakerForceClose, adminapi.PathBreakerAuto,
		adminapi.PathControl, adminapi.PathControlStatus, adminapi.PathControlHistory, adminapi.PathControlWouldHave,
		adminapi.PathControlDisable, adminapi.PathControlEnable, adminapi.PathControlDryRunOn, adminapi.PathControlDryRunOff,
		adminapi.PathControlGoLive, adminapi.PathDLQ, adminapi.PathDLQStats, adminapi.PathDLQReplayBatch,
		adminapi.PathDLQPurgeBatch, adminapi.PathDLQEntry, adminapi.PathDLQEntryReplay, adminapi.PathDLQEntryRedrive,
		adminapi.PathDLQEntryPurge, adminapi.PathAudit, adminapi.PathAuditVerify, adminapi.PathAuditRecord,
		adminapi.PathAuditAcknowledge, adminapi.PathLeader, adminapi.PathSchedule, adminapi.PathWatchdog,
		adminapi.PathEmergency, adminapi.PathEmergencyDeclare, adminapi.PathEmergencyRelease,
		adminapi.PathEmergencyForceRelease, adminapi.PathGovernance, adminapi.PathGovernanceStrict,
		adminapi.PathGovernanceStrictEnd, adminapi.PathGovernanceBreakGlass, adminapi.PathGovernanceBreakGlassClose,
		adminapi.PathSeries, adminapi.PathSeriesService, adminapi.PathNotify, adminapi.PathNotifyTest,
		adminapi.PathScheduleRun, adminapi.PathLeaderStepDown, adminapi.PathShaping,
		adminapi.PathPolicy, adminapi.PathPolicyDiff, adminapi.PathPolicySet, adminapi.PathPolicyUnset,
		adminapi.PathCanary, adminapi.PathCanaryStart, adminapi.PathCanaryStartBypass, adminapi.PathCanaryPanicRollback,
		adminapi.PathCanaryRollout, adminapi.PathCanaryAbort,
		adminapi.PathChaos, adminapi.PathChaosStop} {
		known[p] = true
	}
	for _, r := range h.routes {
		assert.True(t, known[r.pattern], "route %q is not a path constant of adminapi", r.pattern)
	}
	assert.Equal(t, "breakers/a%2Fb/reset", adminapi.BreakerPath(adminapi.PathBreakerReset, "a/b"))
	assert.Equal(t, "dlq/x1/replay", adminapi.DLQEntryPath(adminapi.PathDLQEntryReplay, "x1"))
	assert.Equal(t, "/api/baldur/breakers/", adminapi.URL(adminapi.PathBreakers))
	assert.Equal(t, "/api/baldur/", adminapi.URL(adminapi.PathIndex))
}

// The contract's control types hold every field the server sends: decoding
// what the control package encodes, with unknown fields refused, loses nothing.
func TestContractControlTypesCoverTheServers(t *testing.T) {
	t.Parallel()
	rt, err := runtime.New(t.Context(), runtime.Config{Logger: slog.New(slog.DiscardHandler), StateDir: t.TempDir()})
	require.NoError(t, err)
	t.Cleanup(func() { rt.Close() })
	ctl := rt.Control()
	_, err = ctl.Disable(t.Context(), "alice", "incident 42")
	require.NoError(t, err)
	strict := func(v, into any) { strictDecode(t, v, into) }
	var st adminapi.ControlStatus
	strict(ctl.Status(), &st)
	assert.Equal(t, "DISABLED", st.KillSwitch)
	assert.Equal(t, "alice", st.ChangedBy)
	for _, ch := range ctl.History() {
		var c adminapi.ControlChange
		strict(ch, &c)
		assert.Equal(t, "alice", c.Who)
	}
}

// strictDecode encodes v as the server would and decodes it into the
// contract type into, refusing a field the contract does not name.
func strictDecode(t *testing.T, v, into any) {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(into), "%s", b)
}
