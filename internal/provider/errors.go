package provider

import (
	"errors"
	"fmt"
	"time"
)

// Kind is the small set of failures the tools turn into sentences.
type Kind string

const (
	KindUnauthorized Kind = "unauthorized" // the configured credential was rejected
	KindForbidden    Kind = "forbidden"    // the configured credential lacks a permission
	KindNotFound     Kind = "not_found"
	KindRateLimited  Kind = "rate_limited"
	KindUpstream     Kind = "upstream" // 5xx, timeout, garbage body, dropped connection
	KindUnsupported  Kind = "unsupported"
	KindInvalid      Kind = "invalid" // the request itself is wrong
	KindLimit        Kind = "limit"   // a key-count or plan limit
	KindConflict     Kind = "conflict"
)

// Changed says whether a failed call may have changed anything upstream.
type Changed string

const (
	ChangedNo      Changed = "no"
	ChangedUnknown Changed = "unknown"
)

// Error is every provider failure. Message is a whole sentence that never
// holds a credential and names no interface (no tool or command names):
// Step says what can be done next, and each interface says it in its words.
type Error struct {
	Kind       Kind
	Provider   string
	Message    string
	Step       Step          // what the caller can do next
	Setting    string        // the variable to change, when an operator setting is the cause
	Permission string        // with KindForbidden, when the platform names it
	RetryAfter time.Duration // with KindRateLimited
	Changed    Changed
	Status     int // upstream HTTP status, 0 when none
}

func (e *Error) Error() string { return e.Message }

// Errorf builds an *Error with a formatted message, for a failure that
// changed nothing.
func Errorf(kind Kind, provider, format string, args ...any) *Error {
	return Fail(kind, ChangedNo, provider, 0, format, args...)
}

// Fail builds an *Error that says whether anything may have changed and,
// when the platform answered, with which HTTP status. Providers build every
// error of their own here or through Errorf; the HTTP client builds its own
// and redacts them.
func Fail(kind Kind, changed Changed, provider string, status int, format string, args ...any) *Error {
	if changed == "" {
		changed = ChangedUnknown
	}
	return &Error{Kind: kind, Provider: provider, Message: fmt.Sprintf(format, args...), Changed: changed, Status: status}
}

// Unsupported says plainly that a platform lacks an operation.
func Unsupported(provider, format string, args ...any) *Error {
	return Errorf(KindUnsupported, provider, format, args...)
}

// NotFound is the common "no such key" answer.
func NotFound(provider, id string) *Error {
	return Errorf(KindNotFound, provider, "no key with id %q on %s", id, provider).Next(StepFindKey)
}

// Next sets the step the error names and returns it.
func (e *Error) Next(s Step) *Error {
	e.Step = s
	return e
}

// For names the operator setting behind the error and returns it.
func (e *Error) For(setting string) *Error {
	e.Setting = setting
	return e
}

// KindOf returns the kind of err, or "" when it is not a provider error.
func KindOf(err error) Kind {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Kind
	}
	return ""
}

// IsKind reports whether err is a provider error of that kind.
func IsKind(err error, kind Kind) bool { return KindOf(err) == kind }
