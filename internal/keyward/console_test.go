package keyward

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/manager"
)

const operatorToken = "operator-7f3c9a1e5b2d4c6f8a0b1c2d3e4f5a6b"

// browser is an operator's browser: cookies kept, redirects not followed
// (tests look at them), no bearer token.
type browser struct {
	t    *testing.T
	ts   *testServer
	c    *http.Client
	csrf string
}

func newBrowser(t *testing.T, ts *testServer) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, ts: ts, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browser) do(method, path string, form url.Values, headers map[string]string) (*http.Response, string) {
	b.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.ts.url+path, body)
	require.NoError(b.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := b.c.Do(req)
	require.NoError(b.t, err)
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(string(out)); m != nil {
		b.csrf = m[1]
	}
	return resp, string(out)
}

func (b *browser) get(path string) (*http.Response, string) { return b.do("GET", path, nil, nil) }

// post sends a form with the session's CSRF token, as the console's pages do.
func (b *browser) post(path string, form url.Values) (*http.Response, string) {
	if form == nil {
		form = url.Values{}
	}
	if form.Get("csrf") == "" {
		form.Set("csrf", b.csrf)
	}
	return b.do("POST", path, form, map[string]string{"Origin": b.ts.url, "Sec-Fetch-Site": "same-origin"})
}

func (b *browser) login() {
	b.t.Helper()
	resp, _ := b.do("POST", "/login", url.Values{"token": {operatorToken}}, nil)
	require.Equal(b.t, http.StatusSeeOther, resp.StatusCode)
	_, page := b.get("/")
	require.Contains(b.t, page, "Log out")
}

func startConsole(t *testing.T, env map[string]string) *testServer {
	t.Helper()
	vars := map[string]string{"KEYWARD_OPERATOR_TOKEN": operatorToken, "KEYWARD_REVEAL": "file"}
	for k, v := range env {
		vars[k] = v
	}
	return startHTTP(t, vars)
}

func TestConsoleOffSaysHowToTurnItOn(t *testing.T) {
	ts := startHTTP(t, nil)
	b := newBrowser(t, ts)
	resp, page := b.get("/")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Contains(t, page, "KEYWARD_OPERATOR_TOKEN")
	assert.Equal(t, "DENY", resp.Header.Get("X-Frame-Options"))
	resp, body := b.get("/nothing-here")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	assert.Contains(t, body, `"jsonrpc"`, "other paths answer as before")
	resp, _ = b.get("/audit")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "no console page answers without the operator's token")
	assert.Contains(t, ts.logs.String(), "no operator console: set KEYWARD_OPERATOR_TOKEN")
}

func TestConsoleLogin(t *testing.T) {
	ts := startConsole(t, nil)
	b := newBrowser(t, ts)
	resp, _ := b.get("/audit?since=24h")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/login?next="+url.QueryEscape("/audit?since=24h"), resp.Header.Get("Location"))

	// The agents' bearer token opens nothing here, as a header or as the login.
	resp, _ = b.do("GET", "/", nil, auth(testToken))
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode)
	resp, page := b.do("POST", "/login", url.Values{"token": {testToken}}, nil)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, page, "the agents&#39; token does not open the console")
	resp, _ = b.do("POST", "/login", url.Values{"token": {operatorToken}}, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a login posted from another site is refused")

	resp, _ = b.do("POST", "/login?next="+url.QueryEscape("/audit?since=24h"), url.Values{"token": {operatorToken}}, nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.Equal(t, "/audit?since=24h", resp.Header.Get("Location"))
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == cookieNameForTest {
			ck = c
		}
	}
	require.NotNil(t, ck)
	assert.True(t, ck.HttpOnly)
	assert.Equal(t, http.SameSiteStrictMode, ck.SameSite)
	assert.Equal(t, "/", ck.Path)
	assert.False(t, ck.Secure, "plain HTTP on loopback: no Secure flag, or the browser would drop it")
	assert.NotContains(t, ck.Value, operatorToken)

	resp, page = b.get("/audit")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, page, "Audit log")
	for h, want := range map[string]string{
		"Content-Security-Policy": "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
		"X-Frame-Options":         "DENY",
		"Cache-Control":           "no-store",
		"Referrer-Policy":         "no-referrer",
	} {
		assert.Equal(t, want, resp.Header.Get(h), h)
	}

	// An open redirect is not: next stays on this site.
	resp, _ = b.get("/login?next=" + url.QueryEscape("//evil.example/x"))
	assert.Equal(t, "/", resp.Header.Get("Location"))

	// Logging out ends the session everywhere: the old cookie no longer works.
	old := b.c.Jar.Cookies(mustURL(t, ts.url))
	resp, _ = b.post("/logout", nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	b2 := newBrowser(t, ts)
	b2.c.Jar.SetCookies(mustURL(t, ts.url), old)
	resp, _ = b2.get("/")
	assert.Equal(t, http.StatusSeeOther, resp.StatusCode, "a logged-out session's cookie opens nothing")
}

const cookieNameForTest = "keyward_operator"

func mustURL(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

func TestConsoleLoginIsRateLimited(t *testing.T) {
	ts := startConsole(t, nil)
	b := newBrowser(t, ts)
	for range 10 {
		resp, _ := b.do("POST", "/login", url.Values{"token": {"wrong"}}, nil)
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	}
	resp, page := b.do("POST", "/login", url.Values{"token": {operatorToken}}, nil)
	assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "even the right token waits once the limit is hit")
	assert.Contains(t, page, "Too many failed logins")
	assert.NotEmpty(t, resp.Header.Get("Retry-After"))
}

func TestConsoleRefusesForgedChanges(t *testing.T) {
	ts := startConsole(t, map[string]string{"KEYWARD_CONFIRM": "console"})
	b := newBrowser(t, ts)
	b.login()
	c := ts.connect(t, "http", "agent")
	id := ts.ok(t, c, "create_key", map[string]any{"name": "svc"})["key_id"].(string)
	res, err := callTool(c, "revoke_key", map[string]any{"key_id": id})
	require.NoError(t, err)
	require.True(t, res.IsError)
	pending, _, err := ts.app.Manager.Approvals(context.Background(), 0)
	require.NoError(t, err)
	require.Len(t, pending, 1)
	path := "/approvals/" + pending[0].ID

	for name, tc := range map[string]struct {
		form    url.Values
		headers map[string]string
	}{
		"no token":                        {url.Values{"decision": {"approve"}}, map[string]string{"Origin": ts.url}},
		"wrong token":                     {url.Values{"decision": {"approve"}, "csrf": {"forged"}}, map[string]string{"Origin": ts.url}},
		"other origin":                    {url.Values{"decision": {"approve"}, "csrf": {b.csrf}}, map[string]string{"Origin": "https://evil.example"}},
		"cross-site":                      {url.Values{"decision": {"approve"}, "csrf": {b.csrf}}, map[string]string{"Sec-Fetch-Site": "cross-site"}},
		"cross-site, same-looking origin": {url.Values{"decision": {"approve"}, "csrf": {b.csrf}}, map[string]string{"Sec-Fetch-Site": "same-site", "Origin": ts.url}},
		"null origin":                     {url.Values{"decision": {"approve"}, "csrf": {b.csrf}}, map[string]string{"Origin": "null"}},
		"another session":                 {url.Values{"decision": {"approve"}, "csrf": {otherSessionToken(t, ts)}}, map[string]string{"Origin": ts.url}},
	} {
		resp, _ := b.do("POST", path, tc.form, tc.headers)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode, name)
	}
	resp, _ := b.do("GET", path, nil, nil)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "a decision is never a GET")
	pending, _, _ = ts.app.Manager.Approvals(context.Background(), 0)
	assert.Len(t, pending, 1, "nothing was decided")

	resp, _ = b.post(path, url.Values{"decision": {"approve"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	_, page := b.get("/approvals?done=approved")
	assert.Contains(t, page, "Approved. The agent")
	assert.Equal(t, "approved_by_operator", ts.ok(t, c, "revoke_key", map[string]any{"key_id": id})["confirmation"])
}

func otherSessionToken(t *testing.T, ts *testServer) string {
	b := newBrowser(t, ts)
	b.login()
	return b.csrf
}

// Everything an agent or a platform chose is shown as text: no markup runs,
// and no bidirectional override reorders the page.
func TestConsoleEscapesHostileNames(t *testing.T) {
	ts := startConsole(t, nil)
	b := newBrowser(t, ts)
	b.login()
	hostile := []string{`<script>alert(1)</script>`, `"><img src=x onerror=alert(1)>`}
	c := ts.connect(t, "http", "evil\u202Egnp.exe<b>")
	for _, n := range hostile {
		ts.ok(t, c, "create_key", map[string]any{"name": n})
	}
	ts.app.Manager.RecordRefused(caller.With(context.Background(), caller.Identity{ClientName: "x\u202Ey<script>"}), "revoke_key", "local", `<script>k</script>`, `"><img onerror=1>`)
	for _, path := range []string{"/", "/audit", "/emergency"} {
		_, page := b.get(path)
		for _, bad := range []string{"<script>", "<img", "\u202E", "<b>"} {
			assert.NotContains(t, page, bad, path)
		}
	}
	_, page := b.get("/")
	assert.Contains(t, page, "&lt;script&gt;alert(1)&lt;/script&gt;")
	_, page = b.get("/audit")
	assert.Contains(t, page, `\u202E`, "the override is shown, not obeyed")
}

func TestConsoleEmergencyRevoke(t *testing.T) {
	ts := startConsole(t, map[string]string{"KEYWARD_CONFIRM": "console"})
	b := newBrowser(t, ts)
	b.login()
	bad := ts.connect(t, "http", "rogue-agent")
	good := ts.connect(t, "http", "good-agent")
	var badIDs []string
	for _, n := range []string{"a", "b", "c"} {
		badIDs = append(badIDs, ts.ok(t, bad, "create_key", map[string]any{"name": n})["key_id"].(string))
	}
	keep := ts.ok(t, good, "create_key", map[string]any{"name": "keep"})["key_id"].(string)

	_, page := b.get("/emergency")
	assert.Contains(t, page, "rogue-agent 1.2.3 as token (3 keys)")
	resp, page := b.get("/emergency/preview?" + url.Values{"created_by": {"rogue-agent 1.2.3 as token"}}.Encode())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	for _, id := range badIDs {
		assert.Contains(t, page, id)
	}
	assert.NotContains(t, page, keep)
	assert.Contains(t, page, "Revoke these 3 keys now")
	keys, _ := ts.app.Manager.ListKeys(context.Background(), manager.ListArgs{})
	assert.Len(t, keys.Keys, 4, "a preview revokes nothing")

	form := url.Values{"created_by": {"rogue-agent 1.2.3 as token"}, "key": {"local:" + badIDs[0], "local:" + badIDs[1], "local:" + badIDs[2], "local:" + keep}}
	resp, page = b.post("/emergency/revoke", form)
	assert.Equal(t, http.StatusMultiStatus, resp.StatusCode)
	assert.Contains(t, page, "Revoked (3)")
	assert.Contains(t, page, "Not revoked (1)", "a key not the client's is refused even if the form names it")
	keys, _ = ts.app.Manager.ListKeys(context.Background(), manager.ListArgs{})
	require.Len(t, keys.Keys, 1)
	assert.Equal(t, keep, keys.Keys[0].ID)

	recs, err := ts.app.Manager.AuditLog(context.Background(), manager.AuditArgs{Tool: "revoke_key"})
	require.NoError(t, err)
	require.Len(t, recs.Records, 3)
	for _, r := range recs.Records {
		assert.Equal(t, "ok", r.Outcome)
		assert.Equal(t, "confirmed_by_operator", r.Confirmation, "the operator's revoke waits for no approval")
		assert.Equal(t, "operator", r.Principal)
		assert.Contains(t, r.Detail, "emergency revoke from the console")
	}
}
