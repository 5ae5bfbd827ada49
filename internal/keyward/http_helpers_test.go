package keyward

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/testutil"
)

const testToken = "test-token-5b0c1f8e9d2a4f67"

// testServer is keyward serve in-process on a random loopback port.
type testServer struct {
	t      testing.TB
	app    *App
	h      *HTTP
	url    string
	token  string
	clock  *testutil.Clock
	logs   *testutil.SyncBuffer
	cancel context.CancelFunc
	done   chan error
	http   *http.Client // sends the bearer token on every request

	mu      sync.Mutex
	secrets []string

	closeOnce sync.Once
	closeErr  error
}

// startHTTP starts keyward's HTTP front with a fresh state file, inline
// secrets and a bearer token; env overrides or adds settings ("" unsets the token).
func startHTTP(t testing.TB, env map[string]string) *testServer {
	t.Helper()
	return startHTTPWith(t, env, nil, nil)
}

// startHTTPWith is startHTTP with tune applied to the front before it serves
// (shorter time bounds) and the listener wrapped by wrap; either may be nil.
func startHTTPWith(t testing.TB, env map[string]string, tune func(*HTTP), wrap func(net.Listener) net.Listener) *testServer {
	t.Helper()
	vars := map[string]string{
		"KEYWARD_DB":         filepath.Join(t.TempDir(), "keyward.db"),
		"KEYWARD_REVEAL":     "inline",
		"KEYWARD_HTTP_TOKEN": testToken,
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.LoadFrom(vars)
	require.NoError(t, err)
	logs := &testutil.SyncBuffer{}
	level := slog.LevelDebug // tests read everything keyward logs...
	if _, set := env["KEYWARD_LOG_LEVEL"]; set {
		level = cfg.Level // ...benchmarks only what they must
	}
	app, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: level})), Serving())
	require.NoError(t, err)
	clk := testutil.NewClock(time.Now())
	h, err := newHTTP(app, clk.Now)
	require.NoError(t, err)
	if tune != nil {
		tune(h)
	}
	var ln net.Listener
	ln, err = net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	if wrap != nil {
		ln = wrap(ln)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ts := &testServer{t: t, app: app, h: h, url: "http://" + ln.Addr().String(), token: cfg.HTTPToken, clock: clk, logs: logs, cancel: cancel, done: make(chan error, 1)}
	ts.http = &http.Client{Transport: bearer{token: ts.token, next: &http.Transport{MaxIdleConns: 512, MaxIdleConnsPerHost: 512}}}
	go func() { ts.done <- h.Serve(ctx, ln) }()
	// Serving: tests that call keyward in-process rely on what Serve sets up.
	waitFor(t, "keyward to serve", func() bool {
		resp, err := http.Get(ts.url + PathHealth)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return true
	})
	t.Cleanup(func() {
		ts.stop()
		assert.NoError(t, ts.closeApp())
		ts.scanForLeaks()
	})
	return ts
}

// stop shuts the front down as SIGTERM would and waits for it.
func (ts *testServer) stop() {
	ts.cancel()
	if ts.done != nil {
		assert.NoError(ts.t, <-ts.done)
		ts.done = nil
	}
}

func (ts *testServer) closeApp() error {
	ts.closeOnce.Do(func() { ts.closeErr = ts.app.Close() })
	return ts.closeErr
}

// scanForLeaks fails the test if the token or a secret it saw reached the logs.
func (ts *testServer) scanForLeaks() {
	logs := ts.logs.String()
	if ts.token != "" {
		assert.NotContains(ts.t, logs, ts.token, "the HTTP token reached the logs")
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, s := range ts.secrets {
		assert.NotContains(ts.t, logs, s, "a secret reached the logs")
	}
}

func (ts *testServer) sawSecret(s string) {
	ts.mu.Lock()
	ts.secrets = append(ts.secrets, s)
	ts.mu.Unlock()
}

// bearer adds the token to every request, the DELETE that ends a streamable
// session included (mcp-go's client sends that one without custom headers).
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if b.token != "" {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	return b.next.RoundTrip(r)
}

func clientInfo(name string) mcp.InitializeRequest {
	var init mcp.InitializeRequest
	init.Params.ClientInfo = mcp.Implementation{Name: name, Version: "1.2.3"}
	return init
}

// streamable connects an mcp-go streamable HTTP client on a session-based
// revision (the newest: 2025-11-25).
func (ts *testServer) streamable(t testing.TB, name string) (*client.Client, error) {
	return ts.streamableOn(t, name, mcp.LATEST_LEGACY_PROTOCOL_VERSION)
}

// streamableOn connects an mcp-go streamable HTTP client preferring protocol
// version (2026-07-28: stateless; "": whatever it negotiates).
func (ts *testServer) streamableOn(t testing.TB, name, version string) (*client.Client, error) {
	return streamableClient(t, ts.url+PathMCP, ts.http, name, version)
}

func streamableClient(t testing.TB, url string, hc *http.Client, name, version string, opts ...transport.StreamableHTTPCOption) (*client.Client, error) {
	c, err := client.NewStreamableHttpClient(url, append([]transport.StreamableHTTPCOption{transport.WithHTTPBasicClient(hc)}, opts...)...)
	require.NoError(t, err)
	require.NoError(t, c.Start(context.Background())) // notifications reach OnNotification handlers
	init := clientInfo(name)
	init.Params.ProtocolVersion = version
	if _, err := c.Initialize(context.Background(), init); err != nil {
		c.Close()
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return c, nil
}

// sse connects an mcp-go SSE client with the token as a header.
func (ts *testServer) sse(t testing.TB, name string) (*client.Client, error) {
	c, err := client.NewSSEMCPClient(ts.url+PathSSE, client.WithHeaders(map[string]string{"Authorization": "Bearer " + ts.token}), client.WithHTTPClient(ts.http))
	require.NoError(t, err)
	if err := c.Start(context.Background()); err != nil {
		c.Close()
		return nil, err
	}
	if _, err := c.Initialize(context.Background(), clientInfo(name)); err != nil {
		c.Close()
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return c, nil
}

func (ts *testServer) connect(t testing.TB, transportName, name string) *client.Client {
	t.Helper()
	var c *client.Client
	var err error
	switch transportName {
	case "sse":
		c, err = ts.sse(t, name)
	case "stateless":
		c, err = ts.streamableOn(t, name, mcp.ProtocolVersion20260728)
		if err == nil {
			require.Equal(t, mcp.ProtocolVersion20260728, c.ProtocolVersion(), "the client speaks the stateless revision")
		}
	default:
		c, err = ts.streamable(t, name)
	}
	require.NoError(t, err)
	return c
}

// sessionID is the id keyward gave the client's session.
func sessionID(c *client.Client) string {
	if id := c.GetSessionId(); id != "" {
		return id
	}
	if _, ok := c.GetTransport().(*transport.SSE); ok {
		return client.GetEndpoint(c).Query().Get("sessionId")
	}
	return ""
}

func callTool(c *client.Client, name string, args map[string]any) (*mcp.CallToolResult, error) {
	var req mcp.CallToolRequest
	req.Params.Name = name
	req.Params.Arguments = args
	return c.CallTool(context.Background(), req)
}

// ok calls a tool that must succeed and returns its structured result.
func (ts *testServer) ok(t testing.TB, c *client.Client, name string, args map[string]any) map[string]any {
	t.Helper()
	res, err := callTool(c, name, args)
	require.NoError(t, err, "calling %s", name)
	require.False(t, res.IsError, "%s failed: %s", name, resultText(res))
	raw, err := json.Marshal(res.StructuredContent)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(raw, &out))
	if s, ok := out["secret"].(string); ok {
		ts.sawSecret(s)
	}
	return out
}

func resultText(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// raw sends one HTTP request with the given headers and returns status, headers and body.
func (ts *testServer) raw(t testing.TB, method, path string, body string, headers map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, ts.url+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var b []byte
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, err = io.ReadAll(resp.Body)
		require.NoError(t, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

// serveInProcess sends a request straight to the handler, without a connection.
func serveInProcess(h http.Handler, method, path, body string, headers map[string]string) (int, string) {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func auth(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`

// rpcMessage is the error message of a JSON-RPC error body.
func rpcMessage(t testing.TB, body string) string {
	t.Helper()
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &e), "body: %s", body)
	return e.Error.Message
}

// receive waits for a value on ch; the bound only turns a hang into a
// failure, it asserts nothing about speed.
func receive[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(time.Minute):
		t.Fatalf("gave up waiting for %s", what)
		panic("unreachable")
	}
}
