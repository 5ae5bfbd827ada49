package keyward

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// shortBounds shrinks the per-request time bounds so tests can watch them
// act; the waits in the tests are far longer, so they only turn a hang into
// a failure and assert nothing about speed.
func shortBounds(h *HTTP) {
	h.headerTimeout = 300 * time.Millisecond
	h.bodyTimeout = 300 * time.Millisecond
	h.refusedTimeout = 300 * time.Millisecond
	h.writeTimeout = 300 * time.Millisecond
}

// hangBound is how long a test waits for the server to end a connection
// before calling it a hang.
const hangBound = 20 * time.Second

func (ts *testServer) addr() string { return strings.TrimPrefix(ts.url, "http://") }

// dial opens a bare TCP connection to the server.
func (ts *testServer) dial(t testing.TB) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", ts.addr())
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// readToClose reads what the server sends until it closes the connection. It
// reports false if the connection was still open after hangBound.
func readToClose(c net.Conn) (string, bool) {
	_ = c.SetReadDeadline(time.Now().Add(hangBound))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return string(b), false
	}
	return string(b), true // EOF, or a reset after the answer
}

// statusCode is the status code of the first answer in what was read.
func statusCode(answer string) string {
	line, _, _ := strings.Cut(answer, "\r\n")
	if _, rest, ok := strings.Cut(line, " "); ok {
		code, _, _ := strings.Cut(rest, " ")
		return code
	}
	return ""
}

// Every kind of stalled or idle client: the server answers where there is
// something to answer, and closes the connection within its bound.
func TestHTTPStalledClientsAreAnsweredAndClosed(t *testing.T) {
	ts := startHTTPWith(t, nil, func(h *HTTP) {
		shortBounds(h)
		h.idleTimeout = 300 * time.Millisecond
	}, nil)
	bearer := "Authorization: Bearer " + testToken + "\r\n"
	stalledBody := func(method, path, headers string) string {
		// Headers promising 1000 bytes of body, then 10 of them, then nothing.
		return fmt.Sprintf("%s %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n%sContent-Length: 1000\r\n\r\n{\"jsonrpc\"", method, path, ts.addr(), headers)
	}
	cases := []struct {
		name, send string
		status     string // "" when there is nothing to check
		says       string
	}{
		{"no token, body stalled", stalledBody("POST", PathMCP, ""), "401", "KEYWARD_HTTP_TOKEN"},
		{"wrong token, body stalled", stalledBody("POST", PathMCP, "Authorization: Bearer nope\r\n"), "401", "KEYWARD_HTTP_TOKEN"},
		{"foreign origin, body stalled", stalledBody("POST", PathMCP, bearer+"Origin: https://evil.example\r\n"), "403", "KEYWARD_ALLOWED_ORIGINS"},
		{"no token, SSE message body stalled", stalledBody("POST", PathMessage+"?sessionId=x", ""), "401", "KEYWARD_HTTP_TOKEN"},
		{"token, body stalled", stalledBody("POST", PathMCP, bearer), "408", "did not arrive within 300ms"},
		{"token, SSE message body stalled", stalledBody("POST", PathMessage+"?sessionId=x", bearer), "408", "did not arrive within"},
		{"token, GET stream with a stalled body", stalledBody("GET", PathSSE, bearer), "400", "carries no body"},
		{"token, DELETE with a stalled body", stalledBody("DELETE", PathMCP, bearer), "400", "carries no body"},
		{"health check with a stalled body", stalledBody("GET", PathHealth, ""), "200", `"status":"ok"`},
		{"unknown path, body stalled", stalledBody("POST", "/nowhere", ""), "404", "nothing at /nowhere"},
		{"chunked body stalled", fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\n%sContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n100\r\n{", PathMCP, bearer), "408", "did not arrive"},
		{"headers stalled", "POST /mcp HTTP/1.1\r\nHost: x\r\nContent-Le", "", ""}, // net/http may say 400
		{"nothing sent", "", "", ""},
		{"idle keep-alive", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", "200", `"status":"ok"`},
		{"pipelined junk", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n\x16\x03\x01junk junk\r\n\r\n", "200", "400 Bad Request"},
		{"huge headers", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: " + strings.Repeat("a", 80<<10) + "\r\n\r\n", "431", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := ts.dial(t)
			_, err := io.WriteString(c, tc.send)
			require.NoError(t, err)
			answer, closed := readToClose(c)
			require.True(t, closed, "the server must close the connection; it sent %q", answer)
			if tc.status != "" {
				assert.Equal(t, tc.status, statusCode(answer), "answer: %q", answer)
			}
			assert.Contains(t, answer, tc.says)
			if strings.HasSuffix(tc.status, "401") || strings.HasSuffix(tc.status, "408") {
				assert.Contains(t, answer, "Connection: close")
			}
		})
	}
}

// With every connection slot taken by connections that never authenticate,
// /healthz and clients with the token are still served: the oldest
// unauthenticated connection makes room. The cap is never exceeded.
func TestHTTPConnCapMakesRoomForHealthAndClients(t *testing.T) {
	const maxConns = 8
	ts := startHTTPWith(t, map[string]string{"KEYWARD_MAX_CONNS": fmt.Sprint(maxConns)}, func(h *HTTP) {
		h.headerTimeout = time.Hour // only the cap may close the stalled connections
	}, nil)
	stall := func() net.Conn {
		c := ts.dial(t)
		_, err := io.WriteString(c, "POST /mcp HTTP/1.1\r\nHost: x\r\n")
		require.NoError(t, err)
		return c
	}
	var stalled []net.Conn
	for range maxConns {
		stalled = append(stalled, stall())
	}
	waitFor(t, "the stalled connections to be accepted", func() bool { return ts.h.conns.open() == maxConns })

	healthz := func() {
		t.Helper()
		c := ts.dial(t)
		_, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", PathHealth)
		require.NoError(t, err)
		answer, closed := readToClose(c)
		require.True(t, closed)
		require.Equal(t, "200", statusCode(answer))
		assert.Contains(t, answer, `"status":"ok"`)
	}
	healthz()
	// The oldest stalled connection was closed to make room.
	_, closed := readToClose(stalled[0])
	assert.True(t, closed, "the oldest unauthenticated connection is closed")

	c := ts.connect(t, "http", "with-token")
	for range 3 * maxConns {
		stall()
	}
	ts.ok(t, c, "list_providers", nil)
	healthz()

	peak, evicted, refused := ts.h.conns.stats()
	assert.LessOrEqual(t, peak, maxConns, "never more than KEYWARD_MAX_CONNS connections")
	assert.GreaterOrEqual(t, evicted, 3*maxConns)
	assert.Zero(t, refused)
	assert.Contains(t, ts.logs.String(), "KEYWARD_MAX_CONNS")
}

// When every slot belongs to an authorized client using it (here: SSE
// streams), a new connection is answered 503 and closed at once, and holds
// nothing.
func TestHTTPConnCapRefusesWhenAllAuthorized(t *testing.T) {
	const maxConns = 4
	ts := startHTTP(t, map[string]string{"KEYWARD_MAX_CONNS": fmt.Sprint(maxConns)})
	var streams []net.Conn
	for range maxConns {
		c := ts.dial(t)
		_, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n", PathSSE, ts.addr(), testToken)
		require.NoError(t, err)
		r := bufio.NewReader(c)
		for {
			line, err := r.ReadString('\n')
			require.NoError(t, err)
			if strings.HasPrefix(line, "data: ") {
				break
			}
		}
		streams = append(streams, c)
	}
	require.Equal(t, maxConns, ts.h.conns.open())

	for range 3 {
		c := ts.dial(t)
		_, _ = fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", PathHealth)
		answer, closed := readToClose(c)
		require.True(t, closed, "a connection over the cap is closed")
		if answer != "" { // the answer can be lost to a reset
			assert.Equal(t, "503", statusCode(answer))
			assert.Contains(t, answer, "KEYWARD_MAX_CONNS")
		}
		assert.Equal(t, maxConns, ts.h.conns.open(), "the refused connection holds no slot")
	}
	peak, _, refused := ts.h.conns.stats()
	assert.Equal(t, maxConns, peak)
	assert.Equal(t, 3, refused)
	require.Equal(t, maxConns, ts.h.sessions.count(), "the streams were not touched")

	// One stream ends: its slot is free again.
	streams[0].Close()
	waitFor(t, "the closed stream's slot to be freed", func() bool { return ts.h.conns.open() == maxConns-1 })
	status, _, _ := ts.raw(t, http.MethodGet, PathHealth, "", nil)
	assert.Equal(t, http.StatusOK, status)
}

func TestConnCapFollowsTheOpenFileLimit(t *testing.T) {
	for _, tc := range []struct {
		setting int
		limit   uint64
		want    int
		lowered bool
	}{
		{2048, 0, 2048, false},          // limit unknown
		{2048, 1 << 20, 2048, false},    // plenty of room
		{2048, 1024, 768, true},         // a quarter kept for the state file and platforms
		{2048, 256, 192, true},          //
		{100, 256, 100, false},          //
		{2048, 100, 36, true},           // at least 64 kept
		{2048, 50, 1, true},             // hopeless, but still serves
		{2048, ^uint64(0), 2048, false}, // unlimited
	} {
		got, lowered := connCap(tc.setting, tc.limit)
		assert.Equal(t, tc.want, got, "setting %d, limit %d", tc.setting, tc.limit)
		assert.Equal(t, tc.lowered, lowered, "setting %d, limit %d", tc.setting, tc.limit)
	}
}

// serverHasConn: does the server still hold the connection c (client side)?
func (ts *testServer) serverHasConn(c net.Conn) bool {
	tbl := ts.h.conns
	tbl.mu.Lock()
	defer tbl.mu.Unlock()
	for tc := range tbl.all {
		if tc.RemoteAddr().String() == c.LocalAddr().String() {
			return true
		}
	}
	return false
}

// waitFor polls cond until it holds; the bound only turns a hang into a failure.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
