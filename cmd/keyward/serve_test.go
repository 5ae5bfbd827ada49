package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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

// serveProc is keyward serve running as a process.
type serveProc struct {
	cmd      *exec.Cmd
	base     string // http://host:port
	stdout   bytes.Buffer
	mu       sync.Mutex
	stderr   bytes.Buffer
	readDone chan struct{}
}

// startServe starts cmd (keyward serve, possibly through a shell) and waits
// for it to log where it listens.
func startServe(t testing.TB, cmd *exec.Cmd) *serveProc {
	t.Helper()
	p := &serveProc{cmd: cmd, readDone: make(chan struct{})}
	stderrPipe, err := cmd.StderrPipe()
	require.NoError(t, err)
	cmd.Stdout = &p.stdout
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	addrFound := make(chan string, 1)
	go func() {
		defer close(p.readDone)
		addrRE := regexp.MustCompile(`keyward serving HTTP.* addr=(\S+)`)
		sc := bufio.NewScanner(stderrPipe)
		for sc.Scan() {
			p.mu.Lock()
			p.stderr.WriteString(sc.Text() + "\n")
			p.mu.Unlock()
			if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
				addrFound <- m[1]
			}
		}
		close(addrFound)
	}()
	addr, ok := <-addrFound
	require.True(t, ok, "keyward exited without serving")
	p.base = "http://" + addr
	return p
}

// stop sends SIGTERM, requires exit status 0 and returns the logs.
func (p *serveProc) stop(t testing.TB) string {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	<-p.readDone
	require.NoError(t, p.cmd.Wait(), "keyward serve exits 0 after SIGTERM")
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// TestServeAnswersAndStopsOnSIGTERM runs the built binary: it logs where it
// listens, answers /healthz and MCP with the token, and on SIGTERM finishes,
// closes its state file and exits 0.
func TestServeAnswersAndStopsOnSIGTERM(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = cleanEnv("KEYWARD_DB="+filepath.Join(dir, "keyward.db"), "KEYWARD_HTTP_TOKEN="+serveToken, "KEYWARD_ADDR=127.0.0.1:1", "HOME="+dir)
	p := startServe(t, cmd)
	addr := strings.TrimPrefix(p.base, "http://")
	assert.True(t, strings.HasPrefix(addr, "127.0.0.1:") && addr != "127.0.0.1:0" && addr != "127.0.0.1:1", "--addr wins over KEYWARD_ADDR and the real port is logged: %s", addr)
	base := p.base

	resp, err := http.Get(base + "/healthz")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	var health map[string]string
	require.NoError(t, json.Unmarshal(body, &health))
	assert.Equal(t, map[string]string{"status": "ok", "version": version.Version}, health)

	assert.Equal(t, http.StatusUnauthorized, postInitialize(t, http.DefaultClient, base, "").StatusCode)
	ok200 := postInitialize(t, http.DefaultClient, base, serveToken)
	assert.Equal(t, http.StatusOK, ok200.StatusCode)
	assert.NotEmpty(t, ok200.Header.Get("Mcp-Session-Id"))

	logs := p.stop(t)
	assert.Contains(t, logs, "keyward shutting down")
	assert.Contains(t, logs, "keyward stopped serving HTTP")
	assert.NotContains(t, logs, serveToken, "the token is never logged")
	assert.Empty(t, p.stdout.String(), "serve writes nothing to stdout")
}

// postInitialize opens a streamable HTTP session, with token when not "".
func postInitialize(t *testing.T, hc *http.Client, base, token string) *http.Response {
	t.Helper()
	initialize := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e","version":"0"}}}`
	req, err := http.NewRequest(http.MethodPost, base+"/mcp", strings.NewReader(initialize))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

// The attack of issue 8 (item 15) on the real binary, at a low open-file
// limit: hundreds of connections that send headers without a token and then
// stall their body. Each is answered 401 and closed, they never hold more
// than KEYWARD_MAX_CONNS (lowered to fit the limit) connections, and
// /healthz and a client with the token are still served.
func TestServeSurvivesStalledBodiesAtALowFileLimit(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command("/bin/sh", "-c", `ulimit -n 256 && exec "$0" serve --addr 127.0.0.1:0`, binary)
	cmd.Env = cleanEnv("KEYWARD_DB="+filepath.Join(dir, "keyward.db"), "KEYWARD_HTTP_TOKEN="+serveToken, "HOME="+dir)
	p := startServe(t, cmd)
	addr := strings.TrimPrefix(p.base, "http://")

	const stalled = 400 // well past the 256 descriptors keyward may open
	var conns []net.Conn
	for range stalled {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { c.Close() })
		_, _ = fmt.Fprintf(c, "POST /mcp HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"jsonrpc\"", addr)
		conns = append(conns, c)
	}
	// The waits below are bounds on a hang, not on speed.
	hc := &http.Client{Timeout: time.Minute}
	resp, err := hc.Get(p.base + "/healthz")
	require.NoError(t, err, "/healthz must answer")
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, http.StatusOK, postInitialize(t, hc, p.base, serveToken).StatusCode, "a client with the token is served")

	// The last stalled connections (not closed to make room) got their 401.
	for _, c := range conns[stalled-10:] {
		_ = c.SetReadDeadline(time.Now().Add(time.Minute))
		status, _ := bufio.NewReader(c).ReadString('\n')
		assert.Equal(t, "HTTP/1.1 401 Unauthorized\r\n", status)
	}

	logs := p.stop(t)
	assert.Contains(t, logs, "KEYWARD_MAX_CONNS is more than this process's open-file limit")
	assert.NotContains(t, logs, "too many open files")
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
