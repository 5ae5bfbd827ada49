//go:build unix

package store

import (
	"context"
	"fmt"
	"os"
	"sync"
	"syscall"

	"github.com/keyward/keyward/internal/pause"
)

func (s *Store) leadFile(ctx context.Context, name string) (*Lease, error) {
	path := s.path + "-lock"
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", path, err)
	}
	_ = name // one lock file serves the one name keyward leads (the reaper)
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			break
		}
		if err != syscall.EWOULDBLOCK {
			f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if err := pause.For(ctx, leaderRetry); err != nil {
			f.Close()
			return nil, err
		}
	}
	l := &Lease{done: make(chan struct{})}
	var once sync.Once
	l.release = func() {
		once.Do(func() {
			syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			f.Close()
			close(l.done)
		})
	}
	return l, nil
}
