package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Redact is dsn as logs and messages may show it: a URL's password (in its
// user part or a password parameter) is replaced by xxxxx. A file path is
// returned as it is.
func Redact(dsn string) string {
	if !IsURL(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		// Unreadable: show only the scheme, which cannot hold a password.
		return dsn[:strings.Index(dsn, "://")] + "://…"
	}
	q := u.Query()
	if q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// passwordOf is the password a postgres URL holds, "" when none.
func passwordOf(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return ""
	}
	if pw, ok := u.User.Password(); ok && pw != "" {
		return pw
	}
	return u.Query().Get("password")
}

// openPostgres connects through pgx's database/sql driver, so one
// transaction (*sql.Tx) can span the tables of several owners — a create
// records the key, keyward's record of it and its audit record in one — and
// both engines share one API. Every connection gets statement_timeout
// (KEYWARD_DB_TIMEOUT) unless the URL sets one.
func openPostgres(ctx context.Context, dsn string, o Options) (*Store, error) {
	pw := passwordOf(dsn)
	display := Redact(dsn)
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, scrubPassword(fmt.Errorf("KEYWARD_DB (%s) is not a PostgreSQL URL keyward can read: %s", display, reasonOf(err)), pw)
	}
	if cfg.ConnectTimeout == 0 || cfg.ConnectTimeout > o.Timeout {
		cfg.ConnectTimeout = o.Timeout
	}
	if _, set := cfg.RuntimeParams["statement_timeout"]; !set {
		cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(o.Timeout.Milliseconds(), 10)
	}
	if _, set := cfg.RuntimeParams["application_name"]; !set {
		cfg.RuntimeParams["application_name"] = "keyward"
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(o.MaxConns)
	db.SetMaxIdleConns(o.MaxConns)
	db.SetConnMaxIdleTime(5 * time.Minute)
	db.SetConnMaxLifetime(time.Hour)
	s := &Store{db: db, engine: Postgres, display: display, opts: o, pg: cfg, password: pw}
	var scope *string
	if err := db.QueryRowContext(ctx, `SELECT current_schema()`).Scan(&scope); err != nil {
		db.Close()
		return nil, s.scrub(fmt.Errorf("connecting to KEYWARD_DB (%s): %w; check the URL and that PostgreSQL is running", display, err))
	}
	if scope == nil {
		db.Close()
		return nil, fmt.Errorf("KEYWARD_DB (%s): no schema of search_path exists; create it or fix search_path", display)
	}
	s.scope = *scope
	return s, nil
}

// reasonOf is a pgx parse error without the connection string it repeats.
func reasonOf(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "`: "); i >= 0 {
		return msg[i+3:]
	}
	return "unreadable URL"
}

// lockKey names an advisory lock of this schema (locks are per database).
func (s *Store) lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("keyward\x00" + s.scope + "\x00" + name))
	return int64(h.Sum64())
}

// channel names a notification channel of this schema.
func (s *Store) channel(topic string) string {
	h := fnv.New64a()
	h.Write([]byte(s.scope))
	return fmt.Sprintf("keyward_%s_%x", topic, h.Sum64())
}

// connect opens a connection of its own (listening, leadership), outside the pool.
func (s *Store) connect(ctx context.Context) (*pgx.Conn, error) {
	if s.pg == nil {
		return nil, errors.New("not PostgreSQL")
	}
	c, err := pgx.ConnectConfig(ctx, s.pg)
	return c, s.scrub(err)
}
