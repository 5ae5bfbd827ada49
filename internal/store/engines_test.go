package store_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/provider/local"
	"github.com/keyward/keyward/internal/records"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/store/storetest"
)

var schemas = []store.Schema{local.Schema, audit.Schema, records.Schema}

// TestHelperProcess is not a test: the tests below run the test binary
// again as another keyward process that opens the state (and may lead).
func TestHelperProcess(t *testing.T) {
	dsn := os.Getenv("KEYWARD_STORE_HELPER_DSN")
	if dsn == "" {
		return
	}
	ctx := context.Background()
	st, err := store.Open(ctx, dsn, store.Options{}, schemas...)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(3)
	}
	fmt.Println("opened")
	if os.Getenv("KEYWARD_STORE_HELPER_LEAD") != "" {
		if _, err := st.Lead(ctx, "reaper"); err != nil {
			fmt.Println("error:", err)
			os.Exit(3)
		}
		fmt.Println("leading")
		time.Sleep(time.Minute) // until killed
	}
	st.Close()
	os.Exit(0)
}

func helper(t *testing.T, dsn string, lead bool) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), "KEYWARD_STORE_HELPER_DSN="+dsn)
	if lead {
		cmd.Env = append(cmd.Env, "KEYWARD_STORE_HELPER_LEAD=1")
	}
	return cmd
}

// Three keyward processes starting at once on a new state migrate it once:
// none fails ("table local_keys already exists" was the SQLite symptom).
func TestConcurrentFirstStarts(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		for round := range 4 {
			dsn := eng.DSN(t)
			var wg sync.WaitGroup
			outs := make([]string, 3)
			errs := make([]error, 3)
			for i := range 3 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					out, err := helper(t, dsn, false).CombinedOutput()
					outs[i], errs[i] = string(out), err
				}()
			}
			wg.Wait()
			for i := range 3 {
				require.NoError(t, errs[i], "round %d, process %d: %s", round, i, outs[i])
				assert.Contains(t, outs[i], "opened")
			}
			st, err := store.Open(context.Background(), dsn, store.Options{}, schemas...)
			require.NoError(t, err)
			for _, sc := range schemas {
				v, err := st.Version(context.Background(), sc.Name)
				require.NoError(t, err)
				assert.Equal(t, len(sc.Steps), v, sc.Name)
			}
			st.Close()
		}
	})
}

// Exactly one process leads; when the leader is killed (SIGKILL: no chance
// to let go), another takes over.
func TestLeaderDiesAndHandsOver(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		dsn := eng.DSN(t)
		cmd := helper(t, dsn, true)
		out, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		lines := bufio.NewScanner(out)
		leading := false
		for lines.Scan() {
			if lines.Text() == "leading" {
				leading = true
				break
			}
		}
		require.True(t, leading, "the helper never led")

		st, err := store.Open(context.Background(), dsn, store.Options{}, schemas...)
		require.NoError(t, err)
		defer st.Close()
		got := make(chan *store.Lease, 1)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		go func() {
			l, err := st.Lead(ctx, "reaper")
			if err == nil {
				got <- l
			}
		}()
		select {
		case <-got:
			t.Fatal("two leaders at once")
		case <-time.After(1500 * time.Millisecond):
		}
		killed := time.Now()
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		select {
		case l := <-got:
			t.Logf("%s: took over %v after the leader was killed", eng.Name, time.Since(killed).Round(time.Millisecond))
			l.Release()
			select {
			case <-l.Done():
			default:
				t.Fatal("a released lease is done")
			}
		case <-time.After(10 * time.Second):
			t.Fatal("nobody took over from the dead leader")
		}
	})
}

// A state file written before schemas were versioned per owner (one list,
// PRAGMA user_version = 2) is carried over with its data.
func TestLegacyFileIsCarriedOver(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keyward.db")
	db, err := sql.Open("sqlite", path)
	require.NoError(t, err)
	for _, sc := range schemas {
		for _, step := range sc.Steps[:2] {
			_, err := db.Exec(step.SQLite)
			require.NoError(t, err)
		}
	}
	_, err = db.Exec(`PRAGMA user_version = 2;
		INSERT INTO local_keys (id, name, scopes, start, last4, created_at, updated_at) VALUES ('key_old', 'old', 'read', 'kw_abcd', 'wxyz', 1, 1);
		INSERT INTO audit (at, tool, provider, outcome) VALUES (1, 'create_key', 'local', 'ok')`)
	require.NoError(t, err)
	require.NoError(t, db.Close())

	st, err := store.Open(context.Background(), path, store.Options{}, schemas...)
	require.NoError(t, err)
	defer st.Close()
	for _, sc := range schemas {
		v, err := st.Version(context.Background(), sc.Name)
		require.NoError(t, err)
		assert.Equal(t, len(sc.Steps), v, sc.Name)
	}
	a, err := local.New(context.Background(), st, local.Options{})
	require.NoError(t, err)
	defer a.Close()
	k, err := a.Get(context.Background(), "key_old")
	require.NoError(t, err)
	assert.Equal(t, "old", k.Name)
	recs, _, err := audit.New(st, nil).Query(context.Background(), audit.Filter{})
	require.NoError(t, err)
	assert.Len(t, recs, 1)
}

// The password of a PostgreSQL URL appears in no error and no display.
func TestPostgresPasswordIsNeverShown(t *testing.T) {
	const pw = "Sup3r-S3cret-pw"
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, dsn := range []string{
		"postgres://keyward:" + pw + "@127.0.0.1:1/none?connect_timeout=2",          // nothing listens
		"postgresql://keyward:" + pw + "@127.0.0.1:5432/no_such_database_kw",        // refused by the server
		"postgres://keyward@127.0.0.1:1/none?password=" + pw + "&connect_timeout=2", // as a parameter
		"postgres://keyward:" + pw + "@127.0.0.1:5432/x?sslmode=nonsense",           // unreadable
		"postgres://keyward:" + pw + "@[::1:5432/x",                                 // not a URL
	} {
		_, err := store.Open(ctx, dsn, store.Options{Timeout: 2 * time.Second})
		require.Error(t, err, dsn)
		assert.NotContains(t, err.Error(), pw)
		assert.Contains(t, err.Error(), "KEYWARD_DB")
		assert.NotContains(t, store.Redact(dsn), pw)
	}
	assert.Equal(t, "postgres://u:xxxxx@h/db", store.Redact("postgres://u:pw@h/db"))
	assert.Equal(t, "/var/lib/keyward.db", store.Redact("/var/lib/keyward.db"))

	if eng := storetest.PostgresEngine; true {
		dsn := eng.DSN(t)
		st, err := store.Open(ctx, dsn, store.Options{})
		require.NoError(t, err)
		defer st.Close()
		assert.Equal(t, store.Postgres, st.Engine())
		assert.Equal(t, st.Path(), st.String())
	}
}

func TestOtherURLsAreRefused(t *testing.T) {
	for _, dsn := range []string{"mysql://root@localhost/db", "sqlite://x.db", "http://example.com/k.db"} {
		_, err := store.Open(context.Background(), dsn, store.Options{})
		require.Error(t, err)
		assert.Contains(t, err.Error(), "a URL keyward cannot use")
		assert.Contains(t, err.Error(), "postgres://")
	}
	assert.False(t, store.IsURL("/tmp/a://b.db"))
	assert.False(t, store.IsURL("keyward.db"))
	assert.True(t, store.IsPostgres("PostgreSQL://h/db"))
}

func TestRebind(t *testing.T) {
	assert.Equal(t, "SELECT 1", store.Rebind("SELECT 1"))
	assert.Equal(t, "a = $1 AND b IN ($2, $3) LIMIT $4", store.Rebind("a = ? AND b IN (?, ?) LIMIT ?"))
	assert.Equal(t, "é = $1", store.Rebind("é = ?"))
}

func TestText(t *testing.T) {
	assert.Equal(t, "plain", store.Text("plain"))
	assert.Equal(t, "a\uFFFDb", store.Text("a\x00b"))
	assert.Equal(t, "a\uFFFDb", store.Text("a\xffb"))
	assert.False(t, strings.ContainsRune(store.Text("\x00\xfe\x00"), 0))
}
