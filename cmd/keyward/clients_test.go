package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/config"
)

// clientConfig is the part of an MCP client's server entry keyward ships.
type clientConfig struct {
	MCPServers map[string]struct {
		Command string            `json:"command"`
		Args    []string          `json:"args"`
		Env     map[string]string `json:"env"`
	} `json:"mcpServers"`
}

// The client configurations keyward ships work as written, from any
// directory: each runs the keyward binary (found on PATH or at an absolute
// path), never `go run` (which works only from the repository root, and whose
// first start takes longer than some clients wait), with settings keyward
// reads. Claude Code loads a project's .mcp.json, with the dot.
func TestShippedClientConfigsWorkFromAnyDirectory(t *testing.T) {
	root := filepath.Join("..", "..")
	files := []string{".mcp.json", "mcp.json"}
	more, err := filepath.Glob(filepath.Join(root, "examples", "clients", "*.json"))
	require.NoError(t, err)
	for _, f := range more {
		rel, err := filepath.Rel(root, f)
		require.NoError(t, err)
		files = append(files, rel)
	}
	require.Greater(t, len(files), 2, "the examples' client configurations are checked too")

	for _, name := range files {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join(root, name))
			require.NoError(t, err)
			var cfg clientConfig
			require.NoError(t, json.Unmarshal(raw, &cfg))
			entry, ok := cfg.MCPServers["keyward"]
			require.True(t, ok, "%s has a keyward entry under mcpServers", name)
			assert.Equal(t, "keyward", filepath.Base(entry.Command), "%s runs the keyward binary", name)
			assert.Empty(t, entry.Args, "keyward serves stdio with no arguments")

			environ := map[string]string{}
			for k, v := range entry.Env {
				environ[k] = v
			}
			_, err = config.LoadFrom(environ)
			require.NoError(t, err, "%s's settings load", name)

			// Run it as the client would: the command as written, from a
			// directory that is not the repository, with the binary on PATH.
			t.Setenv("PATH", filepath.Dir(binary)+string(os.PathListSeparator)+os.Getenv("PATH"))
			cmd := exec.Command(entry.Command)
			if filepath.IsAbs(entry.Command) {
				cmd = exec.Command(binary) // the example's absolute path stands for wherever it was installed
			}
			cmd.Dir = t.TempDir()
			env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "KEYWARD_DB=" + filepath.Join(t.TempDir(), "keyward.db")}
			for k, v := range entry.Env {
				env = append(env, k+"="+v)
			}
			cmd.Env = env
			p := spawnCmd(t, cmd)
			p.initialize()
			res := p.request("tools/list", map[string]any{})
			require.NotNil(t, res["result"], "tools/list answered: %v", res)
			assert.True(t, strings.Contains(string(mustJSON(t, res)), "create_key"))
		})
	}
	a, err := os.ReadFile(filepath.Join(root, ".mcp.json"))
	require.NoError(t, err)
	b, err := os.ReadFile(filepath.Join(root, "mcp.json"))
	require.NoError(t, err)
	assert.Equal(t, string(a), string(b), ".mcp.json (Claude Code's project file) and mcp.json (for --mcp-config and other clients) are the same server")
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
