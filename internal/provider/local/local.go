// Package local is keyward's embedded key authority: keys live in keyward's
// state (the SQLite file, or PostgreSQL shared by replicas), hashed, so
// keyward is useful with no account anywhere.
package local

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/store"
)

const (
	Name = "local"
	// DefaultMaxKeys bounds live keys so a looping agent cannot mint without end.
	DefaultMaxKeys = 100
	// PurgeAfter is how long revoked and expired keys stay answerable as such.
	PurgeAfter         = 90 * 24 * time.Hour
	lastUsedFlushEvery = 5 * time.Second
)

// listTTL bounds how long List is answered from its cache (see List).
var listTTL = lastUsedFlushEvery

// Options configure the authority.
type Options struct {
	Scopes   []string // the vocabulary; default read, write
	MaxKeys  int      // default DefaultMaxKeys
	Now      func() time.Time
	StateDir string // shown by Whoami
}

// Authority implements provider.Provider on the store.
type Authority struct {
	st      *store.Store
	vocab   []provider.Scope
	maxKeys int
	now     func() time.Time
	timing  timing

	// The mirror (see mirror.go): every secret's hash with its key's
	// state, caught up with the database by sync.
	mu     sync.RWMutex
	byHash map[[32]byte]*entry
	byKey  map[string][][32]byte
	gen    uint64         // bumped by every change applied, under mu
	list   []provider.Key // cached List answer; nil when unknown
	listAt int64          // mono() when list was read

	syncMu     sync.Mutex
	applied    int64        // the change seq the mirror holds; -1: nothing yet (under syncMu)
	freshAt    atomic.Int64 // mono() when the last catch-up began; 0: none
	demand     atomic.Int64 // mono() of the last validation
	kick       chan struct{}
	syncErrors atomic.Int64
	unlisten   func()

	usedMu    sync.Mutex
	used      map[string]int64 // key id → last use (unix ms) not yet written
	stop      chan struct{}
	stopped   sync.WaitGroup
	closeOnce sync.Once
}

type entry struct {
	keyID      string
	name       string
	scopes     []string
	active     bool
	expiresAt  int64 // 0: never
	revokedAt  int64 // 0: not revoked
	validUntil int64 // 0: the current secret; else end of its rotation grace
	start      string
	last4      string
}

// New opens the authority on st (opened with Schema), loads its mirror and
// starts catching up and writing last-used times.
func New(ctx context.Context, st *store.Store, o Options) (*Authority, error) {
	if len(o.Scopes) == 0 {
		o.Scopes = []string{"read", "write"}
	}
	if o.MaxKeys <= 0 {
		o.MaxKeys = DefaultMaxKeys
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	a := &Authority{
		st: st, maxKeys: o.MaxKeys, now: o.Now, timing: timings[st.Engine()],
		byHash: make(map[[32]byte]*entry), byKey: make(map[string][][32]byte),
		applied: -1, kick: make(chan struct{}, 1),
		used: make(map[string]int64),
		stop: make(chan struct{}),
	}
	for _, s := range o.Scopes {
		a.vocab = append(a.vocab, provider.Scope{Name: s, ReadOnly: IsReadOnlyScope(s), Sensitive: IsSensitiveScope(s), Description: describe(s)})
	}
	a.demand.Store(never)
	if err := a.sync(ctx); err != nil {
		return nil, a.dbError(err)
	}
	a.unlisten = st.Subscribe(Name, func() {
		select {
		case a.kick <- struct{}{}:
		default:
		}
	}, nil)
	a.stopped.Add(2)
	go a.flushLoop()
	go a.syncLoop()
	return a, nil
}

// IsReadOnlyScope: "read", or a name ending in :read, _read or .read.
func IsReadOnlyScope(s string) bool {
	return s == "read" || strings.HasSuffix(s, ":read") || strings.HasSuffix(s, "_read") || strings.HasSuffix(s, ".read")
}

// sensitiveWords mark a scope that touches money, people, identity or keys.
// The operator names local scopes freely, so the default ceiling cannot rely
// on a table: any scope with one of these words as a part of its name is
// left out of it unless the operator lists it in KEYWARD_ALLOWED_SCOPES_LOCAL.
var sensitiveWords = map[string]bool{
	// money
	"billing": true, "bill": true, "bills": true, "payment": true, "payments": true, "pay": true,
	"invoice": true, "invoices": true, "money": true, "credit": true, "credits": true, "balance": true,
	"charge": true, "charges": true, "subscription": true, "subscriptions": true, "plan": true, "plans": true,
	"wallet": true, "finance": true, "refund": true, "refunds": true, "payout": true, "payouts": true,
	// power over everything
	"admin": true, "admins": true, "administrator": true, "owner": true, "owners": true, "root": true,
	"superuser": true, "sudo": true, "all": true, "full": true, "god": true, "master": true, "*": true,
	// people and organisations
	"team": true, "teams": true, "member": true, "members": true, "membership": true, "org": true,
	"orgs": true, "organization": true, "organisation": true, "organizations": true, "organisations": true,
	"user": true, "users": true, "account": true, "accounts": true, "role": true, "roles": true,
	"iam": true, "sso": true, "auth": true, "permission": true, "permissions": true, "acl": true, "acls": true,
	"invite": true, "invites": true,
	// keys and secrets
	"key": true, "keys": true, "apikey": true, "apikeys": true, "token": true, "tokens": true,
	"secret": true, "secrets": true, "credential": true, "credentials": true, "password": true, "passwords": true,
}

// IsSensitiveScope: a part of the name (split at ':', '.', '_', '-', '/'),
// lower-cased, is one of sensitiveWords; e.g. billing, admin, keys:write,
// billing:read, team_manage.
func IsSensitiveScope(s string) bool {
	for _, part := range strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return strings.ContainsRune(":._-/", r) }) {
		if sensitiveWords[part] {
			return true
		}
	}
	return false
}

func describe(s string) string {
	switch {
	case IsSensitiveScope(s) && IsReadOnlyScope(s):
		return "read-only access to something sensitive (money, people or keys); above the default ceiling"
	case IsSensitiveScope(s):
		return "operator-defined scope touching money, people or keys; above the default ceiling"
	case IsReadOnlyScope(s):
		return "read-only access"
	}
	return "operator-defined scope"
}

// Close writes pending last-used times and releases the authority.
// Close may be called more than once, from more than one goroutine; the
// first call does the work and the others wait for it.
func (a *Authority) Close() error {
	a.closeOnce.Do(func() {
		close(a.stop)
		a.unlisten()
		a.stopped.Wait()
		a.flushLastUsed(context.Background())
	})
	return nil
}

func (a *Authority) Name() string  { return Name }
func (a *Authority) Title() string { return "the local authority" }

func (a *Authority) Capabilities() provider.Capabilities {
	return provider.Capabilities{
		Manage: true, Revoke: true, KeyShape: "keyward", Scopes: true, ScopesMutable: true, Rename: true,
		Expiry: provider.ExpiryAny, ExpiryMutable: true, Toggle: true,
		Rotate: true, RotateGrace: true, Validate: true, Whoami: true, LastUsed: true,
		MaxKeys: a.maxKeys,
	}
}

func (a *Authority) ScopeVocabulary() []provider.Scope { return slices.Clone(a.vocab) }

// DefaultScopes are the vocabulary's read-only scopes that are not sensitive;
// none when it has none, so a key is never given write access by default.
func (a *Authority) DefaultScopes() []string {
	var out []string
	for _, s := range a.vocab {
		if s.ReadOnly && !s.Sensitive {
			out = append(out, s.Name)
		}
	}
	return out
}

const keyColumns = `id, name, scopes, start, last4, active, created_at, expires_at, last_used_at`

func (a *Authority) List(ctx context.Context) ([]provider.Key, error) {
	if !a.fresh(mono()) {
		if err := a.freshen(ctx); err != nil {
			return nil, a.dbError(err)
		}
	}
	a.mu.RLock()
	cached, gen, at := a.list, a.gen, a.listAt
	a.mu.RUnlock()
	// Last-used times other processes write change no seq (they would
	// serialise validation's bookkeeping); a cached list is kept no longer
	// than they wait between writes.
	if cached == nil || mono()-at > int64(listTTL) {
		at := mono()
		keys, err := a.listFromDB(ctx)
		if err != nil {
			return nil, err
		}
		a.mu.Lock()
		if a.gen == gen {
			a.list, a.listAt = keys, at
		}
		a.mu.Unlock()
		cached = keys
	}
	out := make([]provider.Key, len(cached))
	for i, k := range cached {
		k.Scopes = slices.Clone(k.Scopes)
		out[i] = a.withPendingUse(k)
	}
	return out, nil
}

func (a *Authority) listFromDB(ctx context.Context) ([]provider.Key, error) {
	rows, err := a.st.DB().QueryContext(ctx, `SELECT `+keyColumns+` FROM local_keys WHERE revoked_at IS NULL ORDER BY created_at, id`)
	if err != nil {
		return nil, a.dbError(err)
	}
	defer rows.Close()
	var keys []provider.Key
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, a.dbError(err)
		}
		keys = append(keys, k)
	}
	if keys == nil {
		keys = []provider.Key{}
	}
	return keys, a.dbError(rows.Err())
}

func (a *Authority) Get(ctx context.Context, id string) (provider.Key, error) {
	return a.get(ctx, a.st.DB(), id)
}

type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (a *Authority) get(ctx context.Context, q queryer, id string) (provider.Key, error) {
	var revokedAt sql.NullInt64
	row := q.QueryRowContext(ctx, a.st.Q(`SELECT `+keyColumns+`, revoked_at FROM local_keys WHERE id = ?`), store.Text(id))
	k, err := scanKey(row, &revokedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return provider.Key{}, provider.NotFound(Name, id)
	}
	if err != nil {
		return provider.Key{}, a.dbError(err)
	}
	if revokedAt.Valid {
		return provider.Key{}, provider.Errorf(provider.KindNotFound, Name, "key %q was revoked at %s; it cannot be used or changed any more", id, time.UnixMilli(revokedAt.Int64).UTC().Format(time.RFC3339))
	}
	return a.withPendingUse(k), nil
}

type scanner interface{ Scan(dest ...any) error }

func scanKey(s scanner, extra ...any) (provider.Key, error) {
	var (
		k                    provider.Key
		scopes, start, last4 string
		created              int64
		expires, lastUsed    sql.NullInt64
	)
	dest := append([]any{&k.ID, &k.Name, &scopes, &start, &last4, &k.Active, &created, &expires, &lastUsed}, extra...)
	if err := s.Scan(dest...); err != nil {
		return k, err
	}
	k.Scopes = splitScopes(scopes)
	k.CreatedAt = time.UnixMilli(created).UTC()
	k.ExpiresAt = store.FromMillis(expires)
	k.LastUsedAt = store.FromMillis(lastUsed)
	k.Masked = secret.MaskParts(start, last4)
	return k, nil
}

func splitScopes(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Fields(s)
}

func (a *Authority) Create(ctx context.Context, req provider.CreateRequest) (provider.Created, error) {
	if strings.TrimSpace(req.Name) == "" {
		return provider.Created{}, provider.Errorf(provider.KindInvalid, Name, "a key needs a name; pass name, e.g. \"ci-read\"")
	}
	key, err := secret.Generate()
	if err != nil {
		return provider.Created{}, provider.Errorf(provider.KindUpstream, Name, "could not generate a key: %v", err)
	}
	id := newKeyID()
	now := a.now().UTC()
	ms := now.UnixMilli()
	if err := ctx.Err(); err != nil {
		return provider.Created{}, a.dbError(err)
	}
	// Once begun, a write runs to its end (KEYWARD_DB_TIMEOUT bounds it):
	// a caller giving up during the commit would otherwise leave its
	// outcome unknown.
	wctx := context.WithoutCancel(ctx)
	err = a.st.Tx(wctx, func(tx *sql.Tx) error {
		ctx := wctx
		// The change counter's row lock, taken first, orders creates in
		// every process sharing the state, so the count below sees every
		// create committed before this one: the limit holds exactly.
		seq, err := a.bump(ctx, tx, false)
		if err != nil {
			return err
		}
		var live int
		if err := tx.QueryRowContext(ctx, a.st.Q(`SELECT count(*) FROM local_keys WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > ?)`), ms).Scan(&live); err != nil {
			return err
		}
		if live >= a.maxKeys {
			return provider.Errorf(provider.KindLimit, Name, "the local authority already holds %d live keys, its limit (KEYWARD_LOCAL_MAX_KEYS)", live).Next(provider.StepRevokeUnused).For("KEYWARD_LOCAL_MAX_KEYS")
		}
		if _, err := tx.ExecContext(ctx, a.st.Q(`INSERT INTO local_keys (id, name, scopes, start, last4, active, created_at, expires_at, updated_at, request_id, change_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			id, store.Text(req.Name), store.Text(strings.Join(req.Scopes, " ")), secret.Start(key), secret.Last4(key), true, ms, store.Millis(req.ExpiresAt), ms, nullString(req.RequestID), seq); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, a.st.Q(`INSERT INTO local_secrets (hash, key_id, created_at) VALUES (?, ?, ?)`), secret.Hash(key), id, ms)
		return err
	})
	if err != nil {
		return provider.Created{}, a.dbError(err)
	}
	a.afterWrite(ctx)
	// The key exists now: a caller that gave up meanwhile still gets it, so
	// whoever journaled the create records it (an error here would say
	// nothing was made).
	k, err := a.Get(context.WithoutCancel(ctx), id)
	return provider.Created{Key: k, Secret: key}, err
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// FindCreated finds the key a create with this RequestID made, revoked or not.
func (a *Authority) FindCreated(ctx context.Context, requestID string) (provider.Key, bool, error) {
	var id string
	err := a.st.DB().QueryRowContext(ctx, a.st.Q(`SELECT id FROM local_keys WHERE request_id = ?`), store.Text(requestID)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return provider.Key{}, false, nil
	}
	if err != nil {
		return provider.Key{}, false, a.dbError(err)
	}
	k, err := a.Get(ctx, id)
	if provider.IsKind(err, provider.KindNotFound) {
		return provider.Key{ID: id}, true, nil // revoked already
	}
	return k, err == nil, err
}

// newKeyID is "key_" and 12 characters of crypto/rand's base32 text (60
// bits, each character uniform: no modulo bias), lower-cased.
func newKeyID() string {
	return "key_" + strings.ToLower(rand.Text()[:12])
}

// mutate runs fn on a live key inside a transaction and returns the key after it.
func (a *Authority) mutate(ctx context.Context, id string, fn func(tx *sql.Tx, now int64) error) (provider.Key, error) {
	if err := a.change(ctx, id, false, fn); err != nil {
		return provider.Key{}, err
	}
	return a.Get(context.WithoutCancel(ctx), id) // done: the answer must not say otherwise
}

// change runs fn on a live key inside a transaction; every cached answer goes.
// A key past its expiry is final: only revoking it (allowExpired) may touch it,
// so nothing can bring it back to life or past KEYWARD_LOCAL_MAX_KEYS.
func (a *Authority) change(ctx context.Context, id string, allowExpired bool, fn func(tx *sql.Tx, now int64) error) error {
	if err := ctx.Err(); err != nil {
		return a.dbError(err)
	}
	wctx := context.WithoutCancel(ctx) // see Create
	err := a.st.Tx(wctx, func(tx *sql.Tx) error {
		ctx := wctx
		seq, err := a.bump(ctx, tx, false)
		if err != nil {
			return err
		}
		k, err := a.get(ctx, tx, id)
		if err != nil {
			return err
		}
		now := a.now()
		if !allowExpired && k.ExpiresAt != nil && !now.Before(*k.ExpiresAt) {
			return provider.Errorf(provider.KindConflict, Name, "key %q expired at %s; an expired key is final and cannot be changed", id, k.ExpiresAt.Format(time.RFC3339)).Next(provider.StepNewKey)
		}
		if err := fn(tx, now.UnixMilli()); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, a.st.Q(`UPDATE local_keys SET change_seq = ? WHERE id = ?`), seq, id)
		return err
	})
	if err != nil {
		return a.dbError(err)
	}
	a.afterWrite(ctx)
	return nil
}

func (a *Authority) Update(ctx context.Context, id string, req provider.UpdateRequest) (provider.Key, error) {
	if req.Name != nil && strings.TrimSpace(*req.Name) == "" {
		return provider.Key{}, provider.Errorf(provider.KindInvalid, Name, "name cannot be empty; pass a new name or leave name out")
	}
	return a.mutate(ctx, id, func(tx *sql.Tx, now int64) error {
		if req.Name != nil {
			if _, err := tx.ExecContext(ctx, a.st.Q(`UPDATE local_keys SET name = ?, updated_at = ? WHERE id = ?`), store.Text(*req.Name), now, id); err != nil {
				return err
			}
		}
		if req.Scopes != nil {
			if _, err := tx.ExecContext(ctx, a.st.Q(`UPDATE local_keys SET scopes = ?, updated_at = ? WHERE id = ?`), store.Text(strings.Join(req.Scopes, " ")), now, id); err != nil {
				return err
			}
		}
		if req.SetExpiry {
			if _, err := tx.ExecContext(ctx, a.st.Q(`UPDATE local_keys SET expires_at = ?, updated_at = ? WHERE id = ?`), store.Millis(req.ExpiresAt), now, id); err != nil {
				return err
			}
		}
		return nil
	})
}

func (a *Authority) SetActive(ctx context.Context, id string, active bool) (provider.Key, error) {
	return a.mutate(ctx, id, func(tx *sql.Tx, now int64) error {
		_, err := tx.ExecContext(ctx, a.st.Q(`UPDATE local_keys SET active = ?, updated_at = ? WHERE id = ?`), active, now, id)
		return err
	})
}

// Rotate issues a new secret for the same key (same id, scopes and expiry).
// Older secrets stay valid for grace, then stop.
func (a *Authority) Rotate(ctx context.Context, id string, req provider.RotateRequest) (provider.Created, error) {
	if req.Grace < 0 {
		return provider.Created{}, provider.Errorf(provider.KindInvalid, Name, "grace cannot be negative")
	}
	key, err := secret.Generate()
	if err != nil {
		return provider.Created{}, provider.Errorf(provider.KindUpstream, Name, "could not generate a key: %v", err)
	}
	k, err := a.mutate(ctx, id, func(tx *sql.Tx, now int64) error {
		until := now + req.Grace.Milliseconds()
		// A secret already in an earlier grace keeps the shorter of the two.
		if _, err := tx.ExecContext(ctx, a.st.Q(`UPDATE local_secrets SET valid_until = CASE WHEN valid_until IS NOT NULL AND valid_until < ? THEN valid_until ELSE ? END WHERE key_id = ?`), until, until, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, a.st.Q(`INSERT INTO local_secrets (hash, key_id, created_at) VALUES (?, ?, ?)`), secret.Hash(key), id, now); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, a.st.Q(`UPDATE local_keys SET start = ?, last4 = ?, updated_at = ? WHERE id = ?`), secret.Start(key), secret.Last4(key), now, id)
		return err
	})
	if err != nil {
		return provider.Created{}, err
	}
	return provider.Created{Key: k, Secret: key}, nil
}

func (a *Authority) Revoke(ctx context.Context, id string) error {
	return a.change(ctx, id, true, func(tx *sql.Tx, now int64) error {
		_, err := tx.ExecContext(ctx, a.st.Q(`UPDATE local_keys SET revoked_at = ?, active = ?, updated_at = ? WHERE id = ?`), now, false, now, id)
		return err
	})
}

// Validate checks the format offline, then the hash, and says why a key fails.
func (a *Authority) Validate(ctx context.Context, key string) (provider.Validation, error) {
	if err := secret.CheckFormat(key); err != nil {
		return provider.Validation{Status: provider.StatusInvalidFormat, Reason: err.Error()}, nil
	}
	sum := sha256.Sum256([]byte(key))
	at := mono()
	a.want(at)
	if !a.fresh(at) {
		if err := a.freshen(ctx); err != nil {
			return provider.Validation{}, a.dbError(err)
		}
	}
	a.mu.RLock()
	e := a.byHash[sum]
	a.mu.RUnlock()
	if e == nil {
		return provider.Validation{Status: provider.StatusNotFound, Reason: "no key with this secret exists on the local authority (it may have been purged)"}, nil
	}
	now := a.now().UnixMilli()
	v := provider.Validation{KeyID: e.keyID, Name: e.name, Scopes: slices.Clone(e.scopes), Masked: secret.MaskParts(e.start, e.last4), Owner: Name}
	if e.expiresAt != 0 {
		t := time.UnixMilli(e.expiresAt).UTC()
		v.ExpiresAt = &t
	}
	switch {
	case e.revokedAt != 0:
		v.Status, v.Reason = provider.StatusRevoked, "this key was revoked"
	case e.validUntil != 0 && now >= e.validUntil:
		v.Status, v.Reason = provider.StatusRevoked, "this secret was replaced by rotation and its grace period is over; use the new secret"
	case e.expiresAt != 0 && now >= e.expiresAt:
		v.Status, v.Reason = provider.StatusExpired, "this key is past its expiry"
	case !e.active:
		v.Status, v.Reason, v.Step = provider.StatusDisabled, "this key is disabled", provider.StepEnable
	default:
		v.Status = provider.StatusValid
		if e.validUntil != 0 {
			v.Reason = "valid during the rotation grace period until " + time.UnixMilli(e.validUntil).UTC().Format(time.RFC3339)
		}
		a.noteUse(e.keyID, now)
	}
	return v, nil
}

// bump takes the next change seq inside tx (see Schema, step 3); reset
// marks a write that deletes rows, after which every process reloads.
func (a *Authority) bump(ctx context.Context, tx *sql.Tx, reset bool) (int64, error) {
	q := `UPDATE local_meta SET seq = seq + 1 WHERE id = 1 RETURNING seq`
	if reset {
		q = `UPDATE local_meta SET seq = seq + 1, reset_seq = seq + 1 WHERE id = 1 RETURNING seq`
	}
	var seq int64
	if err := tx.QueryRowContext(ctx, q).Scan(&seq); err != nil {
		return 0, err
	}
	return seq, a.st.Notify(ctx, tx, Name)
}

// afterWrite runs once a write committed: this process's mirror takes it
// at once, and the write returns only when every other process's fresh
// mirror holds it too (see mirror.go).
func (a *Authority) afterWrite(ctx context.Context) {
	committed := mono()
	if err := a.sync(context.WithoutCancel(ctx)); err != nil {
		// The mirror may be stale: validation asks the database until a
		// catch-up succeeds.
		a.freshAt.Store(0)
	}
	a.settled(ctx, committed)
}

// invalidate drops the cached List (last-used times changed).
func (a *Authority) invalidate() {
	a.mu.Lock()
	a.gen++
	a.list = nil
	a.mu.Unlock()
}

func (a *Authority) noteUse(id string, ms int64) {
	a.usedMu.Lock()
	if ms > a.used[id] {
		a.used[id] = ms
	}
	a.usedMu.Unlock()
}

func (a *Authority) withPendingUse(k provider.Key) provider.Key {
	a.usedMu.Lock()
	ms, ok := a.used[k.ID]
	a.usedMu.Unlock()
	if ok && (k.LastUsedAt == nil || k.LastUsedAt.UnixMilli() < ms) {
		t := time.UnixMilli(ms).UTC()
		k.LastUsedAt = &t
	}
	return k
}

// Last-used times are batched: writing one per validation would cap
// validation at the speed of SQLite commits.
func (a *Authority) flushLoop() {
	defer a.stopped.Done()
	t := time.NewTicker(lastUsedFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
			a.flushLastUsed(context.Background())
		}
	}
}

func (a *Authority) flushLastUsed(ctx context.Context) {
	a.usedMu.Lock()
	pending := a.used
	a.used = make(map[string]int64)
	a.usedMu.Unlock()
	if len(pending) == 0 {
		return
	}
	err := a.st.Tx(ctx, func(tx *sql.Tx) error {
		for id, ms := range pending {
			if _, err := tx.ExecContext(ctx, a.st.Q(`UPDATE local_keys SET last_used_at = CASE WHEN last_used_at IS NOT NULL AND last_used_at > ? THEN last_used_at ELSE ? END WHERE id = ?`), ms, ms, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// Keep them for the next round rather than lose them.
		a.usedMu.Lock()
		for id, ms := range pending {
			a.used[id] = max(a.used[id], ms)
		}
		a.usedMu.Unlock()
	}
	a.invalidate() // the cached List predates the flushed last-used times
}

// Whoami: the local authority needs no credential.
func (a *Authority) Whoami(ctx context.Context) (provider.Identity, error) {
	return provider.Identity{Account: "local", Detail: "the embedded authority needs no credential; its state is in " + a.st.Path()}, nil
}

// Purge deletes keys revoked or expired more than PurgeAfter ago, and rotated
// secrets whose grace ended that long ago. It returns how many keys went.
func (a *Authority) Purge(ctx context.Context) (int64, error) {
	cutoff := a.now().Add(-PurgeAfter).UnixMilli()
	var n int64
	err := a.st.Tx(ctx, func(tx *sql.Tx) error {
		if _, err := a.bump(ctx, tx, true); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, a.st.Q(`DELETE FROM local_keys WHERE revoked_at < ? OR expires_at < ?`), cutoff, cutoff)
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		_, err = tx.ExecContext(ctx, a.st.Q(`DELETE FROM local_secrets WHERE valid_until < ?`), cutoff)
		return err
	})
	if err != nil {
		return 0, a.dbError(err)
	}
	a.afterWrite(ctx)
	return n, nil
}

func (a *Authority) dbError(err error) error {
	if err == nil {
		return nil
	}
	err = a.st.Scrub(err)
	var pe *provider.Error
	if errors.As(err, &pe) {
		return pe
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return provider.Errorf(provider.KindUpstream, Name, "the request was cancelled before keyward's state (KEYWARD_DB) answered; nothing was changed")
	}
	if a.st.Engine() == store.Postgres {
		return provider.Errorf(provider.KindUpstream, Name, "the database failed: %v; check KEYWARD_DB and that PostgreSQL is reachable", err)
	}
	return provider.Errorf(provider.KindUpstream, Name, "the state file failed: %v; check KEYWARD_DB and free disk space", err)
}
