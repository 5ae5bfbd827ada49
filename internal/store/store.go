// Package store is keyward's state: one SQLite file (the default, nothing to
// set up) or one PostgreSQL database shared by any number of keyward
// replicas. It owns the connection, the engines' differences, versioned
// migrations, transactions, notifications between replicas and leader
// election; the packages that own tables (local, audit, records) own their
// schema and SQL for both engines.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// Engine names the database behind a Store.
type Engine string

const (
	SQLite   Engine = "sqlite"
	Postgres Engine = "postgres"
)

// Options tune the connection pool; zero values take the defaults.
type Options struct {
	// MaxConns bounds the connections keyward holds open to the database
	// (KEYWARD_DB_MAX_CONNS). On PostgreSQL, listening for other replicas'
	// changes and holding the reaper's lock take one more each.
	MaxConns int
	// Timeout bounds one statement (KEYWARD_DB_TIMEOUT): PostgreSQL's
	// statement_timeout and connect timeout, and on SQLite how long a writer
	// waits for another.
	Timeout time.Duration
}

// Defaults of Options.
const (
	DefaultMaxConns = 8
	DefaultTimeout  = 10 * time.Second
)

func (o *Options) defaults() {
	if o.MaxConns <= 0 {
		o.MaxConns = DefaultMaxConns
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
}

// Store wraps the database handle; packages that own tables use DB() with
// Q() (which writes a query's placeholders for the engine) and Tx().
type Store struct {
	db      *sql.DB
	engine  Engine
	path    string // SQLite: the file
	display string // what logs and messages may show: the path, or the URL without its password
	opts    Options

	// PostgreSQL only.
	pg       *pgx.ConnConfig
	password string // scrubbed from every error
	scope    string // current_schema(): notifications and locks belong to it

	qmu sync.RWMutex
	qs  map[string]string
}

// IsURL reports whether KEYWARD_DB names a database server rather than a
// file: a scheme followed by "://".
func IsURL(dsn string) bool {
	i := strings.Index(dsn, "://")
	return i > 0 && !strings.ContainsAny(dsn[:i], `/\. `)
}

// IsPostgres reports whether KEYWARD_DB selects PostgreSQL.
func IsPostgres(dsn string) bool {
	l := strings.ToLower(dsn)
	return strings.HasPrefix(l, "postgres://") || strings.HasPrefix(l, "postgresql://")
}

// Open connects to KEYWARD_DB — a postgres:// (or postgresql://) URL selects
// PostgreSQL, anything else is a SQLite file path — and brings the schemas
// given up to date, each at the version its owner knows. Concurrent first
// starts migrate once; a database whose schema is newer than this build's
// is refused.
func Open(ctx context.Context, dsn string, o Options, schemas ...Schema) (*Store, error) {
	o.defaults()
	var (
		s   *Store
		err error
	)
	switch {
	case dsn == "":
		return nil, errors.New("no state given; set KEYWARD_DB to a file path or a postgres:// URL")
	case IsPostgres(dsn):
		s, err = openPostgres(ctx, dsn, o)
	case IsURL(dsn):
		return nil, fmt.Errorf("KEYWARD_DB (%s) is a URL keyward cannot use; give a file path (SQLite) or a postgres:// URL", Redact(dsn))
	default:
		s, err = openSQLite(ctx, dsn, o)
	}
	if err != nil {
		return nil, err
	}
	if err := s.migrate(ctx, schemas); err != nil {
		s.db.Close()
		hint := "if the file is not a keyward state file, point KEYWARD_DB elsewhere"
		if s.engine == Postgres {
			hint = "check KEYWARD_DB and that the database is reachable"
		}
		return nil, s.scrub(fmt.Errorf("preparing KEYWARD_DB (%s): %w; %s", s.display, err, hint))
	}
	return s, nil
}

// DB is the shared handle for packages that own tables.
func (s *Store) DB() *sql.DB { return s.db }

// Engine is the database behind the store.
func (s *Store) Engine() Engine { return s.engine }

// Path is the state file's location (SQLite), or the URL without its
// password (PostgreSQL).
func (s *Store) Path() string { return s.display }

// String is what logs may show: never a password.
func (s *Store) String() string { return s.display }

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// Tx runs fn in one transaction: committed whole or not at all.
func (s *Store) Tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return s.scrub(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return s.scrub(tx.Commit())
}

// Q writes query, written with ? placeholders, for the engine: PostgreSQL
// numbers them ($1, $2, …). Queries hold no ? inside string literals.
func (s *Store) Q(query string) string {
	if s.engine != Postgres {
		return query
	}
	s.qmu.RLock()
	q, ok := s.qs[query]
	s.qmu.RUnlock()
	if ok {
		return q
	}
	q = Rebind(query)
	s.qmu.Lock()
	if s.qs == nil {
		s.qs = map[string]string{}
	}
	if len(s.qs) < 4096 { // queries are constants; the bound is only a guard
		s.qs[query] = q
	}
	s.qmu.Unlock()
	return q
}

// Rebind numbers ? placeholders as PostgreSQL wants them.
func Rebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for _, r := range query {
		if r == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Text makes s storable by every engine: PostgreSQL refuses NUL and invalid
// UTF-8 in text, so both become U+FFFD (on both engines, so they agree).
func Text(s string) string {
	if !strings.ContainsRune(s, 0) && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// Scrub removes the database password from err's text, wherever a driver
// may have repeated it.
func (s *Store) Scrub(err error) error { return s.scrub(err) }

func (s *Store) scrub(err error) error { return scrubPassword(err, s.password) }

type scrubbed struct {
	msg string
	err error
}

func (e *scrubbed) Error() string { return e.msg }
func (e *scrubbed) Unwrap() error { return e.err }

func scrubPassword(err error, pw string) error {
	if err == nil || pw == "" || !strings.Contains(err.Error(), pw) {
		return err
	}
	return &scrubbed{msg: strings.ReplaceAll(err.Error(), pw, "xxxxx"), err: err}
}
