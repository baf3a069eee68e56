package adminapi

import "time"

// The notifier's routes: what the alerts go through, and a test alert.
const (
	PathNotify     = "notify"
	PathNotifyTest = "notify/test"
)

// NotifyChannel is one configured alert channel.
type NotifyChannel struct {
	Name string `json:"name"` // slack, webhook, alertmanager
	// Endpoint is the URL's scheme and host only: the rest of a webhook URL is a secret.
	Endpoint   string   `json:"endpoint"`
	Priorities []string `json:"priorities"`
	Queued     int      `json:"queued"`
	Delivered  uint64   `json:"delivered"`
	Failed     uint64   `json:"failed"`
	Retried    uint64   `json:"retried"`
}

// NotifyRoute is one priority's channels (none: logged only).
type NotifyRoute struct {
	Priority string   `json:"priority"`
	Channels []string `json:"channels"`
}

// NotifyCount is one counter of baldur_notifications_total.
type NotifyCount struct {
	Outcome string `json:"outcome"`
	Reason  string `json:"reason"`
	N       uint64 `json:"n"`
}

// NotifyLasting is a condition raised and not yet ended in this process
// (a breaker open, the store DEGRADED): it is reminded until it ends.
type NotifyLasting struct {
	Key       string    `json:"key"`
	Priority  string    `json:"priority"`
	Title     string    `json:"title"`
	Service   string    `json:"service,omitempty"`
	Since     time.Time `json:"since"`
	Reminders int       `json:"reminders"`
}

// NotifyGuards are the fatigue guards (0: off).
type NotifyGuards struct {
	Cooldown         string `json:"cooldown"`
	PerMinute        int    `json:"per_minute"`
	PerHour          int    `json:"per_hour"`
	ChannelPerMinute int    `json:"channel_per_minute"`
	ChannelPerHour   int    `json:"channel_per_hour"`
	BurstThreshold   int    `json:"burst_threshold"`
	BurstWindow      string `json:"burst_window"`
	RemindAfter      string `json:"remind_after"`
}

// Notify is the answer of notify/: this process's notifier.
type Notify struct {
	Enabled  bool            `json:"enabled"`
	Source   string          `json:"source"`
	Channels []NotifyChannel `json:"channels"`
	Routes   []NotifyRoute   `json:"routes"`
	Guards   NotifyGuards    `json:"guards"`
	Queued   int             `json:"queued"`
	Counts   []NotifyCount   `json:"counts"`
	Lasting  []NotifyLasting `json:"lasting"`
}

// NotifyTestRequest is the body of notify/test/: Channel "" tests every channel.
type NotifyTestRequest struct {
	ActionRequest
	Channel string `json:"channel,omitempty"`
}

// NotifyTestResult is one channel's answer to the test alert.
type NotifyTestResult struct {
	Channel  string `json:"channel"`
	Endpoint string `json:"endpoint"`
	OK       bool   `json:"ok"`
	Status   int    `json:"status,omitempty"`
	Error    string `json:"error,omitempty"`
	TookMS   int64  `json:"took_ms"`
}

// NotifyTestAnswer is the answer of notify/test/. OK is true when every
// channel tried accepted the alert; the HTTP status is 200 either way (the
// request was carried out), and the CLI exits 1 when OK is false.
type NotifyTestAnswer struct {
	OK      bool               `json:"ok"`
	Results []NotifyTestResult `json:"results"`
}
