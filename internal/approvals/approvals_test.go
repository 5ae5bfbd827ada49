package approvals

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/store/storetest"
	"github.com/keyward/keyward/internal/testutil"
)

func open(t *testing.T, eng storetest.Engine, o Options) (*Store, *testutil.Clock) {
	return openTB(t, eng, o)
}

func openB(b *testing.B, eng storetest.Engine) (*Store, *testutil.Clock) {
	return openTB(b, eng, Options{MaxPerCaller: 1 << 30, MaxPending: 1 << 30})
}

func openTB(t testing.TB, eng storetest.Engine, o Options) (*Store, *testutil.Clock) {
	t.Helper()
	st, err := store.Open(context.Background(), eng.DSN(t), store.Options{}, Schema)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	clk := testutil.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	o.Now = clk.Now
	return New(st, o), clk
}

func revoke(id string) Act {
	return Act{Tool: "revoke_key", ArgsHash: "h-" + id, Provider: "local", KeyID: id, KeyName: "svc",
		Question: "Revoke key " + id + "?", QuestionAct: "Revoke key " + id + "?", Principal: "token", Client: "agent-a"}
}

// An approval is bound to the exact act and caller, used once, and a denial
// is reported once.
func TestApprovalLifecycle(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		s, clk := open(t, eng, Options{TTL: 15 * time.Minute})
		act := revoke("k1")

		r, err := s.Resolve(ctx, act)
		require.NoError(t, err)
		require.Equal(t, Pending, r.Approval.Status)
		id := r.Approval.ID
		assert.True(t, IsID(id))
		again, err := s.Resolve(ctx, act)
		require.NoError(t, err)
		assert.Equal(t, id, again.Approval.ID, "the same act waits on the same request")

		for name, other := range map[string]func(Act) Act{
			"other arguments": func(a Act) Act { a.ArgsHash = "other"; return a },
			"other key":       func(a Act) Act { a.KeyID = "k2"; return a },
			"other question":  func(a Act) Act { a.QuestionAct = "Revoke something else?"; return a },
			"other client":    func(a Act) Act { a.Client = "agent-b"; return a },
			"other principal": func(a Act) Act { a.Principal = "alice"; return a },
			"other tool":      func(a Act) Act { a.Tool = "rotate_key"; return a },
		} {
			o, err := s.Resolve(ctx, other(act))
			require.NoError(t, err)
			assert.NotEqual(t, id, o.Approval.ID, name)
			assert.Equal(t, Pending, o.Approval.Status, name)
		}

		clk.Advance(time.Minute)
		a, err := s.Decide(ctx, id, true, "operator")
		require.NoError(t, err)
		assert.Equal(t, Approved, a.Status)
		assert.Equal(t, "operator", a.DecidedBy)
		_, err = s.Decide(ctx, id, false, "operator")
		var de *DecisionError
		require.ErrorAs(t, err, &de)
		assert.Equal(t, Approved, de.Status, "a decision is final")

		used, err := s.Resolve(ctx, act)
		require.NoError(t, err)
		assert.Equal(t, Approved, used.Approval.Status)
		assert.Equal(t, id, used.Approval.ID)
		next, err := s.Resolve(ctx, act)
		require.NoError(t, err)
		assert.Equal(t, Pending, next.Approval.Status, "an approval is used once: the next identical call asks anew")
		assert.NotEqual(t, id, next.Approval.ID)

		_, err = s.Decide(ctx, next.Approval.ID, false, "operator")
		require.NoError(t, err)
		denied, err := s.Resolve(ctx, act)
		require.NoError(t, err)
		assert.Equal(t, Denied, denied.Approval.Status)
		fresh, err := s.Resolve(ctx, act)
		require.NoError(t, err)
		assert.Equal(t, Pending, fresh.Approval.Status, "a denial is reported once")

		_, err = s.Decide(ctx, "0123456789abcdef01234567", true, "operator")
		require.ErrorAs(t, err, &de)
		assert.Equal(t, Status(""), de.Status)
	})
}

func TestApprovalsExpire(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		s, clk := open(t, eng, Options{TTL: 10 * time.Minute})
		act := revoke("k1")
		r, err := s.Resolve(ctx, act)
		require.NoError(t, err)
		clk.Advance(11 * time.Minute)
		_, err = s.Decide(ctx, r.Approval.ID, true, "operator")
		var de *DecisionError
		require.ErrorAs(t, err, &de, "an expired request cannot be approved")
		assert.Equal(t, Expired, de.Status)
		n, err := s.Resolve(ctx, act)
		require.NoError(t, err)
		assert.Equal(t, r.Approval.ID, n.ExpiredID, "the retry learns the earlier request expired")
		assert.Equal(t, Pending, n.Approval.Status)

		// Approved but not used in time: expired too.
		_, err = s.Decide(ctx, n.Approval.ID, true, "operator")
		require.NoError(t, err)
		clk.Advance(11 * time.Minute)
		late, err := s.Resolve(ctx, act)
		require.NoError(t, err)
		assert.Equal(t, Pending, late.Approval.Status)
		assert.Equal(t, n.Approval.ID, late.ExpiredID)

		decided, err := s.Recent(ctx, 10)
		require.NoError(t, err)
		require.Len(t, decided, 2)
		for _, a := range decided {
			assert.Equal(t, Expired, a.Status)
		}
		purged, err := s.Purge(ctx, clk.Now().Add(time.Hour))
		require.NoError(t, err)
		assert.EqualValues(t, 3, purged)
	})
}

func TestPendingApprovalsAreBounded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		s, _ := open(t, eng, Options{MaxPerCaller: 2, MaxPending: 3})
		for _, id := range []string{"a", "b"} {
			_, err := s.Resolve(ctx, revoke(id))
			require.NoError(t, err)
		}
		_, err := s.Resolve(ctx, revoke("c"))
		var tm *TooManyError
		require.ErrorAs(t, err, &tm)
		assert.True(t, tm.PerCaller)
		assert.Contains(t, err.Error(), "already has 2 requests waiting")

		other := revoke("c")
		other.Client = "agent-b"
		_, err = s.Resolve(ctx, other)
		require.NoError(t, err)
		other.KeyID = "d"
		_, err = s.Resolve(ctx, other)
		require.ErrorAs(t, err, &tm)
		assert.False(t, tm.PerCaller, "the total bound holds across callers")
		pending, err := s.Pending(ctx)
		require.NoError(t, err)
		assert.Len(t, pending, 3)
	})
}

// Two identical retries race for one approval: exactly one proceeds.
func TestApprovalIsUsedOnceUnderConcurrency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		s, _ := open(t, eng, Options{})
		act := revoke("k1")
		r, err := s.Resolve(ctx, act)
		require.NoError(t, err)
		_, err = s.Decide(ctx, r.Approval.ID, true, "operator")
		require.NoError(t, err)
		var wg sync.WaitGroup
		results := make(chan Status, 8)
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res, err := s.Resolve(ctx, act)
				if err != nil {
					results <- Status("error: " + err.Error())
					return
				}
				results <- res.Approval.Status
			}()
		}
		wg.Wait()
		close(results)
		approved := 0
		for st := range results {
			switch st {
			case Approved:
				approved++
			case Pending: // lost the race: a new request for the same act
			default:
				t.Errorf("unexpected answer %s", st)
			}
		}
		assert.Equal(t, 1, approved)
	})
}
