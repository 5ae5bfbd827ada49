package server

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
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
	"github.com/stretchr/testify/require"
)

// benchEnv keeps limits out of the way of the measurement.
var benchEnv = map[string]string{
	"KEYWARD_RATE_LIMIT":   "1000000000",
	"KEYWARD_MAX_SESSIONS": "5000",
	"KEYWARD_LOG_LEVEL":    "warn",
}

// 16 agents, each on its own streamable HTTP session, calling validate_key on
// the local authority as fast as they can.
//
//	go test -run '^$' -bench StreamableValidate ./internal/server/
func BenchmarkStreamableValidateKey(b *testing.B) {
	const agents = 16
	ts := startHTTP(b, benchEnv)
	// One connection pool for all agents, large enough that none waits for a socket.
	hc := &http.Client{Transport: bearer{token: ts.token, next: &http.Transport{MaxIdleConns: 4 * agents, MaxIdleConnsPerHost: 4 * agents}}}
	clients := make([]*client.Client, agents)
	for i := range clients {
		c, err := client.NewStreamableHttpClient(ts.url+PathMCP, transport.WithHTTPBasicClient(hc))
		require.NoError(b, err)
		_, err = c.Initialize(context.Background(), clientInfo(fmt.Sprintf("bench-%d", i)))
		require.NoError(b, err)
		b.Cleanup(func() { c.Close() })
		clients[i] = c
	}
	secret := ts.ok(b, clients[0], "create_key", map[string]any{"name": "bench"})["secret"].(string)
	args := map[string]any{"key": secret}
	require.Equal(b, true, ts.ok(b, clients[0], "validate_key", args)["valid"])

	var next atomic.Int64
	var failed atomic.Int64
	latencies := make([][]time.Duration, agents)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				res, err := callTool(clients[i], "validate_key", args)
				latencies[i] = append(latencies[i], time.Since(t0))
				if err != nil || res.IsError {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	require.Zero(b, failed.Load(), "every call must be answered with a result")

	all := slices.Concat(latencies...)
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) }
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

// Memory held by 1,000 open idle sessions on each transport, per session:
// Go heap plus goroutine stacks (after GC) and resident set size, next to the
// resident size of keyward with no session. b.Loop runs the function once per
// -count, so each measurement is of exactly 1,000 sessions.
//
//	go test -run '^$' -bench IdleSessionMemory ./internal/server/
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
