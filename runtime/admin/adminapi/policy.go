package adminapi

import "time"

// PolicyRequest is the body of policy/set/ and policy/unset/: the scope
// ("service.Method", "service" or "*") and, for set, the values in the
// directive's grammar ("retry=5 timeout=2s").
type PolicyRequest struct {
	ActionRequest
	Scope  string `json:"scope"`
	Values string `json:"values,omitempty"`
}

// PolicySetting is one run-time key's effective value in a protected
// method and where it comes from: directive, default, env, compartment,
// "override <scope>" (or, in a canary's settings, canary).
type PolicySetting struct {
	Key       string `json:"key"`
	Value     string `json:"value"`
	Source    string `json:"source"`
	Directive string `json:"directive"`
}

// PolicyCanary is one canary in force on one protected method: at most one
// per config type. A canary of keys shared by the service's methods splits
// processes (ByProcess), and Member says whether the answering process is
// in its cohort.
type PolicyCanary struct {
	ID        string          `json:"id"`
	Rollout   string          `json:"rollout"`
	Scope     string          `json:"scope"`
	Values    string          `json:"values"`
	Types     []string        `json:"types"`
	Permille  int             `json:"permille"`
	ByProcess bool            `json:"by_process,omitempty"`
	Member    bool            `json:"member,omitempty"`
	Settings  []PolicySetting `json:"settings"`
}

// PolicyZone is the effective policy of one protected method of the
// process that answered.
type PolicyZone struct {
	Service  string          `json:"service"`
	Method   string          `json:"method"`
	Settings []PolicySetting `json:"settings"`
	Canaries []PolicyCanary  `json:"canaries,omitempty"`
}

// PolicyOverride is one stored override (fleet-wide).
type PolicyOverride struct {
	Scope  string    `json:"scope"`
	Values string    `json:"values"`
	By     string    `json:"by"`
	Reason string    `json:"reason,omitempty"`
	At     time.Time `json:"at"`
}

// PolicyStagedCanary is one stored canary (fleet-wide), named by the
// rollout that staged it.
type PolicyStagedCanary struct {
	ID       string    `json:"id"`
	Rollout  string    `json:"rollout"`
	Scope    string    `json:"scope"`
	Values   string    `json:"values"`
	Types    []string  `json:"types"`
	Permille int       `json:"permille"`
	By       string    `json:"by"`
	At       time.Time `json:"at"`
}

// PolicyAnswer is what policy/ and the policy/ actions answer: the stored
// overrides and canaries, the runtime keys an override takes, and the
// effective policy of every protected method (of ?scope=) in this process.
type PolicyAnswer struct {
	Version   uint64               `json:"version"`
	Keys      []string             `json:"keys"`
	Overrides []PolicyOverride     `json:"overrides"`
	Canaries  []PolicyStagedCanary `json:"canaries"`
	Zones     []PolicyZone         `json:"zones"`
}

// PolicyChange is one setting an override changes against the directive.
type PolicyChange struct {
	Service   string `json:"service"`
	Method    string `json:"method"`
	Key       string `json:"key"`
	Directive string `json:"directive"`
	Value     string `json:"value"`
	Source    string `json:"source"`
}

// PolicyDiffAnswer is what policy/diff/ answers.
type PolicyDiffAnswer struct {
	Changes []PolicyChange `json:"changes"`
}
