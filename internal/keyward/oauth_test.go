package keyward

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/oauth/oauthtest"
)

const resource = "https://keys.example.com/mcp"

func startOAuth(t *testing.T) (*testServer, *oauthtest.Issuer) {
	is := oauthtest.New(t)
	ts := startHTTP(t, map[string]string{"KEYWARD_OAUTH_ISSUER": is.URL(), "KEYWARD_OAUTH_RESOURCE": resource})
	return ts, is
}

// keyward publishes where to get a token (RFC 9728), and a request without
// one is pointed there.
func TestOAuthMetadataAndChallenge(t *testing.T) {
	ts, is := startOAuth(t)
	for _, path := range []string{"/.well-known/oauth-protected-resource/mcp", "/.well-known/oauth-protected-resource"} {
		status, _, body := ts.raw(t, http.MethodGet, path, "", nil)
		require.Equal(t, http.StatusOK, status, path)
		var md map[string]any
		require.NoError(t, json.Unmarshal([]byte(body), &md))
		assert.Equal(t, resource, md["resource"])
		assert.Equal(t, []any{is.URL()}, md["authorization_servers"])
		assert.Equal(t, []any{"keyward:read", "keyward:write"}, md["scopes_supported"])
	}

	status, h, body := ts.raw(t, http.MethodPost, PathMCP, initializeBody, nil)
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.Contains(t, h.Get("WWW-Authenticate"), `resource_metadata="https://keys.example.com/.well-known/oauth-protected-resource/mcp"`)
	assert.Contains(t, rpcMessage(t, body), "OAuth access token for "+resource)
}

func TestOAuthTokensAreCheckedAndScoped(t *testing.T) {
	ts, is := startOAuth(t)
	now := time.Now()
	token := func(scope string, change func(map[string]any)) string {
		c := is.Claims(now, resource, "alice@example.com", scope)
		if change != nil {
			change(c)
		}
		return is.Token("k1", "", "at+jwt", c)
	}

	// A token for another service, an expired one, and one without a
	// keyward scope are refused before MCP sees them.
	for _, tc := range []struct {
		token  string
		status int
		want   string
	}{
		{token("keyward:write", func(c map[string]any) { c["aud"] = "https://other.example.com" }), 401, "not meant for keyward"},
		{token("keyward:write", func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() }), 401, "expired"},
		{token("openid email", nil), 403, "neither scope keyward:read"},
		{"not-a-token", 401, "not a JWT"},
	} {
		status, h, body := ts.raw(t, http.MethodPost, PathMCP, initializeBody, auth(tc.token))
		assert.Equal(t, tc.status, status, body)
		assert.Contains(t, rpcMessage(t, body), tc.want)
		challenge := h.Get("WWW-Authenticate")
		assert.Contains(t, challenge, "resource_metadata=")
		if tc.status == 403 {
			assert.Contains(t, challenge, `error="insufficient_scope"`)
			assert.Contains(t, challenge, `scope="keyward:read keyward:write"`)
		} else {
			assert.Contains(t, challenge, `error="invalid_token"`)
		}
		assert.NotContains(t, body, tc.token, "the token is never repeated")
	}

	// A read token: the read-only tools, and a refusal (audited, naming the
	// principal) for a tool that changes keys.
	read := ts.oauthClient(t, token("keyward:read", nil))
	ts.ok(t, read, "list_keys", nil)
	res, err := callTool(read, "create_key", map[string]any{"name": "x"})
	require.NoError(t, err)
	require.True(t, res.IsError)
	assert.Contains(t, resultText(res), "grants the read-only tools only")

	// A write token: every tool; the key says who made it.
	write := ts.oauthClient(t, token("keyward:read keyward:write", nil))
	created := ts.ok(t, write, "create_key", map[string]any{"name": "by-alice"})
	assert.Contains(t, created["created_by"], "as oauth:alice@example.com")

	recs := ts.ok(t, write, "audit_log", map[string]any{"limit": 10})["records"].([]any)
	var refused, ok bool
	for _, r := range recs {
		rec := r.(map[string]any)
		assert.Equal(t, "oauth:alice@example.com", rec["principal"], "every record names the principal")
		refused = refused || (rec["tool"] == "create_key" && rec["outcome"] == "refused")
		ok = ok || (rec["tool"] == "create_key" && rec["outcome"] == "ok")
	}
	assert.True(t, refused && ok, "the refused and the done create are both audited")

	// The static token still works beside OAuth.
	static := ts.connect(t, "http", "static")
	ts.ok(t, static, "list_keys", nil)

	for _, tok := range []string{token("keyward:read", nil), token("keyward:read keyward:write", nil)} {
		assert.NotContains(t, ts.logs.String(), tok[strings.LastIndex(tok, ".")+1:], "no token signature in the logs")
	}
}

// oauthClient connects a stateless (2026-07-28) client that sends token.
func (ts *testServer) oauthClient(t *testing.T, token string) *client.Client {
	hc := &http.Client{Transport: bearer{token: token, next: http.DefaultTransport}}
	c, err := streamableClient(t, ts.url+PathMCP, hc, "oauth-agent", mcp.ProtocolVersion20260728)
	require.NoError(t, err)
	return c
}
