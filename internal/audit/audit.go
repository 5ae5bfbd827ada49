// Package audit records what was done through keyward: every mutating call,
// refused and declined ones included. A record never holds a secret.
package audit

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/sanitize"
	"github.com/keyward/keyward/internal/store"
)

// Outcomes of a call.
const (
	OutcomeOK       = "ok"
	OutcomeError    = "error"
	OutcomeRefused  = "refused"  // policy said no
	OutcomeDeclined = "declined" // the human declined or cancelled the confirmation
	OutcomeDryRun   = "dry_run"  // checked and described, nothing changed (Error: why it would be refused)
)

// Record is one audited call. Its JSON is the record's one serialized form,
// which both the audit_log tool and keyward audit --json print.
type Record struct {
	ID            int64      `json:"id"`
	At            time.Time  `json:"at"`
	Tool          string     `json:"tool"`
	Provider      string     `json:"provider"`
	KeyID         string     `json:"key_id,omitempty"`
	KeyName       string     `json:"key_name,omitempty"`
	ScopesBefore  []string   `json:"scopes_before,omitempty"`
	ScopesAfter   []string   `json:"scopes_after,omitempty"`
	ExpiresAt     *time.Time `json:"expires_at,omitempty"`
	Outcome       string     `json:"outcome"`
	Confirmation  string     `json:"confirmation,omitempty"` // what became of the question to the human, when there was one
	Error         string     `json:"error,omitempty"`
	Detail        string     `json:"detail,omitempty"`
	ClientName    string     `json:"client_name,omitempty"`
	ClientVersion string     `json:"client_version,omitempty"`
	SessionID     string     `json:"session_id,omitempty"`
	Transport     string     `json:"transport,omitempty"`
}

// Log is the audit table.
type Log struct {
	db  *sql.DB
	now func() time.Time
}

// New uses the state file's audit table.
func New(st *store.Store, now func() time.Time) *Log {
	if now == nil {
		now = time.Now
	}
	return &Log{db: st.DB(), now: now}
}

// Write appends r; At defaults to now.
func (l *Log) Write(ctx context.Context, r Record) error {
	return l.write(context.WithoutCancel(ctx), l.db, r)
}

// WriteTx appends r inside tx, so the record commits with the change it describes.
func (l *Log) WriteTx(ctx context.Context, tx *sql.Tx, r Record) error {
	return l.write(ctx, tx, r)
}

type execer interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// Field bounds: a record never stores more than this of any text, however
// large the input that led to it (refused calls are audited too).
const (
	maxIDLen     = 200
	maxNameLen   = 512 // 100 characters of up to four bytes, with room
	maxErrorLen  = 2000
	maxDetailLen = 1000
	maxShortLen  = 100
)

func (l *Log) write(ctx context.Context, db execer, r Record) error {
	if r.At.IsZero() {
		r.At = l.now()
	}
	_, err := db.ExecContext(ctx, `INSERT INTO audit (at, tool, provider, key_id, key_name, scopes_before, scopes_after, expires_at, outcome, confirmation, error, detail, client_name, client_version, session_id, transport)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.At.UnixMilli(), Bound(r.Tool, maxShortLen), Bound(r.Provider, maxShortLen), Bound(r.KeyID, maxIDLen), Bound(r.KeyName, maxNameLen),
		joinScopes(r.ScopesBefore), joinScopes(r.ScopesAfter), store.Millis(r.ExpiresAt),
		Bound(r.Outcome, maxShortLen), Bound(r.Confirmation, maxShortLen), Bound(r.Error, maxErrorLen), Bound(r.Detail, maxDetailLen),
		Bound(r.ClientName, maxNameLen), Bound(r.ClientVersion, maxShortLen), Bound(r.SessionID, maxIDLen), Bound(r.Transport, maxShortLen))
	if err != nil {
		return fmt.Errorf("writing the audit record failed: %w", err)
	}
	return nil
}

// Bound cuts s to at most n bytes on a character boundary, saying how long it was.
func Bound(s string, n int) string { return sanitize.Bound(s, n) }

// joinScopes keeps "no scopes" (empty list) apart from "not applicable" (nil).
func joinScopes(s []string) any {
	if s == nil {
		return nil
	}
	return Bound(strings.Join(s, " "), maxErrorLen)
}

func splitScopes(v sql.NullString) []string {
	if !v.Valid {
		return nil
	}
	return strings.Fields(v.String)
}

// Filter narrows a query; zero fields match everything.
type Filter struct {
	Provider string
	KeyID    string
	Outcome  string
	Since    time.Time
	Limit    int    // default 50, at most 500
	Cursor   string // from the previous page
}

// MaxLimit bounds one page.
const MaxLimit = 500

// Query returns records newest first and the cursor of the next page ("" at the end).
func (l *Log) Query(ctx context.Context, f Filter) ([]Record, string, error) {
	if f.Limit <= 0 {
		f.Limit = 50
	}
	f.Limit = min(f.Limit, MaxLimit)
	where := []string{"1=1"}
	var args []any
	if f.Cursor != "" {
		before, ok := parseCursor(f.Cursor)
		if !ok {
			return nil, "", fmt.Errorf("the cursor was not returned by audit_log; pass the next_cursor of the previous page unchanged, or none for the first page")
		}
		where, args = append(where, "id < ?"), append(args, before)
	}
	for col, v := range map[string]string{"provider": f.Provider, "key_id": f.KeyID, "outcome": f.Outcome} {
		if v != "" {
			where, args = append(where, col+" = ?"), append(args, v)
		}
	}
	if !f.Since.IsZero() {
		where, args = append(where, "at >= ?"), append(args, f.Since.UnixMilli())
	}
	args = append(args, f.Limit+1)
	rows, err := l.db.QueryContext(ctx, `SELECT id, at, tool, provider, key_id, key_name, scopes_before, scopes_after, expires_at, outcome, confirmation, error, detail, client_name, client_version, session_id, transport
		FROM audit WHERE `+strings.Join(where, " AND ")+` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, "", fmt.Errorf("reading the audit log failed: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var (
			r             Record
			at            int64
			before, after sql.NullString
			expires       sql.NullInt64
		)
		if err := rows.Scan(&r.ID, &at, &r.Tool, &r.Provider, &r.KeyID, &r.KeyName, &before, &after, &expires, &r.Outcome, &r.Confirmation, &r.Error, &r.Detail, &r.ClientName, &r.ClientVersion, &r.SessionID, &r.Transport); err != nil {
			return nil, "", fmt.Errorf("reading the audit log failed: %w", err)
		}
		r.At = time.UnixMilli(at).UTC()
		r.ScopesBefore, r.ScopesAfter = splitScopes(before), splitScopes(after)
		r.ExpiresAt = store.FromMillis(expires)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("reading the audit log failed: %w", err)
	}
	next := ""
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = "a" + strconv.FormatInt(out[len(out)-1].ID, 10)
	}
	return out, next, nil
}

// parseCursor reads "a<id>": the id of the last record of the previous page,
// a positive decimal with nothing else around it.
func parseCursor(c string) (int64, bool) {
	digits, ok := strings.CutPrefix(c, "a")
	if !ok || digits == "" || len(digits) > 19 || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.ParseInt(digits, 10, 64)
	return n, err == nil && n > 0
}

// Purge deletes records older than before and says how many went.
func (l *Log) Purge(ctx context.Context, before time.Time) (int64, error) {
	res, err := l.db.ExecContext(ctx, `DELETE FROM audit WHERE at < ?`, before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("purging the audit log failed: %w", err)
	}
	return res.RowsAffected()
}
