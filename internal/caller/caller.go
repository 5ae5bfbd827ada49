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

// Question is what the rules ask the human to confirm. Text is what they
// read; Act identifies what they are asked to allow, without what changes
// with the clock (a create's deadline is now + its lifetime), so an answer
// given a minute later still answers the same question.
type Question struct {
	Text string
	Act  string
}

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
	Confirm(ctx context.Context, q Question) (Decision, error)
	// ShowSecret shows the secret to the human only and reports whether they
	// acknowledged it.
	ShowSecret(ctx context.Context, r Reveal) (acknowledged bool, err error)
}

// Call is the tool call being served, as an approval is bound to it: the
// tool's name and a canonical hash of its arguments (same arguments, same
// hash, whatever their order or spacing).
type Call struct {
	Tool     string
	ArgsHash string
}

type callKey struct{}

// WithCall attaches the call being served to ctx.
func WithCall(ctx context.Context, c Call) context.Context {
	return context.WithValue(ctx, callKey{}, c)
}

// CallFrom is the call being served; empty outside a tool call.
func CallFrom(ctx context.Context) Call {
	c, _ := ctx.Value(callKey{}).(Call)
	return c
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

// Link is a one-time link to a new secret, for the human to open in a
// browser: URL carries no secret.
type Link struct {
	ID        string // the link's public id (the elicitation's id)
	URL       string
	Message   string
	Provider  string
	KeyID     string
	ExpiresAt int64 // unix seconds
}

// LinkOpener hands a link to the human through the client (URL-mode
// elicitation). It is attached only when the client declared it can.
// OpenLink may answer ErrInputRequired, like Human's methods.
type LinkOpener interface {
	OpenLink(ctx context.Context, l Link) (opened bool, err error)
}

type linkOpenerKey struct{}

// WithLinkOpener attaches o to ctx.
func WithLinkOpener(ctx context.Context, o LinkOpener) context.Context {
	return context.WithValue(ctx, linkOpenerKey{}, o)
}

// LinkOpenerFrom is the way to hand the human a link, or nil when the client
// cannot (the result then carries the link for the agent to pass on).
func LinkOpenerFrom(ctx context.Context) LinkOpener {
	o, _ := ctx.Value(linkOpenerKey{}).(LinkOpener)
	return o
}
