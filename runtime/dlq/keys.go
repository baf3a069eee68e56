package dlq

import (
	"strings"

	"github.com/baldur-go/baldur/runtime/store"
)

// keys lays the queue out in the store. Every key starts with one prefix that
// carries a Redis Cluster hash tag, so that any set of them can change in one
// store.Atomic.
//
//	e:<id>               the entry record (JSON); resolved ones expire after the retention
//	d:<domain>           stream of ids in capture order: the domain's live entries
//	                     (ids of resolved or removed entries are garbage, dropped lazily)
//	r, nr, rs            streams of "id version": replaying, needs_review and resolved
//	                     entries (stale when the entry's version moved on)
//	n, n:<domain>        unresolved entries overall and per domain (the caps)
//	c:<domain>\x1f<type>:<state>  entries per domain, failure type and state
//	                     (resolved: a running total)
//	groups               hash of "<domain>\x1f<type>" pairs, the counters' index
//	oc:<domain>\x1f<operation>:<state>  entries per domain, operation and state
//	                     (counted from the first park by a version that writes them)
//	opgroups             hash of "<domain>\x1f<operation>" pairs, their index
//	domains              hash of the domains ever parked
//	agg:<domain>\x1f<type>  compress_oldest's summary of evicted entries
//	evicted              evictions, fleet-wide
//	lease:<domain>       the domain's batch replay lease
type keys struct{ p string }

const groupSep = "\x1f"

func (k keys) entry(id string) string      { return k.p + "e:" + id }
func (k keys) domain(d string) string      { return k.p + "d:" + d }
func (k keys) replaying() string           { return k.p + "r" }
func (k keys) needsReview() string         { return k.p + "nr" }
func (k keys) resolved() string            { return k.p + "rs" }
func (k keys) total() string               { return k.p + "n" }
func (k keys) domainTotal(d string) string { return k.p + "n:" + d }
func (k keys) groups() string              { return k.p + "groups" }
func (k keys) domains() string             { return k.p + "domains" }
func (k keys) evicted() string             { return k.p + "evicted" }
func (k keys) lease(d string) string       { return k.p + "lease:" + d }

func group(domain, ftype string) string { return domain + groupSep + ftype }

func splitGroup(g string) (domain, ftype string) {
	domain, ftype, _ = strings.Cut(g, groupSep)
	return domain, ftype
}

func (k keys) counters() string                 { return k.p + "c:" }
func (k keys) counter(g string, s State) string { return k.counters() + g + ":" + string(s) }
func (k keys) aggregate(g string) string        { return k.p + "agg:" + g }
func (k keys) opGroups() string                 { return k.p + "opgroups" }
func (k keys) opCounter(og string, s State) string {
	return k.p + "oc:" + og + ":" + string(s)
}

// count returns the ops that add delta to r's counters in state s: by
// failure type and by operation.
func (k keys) count(r *record, s State, delta int64) []store.Op {
	return []store.Op{store.IncrOp(k.counter(group(r.Domain, r.Type), s), delta, 0),
		store.IncrOp(k.opCounter(group(r.Domain, r.Op), s), delta, 0)}
}

// stateIndex returns the index stream of a state, "" for pending (whose
// entries are found through the domain streams).
func (k keys) stateIndex(s State) string {
	switch s {
	case StateReplaying:
		return k.replaying()
	case StateNeedsReview:
		return k.needsReview()
	case StateResolved:
		return k.resolved()
	}
	return ""
}
