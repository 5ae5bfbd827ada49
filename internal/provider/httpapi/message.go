package httpapi

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/keyward/keyward/internal/secret"
)

// maxQuote bounds how much of a platform's own message a sentence quotes.
const maxQuote = 200

const redacted = "[redacted]"

// messageFields are the only body fields quoted: short human messages, never
// whole bodies, which may echo a secret.
var messageFields = []string{"detail", "message", "msg", "error"}

var permissionFields = []string{"permission", "missing_permission", "required_permission", "required_scope", "scope"}

// permissionPatterns find a permission name in a 403 message: quoted next to
// the word, or an unquoted compound name (instance_write, keys:write) beside
// it. These patterns are compiled on first use, not at start-up, which they
// would slow for every process, most of which never read a platform's error.
var permissionPatterns = sync.OnceValue(func() []*regexp.Regexp {
	return []*regexp.Regexp{
		regexp.MustCompile("(?i)(?:permission|scope)s?\\W{0,4}[\"'`]([\\w.:-]{2,40})[\"'`]"),
		regexp.MustCompile("(?i)[\"'`]([\\w.:-]{2,40})[\"'`]\\s+(?:permission|scope)"),
		regexp.MustCompile(`(?i)(?:permission|scope)s?(?:\s+(?:is\s+)?(?:required|missing|needed))?\s*[:=]?\s+([a-z][a-z0-9]*(?:[_.:][a-z0-9]+)+)`),
		regexp.MustCompile(`(?i)\b([a-z][a-z0-9]*(?:[_.:][a-z0-9]+)+)\s+(?:permission|scope)`),
	}
})

// secretLike matches long token-shaped words: a key the platform echoes back
// (say, one being validated) looks like this even when it is not ours.
var (
	secretLike = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`[A-Za-z0-9_\-+=]{24,}`) })
	uuidLike   = sync.OnceValue(func() *regexp.Regexp {
		return regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	})
)

// quote is ": <the platform's message>" or "" when the body has none.
func (k *call) quote(body []byte) string {
	msg := k.sanitize(messageIn(body))
	if msg == "" {
		return ""
	}
	return ": " + strconv.Quote(msg)
}

// sanitize makes upstream text fit for a sentence: no piece of a credential
// (redactor), no secret of any known shape (secret.MaskText), no other
// secret-shaped word, no control characters, bounded length.
func (k *call) sanitize(s string) string {
	s = k.c.redactor.redact(s)
	s = secret.MaskText(s)
	s = secretLike().ReplaceAllStringFunc(s, func(w string) string {
		if uuidLike().MatchString(w) || !hasLetterAndDigit(w) {
			return w
		}
		return redacted
	})
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}), " ")
	if r := []rune(s); len(r) > maxQuote {
		s = string(r[:maxQuote]) + "…"
	}
	return s
}

func hasLetterAndDigit(s string) bool {
	return strings.ContainsFunc(s, unicode.IsLetter) && strings.ContainsFunc(s, unicode.IsDigit)
}

// messageIn finds the platform's human message in a JSON error body.
func messageIn(body []byte) string {
	var v any
	if json.Unmarshal(body, &v) != nil {
		return ""
	}
	return messageOf(v, 0)
}

func messageOf(v any, depth int) string {
	if depth > 3 {
		return ""
	}
	switch t := v.(type) {
	case string:
		return t
	case map[string]any:
		for _, f := range messageFields {
			if m := messageOf(t[f], depth+1); m != "" {
				return m
			}
		}
	case []any:
		// FastAPI validation errors: [{"loc": [..., "field"], "msg": "..."}].
		var parts []string
		for _, item := range t[:min(len(t), 3)] {
			m := messageOf(item, depth+1)
			if m == "" {
				continue
			}
			if field := lastLoc(item); field != "" {
				m = field + ": " + m
			}
			parts = append(parts, m)
		}
		return strings.Join(parts, "; ")
	}
	return ""
}

func lastLoc(item any) string {
	m, _ := item.(map[string]any)
	loc, _ := m["loc"].([]any)
	if len(loc) == 0 {
		return ""
	}
	s, _ := loc[len(loc)-1].(string)
	return s
}

// permissionIn finds the permission a 403 body names, or "".
func permissionIn(body []byte) string {
	var v map[string]any
	if json.Unmarshal(body, &v) == nil {
		for _, f := range permissionFields {
			if s, ok := v[f].(string); ok && s != "" && len(s) <= 60 {
				return s
			}
		}
	}
	msg := messageIn(body)
	for _, re := range permissionPatterns() {
		if m := re.FindStringSubmatch(msg); m != nil {
			return m[1]
		}
	}
	return ""
}

// retryAfter reads Retry-After as seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.Atoi(v); err == nil && secs >= 0 {
		return time.Duration(secs) * time.Second, true
	}
	if at, err := http.ParseTime(v); err == nil {
		return max(at.Sub(now), 0), true
	}
	return 0, false
}
