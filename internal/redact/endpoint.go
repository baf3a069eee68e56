package redact

import (
	"net/url"
	"strconv"
)

// Endpoint returns raw, quoted, reduced to its scheme and host: the rest of a
// webhook URL is the secret (a Slack incoming webhook's path is its token),
// so everything after the host, user information included, is one Mask.
// Text that is not an absolute http(s)-like URL with a host is Mask whole.
func Endpoint(raw string) string { return strconv.Quote(endpoint(raw)) }

func endpoint(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		return Mask
	}
	out := u.Scheme + "://" + u.Host
	if u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.ForceQuery {
		out += "/" + Mask
	}
	return out
}
