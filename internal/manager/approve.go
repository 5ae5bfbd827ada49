package manager

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/internal/approvals"
	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/policy"
)

// What became of a question the operator answers in the console instead of
// the client's human.
const (
	AwaitingOperator     Confirmation = "awaiting_operator"       // the act waits for the operator's approval
	ApprovedByOperator   Confirmation = "approved_by_operator"    // the operator approved it in the console
	DeniedByOperator     Confirmation = "denied_by_operator"      // the operator denied it in the console
	WouldWaitForOperator Confirmation = "would_wait_for_operator" // a dry run: the act would wait for the operator
	ConfirmedByOperator  Confirmation = "confirmed_by_operator"   // the operator did it from the console
)

// AwaitingApproval is the answer to an act that waits for the operator:
// nothing was done, and the caller's identical retry after the operator's
// decision is what acts (or learns of the denial).
type AwaitingApproval struct {
	ID        string
	Tool      string
	Question  string
	ExpiresAt time.Time
	// Where is the console's page of approvals, when keyward knows its address.
	Where string
	// ExpiredID is an earlier request for the same act that nobody decided in time.
	ExpiredID string
}

func (e *AwaitingApproval) Error() string {
	return fmt.Sprintf("this waits for the operator's approval (request %s); nothing was done yet", e.ID)
}

// SetConsoleURL tells the rules where the console is (its base URL), so the
// agent can be told where the operator approves.
func (m *Manager) SetConsoleURL(base string) { m.consoleURL.Store(&base) }

func (m *Manager) approvalsPage() string {
	if p := m.consoleURL.Load(); p != nil && *p != "" {
		return *p + "/approvals"
	}
	return ""
}

// byOperator reports whether the operator's approval stands in for the
// human's confirmation: always with KEYWARD_CONFIRM=console, and with true
// or required when the client cannot ask (h is nil) and a console is there.
func (m *Manager) byOperator(h caller.Human) bool {
	if m.opts.Approvals == nil {
		return false
	}
	return m.opts.Confirm == policy.ConfirmConsole || (h == nil && (m.opts.Confirm == policy.ConfirmAsk || m.opts.Confirm == policy.ConfirmRequired))
}

// askOperator resolves an act that needs the operator: approved (and used up
// now), denied (reported once), or waiting (*AwaitingApproval).
func (m *Manager) askOperator(ctx context.Context, rec audit.Record, q caller.Question) (Confirmation, string, error) {
	call, id := caller.CallFrom(ctx), caller.From(ctx)
	tool := call.Tool
	if tool == "" {
		tool = rec.Tool
	}
	res, err := m.opts.Approvals.Resolve(ctx, approvals.Act{
		Tool: tool, ArgsHash: call.ArgsHash, Provider: rec.Provider, KeyID: rec.KeyID, KeyName: rec.KeyName,
		Question: q.Text, QuestionAct: q.Act, Principal: id.Principal, Client: id.ClientName,
	})
	var tooMany *approvals.TooManyError
	if errors.As(err, &tooMany) {
		return AwaitingOperator, "", &policy.Refusal{Reason: tooMany.Error()}
	}
	if err != nil {
		return AskFailed, "", &declinedError{cause: err, msg: fmt.Sprintf("the request for the operator's approval could not be kept (%v), so nothing was changed; retry", err)}
	}
	a := res.Approval
	switch a.Status {
	case approvals.Approved:
		return ApprovedByOperator, a.ID, nil
	case approvals.Denied:
		return DeniedByOperator, a.ID, &declinedError{msg: fmt.Sprintf("the operator denied this in keyward's console (request %s); nothing was changed. Do not retry unless the human asks you to", a.ID)}
	}
	return AwaitingOperator, a.ID, &AwaitingApproval{ID: a.ID, Tool: a.Tool, Question: a.Question, ExpiresAt: a.ExpiresAt, Where: m.approvalsPage(), ExpiredID: res.ExpiredID}
}

// Approvals lists the requests waiting for the operator, and the latest
// others (at most recent of them).
func (m *Manager) Approvals(ctx context.Context, recent int) (pending, decided []approvals.Approval, err error) {
	if m.opts.Approvals == nil {
		return nil, nil, nil
	}
	if pending, err = m.opts.Approvals.Pending(ctx); err != nil {
		return nil, nil, err
	}
	decided, err = m.opts.Approvals.Recent(ctx, recent)
	return pending, decided, err
}

// ErrNoApprovals: this keyward keeps no approvals (no console).
var ErrNoApprovals = errors.New("approvals are off: keyward serve has them when KEYWARD_OPERATOR_TOKEN is set")

// DecideApproval records the operator's decision on request id and audits
// it; ctx names the operator (caller.Identity). The act itself happens when
// the agent retries.
func (m *Manager) DecideApproval(ctx context.Context, id string, approve bool) (approvals.Approval, error) {
	if m.opts.Approvals == nil {
		return approvals.Approval{}, ErrNoApprovals
	}
	who := caller.From(ctx)
	by := who.Principal
	if by == "" {
		by = "operator"
	}
	a, err := m.opts.Approvals.Decide(ctx, id, approve, by)
	if errors.Is(err, sql.ErrNoRows) {
		return a, &approvals.DecisionError{ID: id}
	}
	verb, conf := "denied", DeniedByOperator
	if approve {
		verb, conf = "approved", ApprovedByOperator
	}
	rec := audit.Record{Tool: "console", Provider: a.Provider, KeyID: a.KeyID, KeyName: a.KeyName, Confirmation: string(conf),
		Detail: fmt.Sprintf("the operator %s request %s for %s (asked by %s): %s", verb, a.ID, a.Tool, describeCaller(a.Principal, a.Client), a.Question)}
	if err != nil {
		rec.Detail = fmt.Sprintf("the operator tried to decide request %s (%s)", id, verb)
	}
	m.record(ctx, rec, err)
	return a, err
}

func describeCaller(principal, client string) string {
	switch {
	case client == "" && principal == "":
		return "an unnamed client"
	case principal == "":
		return client
	case client == "":
		return principal
	}
	return client + " as " + principal
}
