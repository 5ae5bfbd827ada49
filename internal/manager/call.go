package manager

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/policy"
)

// call is one mutating call on its way to the audit log: the record it will
// leave, what the human was asked, and notes for the result. Every mutating
// method begins one and ends it in a defer, so no path leaves no trace.
type call struct {
	m        *Manager
	ctx      context.Context
	rec      audit.Record
	asked    Confirmation
	notes    []Note
	recorded bool // the record was written inside the transaction of the change
	// dry: check everything and describe the act, but stop at the point of
	// no return (dryStop) and ask nobody.
	dry      bool
	question string // what the human was (or, in a dry run, would be) asked
	// approval is the operator's request this call found approved (or denied).
	approval string
	// operator: the operator does this from the console, which is their
	// confirmation (emergency revoke, a one-time link's "revoke now").
	operator bool
}

func (m *Manager) begin(ctx context.Context, rec audit.Record, dry bool) *call {
	return &call{m: m, ctx: ctx, rec: rec, dry: dry}
}

// dryStop is the point of no return of every mutating call: what follows
// changes something. In a dry run it answers p, completed from what the
// checks put in the record, and the call stops.
func (c *call) dryStop(p Plan) *Plan {
	if !c.dry {
		return nil
	}
	r := c.rec
	p.Provider, p.KeyID, p.ScopesBefore, p.Scopes, p.ExpiresAt = r.Provider, r.KeyID, r.ScopesBefore, r.ScopesAfter, r.ExpiresAt
	if p.Name == "" {
		p.Name = r.KeyName
	}
	p.Human, p.Question = c.asked, c.question
	p.Notes = append(p.Notes, c.notes...)
	return &p
}

// confirmAbout asks the human about a change to a key without holding the
// key's lock while they decide; the lock is held again afterwards.
func (c *call) confirmAbout(key *heldKey, message string) error {
	key.release()
	defer key.relock()
	return c.confirm(message)
}

// confirm asks the human and remembers the answer for the record.
func (c *call) confirm(message string) error { return c.confirmAct(message, message) }

// confirmAct asks the human message; act is the question's form without
// what moves with the clock (caller.Question), which answers are bound to.
func (c *call) confirmAct(message, act string) error {
	if c.operator {
		c.asked, c.rec.Confirmation, c.question = ConfirmedByOperator, string(ConfirmedByOperator), message
		return nil
	}
	a, approval, err := c.m.confirm(c.ctx, caller.Question{Text: message, Act: act}, c.dry, c.rec)
	c.asked, c.rec.Confirmation, c.question, c.approval = a, string(a), message, approval
	if err == nil && a == CouldNotAsk && !c.dry { // a plan says so in Human
		c.notes = append(c.notes, Note{Kind: NoteNotAsked})
	}
	return err
}

func (c *call) confirmation() Confirmation { return c.asked }

// recordIn writes the record of a successful call inside tx.
func (c *call) recordIn(tx *sql.Tx) error {
	r := c.m.stamp(c.ctx, c.withApproval(), nil)
	if err := c.m.opts.Audit.WriteTx(c.ctx, tx, r); err != nil {
		return err
	}
	c.recorded = true
	return nil
}

// end writes the record unless the change already did.
// A call that ended to wait for the human's answer leaves no record: nothing
// happened, and the round that brings the answer is recorded.
func (c *call) end(err error) {
	if (c.recorded && err == nil) || errors.Is(err, caller.ErrInputRequired) {
		return
	}
	if c.dry {
		c.rec.Outcome = audit.OutcomeDryRun
	}
	c.m.record(c.ctx, c.withApproval(), err)
}

// withApproval is the record, naming the operator's request it acted on.
func (c *call) withApproval() audit.Record {
	r := c.rec
	if c.approval != "" {
		r.Detail = strings.TrimPrefix(r.Detail+"; approval request "+c.approval, "; ")
	}
	return r
}

// stamp fills in who called and the outcome err stands for.
func (m *Manager) stamp(ctx context.Context, r audit.Record, err error) audit.Record {
	cl := caller.From(ctx)
	if r.ClientName == "" {
		r.ClientName, r.ClientVersion, r.SessionID, r.Transport, r.Principal = cl.ClientName, cl.ClientVersion, cl.SessionID, cl.Transport, cl.Principal
	}
	if r.Principal == "" {
		r.Principal = cl.Principal
	}
	var refusal *policy.Refusal
	var waiting *AwaitingApproval
	switch {
	case r.Outcome == audit.OutcomeDryRun:
		// A dry run is a dry run whatever it found; Error says why the act
		// would fail.
		if err != nil {
			r.Error = err.Error()
		}
	case err == nil:
		r.Outcome = audit.OutcomeOK
	case errors.As(err, &waiting):
		r.Outcome = audit.OutcomeAwaiting
		r.Detail = strings.TrimPrefix(fmt.Sprintf("%s; waits for the operator's approval until %s", r.Detail, waiting.ExpiresAt.UTC().Format(time.RFC3339)), "; ")
	case errors.As(err, &refusal):
		r.Outcome, r.Error = audit.OutcomeRefused, err.Error()
	case errors.Is(err, errDeclined):
		r.Outcome, r.Error = audit.OutcomeDeclined, err.Error()
	default:
		r.Outcome, r.Error = audit.OutcomeError, err.Error()
	}
	return r
}

// record writes the audit record of a mutating call, deriving the outcome from err.
func (m *Manager) record(ctx context.Context, r audit.Record, err error) {
	r = m.stamp(ctx, r, err)
	if r.Outcome == audit.OutcomeRefused {
		caller.Notify(ctx, caller.Warning, fmt.Sprintf("keyward refused %s: %s", r.Tool, r.Error))
	}
	if werr := m.opts.Audit.Write(ctx, r); werr != nil {
		m.log.Error("audit write failed", "tool", r.Tool, "provider", r.Provider, "key_id", r.KeyID, "err", werr)
	}
}
