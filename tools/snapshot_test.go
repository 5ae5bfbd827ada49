package tools_test

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/tools"
)

var update = flag.Bool("update", false, "rewrite testdata snapshots")

// TestToolSurfaceSnapshot pins names, descriptions, annotations and schemas of
// every tool, so a change to what models see is a visible diff in review.
// Regenerate with: go test ./tools -run Snapshot -update
func TestToolSurfaceSnapshot(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	res, err := h.client.ListTools(context.Background(), mcp.ListToolsRequest{})
	require.NoError(t, err)
	got, err := json.MarshalIndent(h.wireTools(), "", "  ")
	require.NoError(t, err)
	path := filepath.Join("testdata", "tools.json")
	if *update {
		require.NoError(t, os.WriteFile(path, append(got, '\n'), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./tools -run Snapshot -update to create the snapshot")
	assert.JSONEq(t, string(want), string(got), "the tool surface changed; review and run go test ./tools -run Snapshot -update")

	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
		require.NotNil(t, tl.Annotations.ReadOnlyHint, tl.Name)
		require.NotNil(t, tl.Annotations.DestructiveHint, tl.Name)
	}
	for _, tl := range h.wireTools() {
		require.NotEmpty(t, tl["outputSchema"], "%s has an output schema", tl["name"])
	}
	assert.ElementsMatch(t, tools.Names(), names)
}

func TestReadOnlyModeAndAllowlist(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_READ_ONLY", "true"))
	res, err := h.client.ListTools(context.Background(), mcp.ListToolsRequest{})
	require.NoError(t, err)
	var names []string
	for _, tl := range res.Tools {
		names = append(names, tl.Name)
		assert.True(t, *tl.Annotations.ReadOnlyHint, tl.Name)
	}
	assert.ElementsMatch(t, []string{"list_providers", "list_scopes", "list_keys", "get_key", "validate_key", "audit_log"}, names)
	assert.Equal(t, true, h.ok("list_providers", nil)["policy"].(map[string]any)["read_only"])

	h = newHarness(t, withEnv("KEYWARD_TOOLS", "list_keys,validate_key"))
	res, err = h.client.ListTools(context.Background(), mcp.ListToolsRequest{})
	require.NoError(t, err)
	require.Len(t, res.Tools, 2)
}

// Descriptions quote the lifetimes in force, not the defaults.
func TestDescriptionsFollowThePolicy(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_DEFAULT_TTL", "7d", "KEYWARD_MAX_TTL", "14d"))
	res, err := h.client.ListTools(context.Background(), mcp.ListToolsRequest{})
	require.NoError(t, err)
	for _, tl := range res.Tools {
		if tl.Name != "create_key" {
			continue
		}
		desc := tl.Description + " " + tl.InputSchema.Properties["expires_in"].(map[string]any)["description"].(string)
		assert.Contains(t, desc, "7d")
		assert.Contains(t, desc, "at most 14d")
		assert.NotContains(t, desc, "30d")
		assert.NotContains(t, desc, "1y")
		assert.Contains(t, desc, `"never" is not allowed`)
	}
}
