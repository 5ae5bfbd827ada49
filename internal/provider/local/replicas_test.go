package local

import (
	"context"
	"fmt"
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
)

// replicas opens n authorities, each on a store of its own, on one database.
func replicas(t *testing.T, eng storetest.Engine, n int, o Options) ([]*Authority, []*store.Store, string) {
	t.Helper()
	dsn := eng.DSN(t)
	clk := newClock()
	if o.Now == nil {
		o.Now = clk.Now
	}
	var as []*Authority
	var sts []*store.Store
	for range n {
		st := openStore(t, dsn)
		a := newAuthority(t, st, o)
		as, sts = append(as, a), append(sts, st)
	}
	t.Cleanup(func() {
		for i := range as {
			as[i].Close()
			sts[i].Close()
		}
	})
	return as, sts, dsn
}

// busy keeps a validating unknown keys, as a service under load does, so
// its mirror is fresh and answers alone; it stops at the end of the test.
func busy(t *testing.T, a *Authority) {
	t.Helper()
	unknown, err := secret.Generate()
	require.NoError(t, err)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
			}
			a.Validate(context.Background(), unknown)
			time.Sleep(50 * time.Microsecond)
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
}

// A key created on one replica validates on another as soon as the create
// returns — even on a replica whose mirror is answering alone — and a
// revoke or disable is seen as soon as it returns.
func TestReplicasAgreeAsSoonAsAWriteReturns(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		as, _, _ := replicas(t, eng, 2, Options{MaxKeys: 1000})
		a1, a2 := as[0], as[1]
		busy(t, a2)
		busy(t, a1)
		for i := range 25 {
			c, err := a1.Create(ctx, provider.CreateRequest{Name: fmt.Sprintf("k%d", i), Scopes: []string{"read"}})
			require.NoError(t, err)
			v, err := a2.Validate(ctx, c.Secret)
			require.NoError(t, err)
			require.Equal(t, provider.StatusValid, v.Status, "round %d: created on replica 1, validated on replica 2 right after", i)

			r, err := a2.Rotate(ctx, c.Key.ID, provider.RotateRequest{})
			require.NoError(t, err)
			require.Equal(t, provider.StatusRevoked, a1.mustStatus(t, c.Secret), "round %d: rotated away on 2", i)
			require.Equal(t, provider.StatusValid, a1.mustStatus(t, r.Secret), "round %d: the new secret on 1", i)

			_, err = a2.SetActive(ctx, c.Key.ID, false)
			require.NoError(t, err)
			require.Equal(t, provider.StatusDisabled, a1.mustStatus(t, r.Secret), "round %d: disabled on 2", i)
			require.NoError(t, a1.Revoke(ctx, c.Key.ID))
			require.Equal(t, provider.StatusRevoked, a2.mustStatus(t, r.Secret), "round %d: revoked on 1", i)
		}
		assert.Zero(t, a1.syncErrors.Load()+a2.syncErrors.Load())
	})
}

func (a *Authority) mustStatus(t *testing.T, key string) provider.ValidationStatus {
	t.Helper()
	v, err := a.Validate(context.Background(), key)
	require.NoError(t, err)
	return v.Status
}

// The live-key limit holds exactly when replicas create at once.
func TestKeyLimitAcrossReplicas(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		const limit = 7
		as, sts, _ := replicas(t, eng, 3, Options{MaxKeys: limit})
		var ok, limited atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range 36 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := as[i%3].Create(context.Background(), provider.CreateRequest{Name: fmt.Sprintf("k%d", i)})
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
		close(start)
		wg.Wait()
		assert.Equal(t, int32(limit), ok.Load(), "never more than the limit, never less")
		assert.Equal(t, int32(36-limit), limited.Load())
		var n int
		require.NoError(t, sts[0].DB().QueryRow(`SELECT count(*) FROM local_keys`).Scan(&n))
		assert.Equal(t, limit, n)
	})
}

// Every connection to PostgreSQL is cut (as a restart does) while replicas
// work: calls fail with a clear error or succeed, never answer wrongly, and
// both replicas recover — the listener reconnects and catches up.
func TestReplicasRecoverWhenConnectionsDrop(t *testing.T) {
	ctx := context.Background()
	as, _, dsn := replicas(t, storetest.PostgresEngine, 2, Options{MaxKeys: 1000})
	a1, a2 := as[0], as[1]
	keep, err := a1.Create(ctx, provider.CreateRequest{Name: "keep"})
	require.NoError(t, err)
	gone, err := a1.Create(ctx, provider.CreateRequest{Name: "gone"})
	require.NoError(t, err)
	busy(t, a2)

	var wrong atomic.Int32
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var revoked atomic.Bool
	wg.Add(1)
	go func() { // a client of replica 2 throughout
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			wasRevoked := revoked.Load()
			v, err := a2.Validate(ctx, gone.Secret)
			if err != nil {
				assert.Contains(t, err.Error(), "KEYWARD_DB")
				continue
			}
			if wasRevoked && v.Status != provider.StatusRevoked {
				wrong.Add(1)
			}
			if v, err := a2.Validate(ctx, keep.Secret); err == nil && v.Status != provider.StatusValid {
				wrong.Add(1)
			}
		}
	}()
	require.Positive(t, storetest.Terminate(t, dsn))
	var revokeErr error
	for range 50 {
		if revokeErr = a1.Revoke(ctx, gone.Key.ID); revokeErr == nil || provider.IsKind(revokeErr, provider.KindNotFound) {
			break
		}
		assert.Contains(t, revokeErr.Error(), "KEYWARD_DB", "a clear error")
		time.Sleep(20 * time.Millisecond)
	}
	require.True(t, revokeErr == nil || provider.IsKind(revokeErr, provider.KindNotFound), "the revoke went through once the database was back: %v", revokeErr)
	revoked.Store(true)
	time.Sleep(200 * time.Millisecond)
	storetest.Terminate(t, dsn) // and once more, with the listener of each replica reconnected
	c, err := createRetrying(a1, "after")
	require.NoError(t, err)
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, err := a2.Validate(ctx, c.Secret)
		if err == nil {
			require.Equal(t, provider.StatusValid, v.Status, "a create that returned is seen")
			break
		}
		require.True(t, time.Now().Before(deadline), "replica 2 never recovered: %v", err)
		time.Sleep(20 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	assert.Zero(t, wrong.Load(), "no wrong answer while connections dropped")
	assert.Equal(t, provider.StatusRevoked, a2.mustStatus(t, gone.Secret))
}

func createRetrying(a *Authority, name string) (provider.Created, error) {
	var err error
	for range 50 {
		var c provider.Created
		if c, err = a.Create(context.Background(), provider.CreateRequest{Name: name}); err == nil {
			return c, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return provider.Created{}, err
}

// Validation fails rather than answer from a mirror it cannot bring up to
// date.
func TestValidationFailsClosedWithoutTheDatabase(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		e := setup(t, eng, Options{})
		c := e.create(t, "k", nil, nil)
		require.Equal(t, provider.StatusValid, e.status(t, c.Secret))
		require.NoError(t, e.st.Close())
		time.Sleep(2 * e.a.timing.fresh)
		_, err := e.a.Validate(context.Background(), c.Secret)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "KEYWARD_DB")
	})
}

// A create or rotation whose caller gives up part-way either fails having
// changed nothing or succeeds: it never reports a failure for a key (or a
// secret) it made, which the manager would then never record or undo.
func TestGivingUpNeverHidesAWrite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		e := setup(t, eng, Options{MaxKeys: 1000})
		made, failed := 0, 0
		for i := range 40 {
			wait := time.Duration(i%20) * e.a.timing.settle / 10
			ctx, cancel := context.WithTimeout(context.Background(), wait)
			req := fmt.Sprintf("req_%d", i)
			c, err := e.a.Create(ctx, provider.CreateRequest{Name: "k", RequestID: req})
			cancel()
			k, found, ferr := e.a.FindCreated(context.Background(), req)
			require.NoError(t, ferr)
			if err != nil {
				failed++
				require.False(t, found, "create %d failed (%v) but made key %s", i, err, k.ID)
				continue
			}
			made++
			require.True(t, found)
			require.Equal(t, c.Key.ID, k.ID)
		}
		t.Logf("%d creates made, %d gave up before the commit", made, failed)
	})
}

// A key used through one replica shows its last use in another replica's
// list, once written, even when that list was cached before.
func TestLastUseOnAnotherReplicaReachesItsList(t *testing.T) {
	defer func(d time.Duration) { listTTL = d }(listTTL)
	listTTL = 50 * time.Millisecond
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		as, _, _ := replicas(t, eng, 2, Options{})
		c, err := as[0].Create(ctx, provider.CreateRequest{Name: "used"})
		require.NoError(t, err)
		list, err := as[1].List(ctx)
		require.NoError(t, err)
		require.Len(t, list, 1)
		require.Nil(t, list[0].LastUsedAt)
		require.Equal(t, provider.StatusValid, as[0].mustStatus(t, c.Secret))
		as[0].flushLastUsed(ctx)
		deadline := time.Now().Add(5 * time.Second)
		for {
			list, err = as[1].List(ctx)
			require.NoError(t, err)
			if list[0].LastUsedAt != nil {
				break
			}
			require.True(t, time.Now().Before(deadline), "the other replica's list never showed the last use")
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// On PostgreSQL a replica that validates nothing (so does not poll) still
// takes every other replica's writes at once, woken by NOTIFY. How soon is
// measured and logged.
func TestNotifyWakesAnIdleReplica(t *testing.T) {
	ctx := context.Background()
	as, _, _ := replicas(t, storetest.PostgresEngine, 2, Options{MaxKeys: 1000})
	a1, a2 := as[0], as[1]
	applied := func() int64 {
		a2.syncMu.Lock()
		defer a2.syncMu.Unlock()
		return a2.applied
	}
	var lags []time.Duration
	for i := range 10 {
		before := applied()
		start := time.Now()
		seen := make(chan time.Duration, 1)
		go func() {
			for applied() == before {
				if time.Since(start) > 5*time.Second {
					seen <- -1
					return
				}
				time.Sleep(100 * time.Microsecond)
			}
			seen <- time.Since(start)
		}()
		_, err := a1.Create(ctx, provider.CreateRequest{Name: fmt.Sprintf("k%d", i)})
		require.NoError(t, err)
		lag := <-seen
		require.Positive(t, lag, "the idle replica never heard of the write")
		lags = append(lags, lag)
	}
	assert.Equal(t, int64(never), a2.demand.Load(), "replica 2 was never asked to validate, so it never polled")
	t.Logf("an idle replica applied each create %v after the create began (before it returned: it waits %v after its commit)", lags, a1.timing.settle)
}
