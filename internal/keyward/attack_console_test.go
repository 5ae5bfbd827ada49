package keyward

// Attacks on the operator's console and one-time links by a hostile web
// page, agent or local process. Each test failed because of the hole it
// demonstrates, and passes now that the hole is closed.

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/manager"
)

// browserResolve is where a browser goes for a Location header: it strips
// ASCII tabs and newlines from a URL before parsing it (WHATWG URL), so
// "/\t/evil.example" is "//evil.example", another host.
func browserResolve(t *testing.T, base, location string) *url.URL {
	t.Helper()
	location = strings.NewReplacer("\t", "", "\n", "", "\r", "").Replace(location)
	location = strings.ReplaceAll(location, `\`, "/") // and takes a backslash for a slash
	u, err := url.Parse(base)
	require.NoError(t, err)
	ref, err := url.Parse(location)
	if err != nil {
		return u // unreadable: stays here
	}
	return u.ResolveReference(ref)
}

// Was a hole: the login's "next" refused "//host" and "/\host" but not a
// path with a tab or another control character in it, which Go's redirect
// sends as is and browsers read with the tab removed: a link to the
// console's login (or, for an operator already logged in, any click on it)
// went to another site, where a page that looks like the console asks for
// the operator token again.
func TestAttackConsoleLoginOpenRedirect(t *testing.T) {
	ts := startConsole(t, nil)
	base := mustURL(t, ts.url)
	// The Go client refuses to follow such a Location, so the requests go
	// through the transport, which follows nothing.
	send := func(method, path string, form url.Values, cookies []*http.Cookie) *http.Response {
		t.Helper()
		var body *strings.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		} else {
			body = strings.NewReader("")
		}
		req, err := http.NewRequest(method, ts.url+path, body)
		require.NoError(t, err)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for _, c := range cookies {
			req.AddCookie(c)
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	for _, next := range []string{"/\t/evil.example/x", "/\n/evil.example", "/\r\n/evil.example", "/%09/evil.example", "\t//evil.example", "/\x00/evil.example", "/\x0b/evil.example"} {
		resp := send("POST", "/login?next="+url.QueryEscape(next), url.Values{"token": {operatorToken}}, nil)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		to := browserResolve(t, ts.url, resp.Header.Get("Location"))
		assert.Equal(t, base.Host, to.Host, "after the login, %q leads off the console to %q", next, resp.Header.Get("Location"))

		resp = send("GET", "/login?next="+url.QueryEscape(next), nil, resp.Cookies()) // logged in: straight on
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		to = browserResolve(t, ts.url, resp.Header.Get("Location"))
		assert.Equal(t, base.Host, to.Host, "a logged-in operator's click on the login with %q leads to %q", next, resp.Header.Get("Location"))
	}
}

// Was a hole: a session-based streamable HTTP or SSE session was not bound
// to the principal that opened it. Any principal that authenticated at all
// (a read-only OAuth token of another subject) could learn another's session
// id from audit_log (every record names its session), then end that session
// (DELETE), read its stream (GET: its notices and server requests) or post
// into it (tool calls under its client's name, against its rate limit).
func TestAttackSessionOfAnotherPrincipal(t *testing.T) {
	ts, is := startOAuth(t)
	now := time.Now()
	alice := is.Token("k1", "", "at+jwt", is.Claims(now, resource, "alice@example.com", "keyward:read keyward:write"))
	bob := is.Token("k1", "", "at+jwt", is.Claims(now, resource, "bob@example.com", "keyward:read"))

	status, h, body := ts.raw(t, http.MethodPost, PathMCP, initializeBody, auth(alice))
	require.Equal(t, http.StatusOK, status, body)
	sid := h.Get("Mcp-Session-Id")
	require.NotEmpty(t, sid)
	as := func(token string) map[string]string {
		return map[string]string{"Authorization": "Bearer " + token, "Mcp-Session-Id": sid, "Mcp-Protocol-Version": "2025-06-18"}
	}
	status, _, body = ts.raw(t, http.MethodPost, PathMCP, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, as(alice))
	require.Equal(t, http.StatusAccepted, status, body)
	status, _, body = ts.raw(t, http.MethodPost, PathMCP, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_key","arguments":{"name":"alices"}}}`, as(alice))
	require.Equal(t, http.StatusOK, status, body)

	// Bob reads alice's session id in the audit log.
	reader := ts.oauthClient(t, bob)
	recs := ts.ok(t, reader, "audit_log", map[string]any{"limit": 10})["records"].([]any)
	seen := false
	for _, r := range recs {
		seen = seen || r.(map[string]any)["session_id"] == sid
	}
	require.True(t, seen, "the audit log names the session")

	status, _, body = ts.raw(t, http.MethodPost, PathMCP, `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list_keys","arguments":{}}}`, as(bob))
	assert.Equal(t, http.StatusNotFound, status, "bob posts into alice's session: %s", body)
	status, _, _ = ts.raw(t, http.MethodDelete, PathMCP, "", as(bob))
	assert.Equal(t, http.StatusNotFound, status, "bob ends alice's session")
	status, _, _ = ts.raw(t, http.MethodGet, PathMCP, "", as(bob))
	assert.Equal(t, http.StatusNotFound, status, "bob listens on alice's session")

	status, _, body = ts.raw(t, http.MethodPost, PathMCP, `{"jsonrpc":"2.0","id":4,"method":"tools/list"}`, as(alice))
	assert.Equal(t, http.StatusOK, status, "alice's session lives on: %s", body)

	// The same on SSE: a stream opened with the static token takes no
	// message from bob.
	sse := ts.rawSSE(t)
	status, _, body = ts.raw(t, http.MethodPost, sse.endpoint, `{"jsonrpc":"2.0","id":5,"method":"tools/list"}`, auth(bob))
	assert.Equal(t, http.StatusNotFound, status, "bob posts into another principal's SSE session: %s", body)
	sse.post(`{"jsonrpc":"2.0","id":6,"method":"ping"}`)
}

// Was a hole: the login limit read the failures of an address, checked the
// token, and only then counted a failure, so logins sent at once all passed
// the check before any was counted: far more than 10 guesses per address
// per window.
func TestAttackConsoleLoginLimitRacedByParallelGuesses(t *testing.T) {
	ts := startConsole(t, nil)
	const n = 60
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	start := make(chan struct{})
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, _ := http.NewRequest(http.MethodPost, ts.url+"/login", strings.NewReader(url.Values{"token": {"wrong-guess"}}.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := http.DefaultTransport.RoundTrip(req)
			if err != nil {
				return
			}
			resp.Body.Close()
			mu.Lock()
			statuses[resp.StatusCode]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	assert.LessOrEqual(t, statuses[http.StatusUnauthorized], 10, "guesses checked in one window: %v", statuses)
	assert.Equal(t, n, statuses[http.StatusUnauthorized]+statuses[http.StatusTooManyRequests], "%v", statuses)
}

// Was a hole: an emergency revoke handled the first 1000 keys of its form
// and dropped the rest without a word: the result page listed what was
// revoked and what failed, and a rogue agent's 1001st key was in neither,
// still working while the operator believed the revoke complete.
func TestAttackEmergencyRevokeDropsKeysPastItsCapSilently(t *testing.T) {
	ts := startConsole(t, nil)
	b := newBrowser(t, ts)
	b.login()
	rogue := ts.connect(t, "http", "rogue-agent")
	last := ts.ok(t, rogue, "create_key", map[string]any{"name": "last"})["key_id"].(string)
	form := url.Values{"created_by": {"rogue-agent 1.2.3 as token"}}
	for i := range 1000 {
		form.Add("key", fmt.Sprintf("local:key_gone%08d", i)) // as if already revoked meanwhile
	}
	form.Add("key", "local:"+last)
	resp, page := b.post("/emergency/revoke", form)
	assert.Equal(t, http.StatusMultiStatus, resp.StatusCode)
	keys, err := ts.app.Manager.ListKeys(context.Background(), manager.ListArgs{})
	require.NoError(t, err)
	if len(keys.Keys) == 1 {
		assert.True(t, strings.Contains(page, last), "a key left unrevoked is named on the result page")
		assert.True(t, strings.Contains(page, "run it again"), "and the page says to run the revoke again")
	}
}
