package local

import (
	"context"
	"database/sql"
	"encoding/hex"
	"time"

	"github.com/keyward/keyward/internal/store"
)

// Every process sharing the state keeps a mirror of what validation needs:
// every secret's hash with its key's state. Validation answers from it
// alone — known and unknown keys alike, so a flood of forged kw_ secrets
// (the checksum is public) never reaches the database — while the mirror is
// fresh, that is while its last catch-up with the database began less than
// timing.fresh ago. A validation that finds it stale catches up first (one
// query, shared by every validation waiting for it); if the database cannot
// be reached, validation fails rather than answer from a stale mirror.
//
// Why a fresh mirror is right "the moment" another process commits a write:
// every write that changes a validation's answer (create, rotate, revoke,
// enable, disable, re-scope, new expiry) returns only timing.settle after
// its commit, and settle > fresh. Take a validation that starts after such a
// write returned, in any process: it starts at least settle after the
// commit, and the mirror it uses began its catch-up less than fresh before
// it — so after the commit, and that catch-up read the write. Only local
// monotonic clocks are compared (each process with itself), never clocks of
// two machines. Catching up is exact because every such write takes the
// next value of one counter, which serialises them in commit order (see
// Schema, step 3), and stamps the keys it changed.
//
// A busy process catches up every timing.poll in the background, so
// validations rarely wait; on PostgreSQL a NOTIFY from every write makes
// the others catch up at once, busy or not, and a listener that reconnects
// catches up too, so a missed notification costs nothing but time. An idle
// process does not poll: its first validation catches up.
type timing struct {
	poll   time.Duration
	fresh  time.Duration
	settle time.Duration
}

var timings = map[store.Engine]timing{
	store.SQLite:   {poll: 2 * time.Millisecond, fresh: 6 * time.Millisecond, settle: 8 * time.Millisecond},
	store.Postgres: {poll: 5 * time.Millisecond, fresh: 30 * time.Millisecond, settle: 35 * time.Millisecond},
}

// idleAfter: with no validation for this long, a process stops polling.
const idleAfter = time.Second

// never is the demand of a process that has not validated yet.
const never = -1 << 62

var epoch = time.Now()

// mono is monotonic nanoseconds since the process started.
func mono() int64 { return int64(time.Since(epoch)) }

// keyState is one key as validation needs it, with its secrets' hashes.
type keyState struct {
	base    entry
	secrets map[[32]byte]int64 // hash → valid_until (0: the current secret)
}

const catchUpQuery = `SELECT m.seq, m.reset_seq, k.id, k.name, k.scopes, k.active, k.expires_at, k.revoked_at, k.start, k.last4, s.hash, s.valid_until
	FROM local_meta m
	LEFT JOIN local_keys k ON k.change_seq > ?
	LEFT JOIN local_secrets s ON s.key_id = k.id
	WHERE m.id = 1`

// changes reads, in one statement (one snapshot), the counter and every key
// stamped above since (-1: every key).
func (a *Authority) changes(ctx context.Context, since int64) (seq, reset int64, keys map[string]*keyState, err error) {
	rows, err := a.st.DB().QueryContext(ctx, a.st.Q(catchUpQuery), since)
	if err != nil {
		return 0, 0, nil, err
	}
	defer rows.Close()
	keys = map[string]*keyState{}
	for rows.Next() {
		var (
			id, name, scopes, start, last4, hash sql.NullString
			active                               sql.NullBool
			expires, revoked, validUntil         sql.NullInt64
		)
		if err := rows.Scan(&seq, &reset, &id, &name, &scopes, &active, &expires, &revoked, &start, &last4, &hash, &validUntil); err != nil {
			return 0, 0, nil, err
		}
		if !id.Valid {
			continue
		}
		ks := keys[id.String]
		if ks == nil {
			ks = &keyState{base: entry{keyID: id.String, name: name.String, scopes: splitScopes(scopes.String), active: active.Bool,
				expiresAt: expires.Int64, revokedAt: revoked.Int64, start: start.String, last4: last4.String},
				secrets: map[[32]byte]int64{}}
			keys[id.String] = ks
		}
		var sum [32]byte
		if hash.Valid && hex.DecodedLen(len(hash.String)) == 32 {
			if _, err := hex.Decode(sum[:], []byte(hash.String)); err == nil {
				ks.secrets[sum] = validUntil.Int64
			}
		}
	}
	return seq, reset, keys, rows.Err()
}

// sync catches the mirror up with the database.
func (a *Authority) sync(ctx context.Context) error {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	return a.syncLocked(ctx)
}

// freshen makes the mirror fresh: a caller that found it stale catches up
// itself, unless another caught up while it waited for the lock.
func (a *Authority) freshen(ctx context.Context) error {
	a.syncMu.Lock()
	defer a.syncMu.Unlock()
	if a.fresh(mono()) {
		return nil
	}
	return a.syncLocked(ctx)
}

func (a *Authority) syncLocked(ctx context.Context) error {
	t0 := mono()
	seq, reset, keys, err := a.changes(ctx, a.applied)
	if err != nil {
		return err
	}
	full := a.applied < 0
	if !full && reset > a.applied {
		// A purge deleted rows since: start again from everything.
		if seq, _, keys, err = a.changes(ctx, -1); err != nil {
			return err
		}
		full = true
	}
	if full || len(keys) > 0 {
		a.mu.Lock()
		if full {
			clear(a.byHash)
			clear(a.byKey)
		}
		for id, ks := range keys {
			for _, h := range a.byKey[id] {
				delete(a.byHash, h)
			}
			hashes := make([][32]byte, 0, len(ks.secrets))
			for h, until := range ks.secrets {
				e := ks.base
				e.validUntil = until
				a.byHash[h] = &e
				hashes = append(hashes, h)
			}
			a.byKey[id] = hashes
		}
		a.gen++
		a.list = nil
		a.mu.Unlock()
	}
	a.applied = seq
	a.freshAt.Store(t0)
	return nil
}

// fresh says whether the mirror may answer alone at now.
func (a *Authority) fresh(now int64) bool {
	f := a.freshAt.Load()
	return f > 0 && now-f < int64(a.timing.fresh)
}

// want notes that validation is being asked for, so the background
// catch-up keeps the mirror fresh.
func (a *Authority) want(now int64) {
	if d := a.demand.Load(); now-d > int64(50*time.Millisecond) {
		a.demand.Store(now)
		select {
		case a.kick <- struct{}{}:
		default:
		}
	}
}

// syncLoop catches up when woken (a validation, a notification) and every
// poll while validations come in.
func (a *Authority) syncLoop() {
	defer a.stopped.Done()
	t := time.NewTicker(a.timing.poll)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-a.kick:
		case <-t.C:
			if mono()-a.demand.Load() > int64(idleAfter) {
				continue
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if err := a.sync(ctx); err != nil {
			a.syncErrors.Add(1)
		}
		cancel()
	}
}

// settled returns once every process's fresh mirror holds a write that
// committed before committedAt (mono), or when ctx ends.
func (a *Authority) settled(ctx context.Context, committedAt int64) {
	wait := time.Duration(committedAt + int64(a.timing.settle) - mono())
	if wait <= 0 {
		return
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
