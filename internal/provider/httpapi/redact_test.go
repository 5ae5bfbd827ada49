package httpapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/secret"
)

// unescapes undoes the spellings a platform might echo a key in, in the test's
// own way (not the redactor's), so a check does not share the code it checks.
var unescapes = regexp.MustCompile(`\\u00([0-9a-fA-F]{2})|\\x([0-9a-fA-F]{2})`)

func undo(msg string) string {
	msg = unescapes.ReplaceAllStringFunc(msg, func(m string) string {
		b, _ := strconv.ParseUint(m[len(m)-2:], 16, 8)
		return string(rune(b))
	})
	if u, err := url.PathUnescape(msg); err == nil {
		msg = u
	}
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(" \t\r\n\"'`,+\\", r) {
			return -1
		}
		return r
	}, msg)
}

// assertNoPieceOf fails if msg holds 8 consecutive characters of credential,
// as written or once separators and escapes are undone.
func assertNoPieceOf(t *testing.T, msg, credential string) {
	t.Helper()
	for _, view := range []string{msg, undo(msg), undo(strings.ReplaceAll(msg, `\n`, " "))} {
		for i := 0; i+gramLen <= len(credential); i++ {
			if strings.Contains(view, credential[i:i+gramLen]) {
				t.Fatalf("%q holds %q, 8 characters of a credential", msg, credential[i:i+gramLen])
			}
		}
	}
}

func chunks(s string, n int, sep string) string {
	var parts []string
	for len(s) > n {
		parts = append(parts, s[:n])
		s = s[n:]
	}
	return strings.Join(append(parts, s), sep)
}

func percentAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, "%%%02X", s[i])
	}
	return b.String()
}

func percentEveryOther(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if i%2 == 0 {
			fmt.Fprintf(&b, "%%%02x", s[i])
		} else {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

func unicodeEscaped(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		fmt.Fprintf(&b, `\u%04x`, s[i])
	}
	return b.String()
}

// echoes are the ways an upstream message has been seen, or could be, to
// quote a credential in part.
func echoes(key string) map[string]string {
	return map[string]string{
		"first 20":             "invalid key " + key[:20] + "...",
		"last 12":              "key ending " + key[len(key)-12:] + " was revoked",
		"middle 8":             "fragment " + key[10:18] + " seen",
		"chunks of 4, spaces":  "key " + chunks(key, 4, " ") + " rejected",
		"chunks of 5, lines":   "key:\n" + chunks(key, 5, "\n"),
		"chunks of 6, commas":  "parts [" + chunks(key, 6, ", ") + "]",
		"quoted chunks":        `key "` + chunks(key, 7, `" + "`) + `"`,
		"JSON in a message":    `upstream said {"api_key": "` + key[:16] + `"}`,
		"escaped quotes":       `token \"` + key[2:22] + `\" is bad`,
		"percent-encoded":      "GET /check?key=" + percentAll(key[:24]),
		"half percent-encoded": "path /keys/" + percentEveryOther(key),
		"unicode escapes":      "key " + unicodeEscaped(key[:20]),
		"escaped line breaks":  `key ` + chunks(key, 6, `\n`),
		"tabs and CRs":         "key\t" + chunks(key, 3, "\r\n\t"),
	}
}

// A platform that quotes the configured key in part — cut short, in chunks,
// encoded — never gets any 8 characters of it into a sentence, whatever the
// status and wherever it puts them.
func TestNoPieceOfTheKeyLeavesHttpapi(t *testing.T) {
	for name, msg := range echoes(testKey) {
		for _, status := range []int{400, 403, 404, 409, 422, 429, 500} {
			body, err := json.Marshal(map[string]string{"detail": msg})
			require.NoError(t, err)
			srv := serve(t, answer(status, string(body)))
			c, _ := testClient(srv.URL, func(s *Settings) { s.MaxRetries = -1 })
			err = c.Do(context.Background(), http.MethodGet, "/keys/1", nil, nil, true)
			pe := providerError(t, err)
			assertNoPieceOf(t, pe.Message, testKey)
			assert.Contains(t, pe.Message, "Vast.ai", "%s: still a sentence", name)
		}
	}
}

func TestNoPieceOfTheKeyInANamedPermission(t *testing.T) {
	for _, body := range []string{
		`{"permission":"` + testKey[:16] + `"}`,
		`{"detail":"missing permission '` + testKey[8:30] + `'"}`,
	} {
		srv := serve(t, answer(http.StatusForbidden, body))
		c, _ := testClient(srv.URL)
		pe := providerError(t, c.Do(context.Background(), http.MethodGet, "/x", nil, nil, true))
		assertNoPieceOf(t, pe.Message, testKey)
		assertNoPieceOf(t, pe.Permission, testKey)
	}
}

func TestNoPieceOfTheKeyInThePath(t *testing.T) {
	srv := serve(t, answer(http.StatusNotFound, `{"detail":"Not Found"}`))
	c, _ := testClient(srv.URL)
	for _, path := range []string{"/keys/" + testKey[:20], "/keys/" + url.PathEscape(testKey), "/keys/" + percentAll(testKey[5:25])} {
		pe := providerError(t, c.Do(context.Background(), http.MethodGet, path, nil, nil, true))
		assertNoPieceOf(t, pe.Message, testKey)
		assert.Contains(t, pe.Message, "GET /keys/")
	}
}

// Every credential the client knows is kept out: the session token beside the
// API key (Lium), and the configured key of a client made WithKey.
func TestNoPieceOfAnyKnownCredential(t *testing.T) {
	session := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZ2VudCJ9.c2Vzc2lvbi1zaWduYXR1cmUtOTg3NjU0"
	for name, msg := range echoes(session[30:]) {
		body, _ := json.Marshal(map[string]string{"detail": msg})
		srv := serve(t, answer(http.StatusBadRequest, string(body)))
		c, _ := testClient(srv.URL, func(s *Settings) { s.Redact = []string{session} })
		pe := providerError(t, c.Do(context.Background(), http.MethodGet, "/x", nil, nil, true))
		assertNoPieceOf(t, pe.Message, session[30:])
		_ = name
	}

	for name, msg := range echoes(testKey) {
		body, _ := json.Marshal(map[string]string{"detail": msg})
		srv := serve(t, answer(http.StatusBadRequest, string(body)))
		c, _ := testClient(srv.URL)
		other := c.WithKey("lk_0ther0ther0ther0ther")
		pe := providerError(t, other.Do(context.Background(), http.MethodGet, "/x", nil, nil, true))
		assertNoPieceOf(t, pe.Message, testKey)
		_ = name
	}
	s := Settings{APIKey: testKey, Redact: []string{session}}
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		assert.NotContains(t, fmt.Sprintf(format, s), session[:20], format)
	}
}

// Upstream text also goes through secret.MaskText: a secret that is not one
// of the client's credentials is masked, not quoted.
func TestUpstreamSecretsAreMasked(t *testing.T) {
	kw, err := secret.Generate()
	require.NoError(t, err)
	cases := map[string]string{
		`{"detail":"Authorization: Bearer abc123def456 was refused"}`: "abc123def456",
		`{"detail":"key ` + kw + ` is not ours"}`:                     kw,
		`{"detail":"key ` + kw[:20] + ` is not ours"}`:                kw[:20],
	}
	for body, leak := range cases {
		srv := serve(t, answer(http.StatusBadRequest, body))
		c, _ := testClient(srv.URL)
		pe := providerError(t, c.Do(context.Background(), http.MethodGet, "/x", nil, nil, true))
		assert.NotContains(t, pe.Message, leak)
		assert.Contains(t, pe.Message, "…", "masked, so the agent still sees which secret was meant")
	}
}

// The redactor leaves alone what is not a credential: ids, words, and text
// that shares less than 8 characters with it.
func TestRedactorKeepsOrdinaryText(t *testing.T) {
	r := newRedactor(testKey, "", "   ")
	for _, s := range []string{
		"key 3f2b8c1e-0a9d-4e7f-8b6a-5c4d3e2f1a0b not found",
		"vk_live is the prefix", testKey[:7], "a%zz%4 \\u12 \\", "",
		"the key in VAST_API_KEY was rejected by Vast.ai (invalid, expired or revoked); set a valid key",
	} {
		assert.Equal(t, s, r.redact(s))
	}
	assert.Equal(t, "a [redacted] b", r.redact("a "+testKey+" b"))
	assert.Equal(t, "[redacted]", r.redact(chunks(testKey, 3, " ")), "one span for a key in many chunks")

	short := newRedactor("abc12")
	assert.Equal(t, "x [redacted] y", short.redact("x abc12 y"), "a short credential is matched whole")
	assert.Equal(t, "x [redacted] y", short.redact("x a b c 1 2 y"))
	var none *redactor
	assert.Equal(t, "text", none.redact("text"))
}

func BenchmarkRedact(b *testing.B) {
	r := newRedactor(testKey, "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZ2VudCJ9.c2lnbmF0dXJl")
	msg := "Vast.ai rejected GET /auth/apikeys/ as invalid (400): \"name is required\"; correct the request and try again"
	for b.Loop() {
		_ = r.redact(msg)
	}
}
