package keyward

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/manager"
	"github.com/keyward/keyward/internal/testutil"
	"github.com/keyward/keyward/internal/version"
)

// The whole key lifecycle through a real mcp-go client, over each transport,
// with every audit record naming the session, the client and the transport.
func TestHTTPLifecycle(t *testing.T) {
	for _, tr := range []string{"http", "sse"} {
		t.Run(tr, func(t *testing.T) {
			ts := startHTTP(t, nil)
			c := ts.connect(t, tr, "lifecycle-"+tr)
			sid := sessionID(c)
			require.NotEmpty(t, sid, "the client has a session id")

			tl, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
			require.NoError(t, err)
			var names []string
			for _, tool := range tl.Tools {
				names = append(names, tool.Name)
			}
			assert.ElementsMatch(t, ts.app.Tools, names)

			created := ts.ok(t, c, "create_key", map[string]any{"name": "agent-" + tr, "scopes": []any{"read"}})
			id, secret := created["key_id"].(string), created["secret"].(string)
			require.NotEmpty(t, id)
			require.True(t, strings.HasPrefix(secret, "kw_"), "inline reveal puts the secret in the result")

			list := ts.ok(t, c, "list_keys", map[string]any{})
			require.Len(t, list["keys"], 1)
			assert.Equal(t, id, list["keys"].([]any)[0].(map[string]any)["key_id"])
			assert.Equal(t, "agent-"+tr, ts.ok(t, c, "get_key", map[string]any{"key_id": id})["name"])
			assert.Equal(t, true, ts.ok(t, c, "validate_key", map[string]any{"key": secret})["valid"])

			assert.Equal(t, "renamed-"+tr, ts.ok(t, c, "update_key", map[string]any{"key_id": id, "name": "renamed-" + tr})["name"])
			assert.Equal(t, false, ts.ok(t, c, "set_key_active", map[string]any{"key_id": id, "active": false})["active"])
			assert.Equal(t, "disabled", ts.ok(t, c, "validate_key", map[string]any{"key": secret})["status"])
			ts.ok(t, c, "set_key_active", map[string]any{"key_id": id, "active": true})

			rotated := ts.ok(t, c, "rotate_key", map[string]any{"key_id": id})
			newSecret := rotated["secret"].(string)
			require.NotEqual(t, secret, newSecret)
			assert.Equal(t, true, ts.ok(t, c, "validate_key", map[string]any{"key": newSecret})["valid"])

			assert.Equal(t, true, ts.ok(t, c, "revoke_key", map[string]any{"key_id": id})["revoked"])
			v := ts.ok(t, c, "validate_key", map[string]any{"key": newSecret})
			assert.Equal(t, false, v["valid"])
			assert.Equal(t, "revoked", v["status"])

			// audit_log through the transport, and the stored records directly.
			logged := ts.ok(t, c, "audit_log", map[string]any{"key_id": id})
			var tools []string
			for _, r := range logged["records"].([]any) {
				rec := r.(map[string]any)
				tools = append(tools, rec["tool"].(string))
				assert.Equal(t, "ok", rec["outcome"])
				assert.Equal(t, sid, rec["session_id"])
				assert.Equal(t, "lifecycle-"+tr, rec["client_name"])
				assert.Equal(t, "1.2.3", rec["client_version"])
				assert.Equal(t, tr, rec["transport"])
			}
			assert.Equal(t, []string{"revoke_key", "rotate_key", "set_key_active", "set_key_active", "update_key", "create_key"}, tools)
			stored, err := ts.app.Manager.AuditLog(context.Background(), manager.AuditArgs{Limit: 100})
			require.NoError(t, err)
			require.Len(t, stored.Records, 6)
			for _, r := range stored.Records {
				assert.Equal(t, audit.Record{SessionID: sid, ClientName: "lifecycle-" + tr, ClientVersion: "1.2.3", Transport: tr},
					audit.Record{SessionID: r.SessionID, ClientName: r.ClientName, ClientVersion: r.ClientVersion, Transport: r.Transport})
			}
		})
	}
}

// A client that prefers the newest revision gets it on /mcp, without a
// session; one pinned to an older revision still gets a session, on the same
// endpoint.
func TestHTTPStreamableServesBothEras(t *testing.T) {
	ts := startHTTP(t, nil)
	modern, err := ts.streamableOn(t, "modern", "")
	require.NoError(t, err)
	assert.Equal(t, mcp.ProtocolVersion20260728, modern.ProtocolVersion())
	assert.Empty(t, modern.GetSessionId(), "2026-07-28 has no sessions")
	legacy := ts.connect(t, "http", "legacy")
	assert.Equal(t, mcp.LATEST_LEGACY_PROTOCOL_VERSION, legacy.ProtocolVersion())
	assert.True(t, strings.HasPrefix(legacy.GetSessionId(), "mcp-session-"))
	assert.Equal(t, 1, ts.h.sessions.count(), "only the legacy client holds a session")
	for _, c := range []*client.Client{modern, legacy} {
		assert.Equal(t, true, ts.ok(t, c, "validate_key", map[string]any{"key": ts.ok(t, c, "create_key", map[string]any{"name": "era"})["secret"]})["valid"])
	}
}

func TestHTTPAuth(t *testing.T) {
	ts := startHTTP(t, nil)
	c := ts.connect(t, "http", "authed")
	sid := sessionID(c)
	endpoints := []struct{ method, path, body string }{
		{http.MethodPost, PathMCP, initializeBody},
		{http.MethodGet, PathMCP, ""},
		{http.MethodDelete, PathMCP, ""},
		{http.MethodGet, PathSSE, ""},
		{http.MethodPost, PathMessage + "?sessionId=x", `{"jsonrpc":"2.0","id":1,"method":"ping"}`},
	}
	for _, e := range endpoints {
		for name, headers := range map[string]map[string]string{
			"missing":    {hdrSession: sid},
			"wrong":      {"Authorization": "Bearer not-the-token", hdrSession: sid},
			"not bearer": {"Authorization": "Basic " + testToken, hdrSession: sid},
		} {
			status, hdr, body := ts.raw(t, e.method, e.path, e.body, headers)
			assert.Equal(t, http.StatusUnauthorized, status, "%s %s with %s token", e.method, e.path, name)
			assert.True(t, strings.HasPrefix(hdr.Get("WWW-Authenticate"), `Bearer realm="keyward"`), "challenge: %q", hdr.Get("WWW-Authenticate"))
			assert.Contains(t, rpcMessage(t, body), "KEYWARD_HTTP_TOKEN")
			assert.NotContains(t, body, testToken)
		}
	}
	status, hdr, _ := ts.raw(t, http.MethodPost, PathMCP, initializeBody, map[string]string{"Authorization": "Bearer wrong"})
	require.Equal(t, http.StatusUnauthorized, status)
	assert.Equal(t, `Bearer realm="keyward", error="invalid_token"`, hdr.Get("WWW-Authenticate"))

	status, hdr, _ = ts.raw(t, http.MethodPost, PathMCP, initializeBody, auth(testToken))
	assert.Equal(t, http.StatusOK, status, "the right token opens a session")
	assert.NotEmpty(t, hdr.Get(hdrSession))

	// The health check needs no token and tells nothing secret.
	status, _, body := ts.raw(t, http.MethodGet, PathHealth, "", nil)
	require.Equal(t, http.StatusOK, status)
	var health map[string]string
	require.NoError(t, json.Unmarshal([]byte(body), &health))
	assert.Equal(t, map[string]string{"status": "ok", "version": version.Version}, health)
	assert.NotContains(t, body, testToken)
}

const hdrSession = server.HeaderKeySessionID

func TestHTTPLoopbackWithoutToken(t *testing.T) {
	ts := startHTTP(t, map[string]string{"KEYWARD_HTTP_TOKEN": ""})
	c := ts.connect(t, "http", "local-agent")
	assert.NotEmpty(t, ts.ok(t, c, "list_providers", nil)["providers"])
	assert.Contains(t, ts.logs.String(), "no KEYWARD_HTTP_TOKEN", "serving without a token is noted in the log")
}

func TestHTTPOrigin(t *testing.T) {
	t.Run("default: loopback pages only", func(t *testing.T) {
		ts := startHTTP(t, nil)
		for _, origin := range []string{"http://localhost:3000", "https://127.0.0.1", "http://[::1]:6274", "HTTP://LOCALHOST:1"} {
			status, _, body := ts.raw(t, http.MethodPost, PathMCP, initializeBody, map[string]string{"Authorization": "Bearer " + testToken, "Origin": origin})
			assert.Equal(t, http.StatusOK, status, "origin %s: %s", origin, body)
		}
		for _, origin := range []string{"https://evil.example", "http://localhost.evil.example", "null", "file://", "http://192.168.1.10:8377"} {
			status, _, body := ts.raw(t, http.MethodPost, PathMCP, initializeBody, map[string]string{"Authorization": "Bearer " + testToken, "Origin": origin})
			assert.Equal(t, http.StatusForbidden, status, "origin %s", origin)
			assert.Contains(t, rpcMessage(t, body), "KEYWARD_ALLOWED_ORIGINS", "origin %s", origin)
			assert.Contains(t, rpcMessage(t, body), origin)
		}
		status, _, _ := ts.raw(t, http.MethodGet, PathSSE, "", map[string]string{"Authorization": "Bearer " + testToken, "Origin": "https://evil.example"})
		assert.Equal(t, http.StatusForbidden, status, "the SSE stream is checked too")
	})
	t.Run("allow-list", func(t *testing.T) {
		ts := startHTTP(t, map[string]string{"KEYWARD_ALLOWED_ORIGINS": "https://agents.example.com, http://localhost:3000/"})
		allowed := []string{"https://agents.example.com", "https://AGENTS.example.com:443", "http://localhost:3000"}
		for _, origin := range allowed {
			status, _, body := ts.raw(t, http.MethodPost, PathMCP, initializeBody, map[string]string{"Authorization": "Bearer " + testToken, "Origin": origin})
			assert.Equal(t, http.StatusOK, status, "origin %s: %s", origin, body)
		}
		for _, origin := range []string{"http://agents.example.com", "https://agents.example.com:8443", "http://localhost:3001", "https://evil.example"} {
			status, _, body := ts.raw(t, http.MethodPost, PathMCP, initializeBody, map[string]string{"Authorization": "Bearer " + testToken, "Origin": origin})
			assert.Equal(t, http.StatusForbidden, status, "origin %s", origin)
			assert.Contains(t, rpcMessage(t, body), "not listed in KEYWARD_ALLOWED_ORIGINS")
		}
	})
	t.Run("no origin: agents that are not browsers", func(t *testing.T) {
		ts := startHTTP(t, nil)
		status, _, _ := ts.raw(t, http.MethodPost, PathMCP, initializeBody, auth(testToken))
		assert.Equal(t, http.StatusOK, status)
	})
	t.Run("malformed allow-list refuses to start", func(t *testing.T) {
		_, err := parseOrigins([]string{"agents.example.com"})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "KEYWARD_ALLOWED_ORIGINS")
		_, err = parseOrigins([]string{"https://a.example/path"})
		require.Error(t, err)
	})
}

func TestHTTPRefusesNonLoopbackWithoutToken(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8377", ":8377", "[::]:8377", "192.168.1.5:8377", "keyward.example.com:8377", "localhost.evil.example:80"} {
		err := CheckHTTPBind(addr, false)
		require.Error(t, err, addr)
		assert.Contains(t, err.Error(), "KEYWARD_HTTP_TOKEN", addr)
		assert.NoError(t, CheckHTTPBind(addr, true), "%s with a token", addr)
	}
	for _, addr := range []string{"127.0.0.1:8377", "localhost:8377", "LOCALHOST:1", "[::1]:8377", "127.0.0.53:0"} {
		assert.NoError(t, CheckHTTPBind(addr, false), addr)
	}
	assert.Error(t, CheckHTTPBind("8377", false), "not host:port")

	ts := startHTTP(t, map[string]string{"KEYWARD_HTTP_TOKEN": ""})
	_, err := ts.app.ListenHTTP("0.0.0.0:0")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "refusing to serve HTTP on 0.0.0.0:0 without a token")
	// A listener on every interface handed to Serve is refused too.
	ln, err := net.Listen("tcp", ":0")
	require.NoError(t, err)
	defer ln.Close()
	err = ts.h.Serve(context.Background(), ln)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "without a token")
	_, err = ts.app.NewHTTP()
	require.Error(t, err, "one App, one front")
}

func TestHTTPBodyLimit(t *testing.T) {
	ts := startHTTP(t, map[string]string{"KEYWARD_MAX_BODY": "2048"})
	c := ts.connect(t, "http", "big")
	sse := ts.connect(t, "sse", "big-sse")
	big := fmt.Sprintf(`{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"validate_key","arguments":{"key":%q}}}`, strings.Repeat("x", 3000))

	status, _, body := ts.raw(t, http.MethodPost, PathMCP, big, map[string]string{"Authorization": "Bearer " + testToken, hdrSession: sessionID(c)})
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.Contains(t, rpcMessage(t, body), "at most 2048 bytes")
	assert.Contains(t, rpcMessage(t, body), "KEYWARD_MAX_BODY")

	status, _, body = ts.raw(t, http.MethodPost, PathMessage+"?sessionId="+sessionID(sse), big, auth(testToken))
	assert.Equal(t, http.StatusRequestEntityTooLarge, status)
	assert.Contains(t, rpcMessage(t, body), "KEYWARD_MAX_BODY")

	// Without Content-Length the limit still holds while reading.
	req, err := http.NewRequest(http.MethodPost, ts.url+PathMCP, strings.NewReader(big))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(hdrSession, sessionID(c))
	req.ContentLength = -1 // unknown: the body goes chunked
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)

	// A message under the limit goes through on both transports.
	ts.ok(t, c, "list_providers", nil)
	ts.ok(t, sse, "list_providers", nil)
}

func TestHTTPSessionCap(t *testing.T) {
	ts := startHTTP(t, map[string]string{"KEYWARD_MAX_SESSIONS": "2"})
	first := ts.connect(t, "http", "one")
	ts.connect(t, "sse", "two")
	require.Equal(t, 2, ts.h.sessions.count())

	_, err := ts.streamable(t, "three")
	require.Error(t, err, "a third streamable session is refused")
	assert.Contains(t, err.Error(), "at most 2 concurrent sessions (KEYWARD_MAX_SESSIONS)")
	_, err = ts.sse(t, "three-sse")
	require.Error(t, err, "a third SSE session is refused")

	status, hdr, body := ts.raw(t, http.MethodPost, PathMCP, initializeBody, auth(testToken))
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.NotEmpty(t, hdr.Get("Retry-After"))
	assert.Contains(t, rpcMessage(t, body), "KEYWARD_MAX_SESSIONS")
	assert.Contains(t, body, `"id":1`, "the refusal answers the initialize request")
	status, _, body = ts.raw(t, http.MethodGet, PathSSE, "", auth(testToken))
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Contains(t, rpcMessage(t, body), "KEYWARD_MAX_SESSIONS")

	// A made-up session id does not get around the cap.
	status, _, body = ts.raw(t, http.MethodPost, PathMCP, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, map[string]string{"Authorization": "Bearer " + testToken, hdrSession: "mcp-session-made-up"})
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, rpcMessage(t, body), "start a new session")

	// Initializing again on a live session opens a new one, which needs a slot too.
	status, _, body = ts.raw(t, http.MethodPost, PathMCP, initializeBody, map[string]string{"Authorization": "Bearer " + testToken, hdrSession: sessionID(first)})
	assert.Equal(t, http.StatusServiceUnavailable, status, body)

	// Closing a session frees its slot.
	require.NoError(t, first.Close())
	require.Equal(t, 1, ts.h.sessions.count())
	ts.connect(t, "http", "three")
	assert.Equal(t, 2, ts.h.sessions.count())
}

func TestHTTPReinitializeOpensANewSession(t *testing.T) {
	ts := startHTTP(t, nil)
	c := ts.connect(t, "http", "again")
	status, hdr, body := ts.raw(t, http.MethodPost, PathMCP, initializeBody, map[string]string{"Authorization": "Bearer " + testToken, hdrSession: sessionID(c)})
	require.Equal(t, http.StatusOK, status, body)
	assert.NotEmpty(t, hdr.Get(hdrSession))
	assert.NotEqual(t, sessionID(c), hdr.Get(hdrSession))
	assert.Equal(t, 2, ts.h.sessions.count())
}

func TestHTTPRateLimit(t *testing.T) {
	for _, tr := range []string{"http", "sse"} {
		t.Run(tr, func(t *testing.T) {
			ts := startHTTP(t, map[string]string{"KEYWARD_RATE_LIMIT": "3"})
			c := ts.connect(t, tr, "busy")
			other := ts.connect(t, tr, "calm")
			for range 3 {
				ts.ok(t, c, "list_providers", nil)
			}
			res, err := callTool(c, "list_providers", nil)
			require.NoError(t, err)
			require.True(t, res.IsError, "the fourth call in a minute is refused")
			assert.Equal(t, "rate limit: at most 3 tool calls per minute per session; retry in 20 s (the operator sets this with KEYWARD_RATE_LIMIT)", resultText(res))

			ts.ok(t, other, "list_providers", nil) // another session has its own budget
			_, err = c.ListTools(context.Background(), mcp.ListToolsRequest{})
			require.NoError(t, err, "only tool calls are limited")

			ts.clock.Advance(19 * time.Second)
			res, err = callTool(c, "list_providers", nil)
			require.NoError(t, err)
			assert.Contains(t, resultText(res), "retry in 1 s")
			ts.clock.Advance(time.Second)
			ts.ok(t, c, "list_providers", nil)
		})
	}
}

// SSE sessions idle for KEYWARD_SESSION_IDLE are closed by keyward's sweep.
func TestHTTPIdleSSESessionsExpire(t *testing.T) {
	ts := startHTTP(t, map[string]string{"KEYWARD_SESSION_IDLE": "10m"})
	idleSSE := ts.connect(t, "sse", "idle-sse")
	lost := make(chan error, 1)
	idleSSE.OnConnectionLost(func(err error) { lost <- err })
	active := ts.connect(t, "sse", "active")
	require.Equal(t, 2, ts.h.sessions.count())

	ts.clock.Advance(9 * time.Minute)
	assert.Zero(t, ts.h.Sweep(), "nothing is idle for 10 minutes yet")
	ts.ok(t, active, "list_providers", nil)
	ts.clock.Advance(time.Minute)
	assert.Equal(t, 1, ts.h.Sweep())
	assert.Equal(t, 1, ts.h.sessions.count())

	receive(t, lost, "the SSE stream of the expired session to close")
	status, _, body := ts.raw(t, http.MethodPost, PathMessage+"?sessionId="+sessionID(idleSSE), `{"jsonrpc":"2.0","id":1,"method":"ping"}`, auth(testToken))
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, rpcMessage(t, body), "KEYWARD_SESSION_IDLE=10m")
	ts.ok(t, active, "list_providers", nil)
}

// Streamable HTTP sessions idle for KEYWARD_SESSION_IDLE are closed by
// mcp-go's own sweeper (WithSessionIdleTTL), which tells keyward's table: the
// slot is free again and the id is refused with 404. This runs on the real
// clock, as mcp-go's sweeper does.
func TestHTTPIdleStreamableSessionsExpire(t *testing.T) {
	ts := startHTTP(t, map[string]string{"KEYWARD_SESSION_IDLE": "1s"})
	idle := ts.connect(t, "http", "idle")
	idleID := sessionID(idle)
	active := ts.connect(t, "http", "active")
	require.Equal(t, 2, ts.h.sessions.count())
	deadline := time.Now().Add(time.Minute) // turns a hang into a failure; asserts nothing about speed
	for ts.h.sessions.count() > 1 {
		require.True(t, time.Now().Before(deadline), "the idle session was never closed")
		ts.ok(t, active, "list_providers", nil)
		time.Sleep(100 * time.Millisecond)
	}
	_, err := callTool(idle, "list_providers", nil)
	require.Error(t, err, "an expired session is gone")
	assert.Contains(t, err.Error(), "session terminated")
	status, _, body := ts.raw(t, http.MethodPost, PathMCP, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
		map[string]string{"Authorization": "Bearer " + testToken, hdrSession: idleID})
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, rpcMessage(t, body), "KEYWARD_SESSION_IDLE=1s")
	ts.ok(t, active, "list_providers", nil)
}

// Shutdown while tool calls are running: they finish, their answers reach the
// clients, every key they made is in the state file with its audit record.
func TestHTTPShutdownFinishesCallsInFlight(t *testing.T) {
	ts := startHTTP(t, nil)
	const perTransport = 4
	started := make(chan struct{}, 2*perTransport)
	release := make(chan struct{})
	releaseOnce := sync.OnceFunc(func() { close(release) })
	t.Cleanup(releaseOnce) // a failing test must not leave shutdown waiting
	ts.app.MCP.Use(func(next server.ToolHandlerFunc) server.ToolHandlerFunc {
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if req.Params.Name == "create_key" {
				started <- struct{}{}
				<-release
			}
			return next(ctx, req)
		}
	})
	type answer struct {
		res *mcp.CallToolResult
		err error
	}
	answers := make(chan answer, 2*perTransport)
	var streamableClient *client.Client
	for _, tr := range []string{"http", "sse"} {
		for i := range perTransport {
			c := ts.connect(t, tr, fmt.Sprintf("%s-%d", tr, i))
			if tr == "http" {
				streamableClient = c
			}
			go func() {
				res, err := callTool(c, "create_key", map[string]any{"name": fmt.Sprintf("inflight-%s-%d", tr, i)})
				answers <- answer{res, err}
			}()
		}
	}
	for range 2 * perTransport {
		receive(t, started, "the calls to start")
	}
	stopped := make(chan struct{})
	go func() { ts.stop(); close(stopped) }()
	waitFor(t, "shutdown to begin", ts.h.calls.isDraining)
	// Shutdown has begun: no new connections...
	waitFor(t, "the listener to close", func() bool {
		conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
		if err != nil {
			return true
		}
		conn.Close()
		return false
	})
	// ...no new sessions or tool calls (asked in-process, as the listener is closed)...
	status, body := serveInProcess(ts.h, http.MethodGet, PathHealth, "", nil)
	assert.Equal(t, http.StatusServiceUnavailable, status, "health says shutting down: %s", body)
	status, body = serveInProcess(ts.h, http.MethodPost, PathMCP, initializeBody, auth(testToken))
	assert.Equal(t, http.StatusServiceUnavailable, status)
	assert.Contains(t, body, "shutting down")
	status, body = serveInProcess(ts.h, http.MethodPost, PathMCP, `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"list_providers","arguments":{}}}`,
		map[string]string{"Authorization": "Bearer " + testToken, hdrSession: sessionID(streamableClient)})
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "keyward is shutting down, so this call was not made")
	// ...and the calls in flight finish.
	releaseOnce()
	receive(t, stopped, "shutdown to finish")

	var created []string
	for range 2 * perTransport {
		a := receive(t, answers, "an answer")
		require.NoError(t, a.err)
		require.False(t, a.res.IsError, resultText(a.res))
		created = append(created, a.res.StructuredContent.(map[string]any)["key_id"].(string))
	}
	require.NoError(t, ts.closeApp())

	// Reopen the state file: every key is there, each with its audit record.
	app, err := New(context.Background(), ts.app.Config, ts.app.Log)
	require.NoError(t, err)
	defer app.Close()
	keys, err := app.Local.List(context.Background())
	require.NoError(t, err)
	var ids []string
	for _, k := range keys {
		ids = append(ids, k.ID)
	}
	assert.ElementsMatch(t, created, ids)
	recs, err := app.Manager.AuditLog(context.Background(), manager.AuditArgs{Limit: 100})
	require.NoError(t, err)
	var audited []string
	var refused []audit.Record
	for _, r := range recs.Records {
		if r.Outcome == audit.OutcomeRefused {
			refused = append(refused, r)
			continue
		}
		assert.Equal(t, "create_key", r.Tool)
		assert.Equal(t, "ok", r.Outcome)
		assert.NotEmpty(t, r.SessionID)
		audited = append(audited, r.KeyID)
	}
	assert.ElementsMatch(t, created, audited)
	// The call refused during shutdown is on record too, with who made it.
	require.Len(t, refused, 1)
	assert.Equal(t, "list_providers", refused[0].Tool)
	assert.Contains(t, refused[0].Error, "shutting down")
	assert.Equal(t, fmt.Sprintf("http-%d", perTransport-1), refused[0].ClientName)
	assert.Equal(t, sessionID(streamableClient), refused[0].SessionID)
	assert.Equal(t, "http", refused[0].Transport)
}

// 200 sessions at once, each creating, validating and revoking a key.
func TestHTTPManyConcurrentSessions(t *testing.T) {
	const sessions = 200
	ts := startHTTP(t, map[string]string{"KEYWARD_LOCAL_MAX_KEYS": "1000"})
	var wg sync.WaitGroup
	errs := make(chan error, sessions)
	sids := make([]string, sessions)
	for i := range sessions {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tr := "http"
			if i%4 == 3 {
				tr = "sse"
			}
			err := func() error {
				var c *client.Client
				var err error
				if tr == "sse" {
					c, err = ts.sse(t, fmt.Sprintf("agent-%d", i))
				} else {
					c, err = ts.streamable(t, fmt.Sprintf("agent-%d", i))
				}
				if err != nil {
					return fmt.Errorf("session %d: connect: %w", i, err)
				}
				sids[i] = sessionID(c)
				call := func(name string, args map[string]any) (map[string]any, error) {
					res, err := callTool(c, name, args)
					if err != nil {
						return nil, fmt.Errorf("session %d: %s: %w", i, name, err)
					}
					if res.IsError {
						return nil, fmt.Errorf("session %d: %s: %s", i, name, resultText(res))
					}
					return res.StructuredContent.(map[string]any), nil
				}
				created, err := call("create_key", map[string]any{"name": fmt.Sprintf("k-%d", i)})
				if err != nil {
					return err
				}
				ts.sawSecret(created["secret"].(string))
				v, err := call("validate_key", map[string]any{"key": created["secret"]})
				if err != nil {
					return err
				}
				if v["valid"] != true {
					return fmt.Errorf("session %d: the new key is not valid: %v", i, v)
				}
				_, err = call("revoke_key", map[string]any{"key_id": created["key_id"]})
				return err
			}()
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}

	recs, err := ts.app.Manager.AuditLog(context.Background(), manager.AuditArgs{Limit: 500})
	require.NoError(t, err)
	require.Len(t, recs.Records, 2*sessions, "exactly create_key and revoke_key per session")
	perSession := map[string][]string{}
	for _, r := range recs.Records {
		assert.Equal(t, "ok", r.Outcome)
		perSession[r.SessionID] = append(perSession[r.SessionID], r.Tool)
	}
	require.Len(t, perSession, sessions)
	for _, sid := range sids {
		tools := perSession[sid]
		slices.Sort(tools)
		assert.Equal(t, []string{"create_key", "revoke_key"}, tools, "session %s", sid)
	}

	live, err := ts.app.Local.List(context.Background())
	require.NoError(t, err)
	assert.Empty(t, live, "no live keys are left")
	var total, unrevoked int
	require.NoError(t, ts.app.Store.DB().QueryRow(`SELECT count(*), count(*) FILTER (WHERE revoked_at IS NULL) FROM local_keys`).Scan(&total, &unrevoked))
	assert.Equal(t, sessions, total)
	assert.Zero(t, unrevoked)
}

func TestRateLimitBucket(t *testing.T) {
	clk := testutil.NewClock(time.Now())
	tbl := newSessionTable(10, time.Hour, 2, clk.Now)
	res, err := tbl.reserve()
	require.NoError(t, err)
	tbl.claim(res, "s1", "http")
	allow := func() (bool, time.Duration) { ok, wait, _, _ := tbl.allow("s1"); return ok, wait }

	for range 2 {
		ok, _ := allow()
		require.True(t, ok, "a full bucket allows a burst of KEYWARD_RATE_LIMIT calls")
	}
	ok, wait := allow()
	assert.False(t, ok)
	assert.Equal(t, 30*time.Second, wait, "2 a minute: one token every 30 s")
	clk.Advance(30 * time.Second)
	ok, _ = allow()
	assert.True(t, ok)
	ok, wait = allow()
	assert.False(t, ok)
	assert.Equal(t, 30*time.Second, wait)
	clk.Advance(time.Hour)
	for range 2 {
		ok, _ = allow()
		assert.True(t, ok, "an idle session's bucket refills, but not beyond its size")
	}
	ok, _ = allow()
	assert.False(t, ok)
	ok, _, _, _ = tbl.allow("unknown")
	assert.True(t, ok, "only sessions keyward tracks are limited")
}

// mcp-go names an unknown method or tool in its error, so a long or secret
// one is refused at the door instead of being sent back.
func TestHTTPLongOrSecretNamesAreNotEchoed(t *testing.T) {
	ts := startHTTP(t, nil)
	c := ts.connect(t, "http", "names")
	sse := ts.connect(t, "sse", "names-sse")
	secretKey := "kw_" + strings.Repeat("A", 43)
	// A well-formed keyward key: its checksum must match for the scanner.
	k := ts.ok(t, c, "create_key", map[string]any{"name": "s"})
	if s, ok := k["secret"].(string); ok {
		secretKey = s
	}
	for _, body := range []string{
		fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q}`, strings.Repeat("M", 100000)),
		fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":%q,"arguments":{}}}`, strings.Repeat("T", 100000)),
		fmt.Sprintf(`{"jsonrpc":"2.0","id":%q,"method":"tools/list"}`, strings.Repeat("I", 100000)),
		fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":%q,"arguments":{}}}`, secretKey),
	} {
		for _, target := range []struct{ path, sid string }{{PathMCP, sessionID(c)}, {PathMessage + "?sessionId=" + sessionID(sse), ""}} {
			hdr := map[string]string{"Authorization": "Bearer " + testToken}
			if target.sid != "" {
				hdr[hdrSession] = target.sid
			}
			status, _, out := ts.raw(t, http.MethodPost, target.path, body, hdr)
			assert.Equal(t, http.StatusBadRequest, status)
			assert.Less(t, len(out), 500, "the answer is short")
			assert.NotContains(t, string(out), secretKey)
		}
	}
}
