package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkStartToInitialize spawns keyward over stdio and waits for its answer
// to initialize: what a client feels at every launch. Target: under 50 ms.
func BenchmarkStartToInitialize(b *testing.B) {
	dir := b.TempDir()
	env := append(os.Environ(), "KEYWARD_DB="+filepath.Join(dir, "keyward.db"), "KEYWARD_LOG_LEVEL=error")
	init := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"bench","version":"1"}}}` + "\n"
	for b.Loop() {
		cmd := exec.Command(binary)
		cmd.Env = env
		stdin, _ := cmd.StdinPipe()
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		stdin.Write([]byte(init))
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || !strings.Contains(line, `"serverInfo"`) {
			b.Fatalf("no initialize answer: %v %q", err, line)
		}
		b.StopTimer() // shutdown is not part of start-up
		stdin.Close()
		cmd.Wait()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/start")
}
