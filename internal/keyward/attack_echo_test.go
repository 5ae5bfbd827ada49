package keyward

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The holes below were found by an attacker-minded review (session 4) and
// are now closed, each test failing before: values a request names that
// mcp-go or keyward repeated in an answer, so that a secret pasted there (or
// a megabyte) came back. Each breaks "secrets never appear in errors" or
// "every echoed value is bounded". mcp-go's errors now pass through
// echo.ScrubError on every transport; echo.Head refuses odd ids and trailing data.

// Was a hole: the protocol version in a body's _meta is repeated by mcp-go
// when it does not match the header; echo.Head checks only id, method and
// params.name.
func TestAttackMetaProtocolVersionEchoed(t *testing.T) {
	ts := startHTTP(t, nil)
	c := ts.connect(t, "http", "meta")
	secretKey := ts.ok(t, c, "create_key", map[string]any{"name": "m"})["secret"].(string)
	body := `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"` + secretKey + `","io.modelcontextprotocol/clientCapabilities":{}}}}`
	for _, pv := range []string{"2026-07-28", ""} {
		hdr := map[string]string{"Authorization": "Bearer " + testToken, "Mcp-Method": "tools/list"}
		if pv != "" {
			hdr["Mcp-Protocol-Version"] = pv
		}
		status, _, out := ts.raw(t, http.MethodPost, PathMCP, body, hdr)
		t.Logf("header %q: %d %.400s", pv, status, out)
		assert.NotContains(t, out, secretKey, "the secret in _meta is sent back")
	}
}

// openSSE opens a raw SSE stream and returns the message endpoint and a channel of data lines.
func openSSE(t *testing.T, ts *testServer) (string, <-chan string) {
	req, err := http.NewRequest(http.MethodGet, ts.url+PathSSE, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Accept", "text/event-stream")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
				lines <- strings.TrimSpace(d)
			}
		}
		close(lines)
	}()
	endpoint := receive(t, lines, "endpoint")
	return endpoint, lines
}

func nextData(t *testing.T, lines <-chan string) string {
	select {
	case l := <-lines:
		return l
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
		return ""
	}
}

// Was a hole: on /message mcp-go reads the body with json.Decoder, which
// ignores what follows the first value; echo.Head gave up on a body
// json.Unmarshal refuses, so a secret method followed by anything was
// repeated on the stream.
func TestAttackSSETrailingDataSkipsCheckHead(t *testing.T) {
	ts := startHTTP(t, nil)
	c := ts.connect(t, "http", "trail")
	secretKey := ts.ok(t, c, "create_key", map[string]any{"name": "t"})["secret"].(string)
	endpoint, lines := openSSE(t, ts)
	if !strings.HasPrefix(endpoint, "http") {
		endpoint = ts.url + endpoint
	}
	post := func(body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	st, _ := post(`{"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`)
	require.Equal(t, http.StatusAccepted, st)
	t.Logf("init: %.200s", nextData(t, lines))
	post(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"` + secretKey + `"} x`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"` + secretKey + `","arguments":{}}}{}`,
		`{"jsonrpc":"2.0","id":3,"method":"` + strings.Repeat("M", 50000) + `"}]`,
	} {
		st, out := post(body)
		if st == http.StatusAccepted { // taken: the answer comes on the stream
			out = nextData(t, lines)
		}
		t.Logf("%d -> %.300s (%d bytes)", st, out, len(out))
		assert.NotContains(t, out, secretKey, "the secret is echoed on the SSE stream")
		assert.Less(t, len(out), 2000)
	}
}

// Was a hole: other body values mcp-go repeats: params.uri of
// resources/read (compared with Mcp-Name), params.level of
// logging/setLevel, an id that is an object or an array; and argument names
// refused by the schema (already safe, kept as a check).
func TestAttackOtherBodyValuesEchoed(t *testing.T) {
	ts := startHTTP(t, nil)
	c := ts.connect(t, "http", "other")
	secretKey := ts.ok(t, c, "create_key", map[string]any{"name": "o"})["secret"].(string)
	meta := `"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}`
	modern := map[string]string{"Authorization": "Bearer " + testToken, "Mcp-Protocol-Version": "2026-07-28"}
	sess := map[string]string{"Authorization": "Bearer " + testToken, hdrSession: sessionID(c)}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name, body string
		hdr        map[string]string
	}{
		{"resources/read uri vs Mcp-Name", `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"` + secretKey + `",` + meta + `}}`,
			with(modern, "Mcp-Method", "resources/read", "Mcp-Name", "x")},
		{"logging/setLevel level", `{"jsonrpc":"2.0","id":2,"method":"logging/setLevel","params":{"level":"` + secretKey + `"}}`, sess},
		{"id object", `{"jsonrpc":"2.0","id":{"k":"` + secretKey + `"},"method":"tools/list"}`, sess},
		{"id array", `{"jsonrpc":"2.0","id":["` + secretKey + `"],"method":"nope"}`, sess},
		{"argument name", `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"list_keys","arguments":{"` + secretKey + `":1}}}`, sess},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, _, out := ts.raw(t, http.MethodPost, PathMCP, tc.body, tc.hdr)
			t.Logf("%d %.400s", status, out)
			assert.NotContains(t, out, secretKey)
		})
	}
}

// Was a hole: long values repeated whole (not secrets, but unbounded): a
// non-string id, a huge number in a typed field (json's error names the
// literal), a level.
func TestAttackLongNonStringEchoed(t *testing.T) {
	ts := startHTTP(t, nil)
	c := ts.connect(t, "http", "long")
	sess := map[string]string{"Authorization": "Bearer " + testToken, hdrSession: sessionID(c)}
	long := strings.Repeat("M", 100000)
	digits := strings.Repeat("9", 100000)
	for _, body := range []string{
		`{"jsonrpc":"2.0","id":["` + long + `"],"method":"tools/list"}`,
		`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"list_keys","arguments":{},"task":{"ttl":` + digits + `}}}`,
		`{"jsonrpc":"2.0","id":2,"method":"logging/setLevel","params":{"level":"` + long + `"}}`,
	} {
		status, _, out := ts.raw(t, http.MethodPost, PathMCP, body, sess)
		t.Logf("%d %.200s (%d bytes)", status, out, len(out))
		assert.Less(t, len(out), 5000)
	}
}

// Was a hole: keyward's own answers repeated the request path (unknown path,
// no token needed) and the HTTP method (a body on a non-POST request).
func TestAttackPathAndMethodEchoed(t *testing.T) {
	ts := startHTTP(t, nil)
	c := ts.connect(t, "http", "path")
	secretKey := ts.ok(t, c, "create_key", map[string]any{"name": "p"})["secret"].(string)
	status, _, out := ts.raw(t, http.MethodGet, "/"+secretKey, "", nil)
	t.Logf("GET /<secret> without token: %d %.300s", status, out)
	assert.NotContains(t, out, secretKey)
	long := strings.Repeat("P", 30000)
	status, _, out = ts.raw(t, http.MethodGet, "/"+long, "", nil)
	t.Logf("GET /<30 KB>: %d (%d bytes)", status, len(out))
	assert.Less(t, len(out), 2000)
	status, _, out = ts.raw(t, secretKey, PathMCP, "x", map[string]string{"Authorization": "Bearer " + testToken})
	t.Logf("method <secret> with a body: %d %.300s", status, out)
	assert.NotContains(t, out, secretKey)
}
