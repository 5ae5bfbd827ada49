package keyward

// Attacks by a hostile client (branch attack). Tests marked HOLE fail
// because of the hole they demonstrate.

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/manager"
	"github.com/keyward/keyward/internal/secret"
)

// stdioExchange runs keyward over stdio, sends the lines one by one and
// returns every line keyward wrote once all have been answered.
func stdioExchange(t *testing.T, lines []string, wantAnswers int) []string {
	t.Helper()
	app, _, err := newApp(t, nil)
	require.NoError(t, err)
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = app.ServeStdio(ctx, inR, outW); outW.Close(); close(done) }()
	go func() {
		for _, l := range lines {
			_, _ = io.WriteString(inW, l+"\n")
		}
	}()
	var got []string
	sc := bufio.NewScanner(outR)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	deadline := time.After(20 * time.Second)
	for len(got) < wantAnswers {
		line := make(chan string, 1)
		go func() {
			if sc.Scan() {
				line <- sc.Text()
			} else {
				close(line)
			}
		}()
		select {
		case l, ok := <-line:
			if !ok {
				t.Fatalf("stdout closed after %d answers", len(got))
			}
			got = append(got, l)
		case <-deadline:
			t.Fatalf("gave up after %d answers", len(got))
		}
	}
	cancel()
	inW.Close()
	<-done
	return got
}

// Was a hole (attack review), now closed: over stdio, a tool name or a JSON-RPC method that is a secret is
// echoed back verbatim in mcp-go's error ("tool 'kw_…' not found", "Method
// kw_… not found"): the stdio writer only masked error messages of 1000 bytes
// or more. keyward serve refuses such messages (echo.Head) but stdio does
// not. Breaks "a secret passed where ... a name ... belongs is ... never
// echoed" and "JSON-RPC ids, methods and tool names are bounded too".
func TestAttackStdioEchoesSecretToolNameAndMethod(t *testing.T) {
	key, err := secret.Generate()
	require.NoError(t, err)
	init := `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"atk","version":"1"}}}`
	call := `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"` + key + `","arguments":{}}}`
	method := `{"jsonrpc":"2.0","id":2,"method":"` + key + `","params":{}}`
	out := stdioExchange(t, []string{init, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, call, method}, 3)
	for _, l := range out[1:] {
		var m struct {
			ID json.RawMessage `json:"id"`
		}
		_ = json.Unmarshal([]byte(l), &m)
		t.Logf("answer %s: %s", m.ID, l)
		assert.False(t, strings.Contains(l, key), "keyward echoed the secret back over stdio: %s", l)
	}
}

// Was a hole (attack review), now closed: mcp-go checks a call's arguments against the schema before any tool
// middleware runs, so a call refused for its arguments never reaches
// limitToolCalls: it is neither rate limited nor refused for an
// uninitialized session, yet each one writes an audit record (up to ~2.5 KB)
// and makes keyward explain every item of an array (hundreds of thousands of
// sentences for one 1 MiB body). A client with the token can grow the state
// file and burn CPU without bound. Breaks "each session may make
// KEYWARD_RATE_LIMIT tool calls a minute (past it, the tool answers with the
// wait)".
func TestAttackSchemaRefusalsBypassRateLimit(t *testing.T) {
	ts := startHTTP(t, map[string]string{"KEYWARD_RATE_LIMIT": "3"})
	c := ts.connect(t, "http", "flood")
	limited := 0
	for range 30 {
		res, err := callTool(c, "revoke_key", map[string]any{"key_id": "key_x", "junk": strings.Repeat("j", 100)})
		require.NoError(t, err)
		if strings.Contains(resultText(res), "rate limit") {
			limited++
		}
	}
	recs, err := ts.app.Manager.AuditLog(context.Background(), manager.AuditArgs{Limit: 500})
	require.NoError(t, err)
	t.Logf("30 calls in a minute with a rate limit of 3: %d refused for the rate limit, %d audit records written", limited, len(recs.Records))
	assert.GreaterOrEqual(t, limited, 27, "calls past KEYWARD_RATE_LIMIT must be refused for the rate limit")
}

// Was a hole (attack review), now closed: echo.Head gives up (and lets the message through) whenever the body
// does not decode into its struct, e.g. when "params" is an array. mcp-go
// ignores params for an unknown method, so a method — or a JSON-RPC id — that
// is a secret (or 100 KB long) is repeated whole in the answer again. Breaks
// "keyward serve refuses a JSON-RPC id, method or tool name that is long or
// holds a secret before mcp-go repeats it".
func TestAttackHTTPCheckHeadSkippedByArrayParams(t *testing.T) {
	ts := startHTTP(t, nil)
	c := ts.connect(t, "http", "names")
	sse := ts.connect(t, "sse", "names-sse")
	k := ts.ok(t, c, "create_key", map[string]any{"name": "s"})
	secretKey := k["secret"].(string)
	long := strings.Repeat("M", 100000)
	for _, body := range []string{
		fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q,"params":[]}`, secretKey),
		fmt.Sprintf(`{"jsonrpc":"2.0","id":%q,"method":"nope","params":[]}`, secretKey),
		fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":%q,"params":[]}`, long),
	} {
		for _, target := range []struct{ path, sid string }{{PathMCP, sessionID(c)}, {PathMessage + "?sessionId=" + sessionID(sse), ""}} {
			hdr := map[string]string{"Authorization": "Bearer " + testToken}
			if target.sid != "" {
				hdr[hdrSession] = target.sid
			}
			status, _, out := ts.raw(t, http.MethodPost, target.path, body, hdr)
			t.Logf("%s: %d %.200s (%d bytes)", target.path, status, out, len(out))
			assert.NotContains(t, out, secretKey, "the secret is echoed")
			assert.Less(t, len(out), 2000, "a 100 KB method is echoed whole")
		}
	}
}

// Was a hole (found while reworking echo.Head), now closed: on 2026-07-28
// mcp-go checks the Mcp-Method and Mcp-Name headers against the body and,
// when they differ, repeats the header's value in its error ("header value
// %q does not match body value %q"), Base64-decoded for Mcp-Name. echo.Head
// looked at the body only, so a secret (or 60 KB) sent in those headers was
// sent back. keyward's own answer to an unknown session repeated the
// Mcp-Session-Id header, and mcp-go repeats an unsupported
// Mcp-Protocol-Version. Breaks "keyward serve refuses a JSON-RPC id, method or tool name
// that is long or holds a secret before mcp-go repeats it".
func TestAttackHTTPStandardHeadersEchoed(t *testing.T) {
	ts := startHTTP(t, nil)
	c := ts.connect(t, "http", "headers")
	secretKey := ts.ok(t, c, "create_key", map[string]any{"name": "h"})["secret"].(string)
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`
	list := `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{` + meta + `}}`
	call := `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_keys","arguments":{},` + meta + `}}`
	long := strings.Repeat("M", 60000)
	for _, tc := range []struct {
		name, body, method, tool, hidden string
	}{
		{"secret method header", list, secretKey, "", secretKey},
		{"long method header", list, long, "", long},
		{"secret name header", call, "tools/call", secretKey, secretKey},
		{"base64 secret name header", call, "tools/call", "=?base64?" + base64.StdEncoding.EncodeToString([]byte(secretKey)) + "?=", secretKey},
		{"long name header", call, "tools/call", long, long},
		{"secret protocol version", list, "tools/list", "", secretKey},
		{"secret session id", list, "tools/list", "", secretKey},
		{"secret param header", call, "tools/call", "list_keys", secretKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{"Authorization": "Bearer " + testToken, "Mcp-Protocol-Version": "2026-07-28", "Mcp-Method": tc.method}
			if tc.tool != "" {
				hdr["Mcp-Name"] = tc.tool
			}
			switch tc.name {
			case "secret protocol version":
				hdr["Mcp-Protocol-Version"] = secretKey
			case "secret session id":
				hdr["Mcp-Protocol-Version"] = "2025-11-25"
				hdr[hdrSession] = secretKey
			case "secret param header":
				hdr["Mcp-Param-Provider"] = secretKey
			}
			status, _, out := ts.raw(t, http.MethodPost, PathMCP, tc.body, hdr)
			t.Logf("%d %.300s (%d bytes)", status, out, len(out))
			switch tc.name {
			case "secret param header": // no tool binds a parameter to a header: mcp-go ignores it
			case "secret session id": // an unknown session, which the answer does not name
				assert.Equal(t, http.StatusNotFound, status)
			default:
				assert.Equal(t, http.StatusBadRequest, status)
			}
			assert.NotContains(t, out, tc.hidden, "the header's value is sent back")
			assert.Less(t, len(out), 2000)
		})
	}
}

// The same for the session an SSE client names in its message URL: keyward's
// answer to an unknown session repeated it.
func TestAttackSSESessionParameterEchoed(t *testing.T) {
	ts := startHTTP(t, nil)
	c := ts.connect(t, "http", "sid")
	secretKey := ts.ok(t, c, "create_key", map[string]any{"name": "s"})["secret"].(string)
	for sid, want := range map[string]int{secretKey: http.StatusNotFound, strings.Repeat("S", 5000): http.StatusBadRequest} {
		status, _, out := ts.raw(t, http.MethodPost, PathMessage+"?sessionId="+sid, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
			map[string]string{"Authorization": "Bearer " + testToken})
		t.Logf("%d %.200s", status, out)
		assert.Equal(t, want, status)
		assert.NotContains(t, out, sid)
	}
	// A session id of keyward's shape is named, so a client can tell which one expired.
	sid := newSessionID()
	status, _, out := ts.raw(t, http.MethodPost, PathMessage+"?sessionId="+sid, `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
		map[string]string{"Authorization": "Bearer " + testToken})
	assert.Equal(t, http.StatusNotFound, status)
	assert.Contains(t, out, sid)
}

// Was a hole (found while reworking echo.Head), now closed: over stdio only
// error answers had a secret or long id replaced, so a message whose id is a
// secret and whose method succeeds (ping, tools/list) had the id sent back
// whole. stdio now refuses such a message as keyward serve does, with the
// same check, and without repeating the id.
func TestAttackStdioEchoesSecretIDOfAnAnswer(t *testing.T) {
	key, err := secret.Generate()
	require.NoError(t, err)
	init := `{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"atk","version":"1"}}}`
	ping := `{"jsonrpc":"2.0","id":"` + key + `","method":"ping"}`
	long := `{"jsonrpc":"2.0","id":"` + strings.Repeat("I", 5000) + `","method":"tools/list"}`
	after := `{"jsonrpc":"2.0","id":3,"method":"ping"}`
	out := stdioExchange(t, []string{init, `{"jsonrpc":"2.0","method":"notifications/initialized"}`, ping, long, after}, 4)
	refused, answered := 0, false
	for _, l := range out { // the gate's refusals may come before the answer to initialize
		t.Logf("answer: %.300s", l)
		assert.NotContains(t, l, key, "the secret id was sent back")
		assert.Less(t, len(l), 1000, "the long id was sent back")
		if strings.Contains(l, `"id":null`) && strings.Contains(l, "JSON-RPC id") {
			refused++
		}
		answered = answered || strings.Contains(l, `"id":3`)
	}
	assert.Equal(t, 2, refused, "both are refused, saying why")
	assert.True(t, answered, "later messages are still answered")
}
