package keyward

// Attacks on the operator's console and one-time links by a hostile web
// page, agent or local process. Each test failed because of the hole it
// demonstrates, and passes now that the hole is closed.

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
