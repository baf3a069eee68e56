package notify

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

func TestStatusShowsChannelsRedactedCountersAndLastingAlerts(t *testing.T) {
	t.Parallel()
	slack := newReceiver(t, nil)
	hook := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusBadRequest) })
	r := newRig(t, Config{SlackWebhookURL: slack.URL + "/services/T000/B000/SECRETTOKEN", WebhookURL: hook.URL + "/hook?token=SECRET2",
		Cooldown: -1, Source: "node-1"})
	r.n.Begin(context.Background(), Alert{Key: "breaker_open:pay", Priority: High, Title: "Breaker open", Service: "pay"})
	waitCount(t, r.n, OutcomeDelivered, string(Slack), 1)
	waitCount(t, r.n, OutcomeFailed, string(Webhook), 1)

	s := r.n.Status()
	if !s.Enabled || s.Source != "node-1" || s.Cooldown != 0 || s.PerMinute != DefaultPerMinute {
		t.Fatalf("guards: %+v", s)
	}
	if len(s.Channels) != 2 || s.Channels[0].Name != Slack || s.Channels[1].Name != Webhook {
		t.Fatalf("channels: %+v", s.Channels)
	}
	for _, c := range s.Channels {
		if strings.Contains(c.Endpoint, "SECRET") || strings.Contains(c.Endpoint, "/services") || !strings.HasPrefix(c.Endpoint, "http://127.0.0.1") {
			t.Fatalf("endpoint %q: want scheme and host only", c.Endpoint)
		}
	}
	if s.Channels[0].Delivered != 1 || s.Channels[1].Failed != 1 {
		t.Fatalf("per-channel counters: %+v", s.Channels)
	}
	if got := strings.Join(s.Channels[0].Priorities, ","); got != "LOW,MEDIUM,HIGH,CRITICAL" {
		t.Fatalf("slack takes %s", got)
	}
	if got := strings.Join(s.Channels[1].Priorities, ","); got != "HIGH,CRITICAL" {
		t.Fatalf("webhook takes %s", got)
	}
	if len(s.Routes) != 5 || s.Routes[0].Priority != "INFO" || len(s.Routes[0].Channels) != 0 {
		t.Fatalf("routes: %+v", s.Routes)
	}
	if len(s.Lasting) != 1 || s.Lasting[0].Key != "breaker_open:pay" || s.Lasting[0].Priority != "HIGH" || !s.Lasting[0].Since.Equal(epoch) {
		t.Fatalf("lasting: %+v", s.Lasting)
	}
	r.n.End(context.Background(), Alert{Key: "breaker_open:pay"})
	if got := r.n.Status().Lasting; len(got) != 0 {
		t.Fatalf("ended, still lasting: %+v", got)
	}
}

func TestTestSendsToEveryChannelOrOneAndReportsEachAnswer(t *testing.T) {
	t.Parallel()
	slack := newReceiver(t, nil)
	am := newReceiver(t, func(_ int, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusServiceUnavailable) })
	// A cooldown and a budget of 1 a minute: a test passes them and does not spend them.
	r := newRig(t, Config{SlackWebhookURL: slack.URL + "/services/SECRET", AlertmanagerURL: am.URL, ChannelPerMinute: 1})
	res, err := r.n.Test(context.Background(), "", "alice (admin)", "checking the webhook")
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 2 || res[0].Channel != Slack || !res[0].OK || res[0].Status != 200 ||
		res[1].Channel != Alertmanager || res[1].OK || res[1].Status != 503 || res[1].Error == "" {
		t.Fatalf("results: %+v", res)
	}
	if len(am.requests()) != 1 {
		t.Fatalf("a test is one attempt: alertmanager got %d requests", len(am.requests()))
	}
	var body map[string]any
	slack.decode(t, 0, &body)
	if s := string(slack.requests()[0].Body); !strings.Contains(s, "alice (admin)") || !strings.Contains(s, "checking the webhook") {
		t.Fatalf("the test alert names who sent it and why: %s", s)
	}
	if _, err := r.n.Test(context.Background(), Slack, "bob", ""); err != nil {
		t.Fatalf("a second test right away is not held by a cooldown or a budget: %v", err)
	}
	if len(slack.requests()) != 2 || len(am.requests()) != 1 {
		t.Fatalf("one channel named: slack %d, alertmanager %d", len(slack.requests()), len(am.requests()))
	}
	if r.n.Count(OutcomeDelivered, string(Slack)) != 2 || r.n.Count(OutcomeFailed, string(Alertmanager)) != 1 {
		t.Fatalf("counted: %v", nonZero(r.n.Counts()))
	}
	// The budget was not spent: a real alert still goes out.
	r.n.Notify(context.Background(), Alert{Key: "k", Priority: Medium})
	waitCount(t, r.n, OutcomeDelivered, string(Slack), 3)

	if _, err := r.n.Test(context.Background(), Webhook, "bob", ""); err == nil || !strings.Contains(err.Error(), `"webhook" is not configured: configured are slack, alertmanager`) {
		t.Fatalf("unknown channel: %v", err)
	}
	for _, rr := range res {
		if strings.Contains(rr.Endpoint+rr.Error, "SECRET") {
			t.Fatalf("a secret in %+v", rr)
		}
	}
}

func TestTestRefusesWithoutChannelsOrWhileDisabled(t *testing.T) {
	t.Parallel()
	if _, err := newRig(t, Config{}).n.Test(context.Background(), "", "x", ""); err != ErrNoChannel {
		t.Fatalf("no channel: %v", err)
	}
	rv := newReceiver(t, nil)
	if _, err := newRig(t, Config{WebhookURL: rv.URL, Disabled: true}).n.Test(context.Background(), "", "x", ""); err != ErrDisabled {
		t.Fatalf("disabled: %v", err)
	}
	var n *Notifier
	if s := n.Status(); len(s.Counts) == 0 || s.Enabled {
		t.Fatalf("nil notifier: %+v", s)
	}
}
