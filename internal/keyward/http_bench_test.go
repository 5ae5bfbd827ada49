package keyward

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/stretchr/testify/require"
)

// benchEnv keeps limits out of the way of the measurement.
var benchEnv = map[string]string{
	"KEYWARD_RATE_LIMIT":   "1000000000",
	"KEYWARD_MAX_SESSIONS": "5000",
	"KEYWARD_LOG_LEVEL":    "warn",
}

// 16 agents calling validate_key on the local authority as fast as they can,
// over streamable HTTP: each on its own session (protocol 2025-11-25), or
// stateless (2026-07-28, every request on its own).
//
//	go test -run '^$' -bench StreamableValidateKey -benchtime 3s ./internal/keyward/
func BenchmarkStreamableValidateKey(b *testing.B) {
	for _, era := range []struct{ name, version string }{{"session", mcp.LATEST_LEGACY_PROTOCOL_VERSION}, {"stateless", mcp.ProtocolVersion20260728}} {
		b.Run(era.name, func(b *testing.B) {
			ts := startHTTP(b, benchEnv)
			clients := benchClients(b, ts.url+PathMCP, ts.token, era.version)
			secret := ts.ok(b, clients[0], "create_key", map[string]any{"name": "bench"})["secret"].(string)
			args := map[string]any{"key": secret}
			require.Equal(b, true, ts.ok(b, clients[0], "validate_key", args)["valid"])
			b.ResetTimer()
			elapsed, lat := drive(b, clients, "validate_key", args, b.N)
			b.StopTimer()
			b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
			b.ReportMetric(lat.pct(0.50), "p50-µs")
			b.ReportMetric(lat.pct(0.99), "p99-µs")
		})
	}
}

// keyward's validate_key against a bare tool on mcp-go's own streamable HTTP
// server (as its conformance example serves test_simple_text), 16 clients
// each, both as the clients negotiate (2026-07-28), measured in alternating
// rounds in one run so both see the same machine. keyward-share is the part
// of a keyward call's time that is not the bare tool's: 1 - keyward/bare
// throughput. A third arm serves the same keyward tools (schemas, handler,
// middleware) from mcp-go's own HTTP server with no keyward front, so
// front-share is the part of a keyward call's time that the HTTP front
// (origins, authentication, body and name checks, sessions, limits, drain)
// costs: 1 - keyward/front-less throughput. The same shares are reported by
// CPU time per call.
//
//	go test -run '^$' -bench VersusBareMCPGo -benchtime 20000x ./internal/keyward/
func BenchmarkVersusBareMCPGo(b *testing.B) {
	bare := server.NewMCPServer("mcp-go-conformance", "1.0.0", server.WithToolCapabilities(true), server.WithLogging())
	bare.AddTool(mcp.NewTool("test_simple_text", mcp.WithDescription("Returns a simple text response for conformance testing")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText("This is a simple text response for testing."), nil
		})
	bareSrv := httptest.NewServer(server.NewStreamableHTTPServer(bare))
	b.Cleanup(bareSrv.Close)
	bareClients := benchClients(b, bareSrv.URL+"/mcp", "", "")

	ts := startHTTP(b, benchEnv)
	kwClients := benchClients(b, ts.url+PathMCP, ts.token, "")
	secret := ts.ok(b, kwClients[0], "create_key", map[string]any{"name": "bench"})["secret"].(string)
	args := map[string]any{"key": secret}

	frontless := httptest.NewServer(server.NewStreamableHTTPServer(ts.app.MCP))
	b.Cleanup(frontless.Close)
	frontlessClients := benchClients(b, frontless.URL+"/mcp", "", "")
	require.Equal(b, true, ts.ok(b, frontlessClients[0], "validate_key", args)["valid"])

	// Throughput shares are the median over rounds of each round's own
	// ratio, so a moment when the shared machine was busy skews one round,
	// not the result. The CPU shares compare the process's CPU time per call
	// (clients, server and garbage collection) while each arm runs alone,
	// which other load on the machine disturbs less than throughput.
	const rounds = 15
	type arm struct {
		wall, cpu time.Duration
		ratios    []float64 // keyward's round time over this arm's
	}
	var bareArm, kwArm, frontlessArm arm
	timed := func(a *arm, clients []*client.Client, tool string, args map[string]any, n int) time.Duration {
		c0, _ := cpuTime()
		d, _ := drive(b, clients, tool, args, n)
		c1, _ := cpuTime()
		a.wall, a.cpu = a.wall+d, a.cpu+c1-c0
		return d
	}
	b.ResetTimer()
	for r := range rounds {
		n := b.N / rounds
		if r == rounds-1 {
			n = b.N - n*(rounds-1)
		}
		bd := timed(&bareArm, bareClients, "test_simple_text", nil, n)
		kd := timed(&kwArm, kwClients, "validate_key", args, n)
		fd := timed(&frontlessArm, frontlessClients, "validate_key", args, n)
		bareArm.ratios = append(bareArm.ratios, float64(bd)/float64(kd))
		frontlessArm.ratios = append(frontlessArm.ratios, float64(fd)/float64(kd))
	}
	b.StopTimer()
	rate := func(a arm) float64 { return float64(b.N) / a.wall.Seconds() }
	median := func(v []float64) float64 { slices.Sort(v); return v[len(v)/2] }
	b.ReportMetric(rate(bareArm), "bare-calls/s")
	b.ReportMetric(rate(kwArm), "keyward-calls/s")
	b.ReportMetric(rate(frontlessArm), "frontless-calls/s")
	b.ReportMetric(median(bareArm.ratios), "ratio")
	b.ReportMetric(100*(1-median(bareArm.ratios)), "keyward-share-%")
	b.ReportMetric(100*(1-median(frontlessArm.ratios)), "front-share-%")
	if _, ok := cpuTime(); ok {
		perCall := func(a arm) float64 { return float64(a.cpu.Microseconds()) / float64(b.N) }
		b.ReportMetric(perCall(bareArm), "bare-cpu-µs/call")
		b.ReportMetric(perCall(kwArm), "keyward-cpu-µs/call")
		b.ReportMetric(perCall(frontlessArm), "frontless-cpu-µs/call")
		b.ReportMetric(100*(1-perCall(frontlessArm)/perCall(kwArm)), "front-cpu-share-%")
	}
}

const benchAgents = 16

// benchClients connects 16 clients sharing one connection pool, large enough
// that none waits for a socket; version "" lets them negotiate. The token
// goes in as mcp-go's clients send headers, on every request they build.
func benchClients(b *testing.B, url, token, version string) []*client.Client {
	hc := &http.Client{Transport: &http.Transport{MaxIdleConns: 4 * benchAgents, MaxIdleConnsPerHost: 4 * benchAgents}}
	var opts []transport.StreamableHTTPCOption
	if token != "" {
		opts = append(opts, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}))
	}
	clients := make([]*client.Client, benchAgents)
	for i := range clients {
		c, err := streamableClient(b, url, hc, fmt.Sprintf("bench-%d", i), version, opts...)
		require.NoError(b, err)
		clients[i] = c
	}
	return clients
}

type latencies []time.Duration

func (l latencies) pct(p float64) float64 { return float64(l[int(p*float64(len(l)-1))].Microseconds()) }

// drive makes n calls of tool, spread over the clients as fast as they go,
// and returns the time they took and their sorted latencies. Every call must
// be answered with a result.
func drive(b *testing.B, clients []*client.Client, tool string, args map[string]any, n int) (time.Duration, latencies) {
	var next, failed atomic.Int64
	lat := make([][]time.Duration, len(clients))
	var wg sync.WaitGroup
	start := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				t0 := time.Now()
				res, err := callTool(clients[i], tool, args)
				lat[i] = append(lat[i], time.Since(t0))
				if err != nil || res.IsError {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	require.Zero(b, failed.Load(), "every call must be answered with a result")
	all := latencies(slices.Concat(lat...))
	slices.Sort(all)
	return elapsed, all
}

// Memory held by 1,000 open idle sessions on each transport, per session:
// Go heap plus goroutine stacks (after GC) and resident set size, next to the
// resident size of keyward with no session. b.Loop runs the function once per
// -count, so each measurement is of exactly 1,000 sessions.
//
//	go test -run '^$' -bench IdleSessionMemory ./internal/keyward/
func BenchmarkIdleSessionMemory(b *testing.B) {
	for _, tr := range []string{"http", "sse"} {
		b.Run(tr, func(b *testing.B) {
			m := idleMemory(b, tr)
			for b.Loop() {
				// Nothing to repeat: the metrics describe one fixed population.
			}
			b.ReportMetric(m.idleRSSMB, "idle-RSS-MB")
			b.ReportMetric(m.heapKB, "heap+stack-KB/session")
			b.ReportMetric(m.rssKB, "RSS-KB/session")
		})
	}
}

type memResult struct{ idleRSSMB, heapKB, rssKB float64 }

const idleSessions = 1000

func idleMemory(b *testing.B, tr string) memResult {
	ts := startHTTP(b, benchEnv)
	hc := &http.Client{Transport: bearer{token: ts.token, next: &http.Transport{MaxIdleConnsPerHost: 8}}}
	heap0, rss0 := memNow(b)
	var conns []net.Conn // an SSE session lives as long as its stream
	for i := range idleSessions {
		if tr == "sse" {
			conns = append(conns, openRawSSE(b, ts, hc, i))
		} else {
			openRawStreamable(b, ts, hc, i)
		}
	}
	// Idle streamable sessions need no connection; drop the pool's.
	hc.CloseIdleConnections()
	require.Equal(b, idleSessions, ts.h.sessions.count())
	heap1, rss1 := memNow(b)
	for _, c := range conns {
		c.Close()
	}
	return memResult{
		idleRSSMB: float64(rss0) / 1024,
		heapKB:    float64(heap1-heap0) / 1024 / idleSessions,
		rssKB:     float64(rss1-rss0) / idleSessions,
	}
}

// memNow is heap plus stacks in use after a full GC, in bytes, and VmRSS in KB.
func memNow(b *testing.B) (int64, int64) {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	status, err := os.ReadFile("/proc/self/status")
	require.NoError(b, err)
	var rss int64
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			rss, err = strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			require.NoError(b, err)
		}
	}
	return int64(ms.HeapInuse + ms.StackInuse), rss
}

// openRawStreamable opens and initializes a session with bare requests, so
// nothing but the server holds it.
func openRawStreamable(b *testing.B, ts *testServer, hc *http.Client, i int) {
	post := func(body, sid string) *http.Response {
		req, err := http.NewRequest(http.MethodPost, ts.url+PathMCP, strings.NewReader(body))
		require.NoError(b, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if sid != "" {
			req.Header.Set(hdrSession, sid)
		}
		resp, err := hc.Do(req)
		require.NoError(b, err)
		_, _ = bufio.NewReader(resp.Body).WriteTo(discardWriter{})
		resp.Body.Close()
		return resp
	}
	resp := post(strings.Replace(initializeBody, `"raw"`, fmt.Sprintf(`"idle-%d"`, i), 1), "")
	require.Equal(b, http.StatusOK, resp.StatusCode)
	sid := resp.Header.Get(hdrSession)
	require.NotEmpty(b, sid)
	require.Equal(b, http.StatusAccepted, post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`, sid).StatusCode)
}

// openRawSSE opens an SSE stream on a bare socket and initializes the
// session; the socket is all the client side keeps.
func openRawSSE(b *testing.B, ts *testServer, hc *http.Client, i int) net.Conn {
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	require.NoError(b, err)
	_, err = fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n", PathSSE, strings.TrimPrefix(ts.url, "http://"), ts.token)
	require.NoError(b, err)
	r := bufio.NewReaderSize(conn, 512)
	var endpoint string
	for endpoint == "" {
		line, err := r.ReadString('\n')
		require.NoError(b, err)
		if v, ok := strings.CutPrefix(line, "data: "); ok {
			endpoint = strings.TrimSpace(v)
		}
	}
	send := func(body string) {
		resp, err := hc.Post(ts.url+endpoint, "application/json", strings.NewReader(body))
		require.NoError(b, err)
		resp.Body.Close()
		require.Equal(b, http.StatusAccepted, resp.StatusCode)
	}
	send(strings.Replace(initializeBody, `"raw"`, fmt.Sprintf(`"idle-%d"`, i), 1))
	for {
		line, err := r.ReadString('\n')
		require.NoError(b, err)
		if strings.HasPrefix(line, "data: ") && strings.Contains(line, `"id":1`) {
			break
		}
	}
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	return conn
}

type discardWriter struct{}

func (discardWriter) Write(p []byte) (int, error) { return len(p), nil }
