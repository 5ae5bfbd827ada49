// Package sanitize holds keyward's one rule for characters a person cannot
// see or that drive a terminal, and escapes them wherever text agents chose
// (key names, ids, error messages) is shown to a person.
package sanitize

import (
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/keyward/keyward/internal/secret"
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

// Bound cuts s to at most n bytes on a character boundary, saying how long it was.
func Bound(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := max(n-40, 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s…(%d bytes, cut)", s[:cut], len(s))
}

// maxQuoted bounds a value quoted inside an echoed text.
const maxQuoted = 48

var quoted = regexp.MustCompile(`'[^']*'|"(?:[^"\\]|\\.)*"`)

// Echo makes text safe to send back to a model, to a log or to a terminal:
// secrets are masked, quoted values cut short, invisible and control
// characters escaped, and the whole bounded to max bytes.
func Echo(s string, n int) string {
	if limit := max(64*n, 64<<10); len(s) > limit {
		s = s[:limit] // far past what is shown, so no secret there is half cut; keeps the scans bounded
	}
	s = secret.MaskText(s)
	if strings.ContainsAny(s, `'"`) { // most texts (client names, ids) quote nothing: no pattern to run
		s = quoted.ReplaceAllStringFunc(s, func(q string) string {
			if len(q) <= maxQuoted+2 {
				return q
			}
			body := q[1 : len(q)-1]
			return fmt.Sprintf("%c%s…%c (%d bytes)", q[0], Cut(body, maxQuoted), q[0], len(body))
		})
	}
	return Bound(Escape(s), n)
}

// Cut returns at most n bytes of s, ending on a character boundary.
func Cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// maxLogValue bounds one logged value.
const maxLogValue = 4096

// Clean returns a function that removes the configured credentials from a
// text, masks anything shaped like a secret and bounds it: what every log
// line and every notification to a client passes through.
func Clean(credentials []string) func(string) string {
	var creds []string
	for _, c := range credentials {
		if len(c) >= 8 {
			creds = append(creds, c)
		}
	}
	return func(s string) string {
		for _, c := range creds {
			s = strings.ReplaceAll(s, c, "[redacted]")
		}
		return Bound(secret.MaskText(s), maxLogValue)
	}
}

// LogAttr is a slog ReplaceAttr that keeps secrets out of the logs: every
// string or error value has the configured credentials removed and anything
// shaped like a secret masked, and is bounded.
func LogAttr(credentials []string) func(groups []string, a slog.Attr) slog.Attr {
	clean := Clean(credentials)
	return func(_ []string, a slog.Attr) slog.Attr {
		switch a.Value.Kind() {
		case slog.KindString:
			a.Value = slog.StringValue(clean(a.Value.String()))
		case slog.KindAny:
			switch v := a.Value.Any().(type) {
			case error:
				a.Value = slog.StringValue(clean(v.Error()))
			case fmt.Stringer:
				a.Value = slog.StringValue(clean(v.String()))
			}
		}
		return a
	}
}
