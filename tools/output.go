package tools

import (
	_ "embed"
	"encoding/json"
	"reflect"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
)

// Output schemas come from the result types by reflection, the largest part
// of building the tools: about 5 ms, paid before keyward could answer its
// first request. The types are fixed at build time, so the schemas are
// generated once into output_schemas.json, embedded, and reused;
// TestOutputSchemasAreCurrent fails when a result type changed and the file
// did not (go test ./tools -run OutputSchemas -update rewrites it).
//
//go:embed output_schemas.json
var embeddedSchemas []byte

var schemas = sync.OnceValue(func() map[string]json.RawMessage {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(embeddedSchemas, &m); err != nil {
		panic("tools/output_schemas.json is not valid JSON: " + err.Error())
	}
	return m
})

// outputTypes are the result types with an output schema, by their key in
// output_schemas.json: a tool's answer, or (oneOf:) a mutating tool's answer
// or its dry-run plan.
var (
	outputTypesMu sync.Mutex
	outputTypes   = map[string]func() any{}
)

func register(key string, gen func() any) json.RawMessage {
	outputTypesMu.Lock()
	outputTypes[key] = gen
	outputTypesMu.Unlock()
	if raw, ok := schemas()[key]; ok {
		return raw
	}
	// Not generated yet (a new result type): reflect now; the test says to
	// update the file.
	raw, err := json.Marshal(gen())
	if err != nil {
		panic(err)
	}
	return raw
}

// output is the output schema of a tool that answers T.
func output[T any]() mcp.ToolOption {
	return mcp.WithRawOutputSchema(register(reflect.TypeFor[T]().String(), func() any { return schemaOf[T]() }))
}

// outputOrPlan is the output schema of a mutating tool: its answer T, or a
// plan when called with dry_run.
func outputOrPlan[T any]() mcp.ToolOption {
	return mcp.WithRawOutputSchema(register("oneOf:"+reflect.TypeFor[T]().String(), func() any {
		plan := schemaOf[planJSON]()
		plan["properties"].(map[string]any)["dry_run"] = map[string]any{"const": true}
		return map[string]any{"type": "object", "oneOf": []any{schemaOf[T](), plan}}
	}))
}

// schemaOf is T's output schema as mcp-go generates it, as a fresh map.
func schemaOf[T any]() map[string]any {
	var t mcp.Tool
	mcp.WithOutputSchema[T]()(&t)
	raw, err := json.Marshal(t.OutputSchema)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		panic(err)
	}
	return m
}
