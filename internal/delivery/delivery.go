// Package delivery hands a new secret to the place the operator chose
// (KEYWARD_REVEAL): a private file, the answer itself, or the human through
// the client. Elicitation falls back to a file whenever the human did not
// see the secret, so a secret is never lost.
package delivery

import (
	"context"
	"errors"
	"fmt"

	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/secret"
)

// Fallback says why an elicited secret went to a file instead.
type Fallback string

const (
	FallbackNone            Fallback = ""
	FallbackUnavailable     Fallback = "unavailable"      // the client cannot ask its human
	FallbackNotAcknowledged Fallback = "not_acknowledged" // the human did not acknowledge it
	FallbackFailed          Fallback = "failed"           // showing it failed
)

// Result says where a secret went. Secret is set only in inline mode.
type Result struct {
	Mode         secret.Mode
	File         string
	Secret       string
	Acknowledged *bool // elicit mode: whether the human acknowledged it
	Fallback     Fallback
	// Pending: the secret was put to the human and the answer comes with the
	// call's next round; until then it waits in File.
	Pending bool
}

// Secrets delivers secrets; the manager's default is Files.
type Secrets interface {
	// Ready fails, before anything changes upstream, when a secret could not
	// be delivered afterwards.
	Ready() error
	// Deliver hands the new secret of key c on the provider titled title to
	// its place.
	Deliver(ctx context.Context, providerName, title string, c provider.Created) (Result, error)
	// Remove deletes a secret file it wrote; false when none was there.
	Remove(path string) (bool, error)
}

// Files is the delivery the operator chose with KEYWARD_REVEAL, writing
// files (and fallbacks) under Dir.
type Files struct {
	Mode secret.Mode
	Dir  string
}

// Ready implements Secrets.
func (f Files) Ready() error {
	if f.Mode == secret.ModeInline {
		return nil
	}
	if err := secret.EnsurePrivateDir(f.Dir); err != nil {
		return fmt.Errorf("new secrets go to KEYWARD_SECRETS_DIR, which is not usable: %w; nothing was changed", err)
	}
	return nil
}

// Deliver implements Secrets.
func (f Files) Deliver(ctx context.Context, providerName, title string, c provider.Created) (Result, error) {
	switch f.Mode {
	case secret.ModeInline:
		return Result{Mode: secret.ModeInline, Secret: c.Secret}, nil
	case secret.ModeElicit:
		h := caller.HumanFrom(ctx)
		if h == nil {
			r, err := f.file(providerName, c)
			r.Fallback = FallbackUnavailable
			return r, err
		}
		// The secret goes to its file first, so that it is never lost
		// whatever becomes of the question; the file goes once the human
		// has acknowledged the secret.
		r, err := f.file(providerName, c)
		if err != nil {
			return r, err
		}
		msg := fmt.Sprintf("New secret for key %q (%s) on %s:\n\n%s\n\nCopy it now: it is shown only once and keyward keeps no copy.", c.Key.Name, c.Key.ID, title, c.Secret)
		ack, err := h.ShowSecret(ctx, caller.Reveal{Message: msg, Provider: providerName, KeyID: c.Key.ID, File: r.File})
		switch {
		case errors.Is(err, caller.ErrInputRequired):
			r.Mode, r.Pending = secret.ModeElicit, true
			return r, nil
		case err == nil && ack:
			if _, rmErr := secret.RemoveFile(r.File); rmErr == nil {
				t := true
				return Result{Mode: secret.ModeElicit, Acknowledged: &t}, nil
			}
		}
		no := false
		r.Acknowledged, r.Fallback = &no, FallbackNotAcknowledged
		if err != nil {
			r.Fallback = FallbackFailed
		}
		return r, nil
	}
	return f.file(providerName, c)
}

func (f Files) file(providerName string, c provider.Created) (Result, error) {
	path, err := secret.WriteFile(f.Dir, providerName, c.Key.ID, c.Secret)
	if err != nil {
		return Result{}, err
	}
	return Result{Mode: secret.ModeFile, File: path}, nil
}

// Remove implements Secrets.
func (f Files) Remove(path string) (bool, error) { return secret.RemoveFile(path) }
