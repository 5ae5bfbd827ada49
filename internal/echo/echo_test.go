package echo

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/secret"
)

var headSeeds = []string{
	`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"validate_key","arguments":{"key":"x"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`,
	`{"jsonrpc":"2.0","id":"abc","method":"tools/list"}`,
	` { "ID" : 7 , "Method":"ping", "PARAMS" : [ {"name":"x"} ] } `,
	`{"id":1,"method":"m","params":{"arguments":{"name":"nested"},"NAME":"outer"}}`,
	`{"id":1,"id":2}`,
	`{"params":{"name":"a","name":"b"}}`,
	`{"meth\u006fd":"x"}`,
	`{"paramſ":{"name":"x"}}`,
	`{"id":"\"quoted\\"}","method":"a\\b","params":null}`,
	`{"id":[1,{"a":"]"}],"method":{"x":["}"]}}`,
	`[{"id":1}]`,
	`{"id":1}{"id":2}`,
	`{"id":1,}`,
	`{"id":1`,
	`"str"`,
	`{}`,
	``,
	`{"id":tru,"method":"x"}`,
	`{"id":{"a":1]}`,
}

// scanHead is a shortcut: whenever it answers for a message that is JSON,
// its answer is decodeHead's (encoding/json's, as mcp-go reads the message).
func FuzzCheckHead(f *testing.F) {
	for _, s := range headSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fast, ok := scanHead(body)
		if !ok || !json.Valid(body) {
			return // decodeHead decides; what is not JSON, mcp-go refuses without repeating it
		}
		slow, err := decodeHead(body)
		require.NoError(t, err)
		for _, p := range [][2][]byte{{fast.id, slow.id}, {fast.method, slow.method}, {fast.name, slow.name}} {
			if !bytes.Equal(p[0], p[1]) {
				t.Fatalf("scanHead read %q where encoding/json reads %q in %q", p[0], p[1], body)
			}
		}
	})
}

// The shortcut answers for the messages clients send, and leaves to
// encoding/json what it might read otherwise.
func TestScanHeadTakesOnlyPlainMessages(t *testing.T) {
	h, ok := scanHead([]byte(headSeeds[0]))
	require.True(t, ok)
	assert.Equal(t, `1`, string(h.id))
	assert.Equal(t, `"tools/call"`, string(h.method))
	assert.Equal(t, `"validate_key"`, string(h.name))

	h, ok = scanHead([]byte(headSeeds[3]))
	require.True(t, ok)
	assert.Equal(t, `"outer"`, string(h.name), "a name inside the arguments is not the tool's")

	for _, s := range []string{`{"id":1,"id":2}`, `{"params":{"name":"a","name":"b"}}`, `{"meth\u006fd":"x"}`, `{"paramſ":{"name":"x"}}`, `[{"id":1}]`, `{"id":1}{"id":2}`} {
		_, ok := scanHead([]byte(s))
		assert.False(t, ok, "%s is for encoding/json to read", s)
	}
	// What encoding/json makes of those, Head refuses.
	key, err := secret.Generate()
	require.NoError(t, err)
	for _, s := range []string{`{"meth\u006fd":"` + key + `"}`, `{"method":"x","METHOD":"` + key + `"}`, `{"id":1,"paramſ":{"name":"` + key + `"}}`} {
		msg, parseError := Head([]byte(s))
		assert.Contains(t, msg, "secret", s)
		assert.False(t, parseError)
	}
	msg, _ := Head([]byte(`{"id":1,"method":"` + strings.Repeat("m", 200) + `"}`))
	assert.Contains(t, msg, "200 bytes long")
	msg, _ = Head([]byte(headSeeds[0]))
	assert.Empty(t, msg)
}

// A JSON-RPC id is a string or a number (or null), and short; a body is one
// JSON value. mcp-go repeats the id in every answer, and its SSE endpoint
// reads the first value of a body and ignores the rest.
func TestCheckHeadRefusesOddIDsAndTrailingData(t *testing.T) {
	key, err := secret.Generate()
	require.NoError(t, err)
	for body, want := range map[string]string{
		`{"jsonrpc":"2.0","id":{"k":"` + key + `"},"method":"tools/list"}`:        "string or a number",
		`{"jsonrpc":"2.0","id":["x"],"method":"tools/list"}`:                      "string or a number",
		`{"jsonrpc":"2.0","id":true,"method":"tools/list"}`:                       "string or a number",
		`{"jsonrpc":"2.0","id":` + strings.Repeat("9", 200) + `,"method":"ping"}`: "200 digits",
		`{"jsonrpc":"2.0","id":1,"method":"` + key + `"} x`:                       "not one JSON value",
		`{"jsonrpc":"2.0","id":1,"method":"ping"}{}`:                              "not one JSON value",
	} {
		msg, _ := Head([]byte(body))
		assert.Contains(t, msg, want, "%.80s", body)
		assert.NotContains(t, msg, key)
	}
	for _, body := range []string{`{"jsonrpc":"2.0","id":null,"method":"ping"}`, `{"jsonrpc":"2.0","id":-12.5e3,"method":"ping"}`, "  \n", `[{"jsonrpc":"2.0","id":1,"method":"ping"}]`} {
		msg, _ := Head([]byte(body))
		assert.Empty(t, msg, "%q", body)
	}
	msg, parseError := Head([]byte(`{"id":1,`))
	assert.True(t, parseError, msg)
}

// What the front's check of a tool call's head costs, on the shortcut and on
// encoding/json.
//
//	go test -run '^$' -bench CheckHead ./internal/echo/
func BenchmarkCheckHead(b *testing.B) {
	key, err := secret.Generate()
	require.NoError(b, err)
	body := []byte(`{"jsonrpc":"2.0","id":17,"method":"tools/call","params":{"name":"validate_key","arguments":{"key":"` + key + `"},` +
		`"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{"elicitation":{"form":{},"url":{}}},` +
		`"io.modelcontextprotocol/clientInfo":{"name":"bench-agent","version":"1.2.3"},"progressToken":"p-17"}}}`)
	b.Run("Head", func(b *testing.B) {
		for b.Loop() {
			if msg, _ := Head(body); msg != "" {
				b.Fatal("refused")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeHead(body); err != nil {
				b.Fatal("not read")
			}
		}
	})
}
