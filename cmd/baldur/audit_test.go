package main

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/baldur-go/baldur/runtime/audit"
	"github.com/baldur-go/baldur/runtime/store"
)

// auditChain is the trail's stream of sealed records in the store (see
// runtime/audit): the one place a script reaches into to tamper with it.
const auditChain = "audit:{audit}:chain"

// audittamper SEQ deletes record SEQ from the store's copy of the audit
// chain, as an intruder with access to the store would.
func cmdAuditTamper(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: audittamper SEQ")
	}
	seq, err := strconv.ParseUint(args[0], 10, 64)
	ts.Check(err)
	st := ts.Value("state").(*scriptState)
	ctx := context.Background()
	ts.Check(st.rt.Audit().Sync(ctx))
	entries, err := st.rt.Store().Range(ctx, auditChain, store.ID{}, 0)
	ts.Check(err)
	for _, e := range entries {
		var r audit.Record
		ts.Check(json.Unmarshal(e.Value, &r))
		if r.Seq == seq {
			_, err := st.rt.Store().Remove(ctx, auditChain, e.ID)
			ts.Check(err)
			return
		}
	}
	ts.Fatalf("audittamper: no record %d in the store", seq)
}
