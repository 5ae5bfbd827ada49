package keyward

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/manager"
)

// A session belongs to the transport that opened it: its id is refused on the
// other one, and the refusal changes nothing.
func TestHTTPSessionBelongsToItsTransport(t *testing.T) {
	ts := startHTTP(t, nil)
	sse := ts.connect(t, "sse", "sse-owner")
	st := ts.connect(t, "http", "streamable-owner")
	sseID, stID := sessionID(sse), sessionID(st)
	lastUsed := func(id string) time.Time {
		ts.h.sessions.mu.Lock()
		defer ts.h.sessions.mu.Unlock()
		return ts.h.sessions.byID[id].lastUsed
	}
	sseUsed, stUsed := lastUsed(sseID), lastUsed(stID)
	ts.clock.Advance(time.Minute)

	create := `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"create_key","arguments":{"name":"smuggled","scopes":["read"]}}}`
	onMCP := map[string]string{"Authorization": "Bearer " + testToken, hdrSession: sseID, "Mcp-Protocol-Version": "2025-11-25"}
	for _, req := range []struct{ method, body string }{
		{http.MethodPost, create},
		{http.MethodPost, `{"jsonrpc":"2.0","method":"notifications/initialized"}`},
		{http.MethodGet, ""},
		{http.MethodDelete, ""},
	} {
		status, _, body := ts.raw(t, req.method, PathMCP, req.body, onMCP)
		assert.Equal(t, http.StatusNotFound, status, "%s %s with an SSE session id: %s", req.method, PathMCP, body)
		assert.Contains(t, rpcMessage(t, body), "was opened on the SSE transport (GET /sse) and can only be used there")
	}
	status, _, body := ts.raw(t, http.MethodPost, PathMessage+"?sessionId="+stID, create, auth(testToken))
	assert.Equal(t, http.StatusNotFound, status, body)
	assert.Contains(t, rpcMessage(t, body), "was opened on streamable HTTP (/mcp) and can only be used there")

	// Nothing happened: no key, no audit record, both sessions as they were.
	keys, err := ts.app.Local.List(context.Background())
	require.NoError(t, err)
	assert.Empty(t, keys)
	recs, err := ts.app.Manager.AuditLog(context.Background(), manager.AuditArgs{Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, recs.Records)
	assert.Equal(t, 2, ts.h.sessions.count())
	assert.Equal(t, sseUsed, lastUsed(sseID), "the SSE session was not touched")
	assert.Equal(t, stUsed, lastUsed(stID), "the streamable session was not touched")
	ts.ok(t, sse, "list_providers", nil)
	ts.ok(t, st, "list_providers", nil)

	// A closed session's id is no good on either transport.
	require.NoError(t, sse.Close())
	waitFor(t, "the SSE session to end", func() bool { return ts.h.sessions.count() == 1 })
	status, _, body = ts.raw(t, http.MethodPost, PathMCP, create, onMCP)
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, rpcMessage(t, body), "unknown or has expired")
	status, _, _ = ts.raw(t, http.MethodPost, PathMessage+"?sessionId="+sseID, create, auth(testToken))
	assert.Equal(t, http.StatusNotFound, status)
	keys, err = ts.app.Local.List(context.Background())
	require.NoError(t, err)
	assert.Empty(t, keys)
}

// A call refused by the rate limit is in the audit log, with who made it.
func TestHTTPRateLimitedCallsAreAudited(t *testing.T) {
	for _, tr := range []string{"http", "sse"} {
		t.Run(tr, func(t *testing.T) {
			ts := startHTTP(t, map[string]string{"KEYWARD_RATE_LIMIT": "1"})
			c := ts.connect(t, tr, "hasty-"+tr)
			ts.ok(t, c, "create_key", map[string]any{"name": "first", "scopes": []any{"read"}})
			res, err := callTool(c, "create_key", map[string]any{"name": "second", "scopes": []any{"read"}})
			require.NoError(t, err)
			require.True(t, res.IsError)
			assert.Contains(t, resultText(res), "rate limit")

			recs, err := ts.app.Manager.AuditLog(context.Background(), manager.AuditArgs{Outcome: audit.OutcomeRefused, Limit: 10})
			require.NoError(t, err)
			require.Len(t, recs.Records, 1, "the refused call is audited")
			r := recs.Records[0]
			assert.Equal(t, "create_key", r.Tool)
			assert.Equal(t, "local", r.Provider)
			assert.Equal(t, audit.OutcomeRefused, r.Outcome)
			assert.Contains(t, r.Error, "KEYWARD_RATE_LIMIT")
			assert.Equal(t, audit.Record{SessionID: sessionID(c), ClientName: "hasty-" + tr, ClientVersion: "1.2.3", Transport: tr},
				audit.Record{SessionID: r.SessionID, ClientName: r.ClientName, ClientVersion: r.ClientVersion, Transport: r.Transport})
			keys, err := ts.app.Local.List(context.Background())
			require.NoError(t, err)
			assert.Len(t, keys, 1, "only the first call made a key")
		})
	}
}

// An SSE stream's session id is known as soon as the stream opens; tool calls
// on it before initialize are refused (and audited), not run anonymously.
func TestHTTPToolCallsNeedAnInitializedSession(t *testing.T) {
	ts := startHTTP(t, nil)
	s := ts.rawSSE(t)
	create := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"create_key","arguments":{"name":"anonymous","scopes":["read"]}}}`
	s.post(create)
	res := s.answer(1)
	assert.Contains(t, string(res), `"isError":true`)
	assert.Contains(t, string(res), "this session has not been initialized, so the call was not made")

	keys, err := ts.app.Local.List(context.Background())
	require.NoError(t, err)
	assert.Empty(t, keys)
	recs, err := ts.app.Manager.AuditLog(context.Background(), manager.AuditArgs{Limit: 10})
	require.NoError(t, err)
	require.Len(t, recs.Records, 1)
	r := recs.Records[0]
	assert.Equal(t, audit.OutcomeRefused, r.Outcome)
	assert.Equal(t, "create_key", r.Tool)
	assert.Equal(t, s.id, r.SessionID)
	assert.Equal(t, "sse", r.Transport)
	assert.Empty(t, r.ClientName, "the client never said who it is")

	// Once initialized, the same session may call tools, under its name.
	s.post(initializeBody)
	s.answer(1)
	s.post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	s.post(strings.Replace(create, `"id":1`, `"id":2`, 1))
	assert.NotContains(t, string(s.answer(2)), `"isError":true`)
	recs, err = ts.app.Manager.AuditLog(context.Background(), manager.AuditArgs{Outcome: audit.OutcomeOK, Limit: 10})
	require.NoError(t, err)
	require.Len(t, recs.Records, 1)
	assert.Equal(t, "raw", recs.Records[0].ClientName)
}

// sseSession is an SSE stream read by hand.
type sseSession struct {
	t        *testing.T
	ts       *testServer
	r        *bufio.Reader
	endpoint string
	id       string
}

func (ts *testServer) rawSSE(t *testing.T) *sseSession {
	c := ts.dial(t)
	_, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nAccept: text/event-stream\r\n\r\n", PathSSE, ts.addr(), testToken)
	require.NoError(t, err)
	s := &sseSession{t: t, ts: ts, r: bufio.NewReader(c)}
	for s.endpoint == "" {
		line, err := s.r.ReadString('\n')
		require.NoError(t, err)
		if v, ok := strings.CutPrefix(line, "data: "); ok {
			s.endpoint = strings.TrimSpace(v)
		}
	}
	_, s.id, _ = strings.Cut(s.endpoint, "sessionId=")
	return s
}

func (s *sseSession) post(body string) {
	status, _, resp := s.ts.raw(s.t, http.MethodPost, s.endpoint, body, auth(testToken))
	require.Equal(s.t, http.StatusAccepted, status, resp)
}

// answer reads events until the response to request id.
func (s *sseSession) answer(id int) json.RawMessage {
	for {
		line, err := s.r.ReadString('\n')
		require.NoError(s.t, err)
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			continue
		}
		var msg struct {
			ID     json.RawMessage `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  json.RawMessage `json:"error"`
		}
		require.NoError(s.t, json.Unmarshal([]byte(data), &msg))
		if string(msg.ID) == fmt.Sprint(id) {
			require.Empty(s.t, msg.Error)
			return msg.Result
		}
	}
}
