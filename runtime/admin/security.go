package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"

	"github.com/baldur-go/baldur/internal/env"
	"github.com/baldur-go/baldur/internal/redact"
	"github.com/baldur-go/baldur/runtime/admin/adminapi"
)

// Role is what an admin key may do. Each role includes the ones below it.
type Role = adminapi.Role

// The roles, lowest first.
const (
	RoleNone     = adminapi.RoleNone
	RoleViewer   = adminapi.RoleViewer
	RoleOperator = adminapi.RoleOperator
	RoleAdmin    = adminapi.RoleAdmin
)

// ParseRole reads "viewer", "operator" or "admin".
func ParseRole(s string) (Role, error) { return adminapi.ParseRole(s) }

// MinKeyLen is the shortest admin key accepted: a key is a password an
// attacker on the host may try to guess.
const MinKeyLen = 16

// DefaultMaxBodyBytes bounds a request body when Security.MaxBodyBytes is 0.
const DefaultMaxBodyBytes = 64 << 10

// Key is one admin key and the role it grants.
type Key struct {
	Role   Role
	Secret string
}

// Security configures the gates every request passes. The zero value
// refuses every action and serves reads to loopback clients only.
type Security struct {
	// Keys are the accepted admin keys. None configured: reads are open (to the
	// hosts and origins allowed below) and every action is refused.
	Keys []Key
	// Unlocked allows destructive actions (breaker reset/force/auto, kill switch,
	// go-live, DLQ purge) at all; each still needs "confirm":"CONFIRM" in its
	// body. BALDUR_ADMIN_UNLOCK=1.
	Unlocked bool
	// AllowedOrigins are the exact origins (scheme://host[:port]) a browser may
	// send requests from. Default: http:// and https://localhost, 127.0.0.1 and
	// [::1] on the server's port (http, any port, when the port is unknown).
	AllowedOrigins []string
	// AllowedHosts are the Host headers accepted (host or host:port), against
	// DNS rebinding. Default: localhost, 127.0.0.1 and [::1] on the server's
	// port, plus the hosts of AllowedOrigins.
	AllowedHosts []string
	// MaxBodyBytes bounds a request body. Default 64 KiB.
	MaxBodyBytes int64
}

// SecurityFromEnv reads the admin gates from the environment:
//
//	BALDUR_ADMIN_KEY         one key with the admin role
//	BALDUR_ADMIN_KEYS        role:key pairs, comma-separated: "admin:K1,operator:K2,viewer:K3"
//	BALDUR_ADMIN_UNLOCK      1/true to allow destructive actions (default 0)
//	BALDUR_ALLOWED_ORIGINS   comma-separated origins allowed besides loopback, e.g. "https://ops.example.com"
//
// Keys must be at least MinKeyLen characters without spaces or commas. A bad
// value is an error naming the variable (never the key itself).
func SecurityFromEnv() (Security, error) { return securityFromLookup(os.LookupEnv) }

func securityFromLookup(lookup env.Lookup) (Security, error) {
	var sec Security
	r := env.New(lookup)
	if v, ok := r.Lookup("BALDUR_ADMIN_KEY"); ok {
		if err := checkSecret(v); err != nil {
			r.Add(fmt.Errorf("BALDUR_ADMIN_KEY: %w", err))
		} else {
			sec.Keys = append(sec.Keys, Key{Role: RoleAdmin, Secret: v})
		}
	}
	if v, ok := r.Lookup("BALDUR_ADMIN_KEYS"); ok {
		for i, pair := range strings.Split(v, ",") {
			roleStr, secret, found := strings.Cut(strings.TrimSpace(pair), ":")
			if !found {
				r.Add(fmt.Errorf("BALDUR_ADMIN_KEYS: entry %d: want role:key (role viewer, operator or admin)", i+1))
				continue
			}
			role, err := ParseRole(roleStr)
			if err != nil {
				// Never ParseRole's error: with role and key swapped, the "role" is the key.
				r.Add(fmt.Errorf("BALDUR_ADMIN_KEYS: entry %d: the part before the first \":\" (%s) is not a role: want role:key with role viewer, operator or admin", i+1, redact.Key(roleStr)))
				continue
			}
			if err := checkSecret(secret); err != nil {
				r.Add(fmt.Errorf("BALDUR_ADMIN_KEYS: entry %d (%s): %w", i+1, role, err))
				continue
			}
			sec.Keys = append(sec.Keys, Key{Role: role, Secret: secret})
		}
	}
	seen := map[string]bool{}
	for _, k := range sec.Keys {
		if seen[k.Secret] {
			r.Add(errors.New("BALDUR_ADMIN_KEY/BALDUR_ADMIN_KEYS: the same key appears twice"))
			break
		}
		seen[k.Secret] = true
	}
	r.Bool("BALDUR_ADMIN_UNLOCK", &sec.Unlocked)
	if v, ok := r.Lookup("BALDUR_ALLOWED_ORIGINS"); ok {
		for _, o := range strings.Split(v, ",") {
			o = strings.TrimSpace(o)
			if o == "" {
				continue
			}
			norm, err := normalizeOrigin(o)
			if err != nil {
				r.Add(fmt.Errorf("BALDUR_ALLOWED_ORIGINS: %w", err))
				continue
			}
			sec.AllowedOrigins = append(sec.AllowedOrigins, norm)
		}
	}
	if err := r.Err(); err != nil {
		return Security{}, fmt.Errorf("admin: bad environment: %w", err)
	}
	return sec, nil
}

func checkSecret(s string) error {
	switch {
	case len(s) < MinKeyLen:
		return fmt.Errorf("key is %d characters, want at least %d", len(s), MinKeyLen)
	case strings.ContainsAny(s, " \t\r\n,"):
		return errors.New("key contains a space or a comma")
	}
	return nil
}

// normalizeOrigin checks that o is scheme://host[:port] and lower-cases it.
func normalizeOrigin(o string) (string, error) {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		(u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
		return "", fmt.Errorf("origin %q: want scheme://host[:port], e.g. https://ops.example.com", o)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

var loopbackHosts = []string{"localhost", "127.0.0.1", "[::1]"}

// gates is Security resolved for one listening port.
type gates struct {
	keys     []hashedKey
	unlocked bool
	origins  map[string]bool
	hosts    map[string]bool
	anyPort  bool // port unknown: loopback hosts match with any port
	maxBody  int64
}

type hashedKey struct {
	role Role
	sum  [32]byte
}

// resolve fills Security's defaults for a server on port ("" when unknown).
// Loopback hosts and origins are always allowed; the configured ones add to them.
func (s Security) resolve(port string) gates {
	g := gates{
		unlocked: s.Unlocked,
		origins:  map[string]bool{},
		hosts:    map[string]bool{},
		anyPort:  port == "",
		maxBody:  s.MaxBodyBytes,
	}
	if g.maxBody <= 0 {
		g.maxBody = DefaultMaxBodyBytes
	}
	for _, k := range s.Keys {
		g.keys = append(g.keys, hashedKey{role: k.Role, sum: sha256.Sum256([]byte(k.Secret))})
	}
	for _, h := range loopbackHosts {
		switch port {
		case "":
		case "80":
			g.hosts[h] = true // browsers leave the default port out
			g.origins["http://"+h] = true
		default:
			g.hosts[h+":"+port] = true
			g.origins["http://"+h+":"+port] = true
			g.origins["https://"+h+":"+port] = true // the console served over TLS
		}
	}
	for _, o := range s.AllowedOrigins {
		if norm, err := normalizeOrigin(o); err == nil {
			g.origins[norm] = true
			u, _ := url.Parse(norm)
			g.hosts[u.Host] = true
		}
	}
	for _, h := range s.AllowedHosts {
		g.hosts[strings.ToLower(h)] = true
	}
	return g
}

// roleOf compares the presented key with every configured one in constant time
// (hashing first, so that neither the content nor the length leaks).
func (g *gates) roleOf(presented string) Role {
	if presented == "" {
		return RoleNone
	}
	sum := sha256.Sum256([]byte(presented))
	role := RoleNone
	for _, k := range g.keys {
		if subtle.ConstantTimeCompare(sum[:], k.sum[:]) == 1 {
			role = k.role // no early exit: every key costs the same
		}
	}
	return role
}

func (g *gates) hostAllowed(host string) bool {
	host = strings.ToLower(host)
	return g.hosts[host] || (g.anyPort && isLoopback(hostOnly(host)))
}

func (g *gates) originAllowed(origin string) bool {
	norm, err := normalizeOrigin(origin)
	if err != nil {
		return false
	}
	if g.origins[norm] {
		return true
	}
	u, _ := url.Parse(norm)
	return g.anyPort && u.Scheme == "http" && isLoopback(hostOnly(u.Host))
}

func isLoopback(host string) bool {
	for _, h := range loopbackHosts {
		if host == h {
			return true
		}
	}
	return false
}

// hostOnly strips the port; an IPv6 literal keeps its brackets.
func hostOnly(hostport string) string {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	if strings.Contains(h, ":") {
		return "[" + h + "]"
	}
	return h
}
