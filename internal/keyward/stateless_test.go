package keyward

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/manager"
	"github.com/keyward/keyward/internal/secret"
)

// A 2026-07-28 client over streamable HTTP has no session: what it does is
// audited under the name its requests declare, with no session id, and it
// holds no slot of KEYWARD_MAX_SESSIONS.
func TestHTTPStatelessCallsAreAuditedWithoutSession(t *testing.T) {
	ts := startHTTP(t, map[string]string{"KEYWARD_MAX_SESSIONS": "1"})
	ts.connect(t, "http", "holds-the-only-slot")
	c := ts.connect(t, "stateless", "stateless-agent")
	assert.Empty(t, c.GetSessionId())

	id := ts.ok(t, c, "create_key", map[string]any{"name": "no-session"})["key_id"].(string)
	ts.ok(t, c, "revoke_key", map[string]any{"key_id": id})
	recs, err := ts.app.Manager.AuditLog(context.Background(), manager.AuditArgs{Limit: 10})
	require.NoError(t, err)
	require.Len(t, recs.Records, 2)
	for _, r := range recs.Records {
		assert.Equal(t, audit.Record{ClientName: "stateless-agent", ClientVersion: "1.2.3", Transport: "http"},
			audit.Record{SessionID: r.SessionID, ClientName: r.ClientName, ClientVersion: r.ClientVersion, Transport: r.Transport})
	}
	assert.Equal(t, 1, ts.h.sessions.count(), "stateless calls open no session")
}

// Stateless calls are rate limited per principal and client name: the same
// client is limited across its requests, another client has its own budget,
// and refusals are audited.
func TestHTTPStatelessRateLimit(t *testing.T) {
	ts := startHTTP(t, map[string]string{"KEYWARD_RATE_LIMIT": "3"})
	c := ts.connect(t, "stateless", "busy")
	other := ts.connect(t, "stateless", "calm")
	for range 3 {
		ts.ok(t, c, "list_providers", nil)
	}
	res, err := callTool(c, "create_key", map[string]any{"name": "too-many"})
	require.NoError(t, err)
	require.True(t, res.IsError)
	assert.Equal(t, "rate limit: at most 3 tool calls per minute per client; retry in 20 s (the operator sets this with KEYWARD_RATE_LIMIT)", resultText(res))
	ts.ok(t, other, "list_providers", nil)
	ts.clock.Advance(20 * time.Second)
	ts.ok(t, c, "list_providers", nil)

	recs, err := ts.app.Manager.AuditLog(context.Background(), manager.AuditArgs{Outcome: audit.OutcomeRefused, Limit: 10})
	require.NoError(t, err)
	require.Len(t, recs.Records, 1)
	assert.Equal(t, "busy", recs.Records[0].ClientName)
	assert.Empty(t, recs.Records[0].SessionID)
}

// The stateless buckets are bounded: rotating client names neither grows
// the table past KEYWARD_MAX_SESSIONS nor escapes the limit.
func TestStatelessBucketsAreBounded(t *testing.T) {
	ts := startHTTP(t, nil)
	tbl := newSessionTable(3, time.Hour, 1, ts.clock.Now)
	for i := range 100 {
		ok, _, _, _ := tbl.allowCaller("token", fmt.Sprint("client-", i))
		if i < 3 {
			assert.True(t, ok, "a new client has a budget of its own")
		}
	}
	assert.LessOrEqual(t, len(tbl.callers), 4, "at most maxCallers buckets and the overflow one")
	ok, _, _, _ := tbl.allowCaller("token", "client-200")
	assert.False(t, ok, "past the bound, new names share one spent bucket")
	ts.clock.Advance(time.Minute)
	tbl.expire()
	assert.Empty(t, tbl.callers, "full buckets are forgotten")
}

// logging/setLevel (session-based revisions) and the request's own log
// level (2026-07-28) decide which notices a client gets: a refusal by
// policy reaches a client that asked for warnings, and no other.
func TestHTTPLogNotifications(t *testing.T) {
	ts := startHTTP(t, nil)
	type listener struct {
		c     *mcpClient
		level mcp.LoggingLevel
		want  bool
	}
	var clients []listener
	for _, tc := range []struct {
		tr    string
		level mcp.LoggingLevel
		want  bool
	}{
		{"http", mcp.LoggingLevelWarning, true},
		{"http", "", false}, // never set: mcp-go's default is error
		{"stateless", mcp.LoggingLevelInfo, true},
		{"stateless", "", false}, // a request without a level gets no notices
		{"sse", mcp.LoggingLevelWarning, true},
		{"http", mcp.LoggingLevelError, false},
	} {
		c := &mcpClient{Client: ts.connect(t, tc.tr, fmt.Sprintf("%s-%s", tc.tr, tc.level))}
		c.OnNotification(c.record)
		if tc.level != "" {
			//lint:ignore SA1019 logging is deprecated from 2026-07-28 on, but both eras still use it and keyward serves it
			require.NoError(t, c.SetLevel(context.Background(), mcp.SetLevelRequest{Params: mcp.SetLevelParams{Level: tc.level}}))
		}
		clients = append(clients, listener{c, tc.level, tc.want})
	}
	refused := func(c *client.Client) {
		res, err := callTool(c, "create_key", map[string]any{"name": "long", "expires_in": "1y"})
		require.NoError(t, err)
		require.True(t, res.IsError, "past KEYWARD_MAX_TTL: refused")
	}
	for i, cl := range clients {
		refused(cl.c.Client)
		if !cl.want {
			assert.Empty(t, cl.c.messages(), "client %d (level %q)", i, cl.level)
			continue
		}
		// mcp-go now and then hands a notification of a session-based
		// streamable HTTP request to a stream that has just ended (its own
		// conformance baseline lists tools-call-with-logging for it): a
		// session-based client may need another refusal to see one.
		for try := 0; try < 20 && len(cl.c.messages()) == 0; try++ {
			require.Eventually(t, func() bool { return cl.c.Client.IsInitialized() }, time.Minute, time.Millisecond)
			if try > 0 {
				refused(cl.c.Client)
			}
			time.Sleep(10 * time.Millisecond) // SSE: the notice comes on the stream, beside the answer
		}
		got := cl.c.messages()
		require.NotEmpty(t, got, "client %d (level %q)", i, cl.level)
		for _, m := range got {
			assert.Contains(t, m, "warning keyward: keyward refused create_key:")
			assert.Contains(t, m, "KEYWARD_MAX_TTL")
		}
	}

	// Keyward's own work (the reaper) reaches every session that asked with
	// logging/setLevel (2026-07-28 clients, over SSE too, declare a level per
	// request and get notices of their own requests only); secrets are
	// masked on the way.
	leak := ts.ok(t, clients[0].c.Client, "create_key", map[string]any{"name": "masked"})["secret"].(string)
	broadcast{ts.app.clientLog}.Notify(context.Background(), caller.Warning, "keyward could not revoke local key k ("+leak+")")
	for _, i := range []int{0} {
		c := clients[i].c
		before := len(c.messages())
		broadcast{ts.app.clientLog}.Notify(context.Background(), caller.Warning, "keyward could not revoke local key k ("+leak+")")
		if clients[i].c.Client.GetSessionId() != "" {
			// A streamable HTTP session without a GET stream gets it with the
			// answer to its next request.
			ts.ok(t, c.Client, "list_providers", nil)
		}
		require.Eventually(t, func() bool { return len(c.messages()) > before }, time.Minute, 10*time.Millisecond, "client %d", i)
		last := c.messages()[len(c.messages())-1]
		assert.Contains(t, last, "warning keyward: keyward could not revoke local key k (kw_")
		assert.NotContains(t, last, leak)
		assert.False(t, secret.Contains(last))
	}
	assert.Empty(t, clients[1].c.messages())
	for _, m := range clients[4].c.messages() {
		assert.Contains(t, m, "refused create_key", "2026-07-28 over SSE: its own requests' notices only")
	}
}

// mcpClient records the notifications/message a client receives.
type mcpClient struct {
	*client.Client
	mu   sync.Mutex
	msgs []string
}

func (c *mcpClient) record(n mcp.JSONRPCNotification) {
	if n.Method != string(mcp.MethodNotificationMessage) {
		return
	}
	f := n.Params.AdditionalFields
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, fmt.Sprintf("%v %v: %v", f["level"], f["logger"], f["data"]))
}

func (c *mcpClient) messages() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...)
}

// The revision's transport rules, as keyward serves them: an unsupported
// version is refused with the supported ones, a request without client
// capabilities is invalid, and the removed methods are 404 with -32601.
func TestHTTPStatelessProtocolErrors(t *testing.T) {
	ts := startHTTP(t, nil)
	post := func(version, body string) (int, string) {
		status, _, b := ts.raw(t, http.MethodPost, PathMCP, body, map[string]string{
			"Authorization": "Bearer " + testToken, "Mcp-Protocol-Version": version, "Mcp-Method": "server/discover",
		})
		return status, b
	}
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":%q,"io.modelcontextprotocol/clientCapabilities":{}}`
	status, body := post("2026-07-28", `{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{`+fmt.Sprintf(meta, "2026-07-28")+`}}`)
	require.Equal(t, http.StatusOK, status, body)
	assert.Contains(t, body, `"supportedVersions":["2026-07-28","2025-11-25"`)
	assert.Contains(t, body, `"logging":{}`)

	status, body = post("2099-01-01", `{"jsonrpc":"2.0","id":2,"method":"server/discover","params":{`+fmt.Sprintf(meta, "2099-01-01")+`}}`)
	assert.Equal(t, http.StatusBadRequest, status, body)
	assert.Contains(t, body, "2026-07-28")

	status, body = post("2026-07-28", `{"jsonrpc":"2.0","id":3,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`)
	assert.Equal(t, http.StatusBadRequest, status, body)
	assert.Contains(t, body, "clientCapabilities")

	status, _, body = ts.raw(t, http.MethodPost, PathMCP, `{"jsonrpc":"2.0","id":4,"method":"initialize","params":{`+fmt.Sprintf(meta, "2026-07-28")+`}}`,
		map[string]string{"Authorization": "Bearer " + testToken, "Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": "initialize"})
	assert.Equal(t, http.StatusNotFound, status, body)
	assert.Contains(t, body, "-32601")
	assert.Equal(t, 0, ts.h.sessions.count())
}

// Three keyward replicas on one state file behind a plain round-robin proxy
// serve one stateless agent: every call may land on another replica, and
// the agent's work is whole — each replica served some of it, and the state
// file has every key and audit record.
func TestHTTPStatelessReplicasBehindRoundRobin(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keyward.db")
	var targets []*url.URL
	var replicas []*testServer
	for range 3 {
		ts := startHTTP(t, map[string]string{"KEYWARD_DB": db})
		replicas = append(replicas, ts)
		u, err := url.Parse(ts.url)
		require.NoError(t, err)
		targets = append(targets, u)
	}
	var next atomic.Int64
	served := make([]atomic.Int64, len(targets))
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			i := int(next.Add(1)-1) % len(targets)
			served[i].Add(1)
			r.SetURL(targets[i])
			r.Out.Host = targets[i].Host
		},
		FlushInterval: -1,
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: proxy}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	hc := &http.Client{Transport: bearer{token: testToken, next: &http.Transport{}}}
	agent, err := streamableClient(t, "http://"+ln.Addr().String()+PathMCP, hc, "replicated-agent", "")
	require.NoError(t, err)
	require.Equal(t, mcp.ProtocolVersion20260728, agent.ProtocolVersion())
	ts := replicas[0]

	tl, err := agent.ListTools(context.Background(), mcp.ListToolsRequest{})
	require.NoError(t, err)
	assert.Len(t, tl.Tools, len(ts.app.Tools))
	var ids []string
	for i := range 4 {
		created := ts.ok(t, agent, "create_key", map[string]any{"name": fmt.Sprint("replica-key-", i)})
		ids = append(ids, created["key_id"].(string))
		assert.Equal(t, true, ts.ok(t, agent, "validate_key", map[string]any{"key": created["secret"]})["valid"])
		assert.Equal(t, created["name"], ts.ok(t, agent, "get_key", map[string]any{"key_id": created["key_id"]})["name"])
	}
	for _, id := range ids {
		assert.Equal(t, true, ts.ok(t, agent, "revoke_key", map[string]any{"key_id": id})["revoked"])
	}
	assert.Len(t, ts.ok(t, agent, "list_keys", map[string]any{"active": true})["keys"], 0)
	for i := range served {
		assert.Positive(t, served[i].Load(), "replica %d served none of the calls", i)
	}
	recs, err := replicas[2].app.Manager.AuditLog(context.Background(), manager.AuditArgs{Limit: 100})
	require.NoError(t, err)
	var tools []string
	for _, r := range recs.Records {
		tools = append(tools, r.Tool)
		assert.Equal(t, "replicated-agent", r.ClientName)
		assert.Empty(t, r.SessionID)
	}
	assert.Equal(t, strings.Repeat("revoke_key ", 4)+strings.TrimSpace(strings.Repeat("create_key ", 4)), strings.Join(tools, " "))
	for _, r := range replicas {
		assert.Zero(t, r.h.sessions.count(), "no replica holds a session")
	}
}
