package records

import (
	"context"
	"time"
)

// Spend records that the answer with nonce was used; fresh is false when it
// had been used before. until is when the answer would expire anyway: the
// record is kept until then, and records past theirs are dropped here, so
// the table holds only answers that could still be replayed.
func (r *Records) Spend(ctx context.Context, nonce string, until time.Time) (fresh bool, err error) {
	ctx = context.WithoutCancel(ctx) // once begun, the answer is recorded whatever the caller does
	now := r.now().UnixMilli()
	if _, err := r.st.DB().ExecContext(ctx, r.st.Q(`DELETE FROM spent_answers WHERE until < ?`), now); err != nil {
		return false, r.st.Scrub(err)
	}
	res, err := r.st.DB().ExecContext(ctx, r.st.Q(`INSERT INTO spent_answers (nonce, until) VALUES (?, ?) ON CONFLICT (nonce) DO NOTHING`), nonce, until.UnixMilli())
	if err != nil {
		return false, r.st.Scrub(err)
	}
	n, err := res.RowsAffected()
	return n == 1, r.st.Scrub(err)
}
