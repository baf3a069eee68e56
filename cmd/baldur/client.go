package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

// client sends one request to the admin server and prints the answer.
type client struct {
	base    string
	key     string
	who     string
	timeout time.Duration
	json    bool
	stdout  io.Writer
	stderr  io.Writer
	// insecure allows the key over plain http to a host beyond loopback.
	insecure bool
	http     *http.Client
}

// httpClient never follows a redirect (the 3xx comes back as the answer, and
// judged refuses it) and trusts caFile's certificates when it is set.
func httpClient(caFile string) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("the CA file (--ca-file or BALDUR_ADMIN_CA_FILE): %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the CA file %q (--ca-file or BALDUR_ADMIN_CA_FILE) holds no PEM certificate", caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{
		Transport:     tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}

// clearTextTo names the host the key would cross the network to in clear
// text ("" when the address is https or loopback).
func clearTextTo(base string) string {
	u, err := url.Parse(base)
	if err != nil || u.Scheme != "http" {
		return ""
	}
	h := u.Hostname()
	if ip := net.ParseIP(h); h == "localhost" || (ip != nil && ip.IsLoopback()) {
		return ""
	}
	return u.Host
}

// printer renders a successful answer for humans.
type printer func(w io.Writer, body map[string]any)

// typed turns a printer of one of the contract's answer types into a
// printer: it decodes the escaped tree (cleanTree), so every string the
// printer sees is already safe for a terminal.
func typed[T any](p func(w io.Writer, ans T)) printer {
	return func(w io.Writer, body map[string]any) {
		var ans T
		if err := decodeTree(body, &ans); err != nil {
			fmt.Fprintf(w, "(the answer does not have the expected shape: %s)\n", clean(err.Error()))
			return
		}
		p(w, ans)
	}
}

// decodeTree decodes a JSON tree the client already holds into a contract type.
func decodeTree(tree map[string]any, into any) error {
	b, err := json.Marshal(tree)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, into)
}

// route is the request path of a contract path (adminapi.Path*), relative to
// adminapi.Prefix, with the trailing slash and the query.
func route(path string, q url.Values) string {
	p := strings.TrimPrefix(adminapi.URL(path), adminapi.Prefix)
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return p
}

// judge looks at a successful answer and returns why the command still
// failed ("" when it did not), e.g. a replay whose call failed again.
type judge func(body map[string]any) string

// typedJudge is typed for judges: an answer of the wrong shape is a failure.
func typedJudge[T any](j func(ans T) string) judge {
	return func(body map[string]any) string {
		var ans T
		if err := decodeTree(body, &ans); err != nil {
			return "the answer does not have the expected shape: " + clean(err.Error())
		}
		return j(ans)
	}
}

// maxAnswer bounds what the CLI reads from the server.
const maxAnswer = 8 << 20

// gateWords explains each gate in words, ahead of the server's own hint.
var gateWords = map[string]string{
	adminapi.GateKey:         "the admin key is missing or wrong (the CLI sends $BALDUR_ADMIN_KEY)",
	adminapi.GateRole:        "your admin key's role may not do this",
	adminapi.GateUnlock:      "the server locks destructive actions",
	adminapi.GateConfirm:     "the action needs the typed confirmation (--confirm)",
	adminapi.GateOrigin:      "the server refuses requests from this origin",
	adminapi.GateHost:        "the server does not accept this host name (DNS-rebinding guard)",
	adminapi.GateContentType: "the request was not sent as JSON",
	adminapi.GateBody:        "the request body was refused",
	adminapi.GateInput:       "an argument is invalid",
	adminapi.GateNotFound:    "no such breaker or dead-letter entry",
	adminapi.GateKillSwitch:  "the kill switch is DISABLED, so manual breaker actions are refused",
	adminapi.GateState:       "the dead-letter entry is not in a state this action takes",
	adminapi.GateBusy:        "another runner is replaying this entry or holds the domain's replay lease",
	adminapi.GateFull:        "the dead-letter queue is full",
	adminapi.GateBackend:     "the server's store failed",
	adminapi.GateUnavailable: "this feature is not available on the server",
	adminapi.GateGovernance:  "the governance gate blocks automated actions now",
	adminapi.GateLeader:      "this process does not lead the fleet (ask the leader: baldur leader)",
	adminapi.GateMethod:      "the server does not allow this method here (is the CLI newer than the server?)",
	adminapi.GateRoute:       "the server does not know this endpoint (is the CLI newer than the server?)",
}

func (c *client) call(method, path string, body any, p printer) int {
	return c.judged(method, path, body, p, nil)
}

// judged is call with a judge of the answer: the exit status is 1 when it
// finds a failure, which it explains on stderr.
func (c *client) judged(method, path string, body any, p printer, j judge) int {
	if host := clearTextTo(c.base); host != "" && c.key != "" && !c.insecure {
		return c.failWith("insecure", fmt.Sprintf("refusing to send the admin key in clear text to %s over http://", host),
			"use https:// (the server's BALDUR_ADMIN_TLS_CERT and BALDUR_ADMIN_TLS_KEY), or --insecure if the network in between is trusted")
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return c.fail(fmt.Errorf("encoding the request: %w", err))
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.base+adminapi.Prefix+path, rd)
	if err != nil {
		return c.fail(err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.key != "" {
		req.Header.Set(adminapi.KeyHeader, c.key)
	}
	if c.who != "" {
		req.Header.Set(adminapi.OperatorHeader, c.who)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return c.unreachable(err)
	}
	defer res.Body.Close()
	if res.StatusCode >= 300 && res.StatusCode < 400 {
		return c.failWith("redirect", fmt.Sprintf("the server at %s answered %s, pointing to \"%s\": the CLI follows no redirect, so that neither the admin key nor a confirmed action goes elsewhere",
			c.base, res.Status, res.Header.Get("Location")), "point --addr (or BALDUR_ADMIN_ADDR) at the admin server itself")
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return c.unreachable(err)
	}
	var ans map[string]any
	if err := json.Unmarshal(raw, &ans); err != nil {
		if res.StatusCode == http.StatusBadRequest && bytes.Contains(raw, []byte("HTTP request to an HTTPS server")) {
			return c.failWith("tls", fmt.Sprintf("the server at %s speaks https", c.base), "use --addr https://"+strings.TrimPrefix(c.base, "http://"))
		}
		return c.fail(fmt.Errorf("the server at %s answered %s with something that is not JSON: is --addr pointing at a baldur admin server?", c.base, res.Status))
	}
	if c.json {
		c.printJSON(ans)
	}
	human := cleanTree(ans).(map[string]any) // the only form printers and judges see
	if res.StatusCode >= 300 {
		if !c.json {
			c.refused(res, human)
		}
		return exitFailed
	}
	if !c.json {
		p(c.stdout, human)
	}
	if j != nil {
		if why := j(human); why != "" {
			fmt.Fprintf(c.stderr, "baldur: %s\n", why)
			return exitFailed
		}
	}
	return exitOK
}

func (c *client) printJSON(v any) {
	b, _ := json.MarshalIndent(v, "", "  ")
	fmt.Fprintf(c.stdout, "%s\n", jsonSafe(b))
}

// refused explains a refusal: which gate, what it means, how to pass.
func (c *client) refused(res *http.Response, ans map[string]any) {
	var r adminapi.Refusal
	_ = decodeTree(ans, &r) // a refusal that is not one prints what it has
	gate, msg, hint := r.Gate, r.Error, r.Hint
	words := gateWords[gate]
	if words == "" {
		words = "the server said no"
	}
	fmt.Fprintf(c.stderr, "baldur: refused by the server (%s), gate \"%s\": %s\n", clean(res.Status), gate, words)
	if msg != "" {
		fmt.Fprintf(c.stderr, "  %s\n", msg)
	}
	if hint != "" {
		fmt.Fprintf(c.stderr, "  how to pass: %s\n", hint)
	}
}

func (c *client) unreachable(err error) int {
	hint := "start the service with its admin server on, or point --addr (or BALDUR_ADMIN_ADDR) at it"
	if errors.Is(err, context.DeadlineExceeded) {
		hint = "the server did not answer in time; try a larger --timeout"
	}
	return c.failWith("connection", fmt.Sprintf("cannot reach the admin server at %s: %v", c.base, err), hint)
}

func (c *client) fail(err error) int {
	return c.failWith("client", err.Error(), "")
}

func (c *client) failWith(gate, msg, hint string) int {
	if c.json {
		c.printJSON(map[string]string{"error": msg, "gate": gate, "hint": hint})
		return exitFailed
	}
	fmt.Fprintf(c.stderr, "baldur: %s\n", clean(msg))
	if hint != "" {
		fmt.Fprintf(c.stderr, "  how to pass: %s\n", clean(hint))
	}
	return exitFailed
}
