package local

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/store/storetest"
	"github.com/keyward/keyward/internal/testutil"
)

const day = 24 * time.Hour

var t0 = time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)

func newClock() *testutil.Clock { return testutil.NewClock(t0) }

type env struct {
	a   *Authority
	st  *store.Store
	clk *testutil.Clock
	dsn string
}

func openStore(t testing.TB, dsn string) *store.Store {
	t.Helper()
	st, err := store.Open(context.Background(), dsn, store.Options{}, Schema)
	require.NoError(t, err)
	return st
}

func newAuthority(t testing.TB, st *store.Store, o Options) *Authority {
	t.Helper()
	a, err := New(context.Background(), st, o)
	require.NoError(t, err)
	return a
}

// setup opens a fresh database of the engine and an authority on it; both
// close at the end.
func setup(t testing.TB, eng storetest.Engine, o Options) *env {
	t.Helper()
	dsn := eng.DSN(t)
	st := openStore(t, dsn)
	clk := newClock()
	if o.Now == nil {
		o.Now = clk.Now
	}
	a := newAuthority(t, st, o)
	t.Cleanup(func() {
		a.Close()
		st.Close()
	})
	return &env{a: a, st: st, clk: clk, dsn: dsn}
}

func ptr[T any](v T) *T { return &v }

func (e *env) create(t testing.TB, name string, scopes []string, expires *time.Time) provider.Created {
	t.Helper()
	c, err := e.a.Create(context.Background(), provider.CreateRequest{Name: name, Scopes: scopes, ExpiresAt: expires})
	require.NoError(t, err)
	return c
}

func (e *env) status(t testing.TB, key string) provider.ValidationStatus {
	t.Helper()
	v, err := e.a.Validate(context.Background(), key)
	require.NoError(t, err)
	return v.Status
}

func TestMetadata(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		e := setup(t, eng, Options{MaxKeys: 7})
		assert.Equal(t, "local", e.a.Name())
		assert.NotEmpty(t, e.a.Title())
		c := e.a.Capabilities()
		assert.True(t, c.Manage && c.Scopes && c.ScopesMutable && c.Rename && c.ExpiryMutable && c.Toggle && c.Rotate && c.RotateGrace && c.Validate && c.Whoami && c.LastUsed)
		assert.Equal(t, provider.ExpiryAny, c.Expiry)
		assert.Equal(t, 7, c.MaxKeys)
		assert.Equal(t, []string{"read"}, e.a.DefaultScopes())
		vocab := e.a.ScopeVocabulary()
		require.Len(t, vocab, 2)
		assert.Equal(t, provider.Scope{Name: "read", ReadOnly: true, Description: "read-only access"}, vocab[0])
		assert.Equal(t, "write", vocab[1].Name)
		assert.False(t, vocab[1].ReadOnly)
		vocab[0].Name = "changed"
		assert.Equal(t, "read", e.a.ScopeVocabulary()[0].Name, "a copy")

		id, err := e.a.Whoami(context.Background())
		require.NoError(t, err)
		assert.Equal(t, "local", id.Account)
		assert.Contains(t, id.Detail, e.st.Path())

		assert.Equal(t, DefaultMaxKeys, setup(t, eng, Options{}).a.Capabilities().MaxKeys)
	})
}

func TestDefaultScopesFromVocabulary(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		cases := []struct {
			vocab, want []string
		}{
			// No read-only scope: no default (a key never gets write access unasked).
			{[]string{"deploy", "admin"}, nil},
			// Sensitive read-only scopes (money) are no default either.
			{[]string{"write", "billing:read", "logs_read", "x.read", "reader"}, []string{"logs_read", "x.read"}},
			{[]string{"read"}, []string{"read"}},
		}
		for _, c := range cases {
			e := setup(t, eng, Options{Scopes: c.vocab})
			assert.Equal(t, c.want, e.a.DefaultScopes(), c.vocab)
		}
	})
}

func TestIsReadOnlyScope(t *testing.T) {
	for s, want := range map[string]bool{
		"read": true, "billing:read": true, "instance_read": true, "logs.read": true,
		"write": false, "reader": false, "readwrite": false, "read:all": false, "": false, "READ": false,
	} {
		assert.Equal(t, want, IsReadOnlyScope(s), s)
	}
}

func TestLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		e := setup(t, eng, Options{})
		exp := t0.Add(30 * day)

		c := e.create(t, "ci-read", []string{"read"}, &exp)
		require.NoError(t, secret.CheckFormat(c.Secret))
		k := c.Key
		assert.True(t, strings.HasPrefix(k.ID, "key_"))
		assert.Len(t, k.ID, len("key_")+12)
		assert.Equal(t, "ci-read", k.Name)
		assert.Equal(t, []string{"read"}, k.Scopes)
		assert.True(t, k.Active)
		assert.Equal(t, t0, k.CreatedAt)
		require.NotNil(t, k.ExpiresAt)
		assert.Equal(t, exp, *k.ExpiresAt)
		assert.Nil(t, k.LastUsedAt)
		assert.Equal(t, secret.Mask(c.Secret), k.Masked)

		got, err := e.a.Get(ctx, k.ID)
		require.NoError(t, err)
		assert.Equal(t, k, got)

		e.clk.Advance(time.Second)
		other := e.create(t, "deploy", []string{"read", "write"}, nil)
		assert.Nil(t, other.Key.ExpiresAt)
		assert.NotEqual(t, k.ID, other.Key.ID)

		list, err := e.a.List(ctx)
		require.NoError(t, err)
		require.Len(t, list, 2)
		assert.Equal(t, k.ID, list[0].ID, "oldest first")
		assert.Equal(t, other.Key.ID, list[1].ID)

		// Update: rename, re-scope, change and clear expiry.
		e.clk.Advance(time.Hour)
		upd, err := e.a.Update(ctx, k.ID, provider.UpdateRequest{Name: ptr("ci"), Scopes: []string{"read", "write"}})
		require.NoError(t, err)
		assert.Equal(t, "ci", upd.Name)
		assert.Equal(t, []string{"read", "write"}, upd.Scopes)
		assert.Equal(t, exp, *upd.ExpiresAt, "expiry untouched without SetExpiry")
		newExp := t0.Add(10 * day)
		upd, err = e.a.Update(ctx, k.ID, provider.UpdateRequest{SetExpiry: true, ExpiresAt: &newExp})
		require.NoError(t, err)
		assert.Equal(t, newExp, *upd.ExpiresAt)
		assert.Equal(t, "ci", upd.Name, "name untouched")
		upd, err = e.a.Update(ctx, k.ID, provider.UpdateRequest{SetExpiry: true})
		require.NoError(t, err)
		assert.Nil(t, upd.ExpiresAt, "cleared")
		upd, err = e.a.Update(ctx, k.ID, provider.UpdateRequest{Scopes: []string{}})
		require.NoError(t, err)
		assert.Equal(t, []string{}, upd.Scopes, "provider stores what policy allowed")
		upd, err = e.a.Update(ctx, k.ID, provider.UpdateRequest{Scopes: []string{"read"}})
		require.NoError(t, err)

		// Enable / disable.
		off, err := e.a.SetActive(ctx, k.ID, false)
		require.NoError(t, err)
		assert.False(t, off.Active)
		on, err := e.a.SetActive(ctx, k.ID, true)
		require.NoError(t, err)
		assert.True(t, on.Active)

		// Rotate: same id, scopes and expiry, new secret.
		_, err = e.a.Update(ctx, k.ID, provider.UpdateRequest{SetExpiry: true, ExpiresAt: &exp})
		require.NoError(t, err)
		rot, err := e.a.Rotate(ctx, k.ID, provider.RotateRequest{})
		require.NoError(t, err)
		require.NoError(t, secret.CheckFormat(rot.Secret))
		assert.NotEqual(t, c.Secret, rot.Secret)
		assert.Equal(t, k.ID, rot.Key.ID)
		assert.Equal(t, []string{"read"}, rot.Key.Scopes)
		assert.Equal(t, exp, *rot.Key.ExpiresAt)
		assert.Equal(t, "ci", rot.Key.Name)
		assert.Equal(t, secret.Mask(rot.Secret), rot.Key.Masked)
		assert.Equal(t, t0, rot.Key.CreatedAt)

		// Revoke: gone from List, Get and further changes say so.
		require.NoError(t, e.a.Revoke(ctx, k.ID))
		list, err = e.a.List(ctx)
		require.NoError(t, err)
		require.Len(t, list, 1)
		assert.Equal(t, other.Key.ID, list[0].ID)
		_, err = e.a.Get(ctx, k.ID)
		require.True(t, provider.IsKind(err, provider.KindNotFound), "%v", err)
		assert.Contains(t, err.Error(), "was revoked at 2025-06-01T09:00:01Z")
		err = e.a.Revoke(ctx, k.ID)
		assert.True(t, provider.IsKind(err, provider.KindNotFound), "revoking twice: %v", err)
		_, err = e.a.Update(ctx, k.ID, provider.UpdateRequest{Name: ptr("x")})
		assert.True(t, provider.IsKind(err, provider.KindNotFound))
		_, err = e.a.SetActive(ctx, k.ID, true)
		assert.True(t, provider.IsKind(err, provider.KindNotFound))
		_, err = e.a.Rotate(ctx, k.ID, provider.RotateRequest{})
		assert.True(t, provider.IsKind(err, provider.KindNotFound))
		assert.Equal(t, provider.StatusRevoked, e.status(t, rot.Secret))
		assert.Equal(t, provider.StatusRevoked, e.status(t, c.Secret))
	})
}

func TestUnknownIDs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		e := setup(t, eng, Options{})
		_, err := e.a.Get(ctx, "key_nope")
		require.True(t, provider.IsKind(err, provider.KindNotFound))
		assert.Contains(t, err.Error(), "key_nope")
		assert.Equal(t, provider.StepFindKey, provider.StepOf(err))
		_, err = e.a.Update(ctx, "key_nope", provider.UpdateRequest{Name: ptr("x")})
		assert.True(t, provider.IsKind(err, provider.KindNotFound))
		_, err = e.a.SetActive(ctx, "key_nope", false)
		assert.True(t, provider.IsKind(err, provider.KindNotFound))
		_, err = e.a.Rotate(ctx, "key_nope", provider.RotateRequest{})
		assert.True(t, provider.IsKind(err, provider.KindNotFound))
		assert.True(t, provider.IsKind(e.a.Revoke(ctx, "key_nope"), provider.KindNotFound))
		list, err := e.a.List(ctx)
		require.NoError(t, err)
		assert.NotNil(t, list)
		assert.Empty(t, list)
	})
}

func TestInvalidRequests(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		e := setup(t, eng, Options{})
		for _, name := range []string{"", "   ", "\t"} {
			_, err := e.a.Create(ctx, provider.CreateRequest{Name: name})
			require.True(t, provider.IsKind(err, provider.KindInvalid), "%q: %v", name, err)
		}
		k := e.create(t, "k", []string{"read"}, nil).Key
		_, err := e.a.Update(ctx, k.ID, provider.UpdateRequest{Name: ptr(" ")})
		assert.True(t, provider.IsKind(err, provider.KindInvalid))
		_, err = e.a.Rotate(ctx, k.ID, provider.RotateRequest{Grace: -time.Second})
		assert.True(t, provider.IsKind(err, provider.KindInvalid))
		got, err := e.a.Get(ctx, k.ID)
		require.NoError(t, err)
		assert.Equal(t, "k", got.Name, "failed requests changed nothing")
		list, err := e.a.List(ctx)
		require.NoError(t, err)
		assert.Len(t, list, 1)
	})
}

func TestCancelledContext(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		e := setup(t, eng, Options{})
		k := e.create(t, "k", nil, nil).Key
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := e.a.Get(ctx, k.ID)
		require.Error(t, err)
		assert.True(t, provider.IsKind(err, provider.KindUpstream))
		assert.Contains(t, err.Error(), "cancelled")
		err = e.a.Revoke(ctx, k.ID)
		require.Error(t, err)
		_, err = e.a.Get(context.Background(), k.ID)
		require.NoError(t, err, "a cancelled revoke changed nothing")
	})
}

func TestValidateStatuses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		e := setup(t, eng, Options{})
		exp := t0.Add(time.Hour)
		c := e.create(t, "svc", []string{"read", "write"}, &exp)

		v, err := e.a.Validate(ctx, c.Secret)
		require.NoError(t, err)
		assert.Equal(t, provider.StatusValid, v.Status)
		assert.Equal(t, c.Key.ID, v.KeyID)
		assert.Equal(t, "svc", v.Name)
		assert.Equal(t, "local", v.Owner)
		assert.Equal(t, []string{"read", "write"}, v.Scopes)
		require.NotNil(t, v.ExpiresAt)
		assert.Equal(t, exp, *v.ExpiresAt)
		assert.Equal(t, c.Key.Masked, v.Masked)
		assert.Empty(t, v.Reason)

		// Well-formed but unknown.
		unknown, err := secret.Generate()
		require.NoError(t, err)
		v, err = e.a.Validate(ctx, unknown)
		require.NoError(t, err)
		assert.Equal(t, provider.StatusNotFound, v.Status)
		assert.Empty(t, v.KeyID)
		assert.NotContains(t, v.Reason, unknown)

		// Malformed: a typo of the real key, other platforms' keys, junk.
		typo := []byte(c.Secret)
		typo[20] = map[bool]byte{true: 'A', false: 'B'}[typo[20] != 'A']
		for _, bad := range []string{string(typo), "", "kw_", "lk_abcdefgh", c.Secret + " ", strings.ToUpper(c.Secret)} {
			v, err := e.a.Validate(ctx, bad)
			require.NoError(t, err)
			assert.Equal(t, provider.StatusInvalidFormat, v.Status, "%q", bad)
			assert.NotEmpty(t, v.Reason)
			assert.NotContains(t, v.Reason, c.Secret)
			if len(bad) > 10 {
				assert.NotContains(t, v.Reason, bad)
			}
			assert.Empty(t, v.KeyID, "an invalid format reveals no key")
		}

		// Disabled.
		_, err = e.a.SetActive(ctx, c.Key.ID, false)
		require.NoError(t, err)
		v, err = e.a.Validate(ctx, c.Secret)
		require.NoError(t, err)
		assert.Equal(t, provider.StatusDisabled, v.Status)
		assert.Equal(t, provider.StepEnable, v.Step, "enabling it would make it work")
		assert.Equal(t, c.Key.ID, v.KeyID)

		// Extending the expiry before the deadline keeps it alive.
		later := t0.Add(2 * time.Hour)
		_, err = e.a.Update(ctx, c.Key.ID, provider.UpdateRequest{SetExpiry: true, ExpiresAt: &later})
		require.NoError(t, err)
		_, err = e.a.SetActive(ctx, c.Key.ID, true)
		require.NoError(t, err)
		assert.Equal(t, provider.StatusValid, e.status(t, c.Secret))
		e.clk.Advance(2*time.Hour - time.Millisecond)
		assert.Equal(t, provider.StatusValid, e.status(t, c.Secret), "one millisecond before the deadline")

		// Exactly at the deadline it is expired, and an expired key is final:
		// neither enabling nor a new expiry brings it back.
		e.clk.Advance(time.Millisecond)
		assert.Equal(t, provider.StatusExpired, e.status(t, c.Secret))
		_, err = e.a.SetActive(ctx, c.Key.ID, true)
		assert.True(t, provider.IsKind(err, provider.KindConflict), "%v", err)
		muchLater := t0.Add(48 * time.Hour)
		_, err = e.a.Update(ctx, c.Key.ID, provider.UpdateRequest{SetExpiry: true, ExpiresAt: &muchLater})
		assert.True(t, provider.IsKind(err, provider.KindConflict), "%v", err)
		_, err = e.a.Rotate(ctx, c.Key.ID, provider.RotateRequest{})
		assert.True(t, provider.IsKind(err, provider.KindConflict), "%v", err)
		assert.Equal(t, provider.StatusExpired, e.status(t, c.Secret))
		e.clk.Advance(time.Millisecond)
		assert.Equal(t, provider.StatusExpired, e.status(t, c.Secret))

		// Revoked wins over expired.
		require.NoError(t, e.a.Revoke(ctx, c.Key.ID))
		v, err = e.a.Validate(ctx, c.Secret)
		require.NoError(t, err)
		assert.Equal(t, provider.StatusRevoked, v.Status)
		assert.Equal(t, c.Key.ID, v.KeyID)

		// A key that never expires stays valid.
		forever := e.create(t, "forever", []string{"read"}, nil)
		e.clk.Advance(100 * 365 * day)
		v, err = e.a.Validate(ctx, forever.Secret)
		require.NoError(t, err)
		assert.Equal(t, provider.StatusValid, v.Status)
		assert.Nil(t, v.ExpiresAt)
	})
}

func TestValidateResultIsACopy(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		e := setup(t, eng, Options{})
		c := e.create(t, "k", []string{"read", "write"}, nil)
		v, err := e.a.Validate(ctx, c.Secret)
		require.NoError(t, err)
		v.Scopes[0] = "admin"
		v, err = e.a.Validate(ctx, c.Secret)
		require.NoError(t, err)
		assert.Equal(t, []string{"read", "write"}, v.Scopes)

		list, err := e.a.List(ctx)
		require.NoError(t, err)
		list[0].Scopes[0] = "admin"
		list[0].Name = "changed"
		list, err = e.a.List(ctx)
		require.NoError(t, err)
		assert.Equal(t, []string{"read", "write"}, list[0].Scopes)
		assert.Equal(t, "k", list[0].Name)
	})
}

func TestRotationGrace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		e := setup(t, eng, Options{})
		c := e.create(t, "k", []string{"read"}, nil)
		s1 := c.Secret

		rot, err := e.a.Rotate(ctx, c.Key.ID, provider.RotateRequest{Grace: time.Hour})
		require.NoError(t, err)
		s2 := rot.Secret

		v, err := e.a.Validate(ctx, s1)
		require.NoError(t, err)
		assert.Equal(t, provider.StatusValid, v.Status)
		assert.Contains(t, v.Reason, "grace period until 2025-06-01T09:00:00Z")
		assert.Equal(t, c.Key.ID, v.KeyID)
		v, err = e.a.Validate(ctx, s2)
		require.NoError(t, err)
		assert.Equal(t, provider.StatusValid, v.Status)
		assert.Empty(t, v.Reason)

		e.clk.Advance(time.Hour - time.Millisecond)
		assert.Equal(t, provider.StatusValid, e.status(t, s1))
		e.clk.Advance(time.Millisecond)
		v, err = e.a.Validate(ctx, s1)
		require.NoError(t, err)
		assert.Equal(t, provider.StatusRevoked, v.Status)
		assert.Contains(t, v.Reason, "rotation")
		assert.Equal(t, provider.StatusValid, e.status(t, s2))

		// The grace never outlives the key itself.
		_, err = e.a.SetActive(ctx, c.Key.ID, false)
		require.NoError(t, err)
		assert.Equal(t, provider.StatusDisabled, e.status(t, s2))
	})
}

func TestRotationWithoutGraceEndsTheOldSecretAtOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		e := setup(t, eng, Options{})
		c := e.create(t, "k", nil, nil)
		assert.Equal(t, provider.StatusValid, e.status(t, c.Secret)) // cached
		rot, err := e.a.Rotate(ctx, c.Key.ID, provider.RotateRequest{})
		require.NoError(t, err)
		assert.Equal(t, provider.StatusRevoked, e.status(t, c.Secret))
		assert.Equal(t, provider.StatusValid, e.status(t, rot.Secret))
	})
}

func TestSecondRotationDoesNotExtendAnEarlierGrace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		e := setup(t, eng, Options{})
		c := e.create(t, "k", nil, nil)
		s1 := c.Secret
		r2, err := e.a.Rotate(ctx, c.Key.ID, provider.RotateRequest{Grace: time.Hour}) // s1 until t0+1h
		require.NoError(t, err)
		e.clk.Advance(10 * time.Minute)
		r3, err := e.a.Rotate(ctx, c.Key.ID, provider.RotateRequest{Grace: 24 * time.Hour}) // s2 until t0+10m+24h
		require.NoError(t, err)
		s2, s3 := r2.Secret, r3.Secret

		for _, s := range []string{s1, s2, s3} {
			assert.Equal(t, provider.StatusValid, e.status(t, s))
		}
		e.clk.Advance(50 * time.Minute) // t0+1h
		assert.Equal(t, provider.StatusRevoked, e.status(t, s1), "the first grace is not extended")
		assert.Equal(t, provider.StatusValid, e.status(t, s2))
		assert.Equal(t, provider.StatusValid, e.status(t, s3))
		e.clk.Advance(23*time.Hour + 10*time.Minute - time.Millisecond)
		assert.Equal(t, provider.StatusValid, e.status(t, s2))
		e.clk.Advance(time.Millisecond) // t0+10m+24h
		assert.Equal(t, provider.StatusRevoked, e.status(t, s2))
		assert.Equal(t, provider.StatusValid, e.status(t, s3))
	})
}

func TestShorterSecondGraceShortensTheEarlierOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		e := setup(t, eng, Options{})
		c := e.create(t, "k", nil, nil)
		_, err := e.a.Rotate(ctx, c.Key.ID, provider.RotateRequest{Grace: 24 * time.Hour})
		require.NoError(t, err)
		e.clk.Advance(time.Hour)
		r3, err := e.a.Rotate(ctx, c.Key.ID, provider.RotateRequest{}) // "all old secrets stop now"
		require.NoError(t, err)
		assert.Equal(t, provider.StatusRevoked, e.status(t, c.Secret))
		assert.Equal(t, provider.StatusValid, e.status(t, r3.Secret))
	})
}

// A revoke, disable, re-scope or expiry change is seen by the very next
// validation, even when the answer was cached.
func TestChangesBypassTheCache(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		e := setup(t, eng, Options{})
		c := e.create(t, "k", []string{"read"}, nil)

		require.Equal(t, provider.StatusValid, e.status(t, c.Secret))
		e.a.mu.RLock()
		cached := len(e.a.byHash)
		e.a.mu.RUnlock()
		require.Equal(t, 1, cached, "the mirror holds the key")

		_, err := e.a.SetActive(ctx, c.Key.ID, false)
		require.NoError(t, err)
		assert.Equal(t, provider.StatusDisabled, e.status(t, c.Secret))
		_, err = e.a.SetActive(ctx, c.Key.ID, true)
		require.NoError(t, err)
		assert.Equal(t, provider.StatusValid, e.status(t, c.Secret))

		_, err = e.a.Update(ctx, c.Key.ID, provider.UpdateRequest{Scopes: []string{"write"}, Name: ptr("renamed")})
		require.NoError(t, err)
		v, err := e.a.Validate(ctx, c.Secret)
		require.NoError(t, err)
		assert.Equal(t, []string{"write"}, v.Scopes)
		assert.Equal(t, "renamed", v.Name)

		past := t0.Add(-time.Second)
		_, err = e.a.Update(ctx, c.Key.ID, provider.UpdateRequest{SetExpiry: true, ExpiresAt: &past})
		require.NoError(t, err)
		assert.Equal(t, provider.StatusExpired, e.status(t, c.Secret))
		_, err = e.a.Update(ctx, c.Key.ID, provider.UpdateRequest{SetExpiry: true})
		assert.True(t, provider.IsKind(err, provider.KindConflict), "clearing the expiry of an expired key is refused: %v", err)
		assert.Equal(t, provider.StatusExpired, e.status(t, c.Secret))

		require.NoError(t, e.a.Revoke(ctx, c.Key.ID))
		assert.Equal(t, provider.StatusRevoked, e.status(t, c.Secret))
	})
}

func TestListCacheSeesOwnWrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		e := setup(t, eng, Options{})
		list, err := e.a.List(ctx)
		require.NoError(t, err)
		assert.Empty(t, list)
		k := e.create(t, "a", nil, nil).Key
		list, err = e.a.List(ctx)
		require.NoError(t, err)
		require.Len(t, list, 1)
		_, err = e.a.Update(ctx, k.ID, provider.UpdateRequest{Name: ptr("b")})
		require.NoError(t, err)
		list, err = e.a.List(ctx)
		require.NoError(t, err)
		assert.Equal(t, "b", list[0].Name)
		require.NoError(t, e.a.Revoke(ctx, k.ID))
		list, err = e.a.List(ctx)
		require.NoError(t, err)
		assert.Empty(t, list)
	})
}

// pollStatus validates until want is reported or a generous deadline passes.
func pollStatus(t *testing.T, a *Authority, key string, want provider.ValidationStatus) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var last provider.ValidationStatus
	for time.Now().Before(deadline) {
		v, err := a.Validate(context.Background(), key)
		require.NoError(t, err)
		if last = v.Status; last == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("status stayed %q; want %q (a write by another process was never noticed)", last, want)
}

// A second keyward process on the same state file revokes a key: the first
// one notices within its external-check window, even with the key cached.
func TestWritesByAnotherProcessAreSeen(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		dsn := eng.DSN(t)
		clk := newClock()
		st1, st2 := openStore(t, dsn), openStore(t, dsn)
		a1 := newAuthority(t, st1, Options{Now: clk.Now})
		a2 := newAuthority(t, st2, Options{Now: clk.Now})
		t.Cleanup(func() {
			a1.Close()
			a2.Close()
			st1.Close()
			st2.Close()
		})

		c, err := a1.Create(ctx, provider.CreateRequest{Name: "shared", Scopes: []string{"read"}})
		require.NoError(t, err)
		other, err := a1.Create(ctx, provider.CreateRequest{Name: "other"})
		require.NoError(t, err)
		for range 3 { // fill the cache of process 1
			v, err := a1.Validate(ctx, c.Secret)
			require.NoError(t, err)
			require.Equal(t, provider.StatusValid, v.Status)
		}
		_, err = a1.List(ctx) // and its list cache
		require.NoError(t, err)

		// Process 2 sees process 1's keys.
		v, err := a2.Validate(ctx, c.Secret)
		require.NoError(t, err)
		require.Equal(t, provider.StatusValid, v.Status)

		_, err = a2.SetActive(ctx, other.Key.ID, false)
		require.NoError(t, err)
		require.NoError(t, a2.Revoke(ctx, c.Key.ID))
		pollStatus(t, a1, c.Secret, provider.StatusRevoked)
		pollStatus(t, a1, other.Secret, provider.StatusDisabled)

		list, err := a1.List(ctx)
		require.NoError(t, err)
		require.Len(t, list, 1, "the list cache was dropped too")
		assert.False(t, list[0].Active)

		// And the other way round, again with the answer cached first.
		pollStatus(t, a2, other.Secret, provider.StatusDisabled)
		_, err = a1.SetActive(ctx, other.Key.ID, true)
		require.NoError(t, err)
		pollStatus(t, a2, other.Secret, provider.StatusValid)
	})
}

func TestKeyLimitCountsOnlyLiveKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		e := setup(t, eng, Options{MaxKeys: 3})
		soon := t0.Add(time.Hour)
		a := e.create(t, "a", nil, nil)
		b := e.create(t, "b", nil, &soon)
		c := e.create(t, "c", nil, nil)

		_, err := e.a.Create(ctx, provider.CreateRequest{Name: "d"})
		require.Error(t, err)
		assert.True(t, provider.IsKind(err, provider.KindLimit), "%v", err)
		assert.Contains(t, err.Error(), "KEYWARD_LOCAL_MAX_KEYS")
		assert.Contains(t, err.Error(), "3 live keys")
		assert.Equal(t, provider.StepRevokeUnused, provider.StepOf(err))

		// A disabled key is still live: it can be enabled again.
		_, err = e.a.SetActive(ctx, c.Key.ID, false)
		require.NoError(t, err)
		_, err = e.a.Create(ctx, provider.CreateRequest{Name: "d"})
		assert.True(t, provider.IsKind(err, provider.KindLimit))

		// A revoked key does not count.
		require.NoError(t, e.a.Revoke(ctx, a.Key.ID))
		d := e.create(t, "d", nil, nil)
		_, err = e.a.Create(ctx, provider.CreateRequest{Name: "e"})
		assert.True(t, provider.IsKind(err, provider.KindLimit))

		// Nor does an expired one.
		e.clk.Advance(time.Hour)
		assert.Equal(t, provider.StatusExpired, e.status(t, b.Secret))
		e.create(t, "e", nil, nil)
		_, err = e.a.Create(ctx, provider.CreateRequest{Name: "f"})
		assert.True(t, provider.IsKind(err, provider.KindLimit))

		// Failed creations left nothing behind.
		var n int
		require.NoError(t, e.st.DB().QueryRow(`SELECT count(*) FROM local_keys`).Scan(&n))
		assert.Equal(t, 5, n)
		require.NoError(t, e.st.DB().QueryRow(`SELECT count(*) FROM local_secrets`).Scan(&n))
		assert.Equal(t, 5, n)
		_ = d
	})
}

func TestKeyLimitUnderConcurrency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		e := setup(t, eng, Options{MaxKeys: 5})
		var ok, limited atomic.Int32
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := e.a.Create(context.Background(), provider.CreateRequest{Name: fmt.Sprintf("k%d", i)})
				switch {
				case err == nil:
					ok.Add(1)
				case provider.IsKind(err, provider.KindLimit):
					limited.Add(1)
				default:
					t.Errorf("unexpected error: %v", err)
				}
			}()
		}
		wg.Wait()
		assert.Equal(t, int32(5), ok.Load(), "never more than the limit")
		assert.Equal(t, int32(15), limited.Load())
	})
}

func TestPurge(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		e := setup(t, eng, Options{})
		oldRevoked := e.create(t, "old-revoked", nil, nil)
		oldExpired := e.create(t, "old-expired", nil, ptr(t0.Add(day)))
		recentRevoked := e.create(t, "recent-revoked", nil, nil)
		recentExpired := e.create(t, "recent-expired", nil, ptr(t0.Add(80*day)))
		live := e.create(t, "live", nil, nil)
		liveExpiring := e.create(t, "live-expiring", nil, ptr(t0.Add(365*day)))
		disabled := e.create(t, "disabled", nil, nil)

		require.NoError(t, e.a.Revoke(ctx, oldRevoked.Key.ID))
		rot, err := e.a.Rotate(ctx, live.Key.ID, provider.RotateRequest{}) // old secret ends at t0
		require.NoError(t, err)
		_, err = e.a.SetActive(ctx, disabled.Key.ID, false)
		require.NoError(t, err)

		// Nothing is old enough yet.
		n, err := e.a.Purge(ctx)
		require.NoError(t, err)
		assert.Zero(t, n)

		e.clk.Advance(85 * day)
		require.NoError(t, e.a.Revoke(ctx, recentRevoked.Key.ID))
		e.clk.Advance(10 * day) // now t0+95d

		// Validate the revoked one first so a stale cache would show.
		assert.Equal(t, provider.StatusRevoked, e.status(t, oldRevoked.Secret))

		n, err = e.a.Purge(ctx)
		require.NoError(t, err)
		assert.Equal(t, int64(2), n, "old-revoked and old-expired")

		assert.Equal(t, provider.StatusNotFound, e.status(t, oldRevoked.Secret))
		assert.Equal(t, provider.StatusNotFound, e.status(t, oldExpired.Secret))
		assert.Equal(t, provider.StatusRevoked, e.status(t, recentRevoked.Secret))
		assert.Equal(t, provider.StatusExpired, e.status(t, recentExpired.Secret))
		assert.Equal(t, provider.StatusNotFound, e.status(t, live.Secret), "a secret rotated away long ago is purged")
		assert.Equal(t, provider.StatusValid, e.status(t, rot.Secret))
		assert.Equal(t, provider.StatusValid, e.status(t, liveExpiring.Secret))
		assert.Equal(t, provider.StatusDisabled, e.status(t, disabled.Secret))

		_, err = e.a.Get(ctx, oldRevoked.Key.ID)
		assert.True(t, provider.IsKind(err, provider.KindNotFound))
		_, err = e.a.Get(ctx, oldExpired.Key.ID)
		assert.True(t, provider.IsKind(err, provider.KindNotFound))
		for _, id := range []string{recentExpired.Key.ID, live.Key.ID, liveExpiring.Key.ID, disabled.Key.ID} {
			_, err := e.a.Get(ctx, id)
			assert.NoError(t, err, id)
		}

		var secrets int
		require.NoError(t, e.st.DB().QueryRow(`SELECT count(*) FROM local_secrets`).Scan(&secrets))
		assert.Equal(t, 5, secrets, "purged keys took their secrets along, and so did the secret rotated away")

		n, err = e.a.Purge(ctx)
		require.NoError(t, err)
		assert.Zero(t, n, "idempotent")
	})
}

func TestLastUsed(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keyward.db")
	clk := newClock()
	st := openStore(t, path)
	a := newAuthority(t, st, Options{Now: clk.Now})

	c, err := a.Create(ctx, provider.CreateRequest{Name: "k"})
	require.NoError(t, err)
	clk.Advance(time.Second)
	unused, err := a.Create(ctx, provider.CreateRequest{Name: "unused"})
	require.NoError(t, err)

	clk.Advance(time.Minute)
	used := clk.Now()
	v, err := a.Validate(ctx, c.Secret)
	require.NoError(t, err)
	require.Equal(t, provider.StatusValid, v.Status)

	k, err := a.Get(ctx, c.Key.ID)
	require.NoError(t, err)
	require.NotNil(t, k.LastUsedAt, "visible right after Validate")
	assert.Equal(t, used, *k.LastUsedAt)
	list, err := a.List(ctx)
	require.NoError(t, err)
	require.NotNil(t, list[0].LastUsedAt)
	assert.Equal(t, used, *list[0].LastUsedAt)
	assert.Nil(t, list[1].LastUsedAt)

	// Failed validations are not uses.
	_, err = a.SetActive(ctx, unused.Key.ID, false)
	require.NoError(t, err)
	_, err = a.Validate(ctx, unused.Secret)
	require.NoError(t, err)
	k, err = a.Get(ctx, unused.Key.ID)
	require.NoError(t, err)
	assert.Nil(t, k.LastUsedAt)

	require.NoError(t, a.Close())
	require.NoError(t, a.Close(), "closing twice is harmless")
	require.NoError(t, st.Close())

	// Reopen: persisted.
	st = openStore(t, path)
	defer st.Close()
	a = newAuthority(t, st, Options{Now: clk.Now})
	defer a.Close()
	k, err = a.Get(ctx, c.Key.ID)
	require.NoError(t, err)
	require.NotNil(t, k.LastUsedAt, "persisted by Close")
	assert.Equal(t, used, *k.LastUsedAt)

	// Never moves backwards.
	later := clk.Now().Add(time.Hour)
	a.noteUse(c.Key.ID, later.UnixMilli())
	a.noteUse(c.Key.ID, used.UnixMilli())
	a.flushLastUsed(ctx)
	a.noteUse(c.Key.ID, used.UnixMilli())
	a.flushLastUsed(ctx)
	k, err = a.Get(ctx, c.Key.ID)
	require.NoError(t, err)
	assert.Equal(t, later, *k.LastUsedAt)
}

// After the batched writer flushes, List must not forget a last use it was
// showing a moment before.
func TestLastUsedSurvivesAFlushInTheListCache(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		e := setup(t, eng, Options{})
		c := e.create(t, "k", nil, nil)
		_, err := e.a.List(ctx) // cache the list with no last use
		require.NoError(t, err)
		e.clk.Advance(time.Minute)
		require.Equal(t, provider.StatusValid, e.status(t, c.Secret))
		list, err := e.a.List(ctx)
		require.NoError(t, err)
		require.NotNil(t, list[0].LastUsedAt)

		e.a.flushLastUsed(ctx)
		list, err = e.a.List(ctx)
		require.NoError(t, err)
		require.NotNil(t, list[0].LastUsedAt, "last use vanished from List after the flush")
		assert.Equal(t, t0.Add(time.Minute), *list[0].LastUsedAt)
	})
}

func TestConcurrentValidateAndRevoke(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		e := setup(t, eng, Options{})
		const n = 20
		var keys []provider.Created
		for i := range n {
			keys = append(keys, e.create(t, fmt.Sprintf("k%d", i), []string{"read"}, nil))
		}
		var revoked sync.Map
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for g := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := g; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					c := keys[i%n]
					_, wasRevoked := revoked.Load(c.Key.ID)
					v, err := e.a.Validate(ctx, c.Secret)
					if !assert.NoError(t, err) {
						return
					}
					switch v.Status {
					case provider.StatusValid, provider.StatusDisabled:
						assert.False(t, wasRevoked, "key %s revoked before this validation began, still %s", c.Key.ID, v.Status)
					case provider.StatusRevoked:
					default:
						assert.Fail(t, "unexpected status", "%s", v.Status)
					}
				}
			}()
		}
		wg.Add(1)
		go func() { // readers of metadata
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, err := e.a.List(ctx)
				assert.NoError(t, err)
				e.a.flushLastUsed(ctx)
			}
		}()
		for i, c := range keys {
			if i%3 == 0 {
				_, err := e.a.SetActive(ctx, c.Key.ID, false)
				require.NoError(t, err)
			}
			require.NoError(t, e.a.Revoke(ctx, c.Key.ID))
			revoked.Store(c.Key.ID, true)
			v, err := e.a.Validate(ctx, c.Secret)
			require.NoError(t, err)
			require.Equal(t, provider.StatusRevoked, v.Status, "right after Revoke returned")
			time.Sleep(time.Millisecond)
		}
		close(stop)
		wg.Wait()
		for _, c := range keys {
			assert.Equal(t, provider.StatusRevoked, e.status(t, c.Secret))
		}
	})
}

// The secret never reaches the state file: not in the database, not in its WAL.
func TestStateFileNeverHoldsTheSecret(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		e := setup(t, eng, Options{})
		var secrets []string
		var hashes []string
		for i := range 20 {
			c := e.create(t, fmt.Sprintf("k%d", i), []string{"read"}, nil)
			secrets = append(secrets, c.Secret)
			hashes = append(hashes, secret.Hash(c.Secret))
			if i%4 == 0 {
				r, err := e.a.Rotate(ctx, c.Key.ID, provider.RotateRequest{Grace: time.Hour})
				require.NoError(t, err)
				secrets = append(secrets, r.Secret)
				hashes = append(hashes, secret.Hash(r.Secret))
			}
		}
		for _, s := range secrets {
			require.Equal(t, provider.StatusValid, e.status(t, s))
		}
		e.a.flushLastUsed(ctx)

		scan := func(stage string) {
			all := stateBytes(t, eng, e.dsn)
			for _, s := range secrets {
				body := s[len(secret.Prefix) : len(s)-4] // everything but the visible parts
				if bytes.Contains(all, []byte(s)) || bytes.Contains(all, []byte(body)) || bytes.Contains(all, []byte(body[4:])) {
					t.Fatalf("%s: the state file holds a secret", stage)
				}
			}
			// The scan would see the data: every hash is there.
			for _, h := range hashes {
				require.True(t, bytes.Contains(all, []byte(h)), "%s: hash not found; is the scan reading the data?", stage)
			}
		}
		scan("open")
		require.NoError(t, e.a.Close())
		require.NoError(t, e.st.Close())
		scan("closed")
	})
}

func TestDBErrorsNameTheSetting(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		e := setup(t, eng, Options{})
		require.NoError(t, e.a.Close())
		require.NoError(t, e.st.Close())
		_, err := e.a.Get(context.Background(), "key_x")
		require.Error(t, err)
		assert.True(t, provider.IsKind(err, provider.KindUpstream))
		assert.Contains(t, err.Error(), "KEYWARD_DB")
	})
}

func TestManyKeysAllDistinct(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		e := setup(t, eng, Options{})
		ids, secs := map[string]bool{}, map[string]bool{}
		for i := range 60 {
			e.clk.Advance(time.Millisecond)
			c := e.create(t, fmt.Sprintf("k%d", i), nil, nil)
			require.False(t, ids[c.Key.ID])
			require.False(t, secs[c.Secret])
			ids[c.Key.ID], secs[c.Secret] = true, true
		}
		list, err := e.a.List(context.Background())
		require.NoError(t, err)
		assert.Len(t, list, 60)
		assert.True(t, slices.IsSortedFunc(list, func(a, b provider.Key) int { return a.CreatedAt.Compare(b.CreatedAt) }))
		assert.Equal(t, "k0", list[0].Name)
		assert.Equal(t, "k59", list[59].Name)
	})
}

func TestIsSensitiveScope(t *testing.T) {
	for s, want := range map[string]bool{
		"billing": true, "admin": true, "keys:write": true, "billing:read": true, "team_manage": true,
		"payments.write": true, "org/members": true, "API-KEYS": true, "user_read": true, "*": true,
		"read": false, "write": false, "deploy": false, "logs_read": false, "keystone": false,
		"monkey": false, "teamwork": false, "readwrite": false,
	} {
		assert.Equal(t, want, IsSensitiveScope(s), s)
	}
}

// stateBytes is everything the state holds: the SQLite file and its WAL, or
// every row of every table of the PostgreSQL schema, as text.
func stateBytes(t *testing.T, eng storetest.Engine, dsn string) []byte {
	t.Helper()
	var all []byte
	if eng.Name == "sqlite" {
		for _, f := range []string{dsn, dsn + "-wal"} {
			b, err := os.ReadFile(f)
			if os.IsNotExist(err) && f != dsn {
				continue
			}
			require.NoError(t, err)
			all = append(all, b...)
		}
		return all
	}
	st := openStore(t, dsn)
	defer st.Close()
	rows, err := st.DB().Query(`SELECT tablename FROM pg_tables WHERE schemaname = current_schema()`)
	require.NoError(t, err)
	var tables []string
	for rows.Next() {
		var name string
		require.NoError(t, rows.Scan(&name))
		tables = append(tables, name)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	require.Contains(t, tables, "local_secrets")
	for _, table := range tables {
		rows, err := st.DB().Query(`SELECT CAST(t AS TEXT) FROM ` + table + ` t`)
		require.NoError(t, err)
		for rows.Next() {
			var row string
			require.NoError(t, rows.Scan(&row))
			all = append(all, row...)
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	return all
}

// Key ids are "key_" and 12 characters of an alphabet of 32, each equally
// likely (the modulo of a byte by 36 favoured the first four).
func TestKeyIDsAreUniform(t *testing.T) {
	counts := map[rune]int{}
	const n = 20000
	for range n {
		id := newKeyID()
		require.Regexp(t, `^key_[a-z2-7]{12}$`, id)
		for _, r := range id[4:] {
			counts[r]++
		}
	}
	require.Len(t, counts, 32)
	want := float64(n*12) / 32
	for r, c := range counts {
		// 7500 draws per character: a bias like the old one (+/-11%) is far outside 6%.
		assert.InDelta(t, want, float64(c), want*0.06, "character %q", r)
	}
}

// Close can be called twice, and at once from two goroutines.
func TestCloseTwice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		e := setup(t, eng, Options{})
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() { defer wg.Done(); assert.NoError(t, e.a.Close()) }()
		}
		wg.Wait()
		assert.NoError(t, e.a.Close())
	})
}
