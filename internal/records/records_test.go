package records

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/store/storetest"
	"github.com/keyward/keyward/internal/testutil"
)

var t0 = time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)

func open(t *testing.T, eng storetest.Engine) (*Records, *store.Store, *testutil.Clock) {
	t.Helper()
	st, err := store.Open(context.Background(), eng.DSN(t), store.Options{}, Schema)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	clk := testutil.NewClock(t0)
	return New(st, clk.Now), st, clk
}

func ptr[T any](v T) *T { return &v }

func TestManagedRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		r, _, clk := open(t, eng)
		got, err := r.Get(ctx, "vast", "k1")
		require.NoError(t, err)
		assert.Nil(t, got, "none yet")

		deadline := t0.Add(48 * time.Hour)
		born := t0.Add(-time.Hour)
		mk := Managed{Provider: "vast", KeyID: "k1", Name: "ci", ExpiresAt: &deadline, SecretFile: "/s/vast-k1.key", CreatedBy: "claude",
			BornAt: &born, Constraints: []provider.Constraint{{Scope: "instance_read", Param: "id", Op: "eq", Value: "42"}}, AllowedIPs: []string{"10.0.0.1"}, Narrowing: true}
		require.NoError(t, r.Save(ctx, mk))
		got, err = r.Get(ctx, "vast", "k1")
		require.NoError(t, err)
		require.NotNil(t, got)
		assert.Equal(t, "ci", got.Name)
		assert.True(t, got.ExpiresAt.Equal(deadline))
		assert.True(t, got.BornAt.Equal(born))
		assert.Equal(t, t0, got.RecordedAt)
		assert.Equal(t, "/s/vast-k1.key", got.SecretFile)
		assert.Equal(t, "claude", got.CreatedBy)
		assert.True(t, got.Narrowing)
		assert.Equal(t, mk.Constraints, got.Constraints)
		assert.Equal(t, []string{"10.0.0.1"}, got.AllowedIPs)

		// A later save replaces name, deadline and file, keeps the first
		// recording time, and keeps the narrowing when it has none.
		clk.Advance(time.Hour)
		require.NoError(t, r.Save(ctx, Managed{Provider: "vast", KeyID: "k1", Name: "renamed"}))
		got, err = r.Get(ctx, "vast", "k1")
		require.NoError(t, err)
		assert.Equal(t, "renamed", got.Name)
		assert.Nil(t, got.ExpiresAt)
		assert.Equal(t, t0, got.RecordedAt, "first recorded")
		assert.True(t, got.Narrowing, "narrowing kept")
		assert.Equal(t, []string{"10.0.0.1"}, got.AllowedIPs)

		// Recorded without narrowing: none, not empty.
		require.NoError(t, r.Save(ctx, Managed{Provider: "vast", KeyID: "k2"}))
		got, err = r.Get(ctx, "vast", "k2")
		require.NoError(t, err)
		assert.False(t, got.Narrowing)
		// Recorded with an empty narrowing: known to be none.
		require.NoError(t, r.Save(ctx, Managed{Provider: "vast", KeyID: "k3", Narrowing: true}))
		got, err = r.Get(ctx, "vast", "k3")
		require.NoError(t, err)
		assert.True(t, got.Narrowing)
		assert.Empty(t, got.Constraints)

		all, err := r.All(ctx, "vast")
		require.NoError(t, err)
		assert.Len(t, all, 3)
		other, err := r.All(ctx, "lium")
		require.NoError(t, err)
		assert.Empty(t, other)

		require.NoError(t, r.Forget(ctx, "vast", "k2"))
		require.NoError(t, r.Forget(ctx, "vast", "nothing"), "forgetting nothing is no error")
		all, err = r.All(ctx, "vast")
		require.NoError(t, err)
		assert.Len(t, all, 2)
	})
}

func TestDue(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		r, _, _ := open(t, eng)
		for id, d := range map[string]*time.Time{"past": ptr(t0.Add(-time.Minute)), "now": ptr(t0), "later": ptr(t0.Add(time.Minute)), "never": nil} {
			require.NoError(t, r.Save(ctx, Managed{Provider: "lium", KeyID: id, ExpiresAt: d}))
		}
		due, err := r.Due(ctx, t0)
		require.NoError(t, err)
		var ids []string
		for _, mk := range due {
			ids = append(ids, mk.KeyID)
		}
		assert.ElementsMatch(t, []string{"past", "now"}, ids)
	})
}

// Text no engine can store (NUL, invalid UTF-8) is stored, not refused.
func TestOddTextIsStored(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		r, _, _ := open(t, eng)
		require.NoError(t, r.Save(ctx, Managed{Provider: "vast", KeyID: "k", Name: "a\x00b\xff"}))
		got, err := r.Get(ctx, "vast", "k")
		require.NoError(t, err)
		assert.Equal(t, "a\uFFFDb\uFFFD", got.Name)
		require.NoError(t, r.Begin(ctx, Intent{ID: "req_x", Provider: "vast", Name: "\x00", Tool: "create_key", Holder: "h", StartedAt: t0}))
	})
}

func TestJournal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		r, st, clk := open(t, eng)
		require.NoError(t, r.Begin(ctx, Intent{ID: "req_b", Provider: "local", Name: "second", Tool: "create_key", Holder: "host/2/n", StartedAt: t0.Add(time.Second)}))
		require.NoError(t, r.Begin(ctx, Intent{ID: "req_a", Provider: "vast", Name: "first", Tool: "rotate_key", Holder: "host/1/n", StartedAt: t0}))
		require.Error(t, r.Begin(ctx, Intent{ID: "req_a", Provider: "vast", Name: "dup", Tool: "x", Holder: "h", StartedAt: t0}), "one intent per request id")

		clk.Advance(time.Minute)
		require.NoError(t, r.NoteKey(ctx, "req_a", "key_1", clk.Now()))
		require.NoError(t, r.NoteFile(ctx, "req_a", "/s/vast-key_1.key", clk.Now()))
		require.NoError(t, r.Attempted(ctx, "req_a"))
		require.NoError(t, r.Attempted(ctx, "req_a"))

		pending, err := r.Pending(ctx)
		require.NoError(t, err)
		require.Len(t, pending, 2)
		a := pending[0]
		assert.Equal(t, Intent{ID: "req_a", Provider: "vast", Name: "first", Tool: "rotate_key", Holder: "host/1/n", StartedAt: t0,
			Heartbeat: t0.Add(time.Minute), KeyID: "key_1", SecretFile: "/s/vast-key_1.key", Attempts: 2}, a, "oldest first")
		assert.Equal(t, "req_b", pending[1].ID)
		assert.Equal(t, t0.Add(time.Second), pending[1].Heartbeat, "heartbeat starts at the start")

		// Ended inside a transaction that fails: still there.
		boom := errors.New("boom")
		err = st.Tx(ctx, func(tx *sql.Tx) error {
			require.NoError(t, r.EndTx(ctx, tx, "req_a"))
			require.NoError(t, r.SaveTx(ctx, tx, Managed{Provider: "vast", KeyID: "key_1"}))
			return boom
		})
		require.ErrorIs(t, err, boom)
		pending, err = r.Pending(ctx)
		require.NoError(t, err)
		assert.Len(t, pending, 2)
		got, err := r.Get(ctx, "vast", "key_1")
		require.NoError(t, err)
		assert.Nil(t, got, "the record went with the transaction")

		// Ended with the record it made: both or neither.
		require.NoError(t, st.Tx(ctx, func(tx *sql.Tx) error {
			if err := r.SaveTx(ctx, tx, Managed{Provider: "vast", KeyID: "key_1"}); err != nil {
				return err
			}
			return r.EndTx(ctx, tx, "req_a")
		}))
		require.NoError(t, r.End(ctx, "req_b"))
		pending, err = r.Pending(ctx)
		require.NoError(t, err)
		assert.Empty(t, pending)
		got, err = r.Get(ctx, "vast", "key_1")
		require.NoError(t, err)
		assert.NotNil(t, got)
		require.NoError(t, st.Tx(ctx, func(tx *sql.Tx) error { return r.ForgetTx(ctx, tx, "vast", "key_1") }))
		got, err = r.Get(ctx, "vast", "key_1")
		require.NoError(t, err)
		assert.Nil(t, got)
	})
}

// An answer is used once across every process sharing the database, and
// the table keeps only answers that have not expired.
func TestAnswersAreSpentOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		dsn := eng.DSN(t)
		open2 := func() *Records {
			st, err := store.Open(ctx, dsn, store.Options{}, Schema)
			require.NoError(t, err)
			t.Cleanup(func() { st.Close() })
			return New(st, func() time.Time { return t0 })
		}
		a, b := open2(), open2() // two replicas
		fresh, err := a.Spend(ctx, "n1", t0.Add(10*time.Minute))
		require.NoError(t, err)
		assert.True(t, fresh)
		fresh, err = b.Spend(ctx, "n1", t0.Add(10*time.Minute))
		require.NoError(t, err)
		assert.False(t, fresh, "another replica sees it spent")
		fresh, err = a.Spend(ctx, "n2", t0.Add(-time.Minute)) // already past
		require.NoError(t, err)
		assert.True(t, fresh)

		later := New(a.st, func() time.Time { return t0.Add(time.Hour) })
		_, err = later.Spend(ctx, "n3", t0.Add(2*time.Hour))
		require.NoError(t, err)
		var n int
		require.NoError(t, a.st.DB().QueryRowContext(ctx, `SELECT count(*) FROM spent_answers`).Scan(&n))
		assert.Equal(t, 1, n, "expired answers are dropped")
	})
}
