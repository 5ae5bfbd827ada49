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
