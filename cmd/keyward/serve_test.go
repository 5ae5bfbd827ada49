package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/version"
)

const serveToken = "e2e-token-8f41c2d9a7b3e605"

// cleanEnv is the test's environment without keyward settings, so the
// developer's own KEYWARD_* variables cannot change what is tested.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KEYWARD_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// TestServeAnswersAndStopsOnSIGTERM runs the built binary: it logs where it
// listens, answers /healthz and MCP with the token, and on SIGTERM finishes,
// closes its state file and exits 0.
func TestServeAnswersAndStopsOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = cleanEnv("KEYWARD_DB="+filepath.Join(dir, "keyward.db"), "KEYWARD_HTTP_TOKEN="+serveToken, "KEYWARD_ADDR=127.0.0.1:1", "HOME="+dir)
	stderrPipe, err := cmd.StderrPipe()
	require.NoError(t, err)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	var mu sync.Mutex
	var stderr bytes.Buffer
	addrFound := make(chan string, 1)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		addrRE := regexp.MustCompile(`keyward serving HTTP.* addr=(\S+)`)
		sc := bufio.NewScanner(stderrPipe)
		for sc.Scan() {
			mu.Lock()
			stderr.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
				addrFound <- m[1]
			}
		}
		close(addrFound)
	}()
	addr, ok := <-addrFound
	require.True(t, ok, "keyward exited without serving")
	assert.True(t, strings.HasPrefix(addr, "127.0.0.1:") && addr != "127.0.0.1:0" && addr != "127.0.0.1:1", "--addr wins over KEYWARD_ADDR and the real port is logged: %s", addr)
	base := "http://" + addr

	resp, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	var health map[string]string
	require.NoError(t, json.Unmarshal(body, &health))
	assert.Equal(t, map[string]string{"status": "ok", "version": version.Version}, health)

	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e","version":"0"}}}`
	post := func(token string) *http.Response {
		req, err := http.NewRequest(http.MethodPost, base+"/mcp", strings.NewReader(initialize))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	assert.Equal(t, http.StatusUnauthorized, post("").StatusCode)
	ok200 := post(serveToken)
	assert.Equal(t, http.StatusOK, ok200.StatusCode)
	assert.NotEmpty(t, ok200.Header.Get("Mcp-Session-Id"))

	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	<-readDone
	require.NoError(t, cmd.Wait(), "keyward serve exits 0 after SIGTERM")
	mu.Lock()
	logs := stderr.String()
	mu.Unlock()
	assert.Contains(t, logs, "keyward shutting down")
	assert.Contains(t, logs, "keyward stopped serving HTTP")
	assert.NotContains(t, logs, serveToken, "the token is never logged")
	assert.Empty(t, stdout.String(), "serve writes nothing to stdout")
}

func TestServeRefusesUnsafeAddressesAndBadFlags(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KEYWARD_DB", filepath.Join(dir, "keyward.db"))
	t.Setenv("KEYWARD_HTTP_TOKEN", "")
	for _, addr := range []string{"0.0.0.0:8377", ":8377"} {
		var stderr bytes.Buffer
		code := run(context.Background(), []string{"serve", "--addr", addr}, strings.NewReader(""), io.Discard, &stderr)
		assert.Equal(t, 2, code, addr)
		assert.Contains(t, stderr.String(), "refusing to serve HTTP on", addr)
		assert.Contains(t, stderr.String(), "KEYWARD_HTTP_TOKEN", addr)
	}
	_, err := os.Stat(filepath.Join(dir, "keyward.db"))
	assert.True(t, os.IsNotExist(err), "a refused start does not create the state file")

	t.Setenv("KEYWARD_ADDR", "0.0.0.0:8377")
	var stderr bytes.Buffer
	assert.Equal(t, 2, run(context.Background(), []string{"serve"}, strings.NewReader(""), io.Discard, &stderr), "KEYWARD_ADDR is checked too")
	assert.Contains(t, stderr.String(), "0.0.0.0:8377")

	stderr.Reset()
	assert.Equal(t, 2, run(context.Background(), []string{"serve", "extra"}, strings.NewReader(""), io.Discard, &stderr))
	assert.Contains(t, stderr.String(), "unexpected arguments")
	stderr.Reset()
	assert.Equal(t, 2, run(context.Background(), []string{"serve", "--port", "1"}, strings.NewReader(""), io.Discard, &stderr))
	assert.Contains(t, stderr.String(), "-addr")
}
