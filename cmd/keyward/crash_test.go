package main

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/store"
)

// TestKillDuringCreatesLeavesNoHalfState kills keyward with SIGKILL while
// creates are in flight, restarts it, and checks that every key is whole:
// each acknowledged create's key is live and its secret file validates; every
// live key has its secret file; and no secret file is left for a key that is
// not live. Keys a create made but never delivered are revoked at start-up.
func TestKillDuringCreatesLeavesNoHalfState(t *testing.T) {
	for trial := range 3 {
		dir := t.TempDir()
		env := []string{"KEYWARD_DB=" + filepath.Join(dir, "k.db"), "KEYWARD_CONFIRM=false", "KEYWARD_LOCAL_MAX_KEYS=1000"}
		p := spawn(t, env...)
		p.initialize()

		const n = 120
		for i := range n {
			msg, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1000 + i, "method": "tools/call",
				"params": map[string]any{"name": "create_key", "arguments": map[string]any{"name": "load"}}})
			_, err := p.stdin.Write(append(msg, '\n'))
			require.NoError(t, err)
		}
		acked := map[string]string{} // key id → secret file
		deadline := time.After(30 * time.Second)
	read:
		for len(acked) < 10+trial*15 {
			select {
			case line, ok := <-p.lines:
				require.True(t, ok)
				var m struct {
					Result struct {
						IsError           bool           `json:"isError"`
						StructuredContent map[string]any `json:"structuredContent"`
					} `json:"result"`
				}
				require.NoError(t, json.Unmarshal([]byte(line), &m))
				if sc := m.Result.StructuredContent; !m.Result.IsError && sc != nil {
					acked[sc["key_id"].(string)] = sc["secret_file"].(string)
				}
			case <-deadline:
				break read
			}
		}
		require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
		_ = p.cmd.Wait()

		// Restart: recovery runs at start-up.
		q := spawn(t, env...)
		q.initialize()
		var live map[string]bool
		var files []string
		secretsDir := filepath.Join(dir, "secrets")
		consistent := func() bool {
			live = map[string]bool{}
			list := q.tool("list_keys", map[string]any{"limit": 200}, false)
			for _, k := range list["keys"].([]any) {
				live[k.(map[string]any)["key_id"].(string)] = true
			}
			files, _ = filepath.Glob(filepath.Join(secretsDir, "*.key"))
			if len(files) != len(live) {
				return false
			}
			for _, f := range files {
				if !live[keyIDOfFile(f)] {
					return false
				}
			}
			return true
		}
		for stop := time.Now().Add(20 * time.Second); !consistent() && time.Now().Before(stop); {
			time.Sleep(50 * time.Millisecond)
		}
		require.True(t, consistent(), "trial %d: every live key has one secret file and every file a live key (live %d, files %d)", trial, len(live), len(files))

		for id, file := range acked {
			assert.True(t, live[id], "trial %d: acknowledged key %s survived", trial, id)
			v := q.tool("validate_key", map[string]any{"key": readSecretFile(t, file)}, false)
			assert.Equal(t, true, v["valid"], "trial %d: the secret of acknowledged key %s validates", trial, id)
		}
		for id := range live {
			b, err := os.ReadFile(filepath.Join(secretsDir, "local-"+id+".key"))
			require.NoError(t, err)
			v := q.tool("validate_key", map[string]any{"key": strings.TrimSpace(string(b))}, false)
			assert.Equal(t, true, v["valid"], "trial %d: live key %s has a usable secret", trial, id)
		}
		audit := exec.Command(binary, "audit", "--json", "--limit", "500")
		audit.Env = append(os.Environ(), env...)
		out, err := audit.Output()
		require.NoError(t, err)
		created, recovered := map[string]bool{}, 0
		sc := bufio.NewScanner(strings.NewReader(string(out)))
		for sc.Scan() {
			var r map[string]any
			require.NoError(t, json.Unmarshal(sc.Bytes(), &r))
			if r["tool"] == "create_key" && r["outcome"] == "ok" {
				created[r["key_id"].(string)] = true
			}
			if r["tool"] == "recovery" {
				recovered++
			}
		}
		for id := range live {
			assert.True(t, created[id], "trial %d: live key %s has its audit record", trial, id)
		}
		t.Logf("trial %d: %d acknowledged, %d live after restart, %d interrupted creates undone", trial, len(acked), len(live), recovered)
		q.stop()
	}
}

func keyIDOfFile(path string) string {
	name := strings.TrimSuffix(filepath.Base(path), ".key")
	return strings.TrimPrefix(name, "local-")
}

// Text an agent chose (its client name) never reaches the audit table raw.
func TestAuditTableEscapesAgentText(t *testing.T) {
	dir := t.TempDir()
	env := "KEYWARD_DB=" + filepath.Join(dir, "k.db")
	p := spawn(t, env)
	res := p.request("initialize", map[string]any{
		"protocolVersion": "2025-06-18", "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "evil\n2026-01-01 00:00:00Z  revoke_key  local  key_forged\x1b[2J\x1b]0;pwned\x07\u202e", "version": "1"},
	})
	require.NotNil(t, res["result"])
	p.notify("notifications/initialized")
	p.tool("create_key", map[string]any{"name": "x"}, false)
	p.stop()

	cmd := exec.Command(binary, "audit")
	cmd.Env = append(os.Environ(), env)
	out, err := cmd.Output()
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	assert.Len(t, lines, 2, "a header and one row: no forged row")
	assert.NotContains(t, string(out), "\x1b")
	assert.NotContains(t, string(out), "\x07")
	assert.NotContains(t, string(out), "\u202e")
	assert.Contains(t, string(out), `evil\x0A2026-01-01`)
}

// Reading the audit log changes nothing: records past KEYWARD_AUDIT_RETENTION
// are purged by serving keyward, never by keyward audit.
func TestAuditCommandDoesNotPurge(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "k.db")
	st, err := store.Open(t.Context(), db, store.Options{}, audit.Schema)
	require.NoError(t, err)
	require.NoError(t, audit.New(st, nil).Write(t.Context(), audit.Record{At: time.Now().Add(-400 * 24 * time.Hour), Tool: "create_key", Provider: "local", Outcome: audit.OutcomeOK}))
	require.NoError(t, st.Close())
	for range 2 {
		cmd := exec.Command(binary, "audit", "--json", "--since", "1000d")
		cmd.Env = append(os.Environ(), "KEYWARD_DB="+db)
		out, err := cmd.Output()
		require.NoError(t, err)
		assert.Equal(t, 1, strings.Count(string(out), `"tool":"create_key"`), "the old record is still there")
	}
}

// Started by hand in a terminal, keyward says how to connect a client (on
// stderr) instead of waiting silently; from a client (a pipe) it says nothing.
func TestFirstContactInATerminal(t *testing.T) {
	dir := t.TempDir()
	// script gives keyward a terminal for stdin; its output is the terminal's.
	cmd := exec.Command("script", "-qec", binary, "/dev/null")
	cmd.Env = append(os.Environ(), "KEYWARD_DB="+filepath.Join(dir, "k.db"), "KEYWARD_LOG_LEVEL=error")
	cmd.Stdin = strings.NewReader("\x04") // Ctrl-D: end of input
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "Connect a client instead")
	assert.Contains(t, string(out), "keyward serve")

	p := spawn(t, "KEYWARD_DB="+filepath.Join(dir, "k2.db"))
	p.initialize()
	p.stop()
	assert.NotContains(t, p.stderrText(), "Connect a client", "a client's pipe gets no such text")
}
