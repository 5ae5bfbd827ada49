package manager

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/delivery"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/records"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testutil"
)

// fakePlatform is a scriptable provider: keys in memory, every call logged,
// and any operation made to fail on demand.
type fakePlatform struct {
	mu      sync.Mutex
	caps    provider.Capabilities
	keys    map[string]provider.Key
	next    int
	calls   []string
	failOn  map[string]error // operation → error it returns (once per entry in failN)
	failN   map[string]int
	created []string
}

func newFakePlatform(caps provider.Capabilities) *fakePlatform {
	return &fakePlatform{caps: caps, keys: map[string]provider.Key{}, failOn: map[string]error{}, failN: map[string]int{}}
}

// fail makes the next n calls of op return err.
func (f *fakePlatform) fail(op string, n int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failOn[op], f.failN[op] = err, n
}

func (f *fakePlatform) call(op, id string) error {
	f.calls = append(f.calls, strings.TrimSpace(op+" "+id))
	if f.failN[op] > 0 {
		f.failN[op]--
		return f.failOn[op]
	}
	return nil
}

func (f *fakePlatform) called(op string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, c := range f.calls {
		if strings.HasPrefix(c, op+" ") || c == op {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakePlatform) Name() string                        { return "fake" }
func (f *fakePlatform) Title() string                       { return "Fake" }
func (f *fakePlatform) Capabilities() provider.Capabilities { return f.caps }
func (f *fakePlatform) ScopeVocabulary() []provider.Scope {
	return []provider.Scope{{Name: "read", ReadOnly: true}, {Name: "write"}}
}
func (f *fakePlatform) DefaultScopes() []string { return []string{"read"} }

func (f *fakePlatform) List(context.Context) ([]provider.Key, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("list", ""); err != nil {
		return nil, err
	}
	var out []provider.Key
	for _, k := range f.keys {
		out = append(out, k)
	}
	return out, nil
}

func (f *fakePlatform) Get(_ context.Context, id string) (provider.Key, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("get", id); err != nil {
		return provider.Key{}, err
	}
	k, ok := f.keys[id]
	if !ok {
		return provider.Key{}, provider.NotFound("fake", id)
	}
	return k, nil
}

func (f *fakePlatform) Create(_ context.Context, req provider.CreateRequest) (provider.Created, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("create", req.Name); err != nil {
		return provider.Created{}, err
	}
	f.next++
	k := provider.Key{ID: fmt.Sprintf("k%d", f.next), Name: req.Name, Scopes: req.Scopes, Active: true, CreatedAt: time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC), ExpiresAt: req.ExpiresAt}
	f.keys[k.ID] = k
	f.created = append(f.created, k.ID)
	return provider.Created{Key: k, Secret: "secret-of-" + k.ID}, nil
}

func (f *fakePlatform) Update(_ context.Context, id string, req provider.UpdateRequest) (provider.Key, error) {
	return provider.Key{}, provider.Unsupported("fake", "no updates")
}

func (f *fakePlatform) SetActive(_ context.Context, id string, active bool) (provider.Key, error) {
	return provider.Key{}, provider.Unsupported("fake", "no toggle")
}

func (f *fakePlatform) Rotate(_ context.Context, id string, _ provider.RotateRequest) (provider.Created, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("rotate", id); err != nil {
		return provider.Created{}, err
	}
	k, ok := f.keys[id]
	if !ok {
		return provider.Created{}, provider.NotFound("fake", id)
	}
	return provider.Created{Key: k, Secret: "rotated-secret-of-" + id}, nil
}

func (f *fakePlatform) Revoke(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.call("revoke", id); err != nil {
		return err
	}
	if _, ok := f.keys[id]; !ok {
		return provider.NotFound("fake", id)
	}
	delete(f.keys, id)
	return nil
}

func (f *fakePlatform) Validate(context.Context, string) (provider.Validation, error) {
	return provider.Validation{}, provider.Unsupported("fake", "no validation")
}
func (f *fakePlatform) Whoami(context.Context) (provider.Identity, error) {
	return provider.Identity{}, provider.Unsupported("fake", "no whoami")
}

func (f *fakePlatform) live(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, ok := f.keys[id]
	return ok
}

// scriptedSecrets is a delivery that can be made to fail.
type scriptedSecrets struct {
	mu         sync.Mutex
	deliverErr error
	delivered  []string
	// hold, when set, makes Deliver wait for it to close, after saying so on held.
	hold, held chan struct{}
}

func (s *scriptedSecrets) Ready() error { return nil }
func (s *scriptedSecrets) Deliver(_ context.Context, _, _ string, c provider.Created, _ delivery.Place) (delivery.Result, error) {
	if s.hold != nil {
		close(s.held)
		<-s.hold
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deliverErr != nil {
		return delivery.Result{}, s.deliverErr
	}
	s.delivered = append(s.delivered, c.Key.ID)
	return delivery.Result{Mode: secret.ModeInline, Secret: c.Secret}, nil
}
func (s *scriptedSecrets) Remove(string) (bool, error) { return false, nil }
func (s *scriptedSecrets) Restore(string) error        { return nil }

type env struct {
	m       *Manager
	f       *fakePlatform
	secrets *scriptedSecrets
	st      *store.Store
	clock   *testutil.Clock
}

var (
	noExpiryCaps = provider.Capabilities{Manage: true, Revoke: true, Scopes: true, Expiry: provider.ExpiryNone}
	rotateCaps   = provider.Capabilities{Manage: true, Revoke: true, Scopes: true, Expiry: provider.ExpiryAny, Rotate: true}
)

func newEnv(t *testing.T, caps provider.Capabilities, confirm policy.ConfirmMode) *env {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "k.db"), store.Options{}, audit.Schema, records.Schema)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	clk := testutil.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	e := &env{f: newFakePlatform(caps), secrets: &scriptedSecrets{}, st: st, clock: clk}
	e.m, err = New(Options{
		Providers: []provider.Provider{e.f}, Policy: policy.New(policy.Rules{}), Store: st, Audit: audit.New(st, clk.Now),
		Reveal: secret.ModeInline, Secrets: e.secrets, Confirm: confirm, Now: clk.Now,
	})
	require.NoError(t, err)
	return e
}

func (e *env) intents(t *testing.T) []string {
	t.Helper()
	rows, err := e.st.DB().Query(`SELECT key_id FROM create_intents`)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		out = append(out, id)
	}
	return out
}

func (e *env) audit(t *testing.T) []audit.Record {
	t.Helper()
	page, err := e.m.AuditLog(context.Background(), AuditArgs{Limit: 100})
	require.NoError(t, err)
	return page.Records
}

func (e *env) seed(t *testing.T, name string) string {
	t.Helper()
	res, err := e.m.CreateKey(context.Background(), CreateArgs{Provider: "fake", Name: name, ExpiresIn: "30d"})
	require.NoError(t, err)
	return res.Key.ID
}

var errBoom = errors.New("boom")

func TestCreateUndoesAKeyWhoseSecretCannotBeDelivered(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noExpiryCaps, policy.ConfirmOff)
	e.secrets.deliverErr = errBoom
	_, err := e.m.CreateKey(context.Background(), CreateArgs{Provider: "fake", Name: "x"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "revoked again")
	assert.Equal(t, []string{"revoke k1"}, e.f.called("revoke"), "the undelivered key is revoked")
	assert.False(t, e.f.live("k1"))
	assert.Empty(t, e.intents(t), "nothing left to recover")
	rec := e.audit(t)[0]
	assert.Equal(t, audit.OutcomeError, rec.Outcome)
	assert.Equal(t, "k1", rec.KeyID, "the audit names the key that was made and undone")
}

// A create whose delivery and undo both fail keeps the new key's id — in the
// error, the audit record and the journal — and Reconcile finishes the undo.
func TestCreateWhoseUndoFailsIsFinishedByReconcile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noExpiryCaps, policy.ConfirmOff)
	e.secrets.deliverErr = errBoom
	e.f.fail("revoke", 1, provider.Errorf(provider.KindUpstream, "fake", "down"))
	_, err := e.m.CreateKey(context.Background(), CreateArgs{Provider: "fake", Name: "x"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "k1")
	assert.Equal(t, provider.StepRevoke, provider.StepOf(err))
	assert.True(t, e.f.live("k1"))
	assert.Equal(t, []string{"k1"}, e.intents(t))
	assert.Equal(t, "k1", e.audit(t)[0].KeyID)

	n, err := e.m.Reconcile(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.False(t, e.f.live("k1"), "recovery revoked it")
	assert.Empty(t, e.intents(t))
	assert.Equal(t, "recovery", e.audit(t)[0].Tool)
}

// The drift the review found: a re-issue whose delivery and undo both fail
// lost the replacement's id. Now it is kept everywhere, and the old key is untouched.
func TestReissueWhoseDeliveryAndUndoFailKeepsTheReplacementID(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noExpiryCaps, policy.ConfirmOff)
	old := e.seed(t, "old")
	e.secrets.deliverErr = errBoom
	e.f.fail("revoke", 1, provider.Errorf(provider.KindUpstream, "fake", "down"))
	_, err := e.m.ReissueKey(context.Background(), ReissueArgs{UpdateArgs: UpdateArgs{Provider: "fake", KeyID: old, Scopes: []string{"read"}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "old key is untouched")
	assert.Contains(t, err.Error(), "k2", "the replacement's id is named")
	assert.True(t, e.f.live(old), "the old key still works")
	assert.True(t, e.f.live("k2"))
	assert.Equal(t, []string{"k2"}, e.intents(t), "the journal keeps the replacement for recovery")
	rec := e.audit(t)[0]
	assert.Equal(t, "reissue_key", rec.Tool)
	assert.Equal(t, "k2", rec.KeyID)
	n, err := e.m.Reconcile(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.False(t, e.f.live("k2"))
	assert.True(t, e.f.live(old))
}

func TestReissueWhoseCreateFailsLeavesTheOldKey(t *testing.T) {
	t.Parallel()
	for _, changed := range []provider.Changed{provider.ChangedNo, provider.ChangedUnknown} {
		t.Run(string(changed), func(t *testing.T) {
			e := newEnv(t, noExpiryCaps, policy.ConfirmOff)
			old := e.seed(t, "old")
			e.f.fail("create", 1, provider.Fail(provider.KindUpstream, changed, "fake", 0, "timed out"))
			_, err := e.m.ReissueKey(context.Background(), ReissueArgs{UpdateArgs: UpdateArgs{Provider: "fake", KeyID: old, Name: ptr("new")}})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "old key is untouched")
			assert.True(t, e.f.live(old))
			assert.Empty(t, e.f.called("revoke"))
			if changed == provider.ChangedUnknown {
				assert.Len(t, e.intents(t), 1, "the create may have happened: recovery checks")
				assert.Contains(t, err.Error(), "keyward revokes it")
			} else {
				assert.Empty(t, e.intents(t))
			}
		})
	}
}

// A replacement is recorded before the old key goes; if the old key cannot
// be revoked, the answer says so, the old key's record stays, and its own
// audit record says what happened.
func TestReissueWhoseOldKeyCannotBeRevoked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noExpiryCaps, policy.ConfirmOff)
	old := e.seed(t, "old")
	e.f.fail("revoke", 1, provider.Errorf(provider.KindUpstream, "fake", "down"))
	res, err := e.m.ReissueKey(context.Background(), ReissueArgs{UpdateArgs: UpdateArgs{Provider: "fake", KeyID: old, Name: ptr("new")}})
	require.NoError(t, err)
	assert.Equal(t, old, res.ReplacedKeyID)
	assert.True(t, slices.ContainsFunc(res.Notes, func(n Note) bool { return n.Kind == NoteOldKeyNotRevoked && n.KeyID == old }))
	mk, err := e.m.managed(context.Background(), "fake", old)
	require.NoError(t, err)
	assert.NotNil(t, mk, "keyward still tracks the old key (its deadline, its file)")
	recs := e.audit(t)
	assert.Equal(t, old, recs[0].KeyID)
	assert.Equal(t, audit.OutcomeError, recs[0].Outcome)
	assert.Equal(t, res.Key.ID, recs[1].KeyID)
	assert.Equal(t, audit.OutcomeOK, recs[1].Outcome)
	assert.Empty(t, e.intents(t))
}

func TestRotationByReissueWithGraceSchedulesTheOldKey(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noExpiryCaps, policy.ConfirmOff)
	old := e.seed(t, "old")
	res, err := e.m.RotateKey(context.Background(), RotateArgs{Provider: "fake", KeyID: old, Grace: "2h"})
	require.NoError(t, err)
	want := e.clock.Now().Add(2 * time.Hour).UTC().Truncate(time.Second)
	require.NotNil(t, res.OldValidUntil)
	assert.Equal(t, want, *res.OldValidUntil)
	assert.True(t, e.f.live(old), "the old key works during the grace")
	e.clock.Advance(2*time.Hour + time.Second)
	n, err := e.m.Reap(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.False(t, e.f.live(old))
}

func TestNativeRotationWhoseSecretCannotBeDelivered(t *testing.T) {
	t.Parallel()
	e := newEnv(t, rotateCaps, policy.ConfirmOff)
	id := e.seed(t, "k")
	e.secrets.deliverErr = errBoom
	_, err := e.m.RotateKey(context.Background(), RotateArgs{Provider: "fake", KeyID: id})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "rotated but its new secret could not be delivered")
	assert.Equal(t, audit.OutcomeError, e.audit(t)[0].Outcome)
}

type decliningHuman struct{ asked int }

func (h *decliningHuman) Confirm(context.Context, caller.Question) (caller.Decision, error) {
	h.asked++
	return caller.Decline, nil
}
func (h *decliningHuman) ShowSecret(context.Context, caller.Reveal) (bool, error) { return false, nil }

// Nothing reaches the platform before the human and the policy said yes.
func TestDeclinesAndRefusalsChangeNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noExpiryCaps, policy.ConfirmAsk)
	old := e.seed(t, "old")
	h := &decliningHuman{}
	ctx := caller.WithHuman(context.Background(), h)
	_, err := e.m.RevokeKey(ctx, RevokeArgs{Provider: "fake", KeyID: old})
	assert.True(t, IsDeclined(err))
	_, err = e.m.ReissueKey(ctx, ReissueArgs{UpdateArgs: UpdateArgs{Provider: "fake", KeyID: old, Name: ptr("x")}})
	assert.True(t, IsDeclined(err))
	_, err = e.m.RotateKey(ctx, RotateArgs{Provider: "fake", KeyID: old})
	assert.True(t, IsDeclined(err))
	_, err = e.m.CreateKey(ctx, CreateArgs{Provider: "fake", Name: "w", Scopes: []string{"write"}})
	assert.True(t, IsDeclined(err))
	assert.Equal(t, 4, h.asked)
	_, err = e.m.CreateKey(ctx, CreateArgs{Provider: "fake", Name: "w", ExpiresIn: "1y"})
	var r *policy.Refusal
	assert.True(t, errors.As(err, &r))
	assert.Empty(t, e.f.called("revoke"))
	assert.Equal(t, []string{"create old"}, e.f.called("create"), "only the seeded key was ever created")
	for _, rec := range e.audit(t)[:5] {
		assert.Contains(t, []string{audit.OutcomeDeclined, audit.OutcomeRefused}, rec.Outcome, rec.Tool)
	}
}

func ptr[T any](v T) *T { return &v }

// Was a hole (found by the kill test under load): Reconcile listed the
// intents, a create of this process finished meanwhile, and Reconcile then
// took its intent for one left behind and revoked the key the caller had
// just been given.
func TestReconcileLeavesACreateThatFinishedWhileItLooked(t *testing.T) {
	e := newEnv(t, noExpiryCaps, policy.ConfirmOff)
	e.secrets.hold, e.secrets.held = make(chan struct{}), make(chan struct{})
	done := make(chan NewSecret)
	go func() {
		res, err := e.m.CreateKey(context.Background(), CreateArgs{Provider: "fake", Name: "x"})
		assert.NoError(t, err)
		done <- res
	}()
	<-e.secrets.held // the key exists upstream and the intent names it
	var res NewSecret
	reconcileListed = func() {
		close(e.secrets.hold)
		res = <-done // the create is over and acknowledged
	}
	t.Cleanup(func() { reconcileListed = func() {} })
	n, err := e.m.Reconcile(context.Background())
	require.NoError(t, err)
	assert.Zero(t, n)
	require.NotEmpty(t, res.Key.ID)
	assert.True(t, e.f.live(res.Key.ID), "the acknowledged key still works")
	assert.Empty(t, e.f.called("revoke"))
}
