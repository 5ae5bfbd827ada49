// Package caller carries, in a call's context, who is calling keyward and
// how to reach the person behind the call: what a transport knows, handed to
// the rules (which may need the human) and the audit log (which names the caller).
package caller

import (
	"context"
	"errors"
)

// ErrInputRequired is what a Human answers when the question has been put
// to the client and the answer will come with the call's next round (the
// multi round-trip of protocol 2026-07-28): the call ends here, changing
// nothing, and is made again with the answer.
var ErrInputRequired = errors.New("the human's answer is needed first")

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

// Reveal is a new secret to show the human: Message holds it; the key and
// the file it was written to say what it belongs to.
type Reveal struct {
	Message  string
	Provider string
	KeyID    string
	File     string
}

// Human reaches the person behind the client. It is absent when the client
// cannot ask. Either method may answer ErrInputRequired: the question went
// out, and the answer comes with the call's next round.
type Human interface {
	Confirm(ctx context.Context, message string) (Decision, error)
	// ShowSecret shows the secret to the human only and reports whether they
	// acknowledged it.
	ShowSecret(ctx context.Context, r Reveal) (acknowledged bool, err error)
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
