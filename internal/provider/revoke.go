package provider

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// DeleteAnswer is what a platform's 2xx answer to a DELETE says.
type DeleteAnswer int

const (
	// Deleted: the platform says the key is gone.
	Deleted DeleteAnswer = iota + 1
	// NotDeleted: a 2xx that says it is not, such as {"success": false}.
	NotDeleted
)

// DeleteAnswerOf reads a 2xx answer to a DELETE that the platform does not
// document beyond its status: an empty body, null, or any JSON that carries
// no false success, deleted or ok flag is the platform's "deleted", as
// FastAPI servers and their own clients treat it; a flag set to false is
// not. A body that is not JSON at all is for the HTTP client to refuse.
func DeleteAnswerOf(body []byte) DeleteAnswer {
	var flags struct {
		Success *bool `json:"success"`
		Deleted *bool `json:"deleted"`
		OK      *bool `json:"ok"`
	}
	trimmed := bytes.TrimSpace(body)
	if !bytes.HasPrefix(trimmed, []byte("{")) || json.Unmarshal(trimmed, &flags) != nil {
		return Deleted
	}
	for _, f := range []*bool{flags.Success, flags.Deleted, flags.OK} {
		if f != nil && !*f {
			return NotDeleted
		}
	}
	return Deleted
}

// Revocation is one key's revoke, as a provider sends it, for RevokeWithProof.
type Revocation struct {
	Provider string // the provider's name, for errors
	Title    string // the platform, for sentences
	ID       string
	// Delete sends one DELETE for the key and reads its 2xx answer. The HTTP
	// client must not retry it itself: a retry's 404 cannot tell "deleted by
	// the attempt whose answer was lost" from "never there".
	Delete func(ctx context.Context) (DeleteAnswer, error)
	// Listed reports whether a fresh listing still shows the key.
	Listed func(ctx context.Context) (bool, error)
}

// RevokeWithProof revokes a key and says it did only on proof: the
// platform's own "deleted", or a fresh listing without the key. A DELETE whose
// outcome is unknown (no answer, an unreadable one, a server failure that may
// have come after the work, a 429 or 503 that turned it away for now) is
// settled by the listing; a key still listed then gets the DELETE once more,
// and a 404 to that one is in turn checked against the listing. A first 404
// is "no such key"; a 2xx that says "not deleted" is checked once and never
// sent again. When no listing can be had the error says the key may still
// work (Changed: unknown), so that the caller keeps its record of the key.
func RevokeWithProof(ctx context.Context, r Revocation) error {
	answer, err := r.Delete(ctx)
	switch {
	case err == nil && answer == NotDeleted:
		return r.confirm(ctx, fmt.Sprintf("%s answered the deletion of key %q with a success that says it was not deleted", r.Title, r.ID), false)
	case err == nil:
		return nil
	case IsKind(err, KindNotFound):
		return NotFound(r.Provider, r.ID)
	case changedOf(err) == ChangedUnknown:
		return r.confirm(ctx, fmt.Sprintf("the deletion of key %q got no answer that proves it (%s)", r.ID, strings.TrimSuffix(err.Error(), ".")), true)
	case notNow(err):
		return r.confirm(ctx, fmt.Sprintf("the deletion of key %q was turned away for now (%s)", r.ID, strings.TrimSuffix(err.Error(), ".")), true)
	}
	return err
}

// confirm settles a deletion whose answer proved nothing: a fresh listing
// without the key is success; a key still listed gets the DELETE again when
// resend is set, else it is a failure that changed nothing.
func (r Revocation) confirm(ctx context.Context, what string, resend bool) error {
	gone, err := r.Listed(ctx)
	switch {
	case err != nil:
		return r.unconfirmed(what, err)
	case gone:
		return nil
	case !resend:
		return r.stillListed(what)
	}
	answer, err := r.Delete(ctx)
	switch {
	case err == nil && answer == Deleted:
		return nil
	case err != nil && !IsKind(err, KindNotFound) && changedOf(err) == ChangedNo:
		// A definite refusal (or a lasting 429 or 503): its own sentence says it.
		return err
	}
	// A 404 here may answer a DELETE whose earlier attempt deleted the key
	// after all; the listing says which.
	what += fmt.Sprintf(", and the DELETE sent again after a listing still showed key %q proved nothing either", r.ID)
	if gone, err = r.Listed(ctx); err != nil {
		return r.unconfirmed(what, err)
	} else if gone {
		return nil
	}
	return r.stillListed(what)
}

func (r Revocation) unconfirmed(what string, listErr error) error {
	return Fail(KindUpstream, ChangedUnknown, r.Provider, 0,
		"%s, and keyward could not list the keys to see whether it is gone (%s); the key may still work: if it is still listed, revoke it again",
		what, strings.TrimSuffix(listErr.Error(), ".")).Next(StepCheckKeys)
}

func (r Revocation) stillListed(what string) error {
	return Fail(KindUpstream, ChangedNo, r.Provider, 0,
		"%s; %s still lists the key, so it was not revoked and still works; try again later", what, r.Title)
}

func changedOf(err error) Changed {
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Changed
	}
	return ChangedUnknown
}

// notNow is a refusal that says "not now": 429 or 503 (a 502 or 504 to a
// write already leaves the outcome unknown).
func notNow(err error) bool {
	var pe *Error
	if !errors.As(err, &pe) {
		return false
	}
	return pe.Status == http.StatusTooManyRequests || pe.Status == http.StatusServiceUnavailable ||
		pe.Status == http.StatusBadGateway || pe.Status == http.StatusGatewayTimeout
}
