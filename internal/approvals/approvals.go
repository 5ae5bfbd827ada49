// Package approvals keeps the acts that wait for the operator: when the
// rules want a human to confirm an act and the human is the operator (the
// console of keyward serve), the act becomes a pending approval, bound to
// the exact act and the caller that asked. The operator approves or denies
// it in the console; the caller's identical retry finds the decision and
// uses it up, once. Everything lives in the database, so any replica can
// take the request, show it, record the decision or serve the retry.
package approvals

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/sanitize"
	"github.com/keyward/keyward/internal/store"
)

// Schema is the approvals table, for store.Open.
var Schema = store.Schema{Name: "approvals", Steps: []store.Step{
	{
		// act is the SHA-256 of everything an approval is bound to (Act.digest);
		// at most one approval per act is open (not used up) at a time.
		SQLite: `CREATE TABLE approvals (
			id          TEXT PRIMARY KEY,
			act         TEXT NOT NULL,
			tool        TEXT NOT NULL,
			provider    TEXT NOT NULL,
			key_id      TEXT NOT NULL DEFAULT '',
			key_name    TEXT NOT NULL DEFAULT '',
			question    TEXT NOT NULL,
			principal   TEXT NOT NULL DEFAULT '',
			client      TEXT NOT NULL DEFAULT '',
			status      TEXT NOT NULL,
			created_at  INTEGER NOT NULL,
			expires_at  INTEGER NOT NULL,
			decided_at  INTEGER,
			decided_by  TEXT NOT NULL DEFAULT '',
			used_at     INTEGER
		);
		CREATE UNIQUE INDEX approvals_open ON approvals(act) WHERE used_at IS NULL;
		CREATE INDEX approvals_status ON approvals(status, expires_at);`,
		Postgres: `CREATE TABLE approvals (
			id          TEXT PRIMARY KEY,
			act         TEXT NOT NULL,
			tool        TEXT NOT NULL,
			provider    TEXT NOT NULL,
			key_id      TEXT NOT NULL DEFAULT '',
			key_name    TEXT NOT NULL DEFAULT '',
			question    TEXT NOT NULL,
			principal   TEXT NOT NULL DEFAULT '',
			client      TEXT NOT NULL DEFAULT '',
			status      TEXT NOT NULL,
			created_at  BIGINT NOT NULL,
			expires_at  BIGINT NOT NULL,
			decided_at  BIGINT,
			decided_by  TEXT NOT NULL DEFAULT '',
			used_at     BIGINT
		);
		CREATE UNIQUE INDEX approvals_open ON approvals(act) WHERE used_at IS NULL;
		CREATE INDEX approvals_status ON approvals(status, expires_at);`,
	},
}}

// Status is where an approval stands.
type Status string

const (
	Pending  Status = "pending"
	Approved Status = "approved"
	Denied   Status = "denied"
	Expired  Status = "expired" // nobody decided in time, or the approval was not used in time
)

// Act is what an approval is bound to: the tool and its exact arguments,
// the key, the question the operator answers (QuestionAct: its form without
// what moves with the clock) and the caller (principal and client name).
// KeyName and Question are shown to the operator.
type Act struct {
	Tool        string
	ArgsHash    string
	Provider    string
	KeyID       string
	KeyName     string
	Question    string
	QuestionAct string
	Principal   string
	Client      string
}

func (a Act) digest() string {
	h := sha256.New()
	for _, f := range []string{"v1", a.Tool, a.ArgsHash, a.Provider, a.KeyID, a.QuestionAct, a.Principal, a.Client} {
		fmt.Fprintf(h, "%d:%s;", len(f), f)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Approval is one request for the operator's decision.
type Approval struct {
	ID        string
	Tool      string
	Provider  string
	KeyID     string
	KeyName   string
	Question  string
	Principal string
	Client    string
	Status    Status
	CreatedAt time.Time
	ExpiresAt time.Time // pending: until when the operator may decide; approved: until when it may be used
	DecidedAt *time.Time
	DecidedBy string
	UsedAt    *time.Time
}

// Defaults of Options.
const (
	DefaultTTL          = 15 * time.Minute
	DefaultMaxPerCaller = 20
	DefaultMaxPending   = 200
)

// Options tune a Store; zero values take the defaults.
type Options struct {
	TTL          time.Duration // KEYWARD_APPROVAL_TTL
	MaxPerCaller int           // pending approvals one caller (principal and client) may have
	MaxPending   int           // pending approvals in all
	Now          func() time.Time
}

// Store is the approvals table of a store opened with Schema.
type Store struct {
	st   *store.Store
	opts Options
}

// New uses st.
func New(st *store.Store, o Options) *Store {
	if o.TTL <= 0 {
		o.TTL = DefaultTTL
	}
	if o.MaxPerCaller <= 0 {
		o.MaxPerCaller = DefaultMaxPerCaller
	}
	if o.MaxPending <= 0 {
		o.MaxPending = DefaultMaxPending
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Store{st: st, opts: o}
}

// TTL is how long a request waits for a decision, and an approval for its use.
func (s *Store) TTL() time.Duration { return s.opts.TTL }

// Resolution is what became of an act that needs the operator.
type Resolution struct {
	// Approval is the request the act found or made: Approved or Denied
	// (used up by this call), or Pending (the act must wait).
	Approval Approval
	// ExpiredID names an earlier request for the same act that nobody
	// decided (or that was approved but not used) in time.
	ExpiredID string
}

// TooManyError refuses a new request past the bounds.
type TooManyError struct {
	PerCaller bool // the caller's own bound, not the total
	Max       int
}

func (e *TooManyError) Error() string {
	if e.PerCaller {
		return fmt.Sprintf("this client already has %d requests waiting for the operator's approval, the most keyward keeps; nothing was done. Wait until the operator decides them or they expire, and do not make new ones meanwhile", e.Max)
	}
	return fmt.Sprintf("%d requests already wait for the operator's approval, the most keyward keeps; nothing was done. Try again once the operator has decided some of them", e.Max)
}

// Resolve finds the decision on act, or files a request for one. An
// approved or denied request is used up by the call that finds it (the
// approval atomically, so two identical retries cannot both proceed); a
// pending one is answered as it stands; one past its time is closed and a
// new one filed.
func (s *Store) Resolve(ctx context.Context, act Act) (Resolution, error) {
	// The digest binds the act as the caller made it, every byte: what the
	// table keeps of it is cut to be shown, and two callers or acts that
	// differ past the cut are not the same.
	digest := act.digest()
	act = bounded(act)
	for attempt := 0; ; attempt++ {
		res, retry, err := s.resolve(ctx, act, digest)
		if err == nil && retry && attempt < 3 {
			continue // another replica filed the same act meanwhile: read it
		}
		if err == nil && retry {
			err = errors.New("the approval request could not be filed (it kept changing under keyward); try again")
		}
		return res, err
	}
}

func (s *Store) resolve(ctx context.Context, act Act, digest string) (res Resolution, retry bool, err error) {
	now := s.opts.Now()
	err = s.st.Tx(ctx, func(tx *sql.Tx) error {
		a, err := scanApproval(tx.QueryRowContext(ctx, s.st.Q(`SELECT `+columns+` FROM approvals WHERE act = ? AND used_at IS NULL`), digest))
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return err
		case a.Status == Pending && now.Before(a.ExpiresAt):
			res.Approval = a
			return nil
		case (a.Status == Approved && now.Before(a.ExpiresAt)) || a.Status == Denied:
			r, err := tx.ExecContext(ctx, s.st.Q(`UPDATE approvals SET used_at = ? WHERE id = ? AND status = ? AND used_at IS NULL`), now.UnixMilli(), a.ID, string(a.Status))
			if err != nil {
				return err
			}
			if n, _ := r.RowsAffected(); n != 1 {
				retry = true // used by a concurrent retry: look again
				return nil
			}
			t := now.UTC()
			a.UsedAt = &t
			res.Approval = a
			return nil
		default: // past its time
			if _, err := tx.ExecContext(ctx, s.st.Q(`UPDATE approvals SET status = ?, used_at = ? WHERE id = ? AND used_at IS NULL`), string(Expired), now.UnixMilli(), a.ID); err != nil {
				return err
			}
			res.ExpiredID = a.ID
		}
		var mine, all int
		if err := tx.QueryRowContext(ctx, s.st.Q(`SELECT
				COALESCE(SUM(CASE WHEN principal = ? AND client = ? THEN 1 ELSE 0 END), 0), COUNT(*)
				FROM approvals WHERE status = ? AND used_at IS NULL AND expires_at > ?`),
			act.Principal, act.Client, string(Pending), now.UnixMilli()).Scan(&mine, &all); err != nil {
			return err
		}
		if mine >= s.opts.MaxPerCaller {
			return &TooManyError{PerCaller: true, Max: s.opts.MaxPerCaller}
		}
		if all >= s.opts.MaxPending {
			return &TooManyError{Max: s.opts.MaxPending}
		}
		a = Approval{ID: newID(), Tool: act.Tool, Provider: act.Provider, KeyID: act.KeyID, KeyName: act.KeyName, Question: act.Question,
			Principal: act.Principal, Client: act.Client, Status: Pending,
			CreatedAt: now.UTC().Truncate(time.Millisecond), ExpiresAt: now.Add(s.opts.TTL).UTC().Truncate(time.Millisecond)}
		r, err := tx.ExecContext(ctx, s.st.Q(`INSERT INTO approvals (id, act, tool, provider, key_id, key_name, question, principal, client, status, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`),
			a.ID, digest, a.Tool, a.Provider, a.KeyID, a.KeyName, a.Question, a.Principal, a.Client, string(Pending), a.CreatedAt.UnixMilli(), a.ExpiresAt.UnixMilli())
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n != 1 {
			retry = true
			return nil
		}
		res.Approval = a
		return nil
	})
	var tm *TooManyError
	if errors.As(err, &tm) {
		return res, false, err
	}
	if err != nil {
		return res, false, fmt.Errorf("keeping the approval request failed: %w", s.st.Scrub(err))
	}
	return res, retry, nil
}

// DecisionError says why a decision was not recorded.
type DecisionError struct {
	ID     string
	Status Status // where the request stands; "" when there is none
}

func (e *DecisionError) Error() string {
	switch e.Status {
	case "":
		return fmt.Sprintf("there is no approval request %s", e.ID)
	case Expired, Pending:
		return fmt.Sprintf("request %s expired before it was decided; the agent must ask again", e.ID)
	}
	return fmt.Sprintf("request %s was already %s", e.ID, e.Status)
}

// Decide records the operator's decision on a pending request: by names who
// decided. An approval may be used until TTL from now.
func (s *Store) Decide(ctx context.Context, id string, approve bool, by string) (Approval, error) {
	now := s.opts.Now()
	status, until := Denied, now.Add(s.opts.TTL)
	if approve {
		status, until = Approved, now.Add(s.opts.TTL)
	}
	// A denial keeps its expiry: it is reported to the retry at any time
	// until it is purged.
	r, err := s.st.DB().ExecContext(ctx, s.st.Q(`UPDATE approvals SET status = ?, decided_at = ?, decided_by = ?, expires_at = ?
		WHERE id = ? AND status = ? AND used_at IS NULL AND expires_at > ?`),
		string(status), now.UnixMilli(), store.Text(sanitize.Bound(by, 200)), until.UnixMilli(), store.Text(id), string(Pending), now.UnixMilli())
	if err != nil {
		return Approval{}, fmt.Errorf("recording the decision failed: %w", s.st.Scrub(err))
	}
	a, gerr := s.Get(ctx, id)
	if n, _ := r.RowsAffected(); n != 1 {
		if gerr != nil {
			return Approval{}, &DecisionError{ID: id}
		}
		return a, &DecisionError{ID: id, Status: a.shown(now)}
	}
	return a, gerr
}

// shown is the status as of now: a pending request past its time is expired.
func (a Approval) shown(now time.Time) Status {
	if a.UsedAt == nil && (a.Status == Pending || a.Status == Approved) && !now.Before(a.ExpiresAt) {
		return Expired
	}
	return a.Status
}

// Get loads one request; sql.ErrNoRows when there is none.
func (s *Store) Get(ctx context.Context, id string) (Approval, error) {
	a, err := scanApproval(s.st.DB().QueryRowContext(ctx, s.st.Q(`SELECT `+columns+` FROM approvals WHERE id = ?`), store.Text(id)))
	if err == nil {
		a.Status = a.shown(s.opts.Now())
	}
	return a, s.st.Scrub(err)
}

// Pending lists the requests that wait for the operator, oldest first.
func (s *Store) Pending(ctx context.Context) ([]Approval, error) {
	return s.list(ctx, `status = ? AND used_at IS NULL AND expires_at > ? ORDER BY created_at, id LIMIT ?`, string(Pending), s.opts.Now().UnixMilli(), s.opts.MaxPending)
}

// Recent lists the other requests (decided, used or expired), newest first.
func (s *Store) Recent(ctx context.Context, limit int) ([]Approval, error) {
	return s.list(ctx, `NOT (status = ? AND used_at IS NULL AND expires_at > ?) ORDER BY created_at DESC, id LIMIT ?`, string(Pending), s.opts.Now().UnixMilli(), limit)
}

func (s *Store) list(ctx context.Context, where string, args ...any) ([]Approval, error) {
	rows, err := s.st.DB().QueryContext(ctx, s.st.Q(`SELECT `+columns+` FROM approvals WHERE `+where), args...)
	if err != nil {
		return nil, fmt.Errorf("reading the approval requests failed: %w", s.st.Scrub(err))
	}
	defer rows.Close()
	now := s.opts.Now()
	var out []Approval
	for rows.Next() {
		a, err := scanApproval(rows)
		if err != nil {
			return nil, err
		}
		a.Status = a.shown(now)
		out = append(out, a)
	}
	return out, s.st.Scrub(rows.Err())
}

// Purge deletes requests whose time ended before before (the audit log
// keeps what was asked and decided).
func (s *Store) Purge(ctx context.Context, before time.Time) (int64, error) {
	r, err := s.st.DB().ExecContext(ctx, s.st.Q(`DELETE FROM approvals WHERE expires_at < ?`), before.UnixMilli())
	if err != nil {
		return 0, fmt.Errorf("purging old approval requests failed: %w", s.st.Scrub(err))
	}
	return r.RowsAffected()
}

const columns = `id, tool, provider, key_id, key_name, question, principal, client, status, created_at, expires_at, decided_at, decided_by, used_at`

type scanner interface{ Scan(dest ...any) error }

func scanApproval(r scanner) (Approval, error) {
	var (
		a                Approval
		status           string
		created, expires int64
		decided, used    sql.NullInt64
	)
	if err := r.Scan(&a.ID, &a.Tool, &a.Provider, &a.KeyID, &a.KeyName, &a.Question, &a.Principal, &a.Client, &status, &created, &expires, &decided, &a.DecidedBy, &used); err != nil {
		return a, err
	}
	a.Status = Status(status)
	a.CreatedAt, a.ExpiresAt = time.UnixMilli(created).UTC(), time.UnixMilli(expires).UTC()
	a.DecidedAt, a.UsedAt = store.FromMillis(decided), store.FromMillis(used)
	return a, nil
}

// bounded keeps every stored field short and storable: names and the
// question come from what an agent chose.
func bounded(a Act) Act {
	for _, f := range []*string{&a.Tool, &a.Provider, &a.Principal} {
		*f = store.Text(sanitize.Bound(*f, 100))
	}
	for _, f := range []*string{&a.KeyID, &a.KeyName, &a.Client} {
		*f = store.Text(sanitize.Bound(*f, 512))
	}
	a.Question = store.Text(sanitize.Bound(a.Question, 2000))
	return a
}

// IsID reports whether s has the form of a request id (the console checks
// ids from URLs and forms before using them).
func IsID(s string) bool {
	return len(s) == 24 && strings.Trim(s, "0123456789abcdef") == ""
}

// newID is 96 random bits: unique, and short enough that no mask takes it
// for a secret (it is none: a request is bound to its caller and act).
func newID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
