package emergency

import (
	"fmt"
	"strings"
)

// Level is the fleet's emergency level. Levels are ordered: a higher level
// is a worse situation, and the runtime sheds more work at it (the README's
// table "What each emergency level does").
type Level int32

const (
	// Normal: no emergency; every policy works as written.
	Normal Level = iota
	// Elevated: something is wrong in several places at once.
	Elevated
	// High: the fleet is in trouble; automation backs off.
	High
	// Critical: only what is marked critical keeps being served.
	Critical
)

// Levels lists every level, lowest first.
var Levels = []Level{Normal, Elevated, High, Critical}

var levelNames = [...]string{"NORMAL", "ELEVATED", "HIGH", "CRITICAL"}

// String returns NORMAL, ELEVATED, HIGH or CRITICAL.
func (l Level) String() string {
	if l < Normal || l > Critical {
		return fmt.Sprintf("LEVEL(%d)", int32(l))
	}
	return levelNames[l]
}

// Valid reports whether l is one of the four levels.
func (l Level) Valid() bool { return l >= Normal && l <= Critical }

// ParseLevel reads a level name in any case: normal, elevated, high, critical.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if strings.EqualFold(strings.TrimSpace(s), n) {
			return Level(i), nil
		}
	}
	return Normal, fmt.Errorf("emergency level %q: want NORMAL, ELEVATED, HIGH or CRITICAL", s)
}

// MarshalText writes the level's name, so that levels are strings in JSON.
func (l Level) MarshalText() ([]byte, error) {
	if !l.Valid() {
		return nil, fmt.Errorf("emergency level %d is not a level", int32(l))
	}
	return []byte(l.String()), nil
}

// UnmarshalText reads a level's name.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}
