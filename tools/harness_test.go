package tools_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/manager"
	"github.com/keyward/keyward/internal/testutil"
)

// human answers elicitation requests as a test says and remembers them.
type human struct {
	mu       sync.Mutex
	action   mcp.ElicitationResponseAction
	content  map[string]any
	messages []string
}

func (h *human) Elicit(ctx context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.messages = append(h.messages, req.Params.Message)
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: h.action, Content: h.content}}, nil
}

func (h *human) seen() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.messages...)
}

type harness struct {
	logs    *testutil.SyncBuffer
	secrets []string // every secret a test saw; none may reach logs or the audit log
	t       testing.TB
	app     *keyward.App
	client  *client.Client
	clock   *testutil.Clock
	dir     string
	human   *human
}

type harnessOption func(*harnessConfig)

type harnessConfig struct {
	env   map[string]string
	human *human
	name  string
	opts  []keyward.Option
}

// serving builds keyward as keyward serve does (its console's defaults).
func serving() harnessOption {
	return func(c *harnessConfig) { c.opts = append(c.opts, keyward.Serving()) }
}

func withEnv(kv ...string) harnessOption {
	return func(c *harnessConfig) {
		for i := 0; i+1 < len(kv); i += 2 {
			c.env[kv[i]] = kv[i+1]
		}
	}
}

func withHuman(h *human) harnessOption { return func(c *harnessConfig) { c.human = h } }

// newHarness starts keyward in-process on a fresh state file and connects a
// client that speaks the 2025-11-25 protocol (the one with mid-call elicitation).
func newHarness(t testing.TB, opts ...harnessOption) *harness {
	t.Helper()
	dir := t.TempDir()
	hc := harnessConfig{env: map[string]string{"KEYWARD_DB": filepath.Join(dir, "keyward.db")}, name: "test-client"}
	for _, o := range opts {
		o(&hc)
	}
	cfg, err := config.LoadFrom(hc.env)
	require.NoError(t, err)
	clk := testutil.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	logs := &testutil.SyncBuffer{}
	app, err := keyward.New(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), append(hc.opts, keyward.WithClock(clk.Now))...)
	require.NoError(t, err)
	t.Cleanup(func() { app.Close() })

	copts := []client.ClientOption{client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION)}
	if hc.human != nil {
		copts = append(copts, client.WithElicitationHandler(hc.human))
	}
	c, err := client.NewInProcessClientWithOptions(app.MCP, copts...)
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, c.Start(ctx))
	t.Cleanup(func() { c.Close() })
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: hc.name, Version: "1.2.3"}
	_, err = c.Initialize(ctx, init)
	require.NoError(t, err)
	h := &harness{t: t, app: app, client: c, clock: clk, dir: dir, human: hc.human, logs: logs}
	t.Cleanup(h.scanForLeaks)
	return h
}

// scanForLeaks fails the test if any secret it saw is in the logs, the audit
// log or the state file.
func (h *harness) scanForLeaks() {
	if len(h.secrets) == 0 {
		return
	}
	recs, err := h.app.Manager.AuditLog(context.Background(), manager.AuditArgs{Limit: 500})
	require.NoError(h.t, err)
	auditJSON, _ := json.Marshal(recs)
	var db []byte
	for _, suffix := range []string{"", "-wal"} {
		b, _ := os.ReadFile(h.app.Config.DB + suffix)
		db = append(db, b...)
	}
	for _, s := range h.secrets {
		assert.NotContains(h.t, h.logs.String(), s, "a secret reached the logs")
		assert.NotContains(h.t, string(auditJSON), s, "a secret reached the audit log")
		assert.NotContains(h.t, string(db), s, "a secret reached the state file")
	}
}

func (h *harness) call(name string, args map[string]any) *mcp.CallToolResult {
	h.t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := h.client.CallTool(context.Background(), req)
	require.NoError(h.t, err, "protocol error calling %s", name)
	return res
}

// ok calls a tool that must succeed and returns its structured content as JSON-shaped maps.
func (h *harness) ok(name string, args map[string]any) map[string]any {
	h.t.Helper()
	res := h.call(name, args)
	require.False(h.t, res.IsError, "%s failed: %s", name, text(res))
	require.NotEmpty(h.t, text(res), "%s returned no text", name)
	h.checkOutput(name, res.StructuredContent)
	raw, err := json.Marshal(res.StructuredContent)
	require.NoError(h.t, err)
	var out map[string]any
	require.NoError(h.t, json.Unmarshal(raw, &out))
	if s, ok := out["secret"].(string); ok {
		h.secrets = append(h.secrets, s)
	}
	if f, ok := out["secret_file"].(string); ok {
		if b, err := os.ReadFile(f); err == nil {
			h.secrets = append(h.secrets, strings.TrimSpace(string(b)))
		}
	}
	return out
}

// fail calls a tool that must fail and returns its error text.
func (h *harness) fail(name string, args map[string]any) string {
	h.t.Helper()
	res := h.call(name, args)
	require.True(h.t, res.IsError, "%s should have failed: %s", name, text(res))
	return text(res)
}

func text(res *mcp.CallToolResult) string {
	out := ""
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			out += tc.Text
		}
	}
	return out
}

func strs(v any) []string {
	list, _ := v.([]any)
	out := []string{}
	for _, x := range list {
		out = append(out, x.(string))
	}
	return out
}
