package main

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"

	"github.com/keyward/keyward/internal/store/storetest"
)

// BenchmarkReplicas measures validate_key and create_key calls/s through
// `keyward serve` (streamable HTTP, 16 clients spread over the replicas):
// SQLite with one replica, PostgreSQL with one and with three. Everything —
// replicas, PostgreSQL and the clients — shares the machine's cores.
//
//	go test -run '^$' -bench Replicas -benchtime 4000x ./cmd/keyward/
func BenchmarkReplicas(b *testing.B) {
	for _, c := range []struct {
		name     string
		postgres bool
		replicas int
	}{{"sqlite-1", false, 1}, {"postgres-1", true, 1}, {"postgres-3", true, 3}} {
		b.Run(c.name, func(b *testing.B) {
			dsn := filepath.Join(b.TempDir(), "keyward.db")
			if c.postgres {
				dsn = storetest.NewPostgres(b)
			}
			var rs []*serveProc
			for range c.replicas {
				rs = append(rs, replica(b, dsn, "KEYWARD_LOCAL_MAX_KEYS=1000000"))
			}
			const clients = 16
			var cs []*client.Client
			for i := range clients {
				cs = append(cs, connect(b, rs[i%len(rs)]))
			}
			var secrets []string
			for i := range 100 {
				k, err := createKey(context.Background(), cs[i%clients], fmt.Sprintf("bench-%d", i))
				if err != nil {
					b.Fatal(err)
				}
				secrets = append(secrets, k.Secret)
			}
			b.Run("validate", func(b *testing.B) {
				spread(b, cs, func(ctx context.Context, c *client.Client, i int) error {
					s, err := validateKey(ctx, c, secrets[i%len(secrets)])
					if err == nil && s != "valid" {
						err = fmt.Errorf("status %s", s)
					}
					return err
				})
			})
			b.Run("create", func(b *testing.B) {
				spread(b, cs, func(ctx context.Context, c *client.Client, i int) error {
					_, err := createKey(ctx, c, fmt.Sprintf("load-%d", i))
					return err
				})
			})
			for _, r := range rs {
				r.stop(b)
			}
		})
	}
}

// spread runs b.N calls over the clients at once and reports calls/s.
func spread(b *testing.B, cs []*client.Client, call func(ctx context.Context, c *client.Client, i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Value
	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= b.N {
					return
				}
				if err := call(ctx, c, i); err != nil {
					failed.Store(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := failed.Load().(error); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "calls/s")
}
