package store

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
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

func parseRedisURL(raw string) (redisTarget, error) {
	fail := func(format string, args ...any) (redisTarget, error) {
		return redisTarget{}, fmt.Errorf("redis url %s: %s", redactURL(raw), fmt.Sprintf(format, args...))
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
	authority, tail := rest[:end], rest[end:]
	userinfo, hostList := "", authority
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		userinfo, hostList = authority[:at+1], authority[at+1:]
	}
	u, err := url.Parse(base + "://" + userinfo + "placeholder" + tail)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // url.Error repeats the URL, password included
		}
		return fail("%v", err)
	}
	if u.Fragment != "" {
		return fail("unexpected fragment #%s", u.Fragment)
	}
	defaultPort := "6379"
	if topology == "sentinel" {
		defaultPort = "26379"
	}
	hosts, err := splitHosts(hostList, defaultPort)
	if err != nil {
		return fail("%v", err)
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
			return fail("%v", strings.TrimPrefix(err.Error(), "redis: "))
		}
		return redisTarget{single: o}, nil
	case "cluster":
		if path != "" {
			return fail("a cluster has no database number, drop %q", u.Path)
		}
		o, err := redis.ParseClusterURL(rebuild(base, u.User, hosts[0], "", q))
		if err != nil {
			return fail("%v", strings.TrimPrefix(err.Error(), "redis: "))
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
			return fail("%v", strings.TrimPrefix(err.Error(), "redis: "))
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

// redactURL hides the password of a URL for error messages and logs.
func redactURL(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return strconv.Quote(raw)
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndex(rest[:end], "@"); at >= 0 {
		if user, _, hasPass := strings.Cut(rest[:at], ":"); hasPass {
			rest = user + ":xxxxx" + rest[at:]
		}
	}
	q := strings.Index(rest, "?")
	if q >= 0 {
		// Passwords can also travel as query options.
		if vals, err := url.ParseQuery(rest[q+1:]); err == nil {
			for _, k := range []string{"password", "sentinel_password"} {
				if vals.Has(k) {
					vals.Set(k, "xxxxx")
				}
			}
			rest = rest[:q+1] + vals.Encode()
		}
	}
	return strconv.Quote(scheme + "://" + rest)
}
