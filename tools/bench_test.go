package tools_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider/vast/vastfake"
)

// BenchmarkListKeys100 is one list_keys tool call on a store of 100 keys
// through the in-process MCP client: argument checks, the state file, JSON and
// all. "page-of-100" returns every key in one answer; "default-page" is the
// call a model makes without arguments (the first 50, total 100).
// Target: under 1 ms per call.
func BenchmarkListKeys100(b *testing.B) {
	h := newHarness(b, withEnv("KEYWARD_REVEAL", "inline"))
	for i := 0; i < 100; i++ {
		res := h.call("create_key", map[string]any{"name": "bench"})
		require.False(b, res.IsError)
	}
	for _, bc := range []struct {
		name string
		args map[string]any
	}{{"page-of-100", map[string]any{"limit": 100}}, {"default-page", map[string]any{}}} {
		b.Run(bc.name, func(b *testing.B) {
			req := mcp.CallToolRequest{}
			req.Params.Name = "list_keys"
			req.Params.Arguments = bc.args
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				res, err := h.client.CallTool(ctx, req)
				if err != nil || res.IsError {
					b.Fatalf("list_keys failed: %v %v", err, res)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/call")
		})
	}
}

// BenchmarkListKeys100ServerSide is the same call as a transport hands it to
// keyward: raw JSON-RPC in, encoded JSON-RPC out, no client-side decoding.
func BenchmarkListKeys100ServerSide(b *testing.B) {
	h := newHarness(b, withEnv("KEYWARD_REVEAL", "inline"))
	for i := 0; i < 100; i++ {
		require.False(b, h.call("create_key", map[string]any{"name": "bench"}).IsError)
	}
	msg := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_keys","arguments":{"limit":100}}}`)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		out, err := json.Marshal(h.app.MCP.HandleMessage(ctx, msg))
		if err != nil || !bytes.Contains(out, []byte(`"total":100`)) {
			b.Fatalf("list_keys failed: %v %s", err, out)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/call")
}

// BenchmarkVastOverhead compares a list_keys tool call on Vast.ai (through its
// contract fake, as a transport hands it to keyward) with the bare HTTP round
// trip it makes. The difference is what keyward adds; target: under 1 ms.
func BenchmarkVastOverhead(b *testing.B) {
	f := vastfake.New()
	defer f.Close()
	for i := 0; i < 10; i++ {
		f.AddKey(fmt.Sprintf("k%d", i), []string{"instance_read"})
	}
	b.Run("raw-http", func(b *testing.B) {
		client := &http.Client{}
		req, _ := http.NewRequest(http.MethodGet, f.URL()+"/auth/apikeys/", nil)
		req.Header.Set("Authorization", "Bearer "+f.APIKey())
		for b.Loop() {
			resp, err := client.Do(req)
			if err != nil || resp.StatusCode != 200 {
				b.Fatalf("raw request failed: %v", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/call")
	})
	b.Run("tool-call", func(b *testing.B) {
		h := newHarness(b, withEnv("VAST_API_KEY", f.APIKey(), "VAST_API_URL", f.URL()))
		msg := []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_keys","arguments":{"provider":"vast"}}}`)
		ctx := context.Background()
		for b.Loop() {
			out, err := json.Marshal(h.app.MCP.HandleMessage(ctx, msg))
			if err != nil || !bytes.Contains(out, []byte(`"total":11`)) {
				b.Fatalf("list_keys failed: %v %s", err, out)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N), "µs/call")
	})
}
