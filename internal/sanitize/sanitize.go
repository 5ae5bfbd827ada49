// Package sanitize holds keyward's one rule for characters a person cannot
// see or that drive a terminal, and escapes them wherever text agents chose
// (key names, ids, error messages) is shown to a person.
package sanitize

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Invisible reports control characters (newlines forge rows, ESC drives the
// terminal), format characters (bidirectional overrides such as U+202E,
// zero-width spaces, the byte-order mark), line and paragraph separators,
// private-use characters, and the replacement character of invalid UTF-8.
func Invisible(r rune) bool {
	return r == utf8.RuneError || unicode.IsControl(r) || unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp, unicode.Co)
}

// Escape writes every Invisible character as \xXX or \uXXXX, so the result
// shows on one line exactly what the text holds. Invalid UTF-8 bytes are
// written as \xXX.
func Escape(s string) string {
	if strings.IndexFunc(s, Invisible) < 0 && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			fmt.Fprintf(&b, `\x%02X`, s[i])
		case r < 0x80 && Invisible(r):
			fmt.Fprintf(&b, `\x%02X`, r)
		case Invisible(r):
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}
