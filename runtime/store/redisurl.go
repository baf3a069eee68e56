package store

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/baldur-go/baldur/internal/redact"
)

// redisTarget is a parsed Redis URL: exactly one of the option sets is set.
type redisTarget struct {
	single   *redis.Options
	failover *redis.FailoverOptions
	cluster  *redis.ClusterOptions
}

const redisSchemes = "redis, rediss, redis+sentinel, rediss+sentinel, redis+cluster, rediss+cluster"

// ParseRedisURL checks a Redis URL the way OpenRedis reads it, without
// connecting, so that a configuration error surfaces at start. The forms are
// listed in the package documentation. Errors never repeat the password.
func ParseRedisURL(raw string) error {
	_, err := parseRedisURL(raw)
	return err
}

// ParseSingleRedisURL reads a URL of one Redis node (redis:// or rediss://)
// into go-redis options, with ParseRedisURL's checks and errors, for the
// parts of the runtime that talk to one node directly.
func ParseSingleRedisURL(raw string) (*redis.Options, error) {
	t, err := parseRedisURL(raw)
	if err != nil {
		return nil, err
	}
	if t.single == nil {
		return nil, fmt.Errorf("redis url %s: want one node (redis:// or rediss://) here", redact.URL(raw))
	}
	return t.single, nil
}

func parseRedisURL(raw string) (redisTarget, error) {
	fail := func(format string, args ...any) (redisTarget, error) {
		return redisTarget{}, fmt.Errorf("redis url %s: %s", redact.URL(raw), fmt.Sprintf(format, args...))
	}
	// An error from a parser may quote a piece of its input: scrubbing it is
	// the safety net should that piece hold a password.
	reason := func(err error) string {
		return redact.Scrub(strings.TrimPrefix(err.Error(), "redis: "), redact.Hidden(raw))
	}
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return fail("empty")
	}
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return fail("missing scheme (want one of %s)", redisSchemes)
	}
	base, topology, _ := strings.Cut(strings.ToLower(scheme), "+")
	if (base != "redis" && base != "rediss") || (topology != "" && topology != "sentinel" && topology != "cluster") {
		return fail("unsupported scheme %q (want one of %s)", scheme, redisSchemes)
	}

	// Split the authority by hand: url.Parse rejects lists of IPv6 hosts.
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if strings.LastIndex(rest, "@") > end {
		// Either a password holding an unencoded "/", "?" or "#", or an "@"
		// after the host: both read two ways, so neither is guessed at.
		return fail(`an "@" after the first "/", "?" or "#": percent-encode "/", "?", "#" and "@" in the user name and password (%%2F, %%3F, %%23, %%40) and any "@" after the host (%%40)`)
	}
	authority, tail := rest[:end], rest[end:]
	var user *url.Userinfo
	hostList := authority
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		// The user part is parsed alone, so that no parser error can quote it.
		pu, err := url.Parse(base + "://" + authority[:at+1] + "placeholder")
		if err != nil {
			return fail("the user name or password is not valid in a URL: percent-encode its reserved characters (a %% must start a %%XX escape)")
		}
		user, hostList = pu.User, authority[at+1:]
	}
	u, err := url.Parse(base + "://placeholder" + tail)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // url.Error repeats the URL
		}
		return fail("%s", reason(err))
	}
	u.User = user
	if u.Fragment != "" || strings.HasSuffix(tail, "#") {
		return fail(`unexpected fragment: a "#" in a query option must be percent-encoded as %%23`)
	}
	defaultPort := "6379"
	if topology == "sentinel" {
		defaultPort = "26379"
	}
	hosts, err := splitHosts(hostList, defaultPort)
	if err != nil {
		return fail("%s", reason(err))
	}
	if topology == "" && len(hosts) > 1 {
		return fail("%d hosts for a single node (use redis+cluster:// or redis+sentinel://)", len(hosts))
	}

	// Rebuild a URL go-redis parses itself, so that every query option it
	// knows (dial_timeout, pool_size, protocol...) works here too.
	q := u.Query()
	sentinelUser, sentinelPass := q.Get("sentinel_username"), q.Get("sentinel_password")
	q.Del("sentinel_username")
	q.Del("sentinel_password")
	for _, h := range hosts[1:] {
		q.Add("addr", h)
	}
	path := strings.Trim(u.Path, "/")
	switch topology {
	case "":
		o, err := redis.ParseURL(rebuild(base, u.User, hosts[0], path, q))
		if err != nil {
			return fail("%s", reason(err))
		}
		return redisTarget{single: o}, nil
	case "cluster":
		if path != "" {
			return fail("a cluster has no database number, drop %q", u.Path)
		}
		o, err := redis.ParseClusterURL(rebuild(base, u.User, hosts[0], "", q))
		if err != nil {
			return fail("%s", reason(err))
		}
		return redisTarget{cluster: o}, nil
	default: // sentinel
		master, db, _ := strings.Cut(path, "/")
		if master == "" {
			return fail("missing master name: want %s://host:port,host:port/mastername[/db]", scheme)
		}
		q.Set("master_name", master)
		o, err := redis.ParseFailoverURL(rebuild(base, nil, hosts[0], db, q))
		if err != nil {
			return fail("%s", reason(err))
		}
		// The URL's user authenticates to the master; the sentinels take
		// their own credentials from sentinel_username / sentinel_password.
		if u.User != nil {
			o.Username = u.User.Username()
			o.Password, _ = u.User.Password()
		}
		o.SentinelUsername, o.SentinelPassword = sentinelUser, sentinelPass
		return redisTarget{failover: o}, nil
	}
}

func rebuild(scheme string, user *url.Userinfo, host, path string, q url.Values) string {
	u := url.URL{Scheme: scheme, User: user, Host: host, RawQuery: q.Encode()}
	if path != "" {
		u.Path = "/" + path
	}
	return u.String()
}

// splitHosts parses "host:port,host:port", defaulting missing ports.
func splitHosts(list, defaultPort string) ([]string, error) {
	if list == "" {
		return nil, errors.New("missing host")
	}
	var out []string
	for _, h := range strings.Split(list, ",") {
		if h == "" {
			return nil, fmt.Errorf("empty host in %q", list)
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil {
			// No port: a bare name, or a bracketed IPv6 literal.
			host, port = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]"), defaultPort
			if strings.ContainsAny(host, "[]") || (strings.Contains(host, ":") && !strings.HasPrefix(h, "[")) {
				return nil, fmt.Errorf("invalid host %q", h)
			}
		}
		if host == "" {
			return nil, fmt.Errorf("missing host name in %q", h)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("invalid port %q in %q", port, h)
		}
		out = append(out, net.JoinHostPort(host, port))
	}
	return out, nil
}
