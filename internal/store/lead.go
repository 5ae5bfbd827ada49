package store

import (
	"context"
	"time"

	"github.com/keyward/keyward/internal/pause"
)

// Lease is leadership of one name among every keyward sharing the state.
type Lease struct {
	done    chan struct{}
	release func()
}

// Done is closed when the lease is lost (the database connection holding
// it went away) or released.
func (l *Lease) Done() <-chan struct{} { return l.done }

// Release gives the lease up; another process may take it at once.
func (l *Lease) Release() { l.release() }

// leaderRetry is how often a process that does not lead tries again, and
// how often a leader checks that it still holds its lock.
var leaderRetry = time.Second

// Lead blocks until this process leads name — exactly one process sharing
// the state does at a time — or ctx ends. On PostgreSQL leadership is a
// session advisory lock held by a connection of its own: when the leader
// dies, its connection closes, PostgreSQL releases the lock and the next
// process takes it within leaderRetry. On SQLite it is a lock on a file
// beside the state file, released by the kernel when its process dies.
func (s *Store) Lead(ctx context.Context, name string) (*Lease, error) {
	if s.engine == Postgres {
		return s.leadPostgres(ctx, name)
	}
	return s.leadFile(ctx, name)
}

func (s *Store) leadPostgres(ctx context.Context, name string) (*Lease, error) {
	key := s.lockKey("lead:" + name)
	for {
		if conn, err := s.connect(ctx); err == nil {
			var got bool
			for err == nil {
				if err = conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1)`, key).Scan(&got); err == nil && got {
					break
				}
				if err == nil {
					err = pause.For(ctx, leaderRetry)
				}
			}
			if got {
				l := &Lease{done: make(chan struct{})}
				stop := make(chan struct{})
				exited := make(chan struct{})
				go func() {
					defer close(exited)
					defer close(l.done)
					defer conn.Close(context.Background()) // the lock goes with the session
					t := time.NewTicker(leaderRetry)
					defer t.Stop()
					for {
						select {
						case <-stop:
							return
						case <-t.C:
							pctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
							err := conn.Ping(pctx)
							cancel()
							if err != nil {
								return
							}
						}
					}
				}()
				var once bool
				l.release = func() {
					if !once {
						once = true
						close(stop)
					}
					<-exited
				}
				return l, nil
			}
			conn.Close(context.Background())
		}
		if err := pause.For(ctx, leaderRetry); err != nil {
			return nil, err
		}
	}
}
