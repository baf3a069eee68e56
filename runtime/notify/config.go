package notify

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/baldur-go/baldur/internal/env"
	"github.com/baldur-go/baldur/internal/redact"
	"github.com/baldur-go/baldur/runtime/clock"
	"github.com/baldur-go/baldur/runtime/store"
)

// Channel names a delivery channel in routes, counters and logs.
type Channel string

// The channels. The log is not one of them: every alert is logged whatever
// its route.
const (
	Slack        Channel = "slack"        // a Slack incoming webhook, Block Kit JSON
	Webhook      Channel = "webhook"      // a generic JSON webhook
	Alertmanager Channel = "alertmanager" // Prometheus Alertmanager, POST /api/v2/alerts
)

// Channels lists every channel.
var Channels = []Channel{Slack, Webhook, Alertmanager}

// Defaults of Config, documented field by field there.
const (
	DefaultCooldown         = 5 * time.Minute
	DefaultPerMinute        = 30
	DefaultPerHour          = 300
	DefaultChannelPerMinute = 20
	DefaultChannelPerHour   = 200
	DefaultBurstThreshold   = 10
	DefaultBurstWindow      = 5 * time.Minute
	DefaultQueueSize        = 256
	DefaultTimeout          = 5 * time.Second
	DefaultMaxAttempts      = 4
	DefaultDrainTimeout     = 2 * time.Second
)

// Config configures a Notifier. The zero value is a Notifier with no
// channel: every alert is logged (reason log_only) and nothing is sent.
//
// Budgets and thresholds: 0 means the default, a negative value turns the
// guard off.
type Config struct {
	// Disabled suppresses every alert (reason disabled): nothing is sent
	// and each alert is logged at DEBUG. BALDUR_NOTIFY_ENABLED=false.
	Disabled bool

	// SlackWebhookURL is a Slack incoming webhook
	// (BALDUR_NOTIFY_SLACK_WEBHOOK_URL). WebhookURL receives the alert as
	// JSON (BALDUR_NOTIFY_WEBHOOK_URL). AlertmanagerURL is Alertmanager's
	// base URL, "http://alertmanager:9093"; alerts are posted to
	// /api/v2/alerts under it (BALDUR_NOTIFY_ALERTMANAGER_URL). Empty: the
	// channel is off. These URLs are secrets: they never appear in a log
	// line, an error or a metric (only their scheme and host do).
	SlackWebhookURL, WebhookURL, AlertmanagerURL string

	// Routes replaces the channels of the priorities it names
	// (BALDUR_NOTIFY_ROUTE_<PRIORITY>, a comma-separated list of slack,
	// webhook, alertmanager; "" or "log" for none). Default: CRITICAL and
	// HIGH to every channel, MEDIUM and LOW to Slack, INFO to none. A route
	// to a channel without a URL is ignored.
	Routes map[Priority][]Channel

	// Cooldown is how long an alert key, once delivered at a priority, is
	// not delivered again at that priority by any process sharing Store
	// (BALDUR_NOTIFY_COOLDOWN). Default 5m; negative: no cooldown.
	Cooldown time.Duration

	// PerMinute and PerHour bound the alerts sent, over all channels, by
	// the fleet (BALDUR_NOTIFY_RATE_PER_MINUTE, _PER_HOUR). Default 30 and
	// 300. ChannelPerMinute and ChannelPerHour bound each channel
	// (BALDUR_NOTIFY_CHANNEL_RATE_PER_MINUTE, _PER_HOUR). Default 20 and
	// 200. Windows are fixed: the clock's minute and hour.
	PerMinute, PerHour, ChannelPerMinute, ChannelPerHour int

	// BurstThreshold: a key raised more than this many times within
	// BurstWindow, fleet-wide, goes up one priority
	// (BALDUR_NOTIFY_BURST_THRESHOLD, BALDUR_NOTIFY_BURST_WINDOW). Default
	// 10 in 5m. The escalated priority has a cooldown of its own, so the
	// escalation itself is delivered once.
	BurstThreshold int
	BurstWindow    time.Duration

	// RemindAfter is how often an alert raised with Begin is raised again
	// while its condition lasts (BALDUR_NOTIFY_REMIND_AFTER). Default 15m;
	// negative: never.
	RemindAfter time.Duration

	// QueueSize bounds the alerts waiting for the guards, and for each
	// channel (BALDUR_NOTIFY_QUEUE_SIZE). When full the oldest is dropped
	// and counted (outcome dropped, reason queue_full). Default 256.
	QueueSize int

	// Timeout bounds one HTTP attempt (BALDUR_NOTIFY_TIMEOUT). Default 5s.
	Timeout time.Duration
	// MaxAttempts is how often one delivery is tried in total on a 5xx, a
	// 429, a timeout or a network error (BALDUR_NOTIFY_MAX_ATTEMPTS).
	// Default 4. Other answers are not retried.
	MaxAttempts int
	// Backoff returns the wait before attempt n+1 after attempt n failed
	// (n ≥ 1); a Retry-After the server sent wins. Default: 1s doubling
	// per attempt up to 30s.
	Backoff func(n int) time.Duration
	// DrainTimeout is how long Close lets queued alerts go out (one attempt
	// each, no retry) before it cancels what is in flight. Default 2s.
	DrainTimeout time.Duration

	// Store holds the fleet-wide guard state (cooldown claims, rate and
	// burst counters) under "notify:": pass the runtime's store so that
	// every process sharing it shares the guards. nil: a memory store of
	// this process. When Store fails, the guards fall back to that memory
	// store (and an alert may then be sent once per process).
	Store store.Store
	// Clock drives windows, cooldowns of the fallback store and retry
	// waits. Default clock.Real().
	Clock clock.Clock
	// Logger receives the notify.* events. Default slog.Default().
	Logger *slog.Logger
	// Beat, when set, is called by the guards' loop at every alert and at
	// least every BeatEvery while idle: the watchdog's heartbeat. The
	// channels' loops are not watched (a channel that does not answer holds
	// only its own queue, and its failures are counted).
	Beat func()
	// BeatEvery is how often the idle guards' loop calls Beat. Default
	// BeatEvery (5s); tests shorten it.
	BeatEvery time.Duration
	// HTTPClient sends the deliveries. Default: a client of its own that
	// follows no redirect (a redirect would take the alert to a host
	// nobody configured).
	HTTPClient *http.Client
	// Source names this process in the payloads (the webhook's "source",
	// an Alertmanager label, Slack's context line), e.g. the node name.
	Source string
}

// ConfigFromEnv reads the BALDUR_NOTIFY_* variables through r into a Config
// (Store, Clock, Logger, HTTPClient and Source are left for the caller).
// Errors are recorded on r, each naming its variable; a malformed URL is
// reported with only its scheme and host.
func ConfigFromEnv(r *env.Reader) Config {
	var c Config
	enabled := true
	if r.Bool("BALDUR_NOTIFY_ENABLED", &enabled) {
		c.Disabled = !enabled
	}
	c.SlackWebhookURL = readURL(r, "BALDUR_NOTIFY_SLACK_WEBHOOK_URL")
	c.WebhookURL = readURL(r, "BALDUR_NOTIFY_WEBHOOK_URL")
	c.AlertmanagerURL = readURL(r, "BALDUR_NOTIFY_ALERTMANAGER_URL")
	for _, p := range Priorities {
		name := "BALDUR_NOTIFY_ROUTE_" + p.String()
		v, ok := r.Lookup(name)
		if !ok {
			continue
		}
		chs, err := ParseRoute(v)
		if err != nil {
			r.Bad(name, v, "a comma-separated list of slack, webhook, alertmanager (or log for none)")
			continue
		}
		if c.Routes == nil {
			c.Routes = map[Priority][]Channel{}
		}
		c.Routes[p] = chs
	}
	r.Duration("BALDUR_NOTIFY_COOLDOWN", &c.Cooldown)
	budget(r, "BALDUR_NOTIFY_RATE_PER_MINUTE", &c.PerMinute)
	budget(r, "BALDUR_NOTIFY_RATE_PER_HOUR", &c.PerHour)
	budget(r, "BALDUR_NOTIFY_CHANNEL_RATE_PER_MINUTE", &c.ChannelPerMinute)
	budget(r, "BALDUR_NOTIFY_CHANNEL_RATE_PER_HOUR", &c.ChannelPerHour)
	budget(r, "BALDUR_NOTIFY_BURST_THRESHOLD", &c.BurstThreshold)
	r.Duration("BALDUR_NOTIFY_BURST_WINDOW", &c.BurstWindow)
	if v, ok := r.Lookup("BALDUR_NOTIFY_REMIND_AFTER"); ok && strings.EqualFold(strings.TrimSpace(v), "off") {
		c.RemindAfter = -1
	} else {
		r.Duration("BALDUR_NOTIFY_REMIND_AFTER", &c.RemindAfter)
	}
	r.Int("BALDUR_NOTIFY_QUEUE_SIZE", 1, &c.QueueSize)
	r.Duration("BALDUR_NOTIFY_TIMEOUT", &c.Timeout)
	r.Int("BALDUR_NOTIFY_MAX_ATTEMPTS", 1, &c.MaxAttempts)
	return c
}

// budget reads a limit: a whole number ≥ 1, or "off" (no limit).
func budget(r *env.Reader, name string, dst *int) {
	v, ok := r.Lookup(name)
	if !ok {
		return
	}
	if strings.EqualFold(strings.TrimSpace(v), "off") {
		*dst = -1
		return
	}
	r.Int(name, 1, dst)
}

func readURL(r *env.Reader, name string) string {
	v, _ := r.URL(func(v string) error { return checkURL(v) }, name)
	return v
}

// ParseRoute reads a route: channel names separated by commas; "" or "log"
// is the empty route (the log only).
func ParseRoute(v string) ([]Channel, error) {
	out := []Channel{}
	for _, f := range strings.Split(v, ",") {
		f = strings.ToLower(strings.TrimSpace(f))
		switch Channel(f) {
		case Slack, Webhook, Alertmanager:
			out = append(out, Channel(f))
		case "", "log", "none":
		default:
			return nil, fmt.Errorf("unknown channel %q", f)
		}
	}
	return out, nil
}

// checkURL accepts an absolute http or https URL with a host. Its error
// shows the URL through redact.Endpoint only.
func checkURL(raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%s is not an http or https URL with a host", redact.Endpoint(raw))
	}
	return nil
}

// resolved is a Config with its defaults applied.
type resolved struct {
	Config
	endpoints map[Channel]string
	routes    [Critical + 1][]Channel
}

func (c Config) resolve() (resolved, error) {
	c.Cooldown = cmp.Or(c.Cooldown, DefaultCooldown)
	c.PerMinute = cmp.Or(c.PerMinute, DefaultPerMinute)
	c.PerHour = cmp.Or(c.PerHour, DefaultPerHour)
	c.ChannelPerMinute = cmp.Or(c.ChannelPerMinute, DefaultChannelPerMinute)
	c.ChannelPerHour = cmp.Or(c.ChannelPerHour, DefaultChannelPerHour)
	c.BurstThreshold = cmp.Or(c.BurstThreshold, DefaultBurstThreshold)
	c.BurstWindow = cmp.Or(c.BurstWindow, DefaultBurstWindow)
	c.RemindAfter = cmp.Or(c.RemindAfter, DefaultRemindAfter)
	c.QueueSize = cmp.Or(c.QueueSize, DefaultQueueSize)
	c.MaxAttempts = cmp.Or(c.MaxAttempts, DefaultMaxAttempts)
	c.Timeout = cmp.Or(c.Timeout, DefaultTimeout)
	c.DrainTimeout = cmp.Or(c.DrainTimeout, DefaultDrainTimeout)
	c.BeatEvery = cmp.Or(c.BeatEvery, BeatEvery)
	if c.Backoff == nil {
		c.Backoff = defaultBackoff
	}
	if c.Clock == nil {
		c.Clock = clock.Real()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.QueueSize < 0 || c.MaxAttempts < 0 || c.Timeout < 0 {
		return resolved{}, errors.New("notify: QueueSize, MaxAttempts and Timeout must not be negative")
	}
	r := resolved{Config: c, endpoints: map[Channel]string{}}
	var errs []error
	for _, e := range []struct {
		ch   Channel
		raw  string
		name string
	}{{Slack, c.SlackWebhookURL, "SlackWebhookURL"}, {Webhook, c.WebhookURL, "WebhookURL"}, {Alertmanager, c.AlertmanagerURL, "AlertmanagerURL"}} {
		raw := strings.TrimSpace(e.raw)
		if raw == "" {
			continue
		}
		if err := checkURL(raw); err != nil {
			errs = append(errs, fmt.Errorf("notify: %s: %w", e.name, err))
			continue
		}
		if e.ch == Alertmanager && !strings.HasSuffix(strings.TrimRight(raw, "/"), "/api/v2/alerts") {
			raw = strings.TrimRight(raw, "/") + "/api/v2/alerts"
		}
		r.endpoints[e.ch] = raw
	}
	if len(errs) > 0 {
		return resolved{}, errors.Join(errs...)
	}
	for _, p := range Priorities {
		route, ok := c.Routes[p]
		if !ok {
			switch p {
			case Critical, High:
				route = Channels
			case Medium, Low:
				route = []Channel{Slack}
			}
		}
		for _, ch := range route {
			if _, on := r.endpoints[ch]; on && !containsChannel(r.routes[p], ch) {
				r.routes[p] = append(r.routes[p], ch)
			}
		}
	}
	return r, nil
}

func containsChannel(list []Channel, ch Channel) bool {
	for _, c := range list {
		if c == ch {
			return true
		}
	}
	return false
}

func defaultBackoff(n int) time.Duration {
	d := time.Second
	for i := 1; i < n && d < 30*time.Second; i++ {
		d *= 2
	}
	return min(d, 30*time.Second)
}
