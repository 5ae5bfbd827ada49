package keyward

import (
	"context"
	"io"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// matrixHuman answers keyward's questions as the person behind a client
// would: confirms (or declines) acts, and acknowledges secrets shown to them.
type matrixHuman struct {
	confirm bool
	mu      sync.Mutex
	asked   []string // every message shown
}

func (h *matrixHuman) Elicit(_ context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.asked = append(h.asked, req.Params.Message)
	props, _ := req.Params.RequestedSchema.(map[string]any)["properties"].(map[string]any)
	content := map[string]any{}
	switch {
	case props["copied"] != nil:
		content["copied"] = true
	case !h.confirm:
		return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionDecline}}, nil
	default:
		content["confirm"] = true
	}
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionAccept, Content: content}}, nil
}

func (h *matrixHuman) setConfirm(yes bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.confirm = yes
}

func (h *matrixHuman) messages() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.asked...)
}

// matrixClient connects a client over the named transport; with a human,
// it declares elicitation and answers through h.
func (ts *testServer) matrixClient(t *testing.T, transportName string, h *matrixHuman) *client.Client {
	t.Helper()
	var opts []client.ClientOption
	if h != nil {
		opts = append(opts, client.WithElicitationHandler(h))
	}
	var tr transport.Interface
	version := mcp.LATEST_LEGACY_PROTOCOL_VERSION
	switch transportName {
	case "stdio":
		// keyward's own stdio transport, over pipes.
		inR, inW, err := os.Pipe()
		require.NoError(t, err)
		outR, outW, err := os.Pipe()
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { _ = ts.app.ServeStdio(ctx, inR, outW); outW.Close(); close(done) }()
		t.Cleanup(func() { cancel(); inW.Close(); <-done; inR.Close(); outR.Close() })
		tr = transport.NewIO(outR, inW, io.NopCloser(strings.NewReader("")))
	case "sse":
		sse, err := transport.NewSSE(ts.url+PathSSE, transport.WithHeaders(map[string]string{"Authorization": "Bearer " + ts.token}), transport.WithHTTPClient(ts.http))
		require.NoError(t, err)
		tr = sse
	case "streamable-2026":
		version = mcp.ProtocolVersion20260728
		fallthrough
	default:
		st, err := transport.NewStreamableHTTP(ts.url+PathMCP, transport.WithHTTPBasicClient(ts.http))
		require.NoError(t, err)
		tr = st
	}
	c := client.NewClient(tr, opts...)
	require.NoError(t, c.Start(context.Background()))
	t.Cleanup(func() { c.Close() })
	init := clientInfo("matrix-" + transportName)
	init.Params.ProtocolVersion = version
	_, err := c.Initialize(context.Background(), init)
	require.NoError(t, err)
	return c
}

// On every transport keyward speaks, a client that can ask its human gets
// the same confirmations and sees secrets the same way; a client that cannot
// (or the legacy SSE transport, whose sessions cannot carry a question) gets
// what the README documents: the act goes ahead recorded as could_not_ask,
// and the secret goes to a file.
func TestConfirmAndRevealOnEveryTransport(t *testing.T) {
	ts := startHTTP(t, map[string]string{"KEYWARD_REVEAL": "elicit", "KEYWARD_CONFIRM": "true"})
	transports := []string{"stdio", "streamable-2025", "streamable-2026", "sse"}
	for _, tr := range transports {
		for _, canAsk := range []bool{true, false} {
			name := tr + "/cannot-ask"
			if canAsk {
				name = tr + "/can-ask"
			}
			t.Run(name, func(t *testing.T) {
				asks := canAsk && tr != "sse" // SSE sessions cannot carry a question (README)
				var h *matrixHuman
				if canAsk {
					h = &matrixHuman{confirm: true}
				}
				c := ts.matrixClient(t, tr, h)

				// Reveal: a new secret is shown to the human only, or written to a file.
				created := ts.ok(t, c, "create_key", map[string]any{"name": "m-" + strings.ReplaceAll(name, "/", "-")})
				id := created["key_id"].(string)
				assert.Empty(t, created["secret"], "the secret is never in the answer in elicit mode")
				if asks {
					assert.Empty(t, created["secret_file"], "acknowledged: no file is left")
					assert.Equal(t, true, created["acknowledged"])
					require.NotEmpty(t, h.messages())
					assert.Contains(t, h.messages()[0], "kw_", "the human saw the secret")
				} else {
					file, _ := created["secret_file"].(string)
					require.NotEmpty(t, file, "the secret went to a file")
					b, err := os.ReadFile(file)
					require.NoError(t, err)
					assert.True(t, strings.HasPrefix(strings.TrimSpace(string(b)), "kw_"))
					if h != nil {
						assert.Empty(t, h.messages(), "nobody was asked over %s", tr)
					}
				}

				// Confirm: the human is asked before a revoke, or it is recorded that nobody was.
				before := 0
				if h != nil {
					before = len(h.messages())
				}
				res := ts.ok(t, c, "revoke_key", map[string]any{"key_id": id})
				assert.Equal(t, true, res["revoked"])
				if asks {
					assert.Equal(t, "confirmed", res["confirmation"])
					require.Len(t, h.messages(), before+1)
					assert.Contains(t, h.messages()[before], id, "the question names the key")
				} else {
					assert.Equal(t, "could_not_ask", res["confirmation"])
				}

				// A declined confirmation changes nothing, wherever it can be asked.
				if asks {
					other := ts.ok(t, c, "create_key", map[string]any{"name": "keep-" + strings.ReplaceAll(name, "/", "-")})["key_id"].(string)
					h.setConfirm(false)
					r, err := callTool(c, "revoke_key", map[string]any{"key_id": other})
					require.NoError(t, err)
					assert.True(t, r.IsError)
					assert.Contains(t, resultText(r), "declined")
					got := ts.ok(t, c, "get_key", map[string]any{"key_id": other})
					assert.Equal(t, other, got["key_id"], "the key is still there")
				}
			})
		}
	}
}
