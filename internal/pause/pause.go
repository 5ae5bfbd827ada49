// Package pause waits for a while unless a context ends first: the retry
// and back-off loops of the store, the platforms' HTTP client and the reaper
// all stop waiting the moment they are told to stop.
package pause

import (
	"context"
	"time"
)

// For waits d, or until ctx ends; then it answers ctx's error.
func For(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
