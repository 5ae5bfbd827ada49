package tools

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/seal"
)

// The human is asked by multi round-trip (SEP-2322, protocol 2026-07-28): a
// tool that needs an answer ends its call with the question and a request
// state; the client asks its human and makes the call again with the answer
// and the state. mcp-go makes the same handler serve older clients, asking
// them by elicitation/create and calling the handler again itself.
//
// The state is the client's to carry and the attacker's to forge: it is
// sealed (HMAC, KEYWARD_STATE_KEY), bound to the tool, its exact arguments
// and, for a confirmation, the exact question; it expires; and its nonce is
// spent once, so a forged, edited, stale or replayed answer does nothing.

// answerKey is the id of keyward's one input request per round.
const answerKey = "answer"

// StateTTL is how long a question's answer is accepted.
const StateTTL = 10 * time.Minute

const stateVersion = 1

// roundState is what a round hands the client to echo back.
type roundState struct {
	V        int    `json:"v"`
	Kind     string `json:"k"` // "confirm" or "reveal"
	Tool     string `json:"t"`
	Args     string `json:"a"`           // hash of the call's arguments
	Question string `json:"q,omitempty"` // confirm: hash of the question
	Provider string `json:"p,omitempty"` // reveal: the key whose secret was shown
	KeyID    string `json:"i,omitempty"`
	File     string `json:"f,omitempty"`
	Link     string `json:"l,omitempty"` // link: the one-time link put to the human (links.go)
	Until    int64  `json:"u,omitempty"` // link: until when it works, unix seconds
	Nonce    string `json:"n"`
	Exp      int64  `json:"e"` // unix seconds
}

const (
	kindConfirm = "confirm"
	kindReveal  = "reveal"
	kindLink    = "link"
)

// Spent remembers the nonces of states already answered, until they expire;
// Spend reports false for one seen before. Replicas share it through the
// state store, a single process may keep it in memory.
type Spent interface {
	Spend(ctx context.Context, nonce string, until time.Time) (fresh bool, err error)
}

// MemorySpent is a Spent for one process; Now is its clock (nil: time.Now),
// which must be the clock the states' expiry is measured by.
type MemorySpent struct {
	Now  func() time.Time
	mu   sync.Mutex
	seen map[string]time.Time
}

// Spend implements Spent.
func (s *MemorySpent) Spend(_ context.Context, nonce string, until time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	if s.seen == nil {
		s.seen = map[string]time.Time{}
	}
	for n, t := range s.seen {
		if now.After(t) {
			delete(s.seen, n)
		}
	}
	if _, used := s.seen[nonce]; used {
		return false, nil
	}
	s.seen[nonce] = until
	return true, nil
}

// Rounds seals and checks the states of every tool's rounds.
type Rounds struct {
	Sealer *seal.Sealer
	Spent  Spent
	Now    func() time.Time
}

func (r *Rounds) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// errState is a request state keyward will not act on.
type errState struct{ why string }

func (e *errState) Error() string { return e.why }

// open reads the state a call carries, if any: nil when none. A state that
// does not verify, is for another tool or other arguments, has expired or was
// already answered is an error.
func (r *Rounds) open(ctx context.Context, req mcp.CallToolRequest, argsHash string) (*roundState, error) {
	token := req.Params.RequestState
	if token == "" {
		return nil, nil
	}
	var st roundState
	if err := r.Sealer.Open(token, &st); err != nil || st.V != stateVersion {
		return nil, &errState{"the request state of this call was altered, forged or made by another deployment, so the answer it carries was not used and nothing was done; make the call again without it"}
	}
	switch {
	case st.Tool != req.Params.Name || st.Args != argsHash:
		return nil, &errState{"the request state of this call belongs to another call (other tool or other arguments), so the answer it carries was not used and nothing was done; make the call again without it"}
	case !r.now().Before(time.Unix(st.Exp, 0)):
		return nil, &errState{fmt.Sprintf("the human's answer came more than %s after the question, so it was not used and nothing was done; make the call again to ask anew", StateTTL)}
	}
	return &st, nil
}

// spentMargin is how long past its state's expiry a spent answer is still
// remembered: replicas' clocks differ a little, and one that forgot a nonce
// by its own clock must not make it fresh for one whose clock still accepts
// the state.
const spentMargin = 5 * time.Minute

// spend uses up a state's nonce: a replayed answer does nothing.
func (r *Rounds) spend(ctx context.Context, st *roundState) error {
	fresh, err := r.Spent.Spend(ctx, st.Nonce, time.Unix(st.Exp, 0).Add(spentMargin))
	if err != nil {
		return fmt.Errorf("keyward could not record that this answer was used (%w), so it was not used; try again", err)
	}
	if !fresh {
		return &errState{"this answer was already used once, so it was not used again and nothing was done; make the call again to ask anew"}
	}
	return nil
}

func (r *Rounds) seal(st roundState) (string, error) {
	nonce := make([]byte, 16)
	_, _ = rand.Read(nonce)
	st.V, st.Nonce, st.Exp = stateVersion, hex.EncodeToString(nonce), r.now().Add(StateTTL).Unix()
	return r.Sealer.Seal(st)
}

func hashOf(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// argsHash binds a state to the call's exact arguments.
func argsHash(req mcp.CallToolRequest) string {
	if raw := req.Params.RawArguments; len(raw) > 0 {
		return hashOf(raw)
	}
	b, _ := json.Marshal(req.Params.Arguments)
	return hashOf(b)
}

// roundTrip is the human behind one call: it answers from what the call
// carries, or records the question for the call to end with.
type roundTrip struct {
	r     *Rounds
	req   mcp.CallToolRequest
	args  string
	state *roundState // the verified state the call carries, if any
	asked *question   // the question this round ends with
}

type question struct {
	params mcp.ElicitationParams
	state  string
}

func form(message, field, title string) mcp.ElicitationParams {
	return mcp.ElicitationParams{
		Message: message,
		RequestedSchema: map[string]any{
			"type":       "object",
			"properties": map[string]any{field: map[string]any{"type": "boolean", "title": title, "default": false}},
			"required":   []string{field},
		},
	}
}

// Confirm implements caller.Human.
func (rt *roundTrip) Confirm(ctx context.Context, cq caller.Question) (caller.Decision, error) {
	q, message := hashOf([]byte(cq.Act)), cq.Text
	if st := rt.state; st != nil && st.Kind == kindConfirm && st.Question == q {
		if answer := server.ElicitationResponse(rt.req.Params.InputResponses, answerKey); answer != nil {
			if err := rt.r.spend(ctx, st); err != nil {
				return "", err
			}
			rt.state = nil // one answer, one question
			switch answer.Action {
			case mcp.ElicitationResponseActionAccept:
				if fieldTrue(answer.Content, "confirm") {
					return caller.Accept, nil
				}
				return caller.Decline, nil
			case mcp.ElicitationResponseActionCancel:
				return caller.Cancel, nil
			case mcp.ElicitationResponseActionDecline:
				return caller.Decline, nil
			}
			// The action is the client's own text: masked and cut, as
			// everything a client chose that keyward repeats.
			return "", fmt.Errorf("the client answered with an action keyward does not know (%s); the answers are accept, decline and cancel", scrub(string(answer.Action), 40))
		}
	}
	// No answer to this very question yet: put it to the human.
	state, err := rt.r.seal(roundState{Kind: kindConfirm, Tool: rt.req.Params.Name, Args: rt.args, Question: q})
	if err != nil {
		return "", err
	}
	rt.asked = &question{params: form(message, "confirm", "Yes, do it"), state: state}
	return "", caller.ErrInputRequired
}

// ShowSecret implements caller.Human: the secret goes out with the question,
// and the answer is settled in the next round (reveal).
func (rt *roundTrip) ShowSecret(ctx context.Context, r caller.Reveal) (bool, error) {
	state, err := rt.r.seal(roundState{Kind: kindReveal, Tool: rt.req.Params.Name, Args: rt.args, Provider: r.Provider, KeyID: r.KeyID, File: r.File})
	if err != nil {
		return false, err
	}
	rt.asked = &question{params: form(r.Message, "copied", "I have copied the secret"), state: state}
	return false, caller.ErrInputRequired
}

// inputRequired is the result that ends a round with rt's question.
func (rt *roundTrip) inputRequired() *mcp.CallToolResult {
	return server.NewInputRequestBuilder(rt.asked.state).Elicit(answerKey, rt.asked.params).ToolResult()
}

func fieldTrue(content any, field string) bool {
	m, ok := content.(map[string]any)
	if !ok {
		return false
	}
	b, _ := m[field].(bool)
	return b
}

// canAsk reports whether the client of this call can put a question to its
// human: one that declares elicitation — per request from protocol
// 2026-07-28 on, for the session before — on a transport that can carry the
// question (mcp-go's legacy SSE session cannot).
func canAsk(ctx context.Context) bool {
	if info := server.RequestProtocolInfoFromContext(ctx); info != nil && info.Modern {
		return info.ClientCapabilities != nil && info.ClientCapabilities.Elicitation != nil
	}
	session := server.ClientSessionFromContext(ctx)
	withInfo, ok := session.(server.SessionWithClientInfo)
	if !ok || withInfo.GetClientCapabilities().Elicitation == nil {
		return false
	}
	_, canElicit := session.(server.SessionWithElicitation)
	return canElicit
}
