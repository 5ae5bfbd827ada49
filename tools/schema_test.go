package tools

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// jsonFields lists the JSON names of a struct's fields, embedded ones included.
func jsonFields(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		if f.Anonymous {
			out = append(out, jsonFields(f.Type)...)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name != "" && name != "-" {
			out = append(out, name)
		}
	}
	return out
}

// The struct a tool's arguments bind to has exactly the properties its schema
// declares: what the model is told and what the handler reads are one list.
func TestArgumentStructsMatchSchemas(t *testing.T) {
	t.Parallel()
	for _, d := range all(Surface{Configured: []string{"local"}, Known: []string{"local"}, DefaultTTL: "30d", MaxTTL: "90d"}) {
		props := make([]string, 0, len(d.tool.InputSchema.Properties))
		for p := range d.tool.InputSchema.Properties {
			props = append(props, p)
		}
		fields := append([]string{}, jsonFields(d.args)...)
		slices.Sort(props)
		slices.Sort(fields)
		assert.Equal(t, props, fields, d.tool.Name)
		assert.Equal(t, false, d.tool.InputSchema.AdditionalProperties, "%s refuses unknown arguments", d.tool.Name)
		for _, r := range d.tool.InputSchema.Required {
			assert.Contains(t, props, r, d.tool.Name)
		}
		for name, p := range d.tool.InputSchema.Properties {
			prop := p.(map[string]any)
			if prop["type"] == "string" && prop["enum"] == nil {
				assert.NotNil(t, prop["maxLength"], "%s.%s is bounded", d.tool.Name, name)
			}
		}
		_, err := compileInput(d.tool)
		require.NoError(t, err, "%s's schema compiles, so mcp-go validates it", d.tool.Name)
	}
}
