package tools

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/manager"
)

// canonicalArgs is the hash an approval binds a call's arguments by: the
// same arguments hash the same whatever their order or spacing, so the
// agent's retry matches what the operator approved, and any other
// arguments do not.
func canonicalArgs(req mcp.CallToolRequest) string {
	raw := req.Params.RawArguments
	if len(raw) == 0 {
		raw, _ = json.Marshal(req.Params.Arguments)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return hashOf(raw)
	}
	out, err := json.Marshal(v) // map keys come out sorted
	if err != nil {
		return hashOf(raw)
	}
	return hashOf(out)
}

// retryAfterApproval is the retry hint of an act that waits for the
// operator: soon enough that an approval is used while the operator still
// has the request in mind.
const retryAfterApproval = 30 * time.Second

// awaitingText says what an agent whose act waits for the operator does next.
func awaitingText(e *manager.AwaitingApproval) string {
	var b strings.Builder
	if e.ExpiredID != "" {
		fmt.Fprintf(&b, "The earlier request %s expired before the operator decided it. ", e.ExpiredID)
	}
	fmt.Fprintf(&b, "Nothing was done yet: this needs the operator's approval. Request %s waits in keyward's console", e.ID)
	if e.Where != "" {
		fmt.Fprintf(&b, " (%s)", e.Where)
	}
	fmt.Fprintf(&b, " until %s, asking: %s Tell the human it waits for the operator; once approved, call %s again with exactly the same arguments (a call with other arguments makes a new request). If the operator denies it, the retry says so.",
		e.ExpiresAt.UTC().Format(time.RFC3339), e.Question, e.Tool)
	return b.String()
}

// approvalJSON is the request an error of kind awaiting_approval names.
type approvalJSON struct {
	ID        string    `json:"id"`
	Question  string    `json:"question"`
	ExpiresAt time.Time `json:"expires_at"`
	URL       string    `json:"url,omitempty"`
}

func approvalOut(err error) *approvalJSON {
	var e *manager.AwaitingApproval
	if !errors.As(err, &e) {
		return nil
	}
	return &approvalJSON{ID: e.ID, Question: e.Question, ExpiresAt: e.ExpiresAt.UTC(), URL: e.Where}
}
