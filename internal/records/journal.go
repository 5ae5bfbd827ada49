package records

import (
	"context"
	"database/sql"
	"time"

	"github.com/keyward/keyward/internal/store"
)

// Intent is a create in flight: written before the provider is asked, noted
// as it progresses, and ended in the transaction that records the key. One
// still there after its process died marks a create that never finished.
type Intent struct {
	ID         string // also the request id sent to the provider
	Provider   string
	Name       string
	Tool       string
	Holder     string // host/pid/nonce of the process making the call
	StartedAt  time.Time
	Heartbeat  time.Time // the last time its process noted progress
	KeyID      string    // the key the create made, once known
	SecretFile string    // where its secret went, once written
	Attempts   int       // failed attempts to undo it
}

// Begin journals a create before the provider is asked.
func (r *Records) Begin(ctx context.Context, in Intent) error {
	_, err := r.st.DB().ExecContext(context.WithoutCancel(ctx), r.st.Q(`INSERT INTO create_intents (id, provider, name, tool, holder, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		in.ID, in.Provider, store.Text(in.Name), in.Tool, in.Holder, in.StartedAt.UnixMilli(), in.StartedAt.UnixMilli())
	return r.st.Scrub(err)
}

// NoteKey records the key a create made, and that its process is alive at now.
func (r *Records) NoteKey(ctx context.Context, id, keyID string, now time.Time) error {
	return r.note(ctx, `UPDATE create_intents SET key_id = ?, heartbeat_at = ? WHERE id = ?`, id, keyID, now)
}

// NoteFile records where a create's secret was written.
func (r *Records) NoteFile(ctx context.Context, id, path string, now time.Time) error {
	return r.note(ctx, `UPDATE create_intents SET secret_file = ?, heartbeat_at = ? WHERE id = ?`, id, path, now)
}

func (r *Records) note(ctx context.Context, query, id, v string, now time.Time) error {
	_, err := r.st.DB().ExecContext(context.WithoutCancel(ctx), r.st.Q(query), store.Text(v), now.UnixMilli(), id)
	return r.st.Scrub(err)
}

// End drops an intent: the create it stood for is recorded or undone.
func (r *Records) End(ctx context.Context, id string) error {
	return r.EndTx(context.WithoutCancel(ctx), nil, id)
}

// EndTx is End inside tx (nil: on its own), so the intent goes with the
// record of what became of it.
func (r *Records) EndTx(ctx context.Context, tx *sql.Tx, id string) error {
	var db execer = r.st.DB()
	if tx != nil {
		db = tx
	}
	_, err := db.ExecContext(ctx, r.st.Q(`DELETE FROM create_intents WHERE id = ?`), id)
	return r.st.Scrub(err)
}

// Open reports whether the intent id is still journalled.
func (r *Records) Open(ctx context.Context, id string) (bool, error) {
	var n int
	err := r.st.DB().QueryRowContext(ctx, r.st.Q(`SELECT count(*) FROM create_intents WHERE id = ?`), id).Scan(&n)
	return n > 0, r.st.Scrub(err)
}

// Attempted counts one failed attempt to undo an intent.
func (r *Records) Attempted(ctx context.Context, id string) error {
	_, err := r.st.DB().ExecContext(context.WithoutCancel(ctx), r.st.Q(`UPDATE create_intents SET attempts = attempts + 1 WHERE id = ?`), id)
	return r.st.Scrub(err)
}

// Pending lists every intent, oldest first.
func (r *Records) Pending(ctx context.Context) ([]Intent, error) {
	rows, err := r.st.DB().QueryContext(ctx, `SELECT id, provider, name, tool, holder, started_at, heartbeat_at, key_id, secret_file, attempts FROM create_intents ORDER BY started_at, id`)
	if err != nil {
		return nil, r.st.Scrub(err)
	}
	defer rows.Close()
	var out []Intent
	for rows.Next() {
		var in Intent
		var started, beat int64
		if err := rows.Scan(&in.ID, &in.Provider, &in.Name, &in.Tool, &in.Holder, &started, &beat, &in.KeyID, &in.SecretFile, &in.Attempts); err != nil {
			return nil, err
		}
		in.StartedAt, in.Heartbeat = time.UnixMilli(started).UTC(), time.UnixMilli(beat).UTC()
		out = append(out, in)
	}
	return out, r.st.Scrub(rows.Err())
}
