package adminapi

import (
	"fmt"
	"strings"
)

// Role is what an admin key may do. Each role includes the ones below it.
type Role int

const (
	// RoleNone: no key (or no valid key) was presented.
	RoleNone Role = iota
	// RoleViewer reads everything: status, breakers, history, timeline.
	RoleViewer
	// RoleOperator also acts: breaker actions, kill switch, dry-run on, DLQ replay and redrive.
	RoleOperator
	// RoleAdmin also goes live and purges the DLQ.
	RoleAdmin
)

func (r Role) String() string {
	switch r {
	case RoleViewer:
		return "viewer"
	case RoleOperator:
		return "operator"
	case RoleAdmin:
		return "admin"
	}
	return "none"
}

// ParseRole reads "viewer", "operator" or "admin".
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "viewer":
		return RoleViewer, nil
	case "operator":
		return RoleOperator, nil
	case "admin":
		return RoleAdmin, nil
	}
	return RoleNone, fmt.Errorf("role %q: want viewer, operator or admin", s)
}
