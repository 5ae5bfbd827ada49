package audit

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/store/storetest"
	"github.com/keyward/keyward/internal/testutil"
)

var t0 = time.Date(2025, 5, 1, 12, 0, 0, 0, time.UTC)

func newLog(t testing.TB, eng storetest.Engine) (*Log, *testutil.Clock) {
	t.Helper()
	st, err := store.Open(context.Background(), eng.DSN(t), store.Options{}, Schema)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	c := testutil.NewClock(t0)
	return New(st, c.Now), c
}

func write(t *testing.T, l *Log, r Record) {
	t.Helper()
	require.NoError(t, l.Write(context.Background(), r))
}

func queryAll(t *testing.T, l *Log, f Filter) []Record {
	t.Helper()
	recs, next, err := l.Query(context.Background(), f)
	require.NoError(t, err)
	require.Empty(t, next)
	return recs
}

func TestWriteQueryRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		l, _ := newLog(t, eng)
		exp := t0.Add(30 * 24 * time.Hour)
		in := Record{
			At: t0.Add(1500 * time.Millisecond), Tool: "create_key", Provider: "vast", KeyID: "123", KeyName: "ci",
			ScopesBefore: []string{"instance_read"}, ScopesAfter: []string{"instance_read", "machine_read"},
			ExpiresAt: &exp, Outcome: OutcomeOK, Error: "", Detail: "preset 30d",
			ClientName: "claude", ClientVersion: "1.2", SessionID: "s-1", Transport: "stdio",
		}
		write(t, l, in)
		recs := queryAll(t, l, Filter{})
		require.Len(t, recs, 1)
		got := recs[0]
		assert.NotZero(t, got.ID)
		in.ID = got.ID
		assert.Equal(t, in, got)
	})
}

func TestWriteDefaultsAtToNow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		l, c := newLog(t, eng)
		c.Advance(90 * time.Minute)
		write(t, l, Record{Tool: "revoke_key", Provider: "local", Outcome: OutcomeOK})
		recs := queryAll(t, l, Filter{})
		require.Len(t, recs, 1)
		assert.Equal(t, t0.Add(90*time.Minute), recs[0].At)
		assert.Nil(t, recs[0].ExpiresAt)
		assert.Equal(t, time.UTC, recs[0].At.Location())
	})
}

func TestWriteSurvivesCancelledContext(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		// An audit record of a call whose client went away is still written.
		l, _ := newLog(t, eng)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		require.NoError(t, l.Write(ctx, Record{Tool: "revoke_key", Provider: "local", Outcome: OutcomeError, Error: "cancelled"}))
		assert.Len(t, queryAll(t, l, Filter{}), 1)
	})
}

func TestScopesNilVersusEmpty(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		l, _ := newLog(t, eng)
		write(t, l, Record{Tool: "update_key", Provider: "lyceum", Outcome: OutcomeOK, ScopesBefore: nil, ScopesAfter: []string{}})
		write(t, l, Record{Tool: "update_key", Provider: "vast", Outcome: OutcomeOK, ScopesBefore: []string{}, ScopesAfter: nil})
		write(t, l, Record{Tool: "update_key", Provider: "vast", Outcome: OutcomeOK, ScopesBefore: []string{"a", "b:read"}, ScopesAfter: []string{"a"}})
		recs := queryAll(t, l, Filter{})
		require.Len(t, recs, 3)

		assert.Equal(t, []string{"a", "b:read"}, recs[0].ScopesBefore)
		assert.Equal(t, []string{"a"}, recs[0].ScopesAfter)

		assert.NotNil(t, recs[1].ScopesBefore, "an empty list stays an empty list")
		assert.Empty(t, recs[1].ScopesBefore)
		assert.Nil(t, recs[1].ScopesAfter, "nil stays nil")

		assert.Nil(t, recs[2].ScopesBefore)
		assert.NotNil(t, recs[2].ScopesAfter)
		assert.Empty(t, recs[2].ScopesAfter)
	})
}

func TestQueryNewestFirstAndFilters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		l, _ := newLog(t, eng)
		type spec struct {
			provider, key, outcome string
			at                     time.Duration
		}
		specs := []spec{
			{"local", "k1", OutcomeOK, 0},
			{"vast", "v1", OutcomeOK, time.Hour},
			{"local", "k1", OutcomeRefused, 2 * time.Hour},
			{"local", "k2", OutcomeError, 3 * time.Hour},
			{"vast", "v1", OutcomeDeclined, 4 * time.Hour},
			{"vast", "k1", OutcomeOK, 5 * time.Hour}, // same key id on another provider
			{"local", "k1", OutcomeOK, 6 * time.Hour},
		}
		for i, s := range specs {
			write(t, l, Record{At: t0.Add(s.at), Tool: fmt.Sprintf("tool%d", i), Provider: s.provider, KeyID: s.key, Outcome: s.outcome})
		}
		tools := func(recs []Record) []string {
			var out []string
			for _, r := range recs {
				out = append(out, r.Tool)
			}
			return out
		}

		all := queryAll(t, l, Filter{})
		assert.Equal(t, []string{"tool6", "tool5", "tool4", "tool3", "tool2", "tool1", "tool0"}, tools(all))
		for i := 1; i < len(all); i++ {
			assert.Greater(t, all[i-1].ID, all[i].ID)
		}

		assert.Equal(t, []string{"tool5", "tool4", "tool1"}, tools(queryAll(t, l, Filter{Provider: "vast"})))
		assert.Equal(t, []string{"tool6", "tool5", "tool2", "tool0"}, tools(queryAll(t, l, Filter{KeyID: "k1"})))
		assert.Equal(t, []string{"tool6", "tool2", "tool0"}, tools(queryAll(t, l, Filter{Provider: "local", KeyID: "k1"})))
		assert.Equal(t, []string{"tool6", "tool5", "tool1", "tool0"}, tools(queryAll(t, l, Filter{Outcome: OutcomeOK})))
		assert.Equal(t, []string{"tool2"}, tools(queryAll(t, l, Filter{Outcome: OutcomeRefused})))
		assert.Equal(t, []string{"tool6", "tool0"}, tools(queryAll(t, l, Filter{Provider: "local", KeyID: "k1", Outcome: OutcomeOK})))
		assert.Equal(t, []string{"tool6", "tool5", "tool4", "tool3"}, tools(queryAll(t, l, Filter{Since: t0.Add(3 * time.Hour)})), "since is inclusive")
		assert.Equal(t, []string{"tool6", "tool2"}, tools(queryAll(t, l, Filter{Since: t0.Add(90 * time.Minute), Provider: "local", KeyID: "k1"})))
		assert.Empty(t, queryAll(t, l, Filter{Since: t0.Add(7 * time.Hour)}))
		assert.Empty(t, queryAll(t, l, Filter{Provider: "lurus"}))
		assert.Empty(t, queryAll(t, l, Filter{Provider: "local", KeyID: "v1"}))
		// Filters are values, not SQL.
		assert.Empty(t, queryAll(t, l, Filter{Provider: "local' OR '1'='1"}))
	})
}

func TestQueryPagingWalksEveryRecordOnce(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		l, _ := newLog(t, eng)
		const n = 137
		for i := range n {
			prov := "local"
			if i%3 == 0 {
				prov = "vast"
			}
			write(t, l, Record{Tool: fmt.Sprintf("t%d", i), Provider: prov, Outcome: OutcomeOK})
		}
		walk := func(f Filter) []Record {
			var all []Record
			pages := 0
			for {
				recs, next, err := l.Query(context.Background(), f)
				require.NoError(t, err)
				pages++
				require.LessOrEqual(t, len(recs), f.Limit)
				all = append(all, recs...)
				if next == "" {
					break
				}
				require.Len(t, recs, f.Limit, "only the last page is short")
				f.Cursor = next
				require.Less(t, pages, 1000)
			}
			return all
		}
		for _, limit := range []int{1, 7, 10, 50, 136, 137, 138, 500} {
			all := walk(Filter{Limit: limit})
			require.Len(t, all, n, "limit %d", limit)
			seen := map[int64]bool{}
			for i, r := range all {
				require.False(t, seen[r.ID], "limit %d: record %d twice", limit, r.ID)
				seen[r.ID] = true
				if i > 0 {
					require.Greater(t, all[i-1].ID, r.ID, "limit %d: newest first", limit)
				}
			}
			assert.Equal(t, "t136", all[0].Tool)
			assert.Equal(t, "t0", all[n-1].Tool)
		}
		vast := walk(Filter{Limit: 5, Provider: "vast"})
		assert.Len(t, vast, 46) // 0, 3, ..., 135
		for _, r := range vast {
			assert.Equal(t, "vast", r.Provider)
		}
	})
}

func TestQueryExactPageHasNoNextCursor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		l, _ := newLog(t, eng)
		for range 10 {
			write(t, l, Record{Tool: "x", Provider: "local", Outcome: OutcomeOK})
		}
		recs, next, err := l.Query(context.Background(), Filter{Limit: 10})
		require.NoError(t, err)
		assert.Len(t, recs, 10)
		assert.Empty(t, next, "no empty trailing page")
	})
}

func TestQueryLimits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		l, _ := newLog(t, eng)
		ctx := context.Background()
		tx, err := l.db.BeginTx(ctx, nil)
		require.NoError(t, err)
		for i := range MaxLimit + 20 {
			_, err := tx.ExecContext(ctx, l.st.Q(`INSERT INTO audit (at, tool, provider, outcome) VALUES (?, ?, 'local', 'ok')`), t0.UnixMilli(), fmt.Sprintf("t%d", i))
			require.NoError(t, err)
		}
		require.NoError(t, tx.Commit())

		recs, next, err := l.Query(ctx, Filter{})
		require.NoError(t, err)
		assert.Len(t, recs, 50, "default page")
		assert.NotEmpty(t, next)

		recs, next, err = l.Query(ctx, Filter{Limit: -3})
		require.NoError(t, err)
		assert.Len(t, recs, 50, "a negative limit is the default")
		assert.NotEmpty(t, next)

		recs, next, err = l.Query(ctx, Filter{Limit: 100000})
		require.NoError(t, err)
		assert.Len(t, recs, MaxLimit, "capped")
		require.NotEmpty(t, next)

		recs, next, err = l.Query(ctx, Filter{Limit: 100000, Cursor: next})
		require.NoError(t, err)
		assert.Len(t, recs, 20)
		assert.Empty(t, next)
	})
}

func TestQueryBadCursor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		l, _ := newLog(t, eng)
		write(t, l, Record{Tool: "x", Provider: "local", Outcome: OutcomeOK})
		for _, c := range []string{"x", "5", "a", "abc", "a1.5", "b12", " a1", "a1;DROP TABLE audit"} {
			recs, next, err := l.Query(context.Background(), Filter{Cursor: c})
			require.Error(t, err, c)
			assert.Contains(t, err.Error(), "cursor", c)
			assert.Contains(t, err.Error(), "next_cursor", c)
			assert.Nil(t, recs)
			assert.Empty(t, next)
		}
		// The table survived.
		assert.Len(t, queryAll(t, l, Filter{}), 1)
	})
}

func TestPurgeByAge(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		l, _ := newLog(t, eng)
		ctx := context.Background()
		ages := []time.Duration{400 * 24 * time.Hour, 366 * 24 * time.Hour, 365 * 24 * time.Hour, 10 * 24 * time.Hour, 0}
		for i, age := range ages {
			write(t, l, Record{At: t0.Add(-age), Tool: fmt.Sprintf("t%d", i), Provider: "local", Outcome: OutcomeOK})
		}
		cut := t0.Add(-365 * 24 * time.Hour)
		n, err := l.Purge(ctx, cut)
		require.NoError(t, err)
		assert.Equal(t, int64(2), n)
		recs := queryAll(t, l, Filter{})
		require.Len(t, recs, 3)
		for _, r := range recs {
			assert.False(t, r.At.Before(cut), r.Tool)
		}
		assert.Equal(t, "t2", recs[2].Tool, "a record exactly at the cut-off stays")

		n, err = l.Purge(ctx, cut)
		require.NoError(t, err)
		assert.Zero(t, n, "idempotent")

		n, err = l.Purge(ctx, t0.Add(time.Millisecond))
		require.NoError(t, err)
		assert.Equal(t, int64(3), n)
		assert.Empty(t, queryAll(t, l, Filter{}))
	})
}

func TestQueryAfterPurgeKeepsCursorValid(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		l, _ := newLog(t, eng)
		ctx := context.Background()
		for i := range 10 {
			write(t, l, Record{At: t0.Add(time.Duration(i) * time.Hour), Tool: fmt.Sprintf("t%d", i), Provider: "local", Outcome: OutcomeOK})
		}
		recs, next, err := l.Query(ctx, Filter{Limit: 3})
		require.NoError(t, err)
		require.Len(t, recs, 3)
		_, err = l.Purge(ctx, t0.Add(5*time.Hour))
		require.NoError(t, err)
		recs, next, err = l.Query(ctx, Filter{Limit: 3, Cursor: next})
		require.NoError(t, err)
		assert.Equal(t, []string{"t6", "t5"}, []string{recs[0].Tool, recs[1].Tool})
		assert.Len(t, recs, 2)
		assert.Empty(t, next)
	})
}

func TestConcurrentWrites(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		l, _ := newLog(t, eng)
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 25 {
					assert.NoError(t, l.Write(context.Background(), Record{Tool: fmt.Sprintf("g%d-%d", g, i), Provider: "local", Outcome: OutcomeOK}))
				}
			}()
		}
		wg.Wait()
		recs, _, err := l.Query(context.Background(), Filter{Limit: MaxLimit})
		require.NoError(t, err)
		assert.Len(t, recs, 200)
	})
}

func TestQueryRefusesSignedAndHugeCursors(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		l, _ := newLog(t, eng)
		write(t, l, Record{Tool: "x", Provider: "local", Outcome: OutcomeOK})
		for _, c := range []string{"a-5", "a+5", "a0", "a99999999999999999999", "a 1", "a1\n", strings.Repeat("a", 1<<20)} {
			_, _, err := l.Query(context.Background(), Filter{Cursor: c})
			require.Error(t, err, c)
			assert.Less(t, len(err.Error()), 300, "the error does not echo the cursor")
		}
	})
}

// Whatever a refused call brings, a record stores a bounded amount of it.
func TestWriteBoundsEveryField(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		l, _ := newLog(t, eng)
		huge := strings.Repeat("é", 1<<19) // 1 MiB of two-byte characters
		write(t, l, Record{Tool: huge, Provider: huge, KeyID: huge, KeyName: huge, Outcome: huge, Confirmation: huge,
			Error: huge, Detail: huge, ClientName: huge, ClientVersion: huge, SessionID: huge, Transport: huge,
			ScopesBefore: []string{huge}, ScopesAfter: []string{huge}})
		recs := queryAll(t, l, Filter{})
		require.Len(t, recs, 1)
		r := recs[0]
		for name, v := range map[string]string{"tool": r.Tool, "provider": r.Provider, "key_id": r.KeyID, "key_name": r.KeyName,
			"outcome": r.Outcome, "confirmation": r.Confirmation, "error": r.Error, "detail": r.Detail, "client_name": r.ClientName,
			"client_version": r.ClientVersion, "session_id": r.SessionID, "transport": r.Transport,
			"scopes_before": strings.Join(r.ScopesBefore, " "), "scopes_after": strings.Join(r.ScopesAfter, " ")} {
			assert.LessOrEqual(t, len(v), maxErrorLen+40, name)
			assert.True(t, utf8.ValidString(v), "%s is cut on a character boundary", name)
			assert.Contains(t, v, "bytes, cut", name)
		}
	})
}

func FuzzQueryCursor(f *testing.F) {
	for _, s := range []string{"a1", "a0", "a-1", "a+1", "a", "", "b2", "a9223372036854775807", "a9223372036854775808", "a1 ", "\x00"} {
		f.Add(s)
	}
	l, _ := newLog(f, storetest.SQLiteEngine)
	f.Fuzz(func(t *testing.T, c string) {
		recs, _, err := l.Query(context.Background(), Filter{Cursor: c})
		if c == "" {
			return
		}
		n, ok := parseCursor(c)
		if ok != (err == nil) {
			t.Fatalf("cursor %q: parsed %v but Query err = %v", c, ok, err)
		}
		if ok && (n <= 0 || strings.Trim(c[1:], "0123456789") != "" || strings.TrimLeft(c[1:], "0") != strconv.FormatInt(n, 10)) {
			t.Fatalf("cursor %q read as %d", c, n)
		}
		if err != nil && (recs != nil || strings.Contains(err.Error(), c) && len(c) > 3) {
			t.Fatalf("cursor %q: records on error, or the cursor echoed: %v", c, err)
		}
	})
}

// Text PostgreSQL cannot store (NUL, invalid UTF-8) — an agent's argument
// in a refused call, say — is stored with U+FFFD in its place, on both
// engines alike, instead of losing the record.
func TestWriteStoresAnyText(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		l, _ := newLog(t, eng)
		write(t, l, Record{Tool: "create_key", Provider: "local", KeyName: "a\x00b\xffc", Error: "bad \x00", Outcome: OutcomeRefused})
		recs := queryAll(t, l, Filter{Outcome: "refused\x00"})
		assert.Empty(t, recs, "a filter with odd text matches nothing and fails nothing")
		recs = queryAll(t, l, Filter{})
		require.Len(t, recs, 1)
		assert.Equal(t, "a\uFFFDb\uFFFDc", recs[0].KeyName)
		assert.Equal(t, "bad \uFFFD", recs[0].Error)
	})
}

// Was a hole (review of session 4), now closed: the audit only bounded what
// it stored, so an error carrying a client's text (an elicitation answer's
// unknown action) put a secret pasted there into the state, the audit_log
// tool's answers and the console. Free texts now pass the secret mask here,
// whatever wrote them.
func TestWriteMasksSecretsInFreeText(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		l, _ := newLog(t, eng)
		key, err := secret.Generate()
		require.NoError(t, err)
		write(t, l, Record{Tool: "revoke_key", Outcome: OutcomeDeclined, KeyID: "key_0a1b2c3d4e5f",
			Error: "the client answered with " + key, Detail: "pasted " + key + " by mistake; file /home/a/.local/share/keyward/secrets/local-key_0a1b2c3d4e5f.key"})
		got := queryAll(t, l, Filter{})[0]
		for _, s := range []string{got.Error, got.Detail} {
			assert.NotContains(t, s, key)
			assert.Contains(t, s, key[:7]+"…"+key[len(key)-4:], "masked as everywhere: the first and last characters kept")
		}
		assert.Contains(t, got.Detail, "/home/a/.local/share/keyward/secrets/local-key_0a1b2c3d4e5f.key", "paths and ids stay as they are")
		assert.Equal(t, "key_0a1b2c3d4e5f", got.KeyID)
	})
}
