package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "keyward-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "keyward")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building keyward failed: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is keyward spawned over stdio with every byte it writes kept.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	lines  chan string
	stdout *bytes.Buffer
	stderr *bytes.Buffer
	mu     *sync.Mutex
	nextID int
}

func spawn(t *testing.T, env ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary)
	cmd.Env = append(os.Environ(), env...)
	return spawnCmd(t, cmd)
}

// spawnCmd starts cmd, which runs keyward over stdio.
func spawnCmd(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	p := &proc{t: t, cmd: cmd, stdin: stdin, lines: make(chan string, 100), stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, mu: &sync.Mutex{}}
	cmd.Stderr = lockedWriter{p.mu, p.stderr}
	require.NoError(t, cmd.Start())
	go func() {
		r := bufio.NewReader(out)
		for {
			line, err := r.ReadString('\n')
			if line != "" {
				p.mu.Lock()
				p.stdout.WriteString(line)
				p.mu.Unlock()
				p.lines <- line
			}
			if err != nil {
				close(p.lines)
				return
			}
		}
	}()
	t.Cleanup(func() { p.stop() })
	return p
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// request sends one JSON-RPC request and waits for its answer; every line on
// stdout must be a JSON-RPC message.
func (p *proc) request(method string, params any) map[string]any {
	p.t.Helper()
	p.nextID++
	id := p.nextID
	msg, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": id, "method": method, "params": params})
	require.NoError(p.t, err)
	_, err = p.stdin.Write(append(msg, '\n'))
	require.NoError(p.t, err)
	timeout := time.After(30 * time.Second)
	for {
		select {
		case line, ok := <-p.lines:
			require.True(p.t, ok, "keyward closed stdout; stderr: %s", p.stderrText())
			var m map[string]any
			require.NoError(p.t, json.Unmarshal([]byte(line), &m), "stdout carried a non-protocol line: %q", line)
			require.Equal(p.t, "2.0", m["jsonrpc"], "stdout carried a non-JSON-RPC message: %q", line)
			if m["id"] == float64(id) {
				return m
			}
		case <-timeout:
			p.t.Fatalf("no answer to %s; stderr: %s", method, p.stderrText())
		}
	}
}

func (p *proc) notify(method string) {
	msg, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "method": method})
	_, err := p.stdin.Write(append(msg, '\n'))
	require.NoError(p.t, err)
}

func (p *proc) initialize() {
	p.t.Helper()
	res := p.request("initialize", map[string]any{
		"protocolVersion": "2025-06-18", "capabilities": map[string]any{},
		"clientInfo": map[string]any{"name": "e2e", "version": "0.1"},
	})
	require.NotNil(p.t, res["result"], "initialize failed: %v", res)
	p.notify("notifications/initialized")
}

// tool calls a tool; wantErr says whether it must fail. It returns structured content or the error text.
func (p *proc) tool(name string, args map[string]any, wantErr bool) map[string]any {
	p.t.Helper()
	res := p.request("tools/call", map[string]any{"name": name, "arguments": args})
	result, ok := res["result"].(map[string]any)
	require.True(p.t, ok, "protocol error from %s: %v", name, res)
	isErr, _ := result["isError"].(bool)
	require.Equal(p.t, wantErr, isErr, "%s: %v", name, result["content"])
	if isErr {
		return map[string]any{"error": result["content"].([]any)[0].(map[string]any)["text"]}
	}
	sc, _ := result["structuredContent"].(map[string]any)
	return sc
}

func (p *proc) stop() {
	p.stdin.Close()
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		p.cmd.Process.Kill()
		<-done
	}
}

func (p *proc) stderrText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

func (p *proc) stdoutText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stdout.String()
}

func readSecretFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

// TestStdioLifecycleSurvivesRestartAndLeaksNoSecret drives the built binary
// as a client would, restarts it on the same state file, and then looks for
// every secret it created in everything keyward wrote except the secret files.
func TestStdioLifecycleSurvivesRestartAndLeaksNoSecret(t *testing.T) {
	dir := t.TempDir()
	env := []string{"KEYWARD_DB=" + filepath.Join(dir, "state", "keyward.db"), "KEYWARD_LOG_LEVEL=debug", "HOME=" + dir}
	var secrets []string

	p := spawn(t, env...)
	p.initialize()
	created := p.tool("create_key", map[string]any{"name": "e2e-read"}, false)
	id := created["key_id"].(string)
	secrets = append(secrets, readSecretFile(t, created["secret_file"].(string)))
	other := p.tool("create_key", map[string]any{"name": "e2e-write", "scopes": []string{"read", "write"}, "expires_in": "12h"}, false)
	secrets = append(secrets, readSecretFile(t, other["secret_file"].(string)))

	assert.Len(t, p.tool("list_keys", nil, false)["keys"], 2)
	assert.Equal(t, "e2e-read", p.tool("get_key", map[string]any{"key_id": id}, false)["name"])
	assert.Equal(t, true, p.tool("validate_key", map[string]any{"key": secrets[0]}, false)["valid"])
	p.tool("update_key", map[string]any{"key_id": id, "scopes": []string{"read", "write"}}, false)
	p.tool("set_key_active", map[string]any{"key_id": id, "active": false}, false)
	assert.Equal(t, "disabled", p.tool("validate_key", map[string]any{"key": secrets[0]}, false)["status"])
	p.tool("set_key_active", map[string]any{"key_id": id, "active": true}, false)
	rot := p.tool("rotate_key", map[string]any{"key_id": id, "grace": "1h"}, false)
	secrets = append(secrets, readSecretFile(t, rot["secret_file"].(string)))
	assert.Equal(t, true, p.tool("validate_key", map[string]any{"key": secrets[0]}, false)["valid"], "old secret in grace")
	p.tool("create_key", map[string]any{"name": "bad", "scopes": []string{"root"}}, true)
	p.tool("revoke_key", map[string]any{"key_id": other["key_id"]}, false)
	assert.Equal(t, "revoked", p.tool("validate_key", map[string]any{"key": secrets[1]}, false)["status"])
	audit1 := p.tool("audit_log", nil, false)["records"].([]any)
	assert.Len(t, audit1, 8, "create, create, update, disable, enable, rotate, the refused create, revoke")
	p.stop()
	out1, err1 := p.stdoutText(), p.stderrText()

	q := spawn(t, env...)
	q.initialize()
	keys := q.tool("list_keys", nil, false)["keys"].([]any)
	require.Len(t, keys, 1, "keys persist across restarts")
	assert.Equal(t, id, keys[0].(map[string]any)["key_id"])
	assert.Equal(t, []any{"read", "write"}, keys[0].(map[string]any)["scopes"])
	assert.NotNil(t, keys[0].(map[string]any)["last_used_at"], "last use was flushed at shutdown")
	assert.Equal(t, true, q.tool("validate_key", map[string]any{"key": secrets[2]}, false)["valid"])
	assert.Len(t, q.tool("audit_log", nil, false)["records"], 8, "the audit log persists")
	q.tool("revoke_key", map[string]any{"key_id": id}, false)
	q.stop()

	// Everything keyward wrote, but the secret files.
	var written strings.Builder
	written.WriteString(out1 + err1 + q.stdoutText() + q.stderrText())
	require.NoError(t, filepath.Walk(filepath.Join(dir, "state"), func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || strings.HasSuffix(path, ".key") {
			return err
		}
		b, err := os.ReadFile(path)
		written.Write(b)
		return err
	}))
	require.Contains(t, written.String(), "e2e-read", "the scan reads the data it should")
	for _, s := range secrets {
		require.Len(t, s, 52)
		assert.NotContains(t, written.String(), s, "a secret leaked")
		assert.NotContains(t, written.String(), s[7:len(s)-4], "the hidden part of a secret leaked")
	}
}

func TestStdoutIsProtocolOnlyAndCLI(t *testing.T) {
	dir := t.TempDir()
	out, err := exec.Command(binary, "version").Output()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(out), "keyward "))
	out, err = exec.Command(binary, "--help").Output()
	require.NoError(t, err)
	assert.Contains(t, string(out), "KEYWARD_DB")
	assert.Contains(t, string(out), "create_key")

	cmd := exec.Command(binary, "bogus")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	assert.Error(t, cmd.Run())
	assert.Contains(t, stderr.String(), `unknown command "bogus"`)

	cmd = exec.Command(binary)
	cmd.Env = append(os.Environ(), "KEYWARD_DB="+filepath.Join(dir, "k.db"), "KEYWARD_MAX_TTL=forever")
	stderr.Reset()
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	assert.Error(t, err)
	assert.Empty(t, stdout, "a configuration error writes nothing to stdout")
	assert.Contains(t, stderr.String(), "KEYWARD_MAX_TTL")

	// A garbage line gets a JSON-RPC error on stdout, and the server lives on.
	p := spawn(t, "KEYWARD_DB="+filepath.Join(dir, "k.db"))
	_, err = p.stdin.Write([]byte("this is not json\n"))
	require.NoError(t, err)
	p.initialize()
	assert.NotNil(t, p.tool("list_providers", nil, false)["providers"])

	// audit CLI
	cmd = exec.Command(binary, "audit", "--since", "24h", "--json")
	cmd.Env = append(os.Environ(), "KEYWARD_DB="+filepath.Join(dir, "k.db"))
	out, err = cmd.Output()
	require.NoError(t, err)
	assert.Empty(t, strings.TrimSpace(string(out)), "no mutating calls yet")
}

// A client that connects and leaves at once (or a start with stdin closed)
// ends keyward quietly: work cut short by the exit, such as the first reap, is
// not an error worth a log line.
func TestQuickExitLogsNoError(t *testing.T) {
	dir := t.TempDir()
	for i := range 10 {
		cmd := exec.Command(binary)
		cmd.Env = append(os.Environ(), "KEYWARD_DB="+filepath.Join(dir, fmt.Sprintf("k%d.db", i)), "KEYWARD_LOG_LEVEL=debug")
		cmd.Stdin = strings.NewReader("")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		require.NoError(t, cmd.Run(), stderr.String())
		assert.NotContains(t, stderr.String(), "level=ERROR", "run %d", i)
		assert.NotContains(t, stderr.String(), "context canceled", "run %d", i)
	}
}
