// Package caller carries, in a call's context, who is calling keyward and
// how to reach the person behind the call: what a transport knows, handed to
// the rules (which may need the human) and the audit log (which names the caller).
package caller

import "context"

// Identity is who is asking, as the transport knows it.
type Identity struct {
	ClientName    string
	ClientVersion string
	SessionID     string // empty on stateless requests (protocol 2026-07-28)
	Transport     string // stdio, http, sse
	// Principal is who authenticated, over HTTP: the OAuth token's subject, or
	// "token" for the holder of KEYWARD_HTTP_TOKEN; empty on stdio.
	Principal string
}

// Decision is the human's answer to a confirmation.
type Decision string

const (
	Accept  Decision = "accept"
	Decline Decision = "decline"
	Cancel  Decision = "cancel"
)

// Human reaches the person behind the client. It is absent when the client
// cannot ask.
type Human interface {
	Confirm(ctx context.Context, message string) (Decision, error)
	// ShowSecret shows message (which holds a secret) to the human only and
	// reports whether they acknowledged it.
	ShowSecret(ctx context.Context, message string) (acknowledged bool, err error)
}

type identityKey struct{}
type humanKey struct{}

// With attaches the caller's identity to ctx.
func With(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// From is the caller's identity; empty when none was attached.
func From(ctx context.Context) Identity {
	id, _ := ctx.Value(identityKey{}).(Identity)
	return id
}

// WithHuman attaches a way to reach the human to ctx.
func WithHuman(ctx context.Context, h Human) context.Context {
	return context.WithValue(ctx, humanKey{}, h)
}

// HumanFrom is the way to reach the human, or nil when the client cannot ask.
func HumanFrom(ctx context.Context) Human {
	h, _ := ctx.Value(humanKey{}).(Human)
	return h
}
