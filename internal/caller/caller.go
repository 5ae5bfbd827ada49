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
	// ReadOnly: the principal may use the read-only tools only (its OAuth
	// token grants the read scope, not the write scope).
	ReadOnly bool
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

// Level is how much a notice matters, named as MCP's logging levels are.
type Level string

const (
	Info    Level = "info"
	Notice  Level = "notice"
	Warning Level = "warning"
	Error   Level = "error"
)

// Notifier tells the people behind the clients, as it happens, what keyward
// is doing for them: over MCP, a notifications/message the client asked for
// (logging/setLevel, or the request's own log level from 2026-07-28 on). The
// transport attaches one; it masks anything shaped like a secret and bounds
// the text, but callers must not put a secret in message in the first place.
type Notifier interface {
	Notify(ctx context.Context, level Level, message string)
}

type notifierKey struct{}

// WithNotifier attaches n to ctx: Notify calls made with ctx reach it.
func WithNotifier(ctx context.Context, n Notifier) context.Context {
	return context.WithValue(ctx, notifierKey{}, n)
}

// Notify sends message to whoever ctx reaches (the client of the call being
// served, or every client for keyward's own background work); nothing when
// no transport attached a Notifier.
func Notify(ctx context.Context, level Level, message string) {
	if n, _ := ctx.Value(notifierKey{}).(Notifier); n != nil {
		n.Notify(ctx, level, message)
	}
}
