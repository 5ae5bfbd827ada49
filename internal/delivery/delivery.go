// Package delivery hands a new secret to the place the operator chose
// (KEYWARD_REVEAL): a private file, the answer itself, or the human through
// the client. Elicitation falls back to a file whenever the human did not
// see the secret, so a secret is never lost.
package delivery

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/reveal"
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
	// Previous is where the secret this one replaced stays readable
	// (Place.KeepPrevious); Retired is the old secret's file, removed because
	// the new secret went to no file (inline mode).
	Previous string
	Retired  string
	// Link is the one-time link the secret waits behind (url mode), and
	// until when it works; LinkID is its public id.
	Link          string
	LinkID        string
	LinkExpiresAt time.Time
}

// Place is where the secret of a key goes: a key's secret file keeps one
// path for its whole line, across rotations and replacements.
type Place struct {
	// Path is the file of the secret this one succeeds, inside the secrets
	// directory ("": none; a new key's file is named after it).
	Path string
	// KeepPrevious keeps the old secret readable at secret.PreviousPath(Path)
	// (while it still works: the caller records it, and removes it then).
	KeepPrevious bool
	// Claim is set when the secret belongs to another key than Path's (a
	// replacement takes the file over): it is called with Path once the old
	// secret is kept and before Path changes, so a journal can record that
	// Restore must undo the take-over if the new key is undone. With no old
	// secret on disk to keep, nothing is taken over: the new key gets a file
	// of its own.
	Claim func(path string)
}

// Secrets delivers secrets; the manager's default is Files.
type Secrets interface {
	// Ready fails, before anything changes upstream, when a secret could not
	// be delivered afterwards.
	Ready() error
	// Deliver hands the new secret of key c on the provider titled title to
	// its place.
	Deliver(ctx context.Context, providerName, title string, c provider.Created, at Place) (Result, error)
	// Remove deletes a secret file it wrote; false when none was there.
	Remove(path string) (bool, error)
	// Restore undoes a take-over of path (Place.Claim) whose new key was
	// undone: the old secret, kept beside it, goes back into path.
	Restore(path string) error
}

// Files is the delivery the operator chose with KEYWARD_REVEAL, writing
// files (and fallbacks) under Dir, or one-time links (Links) in url mode.
type Files struct {
	Mode  secret.Mode
	Dir   string
	Links *reveal.Store
}

// Ready implements Secrets.
func (f Files) Ready() error {
	if f.Mode == secret.ModeURL {
		if f.Links == nil {
			return reveal.ErrNoPage
		}
		return f.Links.Ready()
	}
	if f.Mode == secret.ModeInline {
		return nil
	}
	if err := secret.EnsurePrivateDir(f.Dir); err != nil {
		return fmt.Errorf("new secrets go to KEYWARD_SECRETS_DIR, which is not usable: %w; nothing was changed", err)
	}
	return nil
}

// Deliver implements Secrets.
func (f Files) Deliver(ctx context.Context, providerName, title string, c provider.Created, at Place) (Result, error) {
	switch f.Mode {
	case secret.ModeInline:
		return f.inline(c, at)
	case secret.ModeURL:
		return f.link(ctx, providerName, title, c, at)
	case secret.ModeElicit:
		h := caller.HumanFrom(ctx)
		if h == nil {
			r, err := f.file(providerName, c, at)
			r.Fallback = FallbackUnavailable
			return r, err
		}
		// The secret goes to its file first, so that it is never lost
		// whatever becomes of the question; the file goes once the human
		// has acknowledged the secret. The old secret kept beside it stays
		// for its grace: it is what programs that have not switched use.
		r, err := f.file(providerName, c, at)
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
				return Result{Mode: secret.ModeElicit, Acknowledged: &t, Previous: r.Previous}, nil
			}
		}
		no := false
		r.Acknowledged, r.Fallback = &no, FallbackNotAcknowledged
		if err != nil {
			r.Fallback = FallbackFailed
		}
		return r, nil
	}
	return f.file(providerName, c, at)
}

// file writes the secret to its key's file: a new one, or the one at
// at.Path, replaced atomically.
func (f Files) file(providerName string, c provider.Created, at Place) (Result, error) {
	prev, ok, err := f.keep(at)
	if err != nil {
		return Result{}, err
	}
	if !ok {
		path, err := secret.WriteFile(f.Dir, providerName, c.Key.ID, c.Secret)
		if err != nil {
			return Result{}, err
		}
		return Result{Mode: secret.ModeFile, File: path}, nil
	}
	if err := secret.ReplaceFile(f.Dir, at.Path, c.Secret); err != nil {
		if prev != "" {
			// Put the old secret back where it was, and its path with it.
			err = errors.Join(err, secret.RestorePrevious(at.Path))
		}
		return Result{}, err
	}
	return Result{Mode: secret.ModeFile, File: at.Path, Previous: prev}, nil
}

// link puts the secret behind a one-time link and writes no file (an old
// secret file goes, as in inline mode). The human gets the link from the
// client (URL-mode elicitation) where it can show one; otherwise the answer
// carries it, for the agent to pass on.
func (f Files) link(ctx context.Context, providerName, title string, c provider.Created, at Place) (Result, error) {
	made, err := f.Links.Make(ctx, providerName, c.Key.ID, c.Key.Name, caller.From(ctx).SessionID, c.Secret)
	if err != nil {
		return Result{}, err
	}
	r, err := f.inline(c, at)
	if err != nil {
		return Result{}, err
	}
	r.Mode, r.Secret = secret.ModeURL, ""
	r.Link, r.LinkID, r.LinkExpiresAt = made.URL, made.ID, made.ExpiresAt
	if o := caller.LinkOpenerFrom(ctx); o != nil {
		msg := fmt.Sprintf("keyward made a new secret for key %q (%s) on %s. Open this one-time link in your browser to see it: it works once, until %s, and the assistant never sees the secret.",
			c.Key.Name, c.Key.ID, title, made.ExpiresAt.UTC().Format(time.RFC3339))
		_, err := o.OpenLink(ctx, caller.Link{ID: made.ID, URL: made.URL, Message: msg, Provider: providerName, KeyID: c.Key.ID, ExpiresAt: made.ExpiresAt.Unix()})
		if errors.Is(err, caller.ErrInputRequired) {
			r.Pending = true
		}
	}
	return r, nil
}

// inline answers with the secret and writes no file. A file the old secret
// had (written under an earlier setting) would now mislead whoever reads
// it: it goes, kept beside its path if asked.
func (f Files) inline(c provider.Created, at Place) (Result, error) {
	r := Result{Mode: secret.ModeInline, Secret: c.Secret}
	prev, ok, err := f.keep(at)
	if err != nil || !ok {
		return r, err
	}
	removed, err := secret.RemoveFile(at.Path)
	if err != nil {
		if prev != "" {
			err = errors.Join(err, secret.RestorePrevious(at.Path))
		}
		return Result{}, fmt.Errorf("removing the old secret file %s failed: %w", at.Path, err)
	}
	r.Previous = prev
	if removed {
		r.Retired = at.Path
	}
	return r, nil
}

// keep prepares at.Path for the new secret: it keeps the old secret beside
// it when asked, and reports the take-over to at.Claim. ok is false when the
// new secret gets no part of at.Path (there is none, or nothing to take over).
func (f Files) keep(at Place) (prev string, ok bool, err error) {
	if at.Path == "" {
		return "", false, nil
	}
	if at.KeepPrevious {
		kept, err := secret.KeepPrevious(at.Path)
		if err != nil {
			return "", false, err
		}
		if kept {
			prev = secret.PreviousPath(at.Path)
		}
	}
	if at.Claim != nil {
		if prev == "" {
			return "", false, nil
		}
		at.Claim(at.Path)
	}
	return prev, true, nil
}

// Remove implements Secrets.
func (f Files) Remove(path string) (bool, error) { return secret.RemoveFile(path) }

// Restore implements Secrets.
func (f Files) Restore(path string) error { return secret.RestorePrevious(path) }
