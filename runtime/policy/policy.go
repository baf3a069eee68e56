// Package policy keeps the run-time policy overrides of the README's "Policy
// overrides": operator-set values of the directive keys marked Runtime in
// the annotations key table (retry, backoff, timeout, bulkhead_wait, and a
// service's breaker_threshold, breaker_recovery and bulkhead), per scope (a
// method, a service or every method), and the canary variants rollouts
// stage for a fraction of calls or processes, one per config type and
// scope.
//
// The overrides are one JSON document (Doc) under one store key: fleet-wide
// on Redis, kept across restarts by the embedded store. A change is a
// compare-and-set of the whole document (a version counter orders them) and
// a message on the change feed; every process re-reads the document on the
// message, and at least every PollInterval behind it, and hands it to its
// Target (the runtime, which swaps one atomic pointer per zone). The package
// knows nothing of zones: the runtime checks an override before it is stored.
package policy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/baldur-go/baldur/internal/restart"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
)

// Where the overrides live in the store.
const (
	// DocKey holds the document (JSON, see Doc).
	DocKey = "{policy}"
	// ChangedChannel announces every new document version.
	ChangedChannel = "policy:changed"
)

// casRetries bounds compare-and-set retries when processes change the
// document at the same instant.
const casRetries = 20

// MaxPermille is the largest canary fraction: every call.
const MaxPermille = 1000

// Scope is what an override applies to: "service.Method" (one method),
// "service" (every method of the service) or "*" (every method).
type Scope string

// All is the scope of every protected method.
const All Scope = "*"

// ParseScope checks the syntax of a scope; whether it names a method this
// process protects is the runtime's check.
func ParseScope(s string) (Scope, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New(`empty scope; want service.Method, service or "*"`)
	}
	if s == string(All) {
		return All, nil
	}
	var svc, method string
	var dotted bool
	// Service names may contain dots (name=a.b): the method is after the last one
	// when it starts with an upper-case letter.
	if i := strings.LastIndexByte(s, '.'); i >= 0 && i+1 < len(s) && s[i+1] >= 'A' && s[i+1] <= 'Z' {
		svc, method, dotted = s[:i], s[i+1:], true
	} else {
		svc, method, dotted = s, "", false
	}
	if !validService(svc) {
		return "", fmt.Errorf(`scope %q: %q is not a service name (lower-case letters, digits, "_", "." or "-"); want service.Method, service or "*"`, s, svc)
	}
	if dotted && !validMethod(method) {
		return "", fmt.Errorf(`scope %q: %q is not a Go method name; want service.Method, service or "*"`, s, method)
	}
	return Scope(s), nil
}

func validService(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '-') {
			return false
		}
	}
	return true
}

func validMethod(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// Split returns the service and method of a scope; "" for the parts it
// leaves open.
func (s Scope) Split() (service, method string) {
	if s == All {
		return "", ""
	}
	if i := strings.LastIndexByte(string(s), '.'); i >= 0 && i+1 < len(s) && s[i+1] >= 'A' && s[i+1] <= 'Z' {
		return string(s[:i]), string(s[i+1:])
	}
	return string(s), ""
}

// Matches reports whether the scope covers the method.
func (s Scope) Matches(service, method string) bool {
	svc, m := s.Split()
	return (svc == "" || svc == service) && (m == "" || m == method)
}

// Rank orders scopes from the widest: "*" 0, a service 1, a method 2. A
// narrower scope's value wins over a wider one's.
func (s Scope) Rank() int {
	svc, m := s.Split()
	switch {
	case svc == "":
		return 0
	case m == "":
		return 1
	}
	return 2
}

// Override is the operator's values for one scope, in the directive's
// grammar, canonical ("retry=5 timeout=2s", keys in the table's order).
type Override struct {
	Scope  Scope     `json:"scope"`
	Values string    `json:"values"`
	By     string    `json:"by"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// Canary is a variant of the settings used by Permille calls in a thousand
// of every method its scope covers (or, for a canary of keys shared by a
// service's methods, by the processes a hash of their name picks), merged
// over the baseline (directive, environment and overrides). Rollout names
// the canary (the rollout that stages it) and Types its config types
// (annotations.RolloutTypes): a scope holds one canary per type. ID changes
// with every staging, so that the cohort counters restart.
type Canary struct {
	ID       string    `json:"id"`
	Rollout  string    `json:"rollout,omitempty"`
	Scope    Scope     `json:"scope"`
	Values   string    `json:"values"`
	Types    []string  `json:"types,omitempty"`
	Permille int       `json:"permille"`
	By       string    `json:"by"`
	At       time.Time `json:"at"`
}

// Name is what identifies the canary: its rollout, or its ID for one
// stored without a rollout.
func (c Canary) Name() string {
	if c.Rollout != "" {
		return c.Rollout
	}
	return c.ID
}

// Overlaps returns a config type c and o both change on one scope.
func (c Canary) Overlaps(o Canary) (string, bool) {
	if c.Scope != o.Scope {
		return "", false
	}
	for _, t := range c.Types {
		if slices.Contains(o.Types, t) {
			return t, true
		}
	}
	return "", false
}

// Doc is the stored document: every override and canary of the fleet.
// Epoch names the document's lineage, chosen when it is first written:
// versions order the changes of one epoch, and a document of another epoch
// (the store lost it, e.g. Redis restarted empty, and it was written anew)
// is adopted whatever its version.
type Doc struct {
	Epoch     string     `json:"epoch,omitempty"`
	Version   uint64     `json:"version"`
	Overrides []Override `json:"overrides,omitempty"`
	Canaries  []Canary   `json:"canaries,omitempty"`
}

// Override returns the override of scope, if any.
func (d *Doc) Override(s Scope) (Override, bool) {
	for _, o := range d.Overrides {
		if o.Scope == s {
			return o, true
		}
	}
	return Override{}, false
}

// PutOverride replaces or adds the override of o.Scope.
func (d *Doc) PutOverride(o Override) {
	d.Overrides = slices.DeleteFunc(d.Overrides, func(x Override) bool { return x.Scope == o.Scope })
	d.Overrides = append(d.Overrides, o)
	d.sort()
}

// DeleteOverride removes the override of s and reports whether there was one.
func (d *Doc) DeleteOverride(s Scope) bool {
	n := len(d.Overrides)
	d.Overrides = slices.DeleteFunc(d.Overrides, func(x Override) bool { return x.Scope == s })
	return len(d.Overrides) != n
}

// Canary returns the canary named name (Canary.Name), if any.
func (d *Doc) Canary(name string) (Canary, bool) {
	for _, c := range d.Canaries {
		if c.Name() == name {
			return c, true
		}
	}
	return Canary{}, false
}

// PutCanary replaces the canary of c's name, or adds it. The caller has
// checked that no other canary changes one of c's types on its scope
// (Overlaps).
func (d *Doc) PutCanary(c Canary) {
	d.Canaries = slices.DeleteFunc(d.Canaries, func(x Canary) bool { return x.Name() == c.Name() })
	d.Canaries = append(d.Canaries, c)
	d.sort()
}

// DeleteCanary removes the canary named name and reports whether there was
// one.
func (d *Doc) DeleteCanary(name string) bool {
	n := len(d.Canaries)
	d.Canaries = slices.DeleteFunc(d.Canaries, func(x Canary) bool { return x.Name() == name })
	return len(d.Canaries) != n
}

// sort orders entries from the widest scope, then by name: the order they
// are applied in.
func (d *Doc) sort() {
	slices.SortFunc(d.Overrides, func(a, b Override) int { return cmpScope(a.Scope, b.Scope) })
	slices.SortFunc(d.Canaries, func(a, b Canary) int {
		if c := cmpScope(a.Scope, b.Scope); c != 0 {
			return c
		}
		return strings.Compare(a.Name(), b.Name())
	})
}

func cmpScope(a, b Scope) int {
	if r := a.Rank() - b.Rank(); r != 0 {
		return r
	}
	return strings.Compare(string(a), string(b))
}

func (d Doc) clone() Doc {
	d.Overrides = slices.Clone(d.Overrides)
	d.Canaries = slices.Clone(d.Canaries)
	return d
}

// Target receives every document the Manager adopts, newest version last.
// Apply must not block on I/O.
type Target interface {
	Apply(d Doc)
}

// Options configure a Manager.
type Options struct {
	// Store keeps the document. Required.
	Store store.Store
	// Target receives every adopted document. Required.
	Target Target
	// Logger receives policy.* events. Default: slog.Default().
	Logger *slog.Logger
	// Clock stamps changes. Default: the real clock.
	Clock clock.Clock
	// Node names this process in logs. Default: host/pid.
	Node string
	// PollInterval is how often the document is re-read behind the change
	// feed. Default 1s; negative disables polling.
	PollInterval time.Duration
	// Beat, when set, is called at every turn of the watching loop.
	Beat func()
}

// Manager keeps one process's copy of the document in step with the store.
type Manager struct {
	store  store.Store
	target Target
	log    *slog.Logger
	clock  clock.Clock
	node   string
	beat   func()

	mu  sync.Mutex // orders adoption; never held across a store call or Apply
	doc atomic.Pointer[Doc]

	applyMu sync.Mutex // serialises Target.Apply in version order

	poll  time.Duration
	watch *restart.Loop // the watching loop
}

// New reads the document, applies it, subscribes to changes and starts
// polling. A document that cannot be read is logged
// (policy.overrides_unreadable) and the directives stand until it can; New
// fails only on a bad option.
func New(ctx context.Context, opts Options) (*Manager, error) {
	if opts.Store == nil || opts.Target == nil {
		return nil, errors.New("policy: Options.Store and Options.Target are required")
	}
	m := &Manager{store: opts.Store, target: opts.Target, log: opts.Logger, clock: opts.Clock, node: opts.Node,
		beat: opts.Beat}
	if m.log == nil {
		m.log = slog.Default()
	}
	if m.clock == nil {
		m.clock = clock.Real()
	}
	if m.node == "" {
		host, _ := os.Hostname()
		m.node = host + "/" + strconv.Itoa(os.Getpid())
	}
	m.poll = opts.PollInterval
	if m.poll == 0 {
		m.poll = time.Second
	}
	m.doc.Store(&Doc{})
	if err := m.Refresh(ctx); err != nil {
		m.log.LogAttrs(ctx, slog.LevelWarn, "policy.overrides_unreadable", slog.String("error", err.Error()))
	}
	// The first subscription is made before New returns, so that a change
	// announced from then on is seen at once; a run that replaces it
	// (Restart) subscribes again. Runs never overlap: each takes over from
	// the one before once it returned.
	sub, replacing := m.subscribe(ctx), false
	m.watch = restart.Start(ctx, "policy_watcher", m.log, func(ctx context.Context) {
		if replacing {
			sub = m.subscribe(ctx)
		}
		replacing = true
		m.loop(ctx, sub, m.poll)
	})
	return m, nil
}

// subscribe subscribes to the change feed; nil when the store refuses
// (changes are then seen at the next poll).
func (m *Manager) subscribe(ctx context.Context) store.Subscription {
	sub, err := m.store.Subscribe(ctx, ChangedChannel)
	if err != nil {
		m.log.LogAttrs(ctx, slog.LevelWarn, "policy.subscribe_failed", slog.String("error", err.Error()),
			slog.String("note", "changes are seen at the next poll"))
		return nil
	}
	return sub
}

// Restart replaces the watching loop (the watchdog's remedy for a loop gone
// silent): the current run is cancelled and, once it has returned, a fresh
// one subscribes again. A run that never returns is left, and no second
// one starts beside it.
func (m *Manager) Restart() { m.watch.Restart() }

// Close stops watching the store. It does not close the store.
func (m *Manager) Close() error {
	m.watch.Close()
	return nil
}

func (m *Manager) loop(ctx context.Context, sub store.Subscription, poll time.Duration) {
	var msgs <-chan store.Message
	if sub != nil {
		defer sub.Close()
		msgs = sub.C()
	}
	var tick <-chan time.Time
	if poll > 0 {
		t := time.NewTicker(poll)
		defer t.Stop()
		tick = t.C
	}
	for {
		if m.beat != nil {
			m.beat()
		}
		select {
		case <-ctx.Done():
			return
		case _, ok := <-msgs:
			if !ok {
				msgs = nil
				continue
			}
		case <-tick:
		}
		if err := m.Refresh(ctx); err != nil && ctx.Err() == nil {
			m.log.LogAttrs(ctx, slog.LevelDebug, "policy.overrides_unreadable", slog.String("error", err.Error()))
		}
	}
}

// Doc returns this process's copy of the document.
func (m *Manager) Doc() Doc { return m.doc.Load().clone() }

// Refresh reads the document from the store and adopts it if it is newer.
func (m *Manager) Refresh(ctx context.Context) error {
	d, _, err := m.read(ctx)
	if err != nil {
		return err
	}
	m.adopt(d)
	return nil
}

func (m *Manager) read(ctx context.Context) (Doc, []byte, error) {
	raw, err := m.store.Get(ctx, DocKey)
	if errors.Is(err, store.ErrNotFound) {
		return Doc{}, nil, nil
	}
	if err != nil {
		return Doc{}, nil, fmt.Errorf("policy: read the overrides: %w", err)
	}
	var d Doc
	if err := json.Unmarshal(raw, &d); err != nil {
		return Doc{}, nil, fmt.Errorf("policy: the stored overrides (%s) are not valid JSON: %w", DocKey, err)
	}
	return d, raw, nil
}

// adopt applies d if it is newer than the document in force.
func (m *Manager) adopt(d Doc) {
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	if cur := m.doc.Load(); d.Epoch == cur.Epoch && d.Version <= cur.Version {
		return // an older or the same version of this lineage
	}
	d.sort()
	m.doc.Store(&d)
	m.target.Apply(d.clone())
}

// Update changes the document with change, a compare-and-set on the store,
// then applies and announces the new version. change sees a copy of the
// latest stored document; it returns an error to change nothing. The
// document written is returned.
func (m *Manager) Update(ctx context.Context, change func(d *Doc) error) (Doc, error) {
	for range casRetries {
		d, raw, err := m.read(ctx)
		if err != nil {
			return Doc{}, err
		}
		if err := change(&d); err != nil {
			return Doc{}, err
		}
		if raw == nil {
			d.Epoch = newEpoch()
		}
		d.Version++
		d.sort()
		b, err := json.Marshal(d)
		if err != nil {
			return Doc{}, fmt.Errorf("policy: encode the overrides: %w", err)
		}
		var ok bool
		if raw == nil {
			ok, err = m.store.SetNX(ctx, DocKey, b, 0)
		} else {
			ok, err = m.store.CompareAndSet(ctx, DocKey, raw, b, 0)
		}
		if err != nil {
			return Doc{}, fmt.Errorf("policy: write the overrides: %w", err)
		}
		if !ok {
			continue // another process changed it meanwhile: read again
		}
		m.adopt(d)
		if err := m.store.Publish(ctx, ChangedChannel, []byte(strconv.FormatUint(d.Version, 10))); err != nil {
			m.log.LogAttrs(ctx, slog.LevelWarn, "policy.announce_failed", slog.String("error", err.Error()),
				slog.String("note", "other processes see the change at their next poll"))
		}
		return d, nil
	}
	return Doc{}, errors.New("policy: the overrides kept changing under this update; try again")
}

// Now is the Manager's clock, for stamping changes.
func (m *Manager) Now() time.Time { return m.clock.Now() }

// Node names this process.
func (m *Manager) Node() string { return m.node }

func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
