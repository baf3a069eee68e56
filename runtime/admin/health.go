package admin

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
	"github.com/baldur-go/baldur/runtime/breaker"
)

// Health statuses.
const (
	Healthy   = adminapi.Healthy
	Degraded  = adminapi.Degraded
	Unhealthy = adminapi.Unhealthy
)

type (
	healthReport = adminapi.Health
	checkResult  = adminapi.HealthCheck
)

// report returns the cached health report, or a fresh one when it is older
// than the TTL or fresh is set. Checks run without a lock held, so a slow
// check never blocks a probe that can answer from the cache.
func (h *Handler) report(ctx context.Context, fresh bool) healthReport {
	h.healthMu.Lock()
	cached := h.health
	h.healthMu.Unlock()
	if !fresh && cached != nil && time.Since(cached.CheckedAt) < h.ttl {
		r := *cached
		r.Cached = true
		r.Draining = h.Draining()
		return r
	}
	h.computing.Add(1)
	defer h.computing.Add(-1)
	r := h.runChecks(ctx, fresh)
	h.healthMu.Lock()
	h.health = &r
	h.healthMu.Unlock()
	return r
}

// readyReport is report for the readiness probe: while checks are already
// running it answers from the last report instead of waiting for them (no
// report yet: ok is false).
func (h *Handler) readyReport(ctx context.Context) (r healthReport, ok bool) {
	if h.computing.Load() > 0 {
		h.healthMu.Lock()
		defer h.healthMu.Unlock()
		if h.health == nil {
			return healthReport{}, false
		}
		return *h.health, true
	}
	return h.report(ctx, false), true
}

func (h *Handler) runChecks(ctx context.Context, fresh bool) healthReport {
	r := healthReport{Status: Healthy, Checks: map[string]checkResult{}, CheckedAt: time.Now().UTC(), Draining: h.Draining()}
	set := func(name string, res checkResult) {
		r.Checks[name] = res
		switch {
		case res.Status == Unhealthy:
			r.Status = Unhealthy
		case res.Status == Degraded && r.Status == Healthy:
			r.Status = Degraded
		}
	}
	// An open breaker is the breaker doing its job: degraded, not down.
	snap := h.rt.Snapshot()
	var open []string
	for _, b := range snap.Breakers {
		if s := b.State; s == breaker.Open || s == breaker.ForcedOpen || s == breaker.HalfOpen {
			open = append(open, b.Name+"="+s.String())
		}
	}
	if len(open) > 0 {
		set("breakers", checkResult{Status: Degraded, Detail: open})
	} else {
		set("breakers", checkResult{Status: Healthy})
	}
	// Redis lost: calls keep being served from the local WAL-backed store.
	if snap.Store.Degraded {
		set("store", checkResult{Status: Degraded, Detail: "DEGRADED: Redis unreachable, serving from the local write-ahead-logged store"})
	} else {
		set("store", checkResult{Status: Healthy})
	}
	if c := h.ctl; c != nil {
		if fresh {
			_ = c.Refresh(ctx) // a failure shows in StateError below
		}
		// The switches live in the runtime's store, whose reachability the
		// "store" check reports; here, what the control itself knows.
		res := checkResult{Status: Healthy, Detail: c.Status()}
		if e := c.Status().StateError; e != "" {
			res.Status, res.Error = Degraded, e
		}
		set("control", res)
	}
	for _, chk := range h.checks {
		cctx, cancel := context.WithTimeout(ctx, h.checkTTL)
		err := runCheck(cctx, chk.Func)
		cancel()
		res := checkResult{Status: Healthy, Critical: chk.Critical}
		if err != nil {
			res.Error = err.Error()
			res.Status = Degraded
			if chk.Critical {
				res.Status = Unhealthy
			}
		}
		set(chk.Name, res)
	}
	return r
}

// runCheck turns a panicking check into a failure: health must answer.
func runCheck(ctx context.Context, f func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("check panicked: %v", p)
		}
	}()
	if f == nil {
		return nil
	}
	return f(ctx)
}

func (c *call) nocache() (bool, bool) {
	v := c.r.URL.Query().Get("nocache")
	if v == "" {
		return false, true
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		c.refuse(http.StatusBadRequest, GateInput, fmt.Sprintf("nocache=%q is not a boolean", v), "use ?nocache=true or leave it out")
		return false, false
	}
	return b, true
}

// statusOnly is r as a probe without the viewer key gets it: the status words
// of the report and of each check. The detail (open breakers, the kill
// switch's reason and author, the control state's path or Redis address,
// check errors) is the viewer's, like control/ and breakers/.
func statusOnly(r healthReport) healthReport {
	checks := make(map[string]checkResult, len(r.Checks))
	for name, res := range r.Checks {
		checks[name] = checkResult{Status: res.Status, Critical: res.Critical}
	}
	r.Checks = checks
	return r
}

// mayView reports whether the request could read the viewer's routes: an
// allowed host and origin, and a viewer key or higher (or no key configured,
// when reads are open). It refuses nothing: a probe gets its answer either way.
func (c *call) mayView() bool {
	g := &c.h.gates
	if !g.hostAllowed(c.r.Host) {
		return false
	}
	if o := c.r.Header.Get("Origin"); o != "" && !g.originAllowed(o) {
		return false
	}
	return len(g.keys) == 0 || g.roleOf(c.r.Header.Get(KeyHeader)) >= RoleViewer
}

func (c *call) healthAll() {
	fresh, ok := c.nocache()
	if !ok {
		return
	}
	r := c.h.report(c.r.Context(), fresh)
	if !c.mayView() {
		r = statusOnly(r)
	}
	status := http.StatusOK
	if r.Status == Unhealthy {
		status = http.StatusServiceUnavailable
	}
	c.status = status
	writeJSON(c.w, status, r)
}

func (c *call) live() { c.ok(map[string]string{"status": "alive"}) }

func (c *call) ping() { c.ok(map[string]any{"pong": true}) }

func (c *call) ready() {
	retry := strconv.Itoa(int(c.h.retry.Round(time.Second) / time.Second))
	if c.h.Draining() {
		c.w.Header().Set("Retry-After", retry)
		writeJSON(c.w, http.StatusServiceUnavailable, map[string]string{"status": "draining"})
		return
	}
	if r, ok := c.h.readyReport(c.r.Context()); ok && r.Status == Unhealthy {
		c.w.Header().Set("Retry-After", retry)
		writeJSON(c.w, http.StatusServiceUnavailable, map[string]string{"status": Unhealthy})
		return
	}
	c.ok(map[string]string{"status": "ready"})
}

type compartmentView = adminapi.Compartment

func (c *call) pool() {
	comps := []compartmentView{}
	for _, b := range c.h.rt.Snapshot().Compartments {
		comps = append(comps, compartmentView{Name: b.Name, Active: b.Active, Max: b.Max})
	}
	c.ok(adminapi.CompartmentList{Compartments: comps})
}
