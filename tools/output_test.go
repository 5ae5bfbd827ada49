package tools_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"sync"
	"testing"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/tools"
)

// wireTools is tools/list as it goes over the wire. (mcp-go's client type
// keeps only part of an output schema, so schemas are read from the JSON.)
func (h *harness) wireTools() []map[string]any {
	h.t.Helper()
	res, err := h.client.GetTransport().SendRequest(context.Background(), transport.JSONRPCRequest{
		JSONRPC: "2.0", ID: mcp.NewRequestId(int64(9_000_001)), Method: "tools/list", Params: map[string]any{}})
	require.NoError(h.t, err)
	require.Nil(h.t, res.Error)
	var out struct {
		Tools []map[string]any `json:"tools"`
	}
	require.NoError(h.t, json.Unmarshal(res.Result, &out))
	return out.Tools
}

var (
	outputSchemasMu sync.Mutex
	outputSchemas   = map[string]*jsonschema.Schema{}
)

// checkOutput fails the test unless structured is valid under the output
// schema tool declares: the schema a client sees is what keyward answers.
func (h *harness) checkOutput(tool string, structured any) {
	h.t.Helper()
	raw, err := json.Marshal(structured)
	require.NoError(h.t, err)
	require.NoError(h.t, h.outputErr(tool, structured), "%s answered %s, which its output schema does not allow", tool, raw)
}

// outputErr validates structured against tool's output schema.
func (h *harness) outputErr(tool string, structured any) error {
	h.t.Helper()
	outputSchemasMu.Lock()
	defer outputSchemasMu.Unlock()
	s, ok := outputSchemas[tool]
	if !ok {
		for _, tl := range h.wireTools() {
			if tl["name"] != tool {
				continue
			}
			raw, err := json.Marshal(tl["outputSchema"])
			require.NoError(h.t, err)
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
			require.NoError(h.t, err)
			c := jsonschema.NewCompiler()
			require.NoError(h.t, c.AddResource("output.json", doc))
			s, err = c.Compile("output.json")
			require.NoError(h.t, err, "%s's output schema compiles", tool)
			outputSchemas[tool] = s
		}
		require.NotNil(h.t, s, "%s declares an output schema", tool)
	}
	raw, err := json.Marshal(structured)
	require.NoError(h.t, err)
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	require.NoError(h.t, err)
	return s.Validate(v)
}

// The embedded output schemas are what the result types generate today.
func TestOutputSchemasAreCurrent(t *testing.T) {
	t.Parallel()
	got := map[string]any{}
	for key, gen := range tools.OutputTypes() {
		got[key] = gen()
	}
	raw, err := json.MarshalIndent(got, "", "  ")
	require.NoError(t, err)
	path := "output_schemas.json"
	if *update {
		require.NoError(t, os.WriteFile(path, append(raw, '\n'), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(raw), "a result type changed: run go test ./tools -run OutputSchemas -update")
}
