package providertest

import (
	"runtime"
	"testing"
	"time"
)

// NoConnectionLeak runs check n times and fails when that leaves more than
// maxConns connections open to the server (openConns) or more than
// maxGoroutines goroutines behind: a client that builds a transport per call
// leaves one idle connection and about three goroutines per call for as long
// as its idle timeout.
func NoConnectionLeak(t testing.TB, n, maxConns, maxGoroutines int, openConns func() int, check func()) {
	t.Helper()
	check() // warm up the shared pool
	before := runtime.NumGoroutine()
	for range n {
		check()
	}
	// Goroutines of finished requests take a moment to end.
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine()-before > maxGoroutines && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if open := openConns(); open > maxConns {
		t.Fatalf("%d calls left %d connections open to the server (at most %d expected)", n, open, maxConns)
	}
	if grown := runtime.NumGoroutine() - before; grown > maxGoroutines {
		t.Fatalf("%d calls left %d more goroutines behind (at most %d expected)", n, grown, maxGoroutines)
	}
}
