package control

import (
	"fmt"
	"strings"
	"unicode"
)

// Clean removes what must never reach a history, a log or a terminal from a
// name or a reason: format characters (Unicode category Cf: bidi controls such
// as U+202E, zero-width spaces and joiners, the BOM) and control characters
// (NUL, ESC, ...; tabs and newlines become spaces), and replaces invalid UTF-8.
// The result is trimmed.
func Clean(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return ' '
		case unicode.Is(unicode.Cf, r), unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// CheckReason cleans reason (see Clean) and checks it: a required reason must
// not be blank, and any reason given must hold at least one letter or digit (a
// reason of only U+200B, NUL or punctuation says nothing) and fit MaxReasonLen
// bytes. The error wraps ErrReasonRequired or ErrReasonTooLong and says what
// was wrong.
func CheckReason(reason string, required bool) (string, error) {
	cleaned := Clean(reason)
	switch {
	case cleaned == "" && required && reason == "":
		return "", fmt.Errorf("%w (none given)", ErrReasonRequired)
	case cleaned == "" && required:
		return "", fmt.Errorf("%w: the one given is blank or only invisible or control characters", ErrReasonRequired)
	case cleaned == "" && strings.TrimSpace(reason) != "":
		return "", fmt.Errorf("%w: the one given is only invisible or control characters; leave it out or write one", ErrReasonRequired)
	case cleaned != "" && !strings.ContainsFunc(cleaned, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }):
		return "", fmt.Errorf("%w: %q holds no letter or digit", ErrReasonRequired, cleaned)
	case len(cleaned) > MaxReasonLen:
		return "", fmt.Errorf("%w: %d bytes, at most %d", ErrReasonTooLong, len(cleaned), MaxReasonLen)
	}
	return cleaned, nil
}

// cleanWho is the name recorded for an action: cleaned, "unknown" when
// nothing printable is left.
func cleanWho(who string) string {
	if who = Clean(who); who == "" {
		return "unknown"
	}
	return who
}
