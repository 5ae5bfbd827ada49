package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// BenchmarkStartToInitialize spawns keyward over stdio and waits for its answer
// to initialize: what a client feels at every launch. Target: under 50 ms.
func BenchmarkStartToInitialize(b *testing.B) {
	env := append(os.Environ(), "KEYWARD_DB="+filepath.Join(b.TempDir(), "keyward.db"), "KEYWARD_LOG_LEVEL=error")
	for b.Loop() {
		startToInitialize(b, binary, env)
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/start")
}

// BenchmarkStartVersusBareMCPGo times the same for keyward and for mcp-go's
// own typed_tools example, built from the release keyward uses, in
// alternating rounds of one run (so both see the same machine). Target:
// keyward no slower than the bare example.
func BenchmarkStartVersusBareMCPGo(b *testing.B) {
	bare := filepath.Join(b.TempDir(), "bare")
	if out, err := exec.Command("go", "build", "-o", bare, "github.com/mark3labs/mcp-go/examples/typed_tools").CombinedOutput(); err != nil {
		b.Fatalf("building mcp-go's example: %v\n%s", err, out)
	}
	env := append(os.Environ(), "KEYWARD_DB="+filepath.Join(b.TempDir(), "keyward.db"), "KEYWARD_LOG_LEVEL=error")
	var kw, base time.Duration
	for b.Loop() {
		kw += startToInitialize(b, binary, env)
		base += startToInitialize(b, bare, env)
	}
	b.ReportMetric(float64(kw.Microseconds())/1000/float64(b.N), "keyward-ms/start")
	b.ReportMetric(float64(base.Microseconds())/1000/float64(b.N), "bare-ms/start")
	b.ReportMetric(float64(kw)/float64(base), "ratio")
}

// startToInitialize starts bin, sends initialize and waits for the answer;
// it returns that time (shutdown is not part of it).
func startToInitialize(b *testing.B, bin string, env []string) time.Duration {
	b.StopTimer()
	defer b.StartTimer()
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}` + "\n"
	cmd := exec.Command(bin)
	cmd.Env = env
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	b.StartTimer()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stdin.Write([]byte(init))
	line, err := bufio.NewReader(stdout).ReadString('\n')
	took := time.Since(start)
	b.StopTimer()
	if err != nil || !strings.Contains(line, `"serverInfo"`) {
		b.Fatalf("%s: no initialize answer: %v %q", bin, err, line)
	}
	stdin.Close()
	cmd.Wait()
	return took
}
