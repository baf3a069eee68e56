package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/baldur-go/baldur/internal/redact"
)

// sender posts one channel's payloads to its endpoint.
type sender struct {
	ch     Channel
	url    string // the secret
	shown  string // what logs may say about it: scheme and host
	client *http.Client
	encode func(a Alert, source string) ([]byte, error)
}

func newSender(ch Channel, rawURL string, client *http.Client) *sender {
	shown, err := strconv.Unquote(redact.Endpoint(rawURL)) // a log attribute quotes on its own
	if err != nil {
		shown = redact.Mask
	}
	s := &sender{ch: ch, url: rawURL, shown: shown, client: client}
	switch ch {
	case Slack:
		s.encode = slackPayload
	case Alertmanager:
		s.encode = alertmanagerPayload
	default:
		s.encode = webhookPayload
	}
	return s
}

// result is the outcome of one attempt.
type result struct {
	ok         bool
	retry      bool          // worth another attempt: 5xx, 408, 429, timeout, network error
	retryAfter time.Duration // the server's Retry-After, 0 when none
	status     int           // 0 when no answer came
	err        error         // never holds the URL
}

// maxRetryAfter caps a server's Retry-After: a misconfigured proxy asking
// for a day must not park a channel for a day.
const maxRetryAfter = 10 * time.Minute

func (s *sender) send(ctx context.Context, body []byte, timeout time.Duration, now time.Time) result {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return result{err: errors.New("cannot build the request")}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "baldur-notify")
	resp, err := s.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return result{err: errors.New("cancelled: the notifier is closing")}
		}
		if actx.Err() != nil {
			return result{retry: true, err: fmt.Errorf("no answer within %s", timeout)}
		}
		return result{retry: true, err: s.clean(err)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	r := result{status: resp.StatusCode}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		r.ok = true
	case resp.StatusCode == http.StatusTooManyRequests, resp.StatusCode == http.StatusRequestTimeout, resp.StatusCode >= 500:
		r.retry = true
		r.retryAfter = retryAfter(resp.Header.Get("Retry-After"), now)
		r.err = fmt.Errorf("answered %d", resp.StatusCode)
	default:
		r.err = fmt.Errorf("answered %d", resp.StatusCode)
	}
	return r
}

// clean strips the URL net/http puts in its errors (*url.Error) and scrubs
// whatever of it is left.
func (s *sender) clean(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return errors.New(redact.Scrub(err.Error(), s.url))
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// Slack's limits on Block Kit text (characters).
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
)

var priorityMark = [...]string{"ℹ️", "🔵", "🟡", "🟠", "🔴"}

type slackText struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

// slackPayload is a Block Kit message: a header with the priority and the
// title, a section with the text, and a context line with the service, the
// key, the source and the labels. text is the notification fallback.
func slackPayload(a Alert, source string) ([]byte, error) {
	head := a.Priority.String() + ": " + a.Title
	if a.Resolved {
		head = "RESOLVED: " + a.Title
	}
	if a.Escalated {
		head += " (escalated)"
	}
	msg := struct {
		Text   string       `json:"text"`
		Blocks []slackBlock `json:"blocks"`
	}{Text: "[" + head + "]"}
	msg.Blocks = append(msg.Blocks, slackBlock{Type: "header",
		Text: &slackText{Type: "plain_text", Text: truncate(mark(a)+" "+head, slackHeaderMax), Emoji: true}})
	if a.Text != "" {
		msg.Blocks = append(msg.Blocks, slackBlock{Type: "section",
			Text: &slackText{Type: "mrkdwn", Text: truncate(slackEscape(a.Text), slackSectionMax)}})
	}
	var ctx []string
	if a.Service != "" {
		ctx = append(ctx, "*service* "+slackEscape(a.Service))
	}
	ctx = append(ctx, "*key* "+slackEscape(a.Key))
	if source != "" {
		ctx = append(ctx, "*source* "+slackEscape(source))
	}
	for _, k := range sortedKeys(a.Labels) {
		ctx = append(ctx, slackEscape(k+"="+a.Labels[k]))
	}
	ctx = append(ctx, "<!date^"+strconv.FormatInt(a.At.Unix(), 10)+"^{date_short_pretty} {time_secs}|"+a.At.UTC().Format(time.RFC3339)+">")
	msg.Blocks = append(msg.Blocks, slackBlock{Type: "context",
		Elements: []slackText{{Type: "mrkdwn", Text: truncate(strings.Join(ctx, " · "), slackSectionMax)}}})
	return json.Marshal(msg)
}

func mark(a Alert) string {
	if a.Resolved {
		return "✅"
	}
	return priorityMark[a.Priority]
}

// slackEscape escapes the three characters Slack's mrkdwn gives meaning to,
// so that alert text cannot ping a channel (<!channel>) or forge a link.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// WebhookPayload is the JSON body the generic webhook receives.
type WebhookPayload struct {
	Key       string            `json:"key"`
	Priority  string            `json:"priority"`
	Title     string            `json:"title"`
	Text      string            `json:"text,omitempty"`
	Service   string            `json:"service,omitempty"`
	Labels    map[string]string `json:"labels,omitempty"`
	At        time.Time         `json:"at"`
	Resolved  bool              `json:"resolved"`
	Escalated bool              `json:"escalated"`
	Source    string            `json:"source,omitempty"`
}

func webhookPayload(a Alert, source string) ([]byte, error) {
	return json.Marshal(WebhookPayload{Key: a.Key, Priority: a.Priority.String(), Title: a.Title, Text: a.Text,
		Service: a.Service, Labels: a.Labels, At: a.At.UTC(), Resolved: a.Resolved, Escalated: a.Escalated, Source: source})
}

// amAlert is one element of Alertmanager's POST /api/v2/alerts body.
type amAlert struct {
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
	StartsAt    time.Time         `json:"startsAt,omitzero"`
	EndsAt      time.Time         `json:"endsAt,omitzero"`
}

var labelName = regexp.MustCompile(`[^a-zA-Z0-9_]`)

// alertmanagerPayload posts the alert as firing from At; Alertmanager
// resolves it after its resolve_timeout unless it is raised again, and
// groups, routes, inhibits and silences it as the team configured.
// alertname is the key; severity is the priority in lower case. A resolved
// alert carries the same labels and an endsAt.
func alertmanagerPayload(a Alert, source string) ([]byte, error) {
	labels := map[string]string{}
	for k, v := range a.Labels {
		name := labelName.ReplaceAllString(k, "_")
		if name == "" || (name[0] >= '0' && name[0] <= '9') {
			name = "_" + name
		}
		labels[name] = v
	}
	labels["alertname"] = a.Key
	labels["severity"] = strings.ToLower(a.Priority.String())
	if a.Service != "" {
		labels["service"] = a.Service
	}
	if source != "" {
		labels["source"] = source
	}
	ann := map[string]string{"summary": a.Title}
	if a.Escalated {
		ann["escalated"] = "true" // an annotation: the labels name the alert
	}
	if a.Text != "" {
		ann["description"] = a.Text
	}
	al := amAlert{Labels: labels, Annotations: ann, StartsAt: a.At.UTC()}
	if a.Resolved {
		// The same labels with an end in the past resolve the firing alert;
		// Alertmanager keeps the start it already has.
		al.StartsAt, al.EndsAt = time.Time{}, a.At.UTC()
	}
	return json.Marshal([]amAlert{al})
}
