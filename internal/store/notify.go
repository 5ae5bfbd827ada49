package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/keyward/keyward/internal/pause"

	"github.com/jackc/pgx/v5"
)

// Notify asks, inside tx, that every replica's subscribers to topic be told
// once tx commits (PostgreSQL's NOTIFY, delivered in commit order). On
// SQLite it does nothing: processes sharing a file notice its changes by
// polling (see the local authority).
func (s *Store) Notify(ctx context.Context, tx *sql.Tx, topic string) error {
	if s.engine != Postgres {
		return nil
	}
	_, err := tx.ExecContext(ctx, `SELECT pg_notify($1, '')`, s.channel(topic))
	return s.scrub(err)
}

// Listening says whether a subscription's listener is connected.
type Listening func(up bool, err error)

// Subscribe calls fn after every notification on topic, from any replica,
// and after every (re)connection of its listener, since notifications may
// have been missed while it was away; state, when not nil, hears the
// listener come and go. fn and state run on the listener's goroutine and
// must not block. On SQLite nothing is ever called. stop ends it and waits.
func (s *Store) Subscribe(topic string, fn func(), state Listening) (stop func()) {
	if s.engine != Postgres {
		return func() {}
	}
	if state == nil {
		state = func(bool, error) {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		backoff := 50 * time.Millisecond
		for ctx.Err() == nil {
			err := s.listen(ctx, topic, fn, state)
			if ctx.Err() != nil {
				return
			}
			state(false, err)
			if pause.For(ctx, backoff) != nil {
				return
			}
			backoff = min(backoff*2, 2*time.Second)
		}
	}()
	return func() { cancel(); <-done }
}

func (s *Store) listen(ctx context.Context, topic string, fn func(), state Listening) error {
	cctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	conn, err := s.connect(cctx)
	cancel()
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{s.channel(topic)}.Sanitize()); err != nil {
		return s.scrub(err)
	}
	state(true, nil)
	fn()
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return s.scrub(err)
		}
		fn()
	}
}
