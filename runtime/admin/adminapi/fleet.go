package adminapi

import "time"

// The fleet routes: the election, the scheduled tasks, the watchdog over the
// runtime's own loops. Read-only.
const (
	PathLeader   = "leader"
	PathSchedule = "schedule"
	PathWatchdog = "watchdog"
)

// Leader is the answer of leader/: this process's place in the election.
type Leader struct {
	Group string `json:"group"`
	// Mode is "elect" (a lease on Redis) or "always" (alone on the embedded store).
	Mode string `json:"mode"`
	// ID is this process; Leader whether it holds an unexpired term now.
	ID     string `json:"id"`
	Leader bool   `json:"leader"`
	// Token is the fencing token of this process's term (0 when it does not lead).
	Token uint64 `json:"token"`
	// Since is when the term began; Expires when it ends unless renewed
	// (absent in mode "always").
	Since   time.Time `json:"since,omitzero"`
	Expires time.Time `json:"expires,omitzero"`
	// Holder and HolderToken are the lease as this process last read it.
	Holder      string `json:"holder,omitempty"`
	HolderToken uint64 `json:"holder_token,omitempty"`
	Lease       string `json:"lease"`
	Renew       string `json:"renew"`
	// LastError is the last failure to reach the store, while it lasts.
	LastError string `json:"last_error,omitempty"`
}

// Task outcomes, as in Task.LastOutcome.
const (
	TaskOK        = "ok"
	TaskFailed    = "failed"
	TaskPanicked  = "panicked"
	TaskCancelled = "cancelled"
)

// Task is one scheduled task.
type Task struct {
	Name string `json:"name"`
	// Spec is the interval or cron expression; Scope "leader" or "every_node".
	Spec         string    `json:"spec"`
	Scope        string    `json:"scope"`
	Running      bool      `json:"running"`
	LastRun      time.Time `json:"last_run,omitzero"`
	LastOutcome  string    `json:"last_outcome,omitempty"`
	LastError    string    `json:"last_error,omitempty"`
	LastDuration int64     `json:"last_duration_ns"`
	LastToken    uint64    `json:"last_token,omitempty"`
	NextRun      time.Time `json:"next_run,omitzero"`
	Runs         int64     `json:"runs"`
	Failures     int64     `json:"failures"`
	// Skips counts runs not started: not the leader, or the previous run still running (LastSkip).
	Skips    int64  `json:"skips"`
	LastSkip string `json:"last_skip,omitempty"`
}

// Schedule is the answer of schedule/.
type Schedule struct {
	Tasks []Task `json:"tasks"`
}

// Loop states, as in Loop.State.
const (
	LoopOK      = "ok"
	LoopStalled = "stalled"
	LoopFailed  = "failed"
)

// Loop is one background loop of the runtime under the watchdog.
type Loop struct {
	Name     string    `json:"name"`
	Period   int64     `json:"period_ns"`
	State    string    `json:"state"`
	LastBeat time.Time `json:"last_beat"`
	Silent   int64     `json:"silent_ns"`
	Restarts int       `json:"restarts"`
}

// Watchdog is the answer of watchdog/.
type Watchdog struct {
	Healthy bool   `json:"healthy"`
	Detail  string `json:"detail"`
	Loops   []Loop `json:"loops"`
}

// The fleet's operator actions.
const (
	PathScheduleRun    = "schedule/run"
	PathLeaderStepDown = "leader/step-down"
)

// ScheduleRunRequest is the body of schedule/run/.
type ScheduleRunRequest struct {
	ActionRequest
	Task string `json:"task"`
}

// ScheduleRunAnswer is the answer of schedule/run/: the run, done on the
// spot in this process, and the task's status after it.
type ScheduleRunAnswer struct {
	Task     Task   `json:"task"`
	Outcome  string `json:"outcome"`
	Error    string `json:"error,omitempty"`
	Duration int64  `json:"duration_ns"`
}

// StepDownAnswer is the answer of leader/step-down/: the term this process
// gave up (0 when it did not lead) and the election after it.
type StepDownAnswer struct {
	WasLeader bool   `json:"was_leader"`
	Token     uint64 `json:"token"`
	Leader    Leader `json:"leader"`
}
