// Package storetest runs store tests on every engine: SQLite always, and
// PostgreSQL when it can be reached. Each test gets a database of its own (a
// new file, or a new schema dropped at the end), so runs never collide.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
)

// DefaultPostgres is where the tests look for PostgreSQL unless
// KEYWARD_TEST_PG says otherwise.
const DefaultPostgres = "postgres://root@127.0.0.1:5432/test"

// Engine makes fresh databases of one kind.
type Engine struct {
	Name string // "sqlite" or "postgres"
	new  func(t testing.TB) string
}

// DSN is a new, empty database for this test: a KEYWARD_DB value. Calling
// it twice gives two databases; open one DSN twice for two replicas.
func (e Engine) DSN(t testing.TB) string { t.Helper(); return e.new(t) }

// SQLiteEngine makes state files in the test's temporary directory.
var SQLiteEngine = Engine{Name: "sqlite", new: func(t testing.TB) string {
	return filepath.Join(t.TempDir(), "keyward.db")
}}

// PostgresEngine makes schemas in the PostgreSQL database of KEYWARD_TEST_PG.
var PostgresEngine = Engine{Name: "postgres", new: func(t testing.TB) string {
	t.Helper()
	return NewPostgres(t)
}}

// Each runs fn once per engine, as subtests named after the engines.
func Each(t *testing.T, fn func(t *testing.T, e Engine)) {
	t.Helper()
	for _, e := range []Engine{SQLiteEngine, PostgresEngine} {
		t.Run(e.Name, func(t *testing.T) { fn(t, e) })
	}
}

var (
	adminOnce sync.Once
	admin     *sql.DB
	adminErr  error
	baseURL   string
	noteOnce  sync.Once
)

func base() string {
	if v := os.Getenv("KEYWARD_TEST_PG"); v != "" {
		return v
	}
	return DefaultPostgres
}

// RequirePostgres returns an admin handle on the test database, or ends the
// test: skipped, with one line saying how to run it, when PostgreSQL cannot
// be reached — failed instead when CI=true, since CI must run it.
func RequirePostgres(t testing.TB) *sql.DB {
	t.Helper()
	adminOnce.Do(func() {
		baseURL = base()
		db, err := sql.Open("pgx", baseURL)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			err = db.PingContext(ctx)
			cancel()
		}
		if err != nil {
			adminErr = err
			return
		}
		db.SetMaxOpenConns(4)
		admin = db
	})
	if adminErr != nil {
		msg := fmt.Sprintf("PostgreSQL tests not run: cannot reach %s (%v); start PostgreSQL there or set KEYWARD_TEST_PG to a postgres:// URL of a database the tests may create schemas in", redact(baseURL), adminErr)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + " — CI must run them")
		}
		noteOnce.Do(func() { fmt.Fprintln(os.Stderr, msg) })
		t.Skip(msg)
	}
	return admin
}

func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "KEYWARD_TEST_PG"
	}
	return p.Redacted()
}

// NewPostgres creates a schema of its own for this test, dropped when it
// ends, and returns a URL whose search_path is that schema (and whose
// application_name names it, so Terminate can find its connections).
func NewPostgres(t testing.TB) string {
	t.Helper()
	db := RequirePostgres(t)
	name := "kwtest_" + strings.ToLower(rand.Text()[:12])
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE SCHEMA `+name); err != nil {
		t.Fatalf("creating schema %s: %v", name, err)
	}
	t.Cleanup(func() {
		if _, err := db.ExecContext(context.Background(), `DROP SCHEMA `+name+` CASCADE`); err != nil {
			t.Errorf("dropping schema %s: %v", name, err)
		}
	})
	u, err := url.Parse(baseURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", name)
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// Terminate ends every server connection of the database of dsn (made by
// NewPostgres), as a PostgreSQL restart would, and says how many went.
func Terminate(t testing.TB, dsn string) int {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	app := u.Query().Get("application_name")
	var n int
	if err := RequirePostgres(t).QueryRowContext(context.Background(),
		`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
