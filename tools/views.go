package tools

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/manager"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/provider"
)

// The shapes tools answer with: the manager returns types, and these are the
// JSON the model sees (each tool's output schema is generated from them).

// keyJSON is a key. It never holds a secret.
type keyJSON struct {
	KeyID               string           `json:"key_id"`
	Name                string           `json:"name"`
	Provider            string           `json:"provider"`
	Scopes              []string         `json:"scopes"`
	Active              bool             `json:"active"`
	CreatedAt           *time.Time       `json:"created_at"`
	ExpiresAt           *time.Time       `json:"expires_at"`
	LastUsedAt          *time.Time       `json:"last_used_at"`
	Masked              string           `json:"masked"`
	ExpiryEnforced      bool             `json:"expiry_enforced_by_keyward,omitempty"`
	FullAccess          bool             `json:"full_access,omitempty"`
	Constraints         []constraintJSON `json:"constraints,omitempty"`
	AllowedIPs          []string         `json:"allowed_ips,omitempty"`
	AllowedIPsAsCreated bool             `json:"allowed_ips_as_created,omitempty"`
	CreatedBy           string           `json:"created_by,omitempty"` // the client that created it through keyward
}

// constraintJSON is one narrowing of a scope.
type constraintJSON struct {
	Scope    string `json:"scope"`
	Resource string `json:"resource,omitempty"`
	Param    string `json:"param,omitempty"`
	Op       string `json:"op,omitempty"`
	Value    string `json:"value,omitempty"`
	Opaque   string `json:"opaque,omitempty"` // a restriction keyward can show but not restate
	Text     string `json:"text"`
}

func keyOut(k manager.Key) keyJSON {
	return keyJSON{
		KeyID: k.ID, Name: k.Name, Provider: k.Provider, Scopes: nonNil(k.Scopes), Active: k.Active,
		CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, Masked: k.Masked,
		ExpiryEnforced: k.ExpiryEnforced, FullAccess: k.FullAccess, Constraints: constraintsOut(k.Constraints),
		AllowedIPs: k.AllowedIPs, AllowedIPsAsCreated: k.AllowedIPsAsCreated, CreatedBy: k.CreatedBy,
	}
}

func constraintsOut(cs []provider.Constraint) []constraintJSON {
	if len(cs) == 0 {
		return nil
	}
	out := make([]constraintJSON, len(cs))
	for i, c := range cs {
		out[i] = constraintJSON{Scope: c.Scope, Resource: c.Resource, Param: c.Param, Op: string(c.Op), Value: c.Value, Opaque: c.Opaque, Text: c.String()}
	}
	return out
}

// deliveryJSON says where a new secret went. Secret is set only in inline mode.
type deliveryJSON struct {
	Mode         string `json:"delivery,omitempty"`
	SecretFile   string `json:"secret_file,omitempty"`
	Secret       string `json:"secret,omitempty"`
	Acknowledged *bool  `json:"acknowledged,omitempty"`
	// PreviousFile holds the secret this one replaced, beside secret_file,
	// until that secret stops working.
	PreviousFile string `json:"previous_secret_file,omitempty"`
	// Link is the one-time link the secret waits behind (delivery "url"),
	// for the human, until LinkExpiresAt; it carries no secret.
	Link          string     `json:"link,omitempty"`
	LinkExpiresAt *time.Time `json:"link_expires_at,omitempty"`
	LinkShown     *bool      `json:"link_shown,omitempty"` // the client showed it to the human
}

// secretJSON answers create, update, re-issue and rotate.
type secretJSON struct {
	keyJSON
	deliveryJSON
	ReplacedKeyID string     `json:"replaced_key_id,omitempty"`
	OldValidUntil *time.Time `json:"old_secret_valid_until,omitempty"`
	Confirmation  string     `json:"confirmation,omitempty"`
	Notes         []string   `json:"notes,omitempty"`
}

func secretOut(r manager.NewSecret) secretJSON {
	return secretJSON{
		keyJSON: keyOut(r.Key),
		deliveryJSON: deliveryJSON{Mode: string(r.Delivery.Mode), SecretFile: r.Delivery.File, Secret: r.Delivery.Secret, Acknowledged: r.Delivery.Acknowledged, PreviousFile: r.Delivery.Previous,
			Link: r.Delivery.Link, LinkExpiresAt: r.Delivery.LinkExpiresAt, LinkShown: r.Delivery.LinkShown},
		ReplacedKeyID: r.ReplacedKeyID, OldValidUntil: r.OldValidUntil, Confirmation: string(r.Confirmation),
		Notes: notesOut(r.Notes),
	}
}

// revokeJSON answers revoke_key.
type revokeJSON struct {
	Provider          string   `json:"provider"`
	KeyID             string   `json:"key_id"`
	Name              string   `json:"name"`
	Revoked           bool     `json:"revoked"`
	SecretFileRemoved string   `json:"secret_file_removed,omitempty"`
	Confirmation      string   `json:"confirmation,omitempty"`
	Notes             []string `json:"notes,omitempty"`
}

func revokeOut(r manager.Revoked) revokeJSON {
	return revokeJSON{Provider: r.Provider, KeyID: r.KeyID, Name: r.Name, Revoked: true, SecretFileRemoved: r.FileRemoved,
		Confirmation: string(r.Confirmation), Notes: notesOut(r.Notes)}
}

// notesOut says each note in a sentence.
func notesOut(notes []manager.Note) []string {
	var out []string
	for _, n := range notes {
		if s := noteSentence(n); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func noteSentence(n manager.Note) string {
	switch n.Kind {
	case manager.NoteDefaultScopes:
		return fmt.Sprintf("no scopes given: the minimal default %s was applied (list_scopes shows the others)", strings.Join(n.Scopes, ", "))
	case manager.NoteExpiry:
		return strings.TrimSuffix(n.Text, ".")
	case manager.NoteFullAccess:
		return n.Text + " keys have no scopes: this key has full access to the account"
	case manager.NoteNotAsked:
		return "nobody was asked to confirm this: the client cannot ask its human (no elicitation support); an operator can refuse such acts with KEYWARD_CONFIRM=required"
	case manager.NoteSecretInline:
		return "the secret is shown here once and cannot be retrieved again; store it now"
	case manager.NoteSecretLink:
		return fmt.Sprintf("the secret is behind a one-time link for the human, %s, which works once, until %s: give the human this link and do not open it yourself; if nobody opens it in time, keyward revokes the key", n.Path, when(n.At))
	case manager.NoteLinkShown:
		return fmt.Sprintf("the client showed the human the one-time link to the secret (%s, until %s); the secret was not shown to you", n.Path, when(n.At))
	case manager.NoteLinkNotOpened:
		return fmt.Sprintf("the client showed the human the one-time link to the secret, but they did not open it: give them the link %s (works once, until %s); if nobody opens it in time, keyward revokes the key", n.Path, when(n.At))
	case manager.NoteSecretShown:
		return "the secret was shown to the human, not to you"
	case manager.NoteSecretFile:
		return "the secret is in " + n.Path + " (mode 0600); point the program that needs it at that file"
	case manager.NoteElicitUnavailable:
		return "this client cannot show the secret to the human (no elicitation support), so it was written to a file instead"
	case manager.NoteElicitNotAcknowledged:
		return "elicitation was tried but the human did not acknowledge it, so the secret was written to a file instead"
	case manager.NoteElicitFailed:
		return "elicitation was tried but showing it failed, so the secret was written to a file instead"
	case manager.NoteOldKeyGrace:
		return fmt.Sprintf("the old key %s keeps working until %s, then keyward revokes it", n.KeyID, when(n.At))
	case manager.NoteOldKeyRevoked:
		return fmt.Sprintf("the old key %s was revoked", n.KeyID)
	case manager.NoteOldKeyNotRevoked:
		return fmt.Sprintf("the old key %s could NOT be revoked (%s): revoke it with revoke_key", n.KeyID, say(n.Err))
	case manager.NoteOldKeyNotScheduled:
		return fmt.Sprintf("the old key %s could not be scheduled for revocation (%s): revoke it with revoke_key", n.KeyID, say(n.Err))
	case manager.NoteFileRemoved:
		return "its secret file " + n.Path + " was removed"
	case manager.NotePreviousFileRemoved:
		return "the previous secret file " + n.Path + " was removed"
	case manager.NotePreviousSecretKept:
		if n.At == nil {
			return "the old secret stays readable in " + n.Path + " until the old key is revoked; keyward removes that file then"
		}
		return fmt.Sprintf("the old secret stays readable in %s until %s, for programs that have not switched yet; keyward removes that file then", n.Path, when(n.At))
	case manager.NoteFileNotRemoved:
		return fmt.Sprintf("could not remove the secret file %s: %v; delete it by hand", n.Path, n.Err)
	case manager.NoteOldSecretGrace:
		return "the old secret keeps working until " + when(n.At)
	case manager.NoteRotatedByReissue:
		return n.Text + " has no rotation of its own, so keyward created a replacement key with the same name, scopes and deadline"
	}
	return n.Text
}

// providersJSON answers list_providers.
type providersJSON struct {
	Providers []providerJSON `json:"providers"`
	Policy    policyJSON     `json:"policy"`
}

type providerJSON struct {
	Name          string           `json:"name"`
	Title         string           `json:"title"`
	Configured    bool             `json:"configured"`
	Enable        string           `json:"enable_with,omitempty"`
	Capabilities  capabilitiesJSON `json:"capabilities"`
	DefaultScopes []string         `json:"default_scopes"`
	AllowedScopes []string         `json:"allowed_scopes"`
}

type capabilitiesJSON struct {
	Manage        bool     `json:"manage"`
	Revoke        bool     `json:"revoke"`
	Scopes        bool     `json:"scopes"`
	ScopesMutable bool     `json:"scopes_mutable"`
	Rename        bool     `json:"rename"`
	Expiry        string   `json:"expiry"`
	ExpiryPresets []string `json:"expiry_presets,omitempty"`
	Toggle        bool     `json:"enable_disable"`
	Rotate        string   `json:"rotate"`
	Validate      bool     `json:"validate"`
	Whoami        bool     `json:"whoami"`
	MaxKeys       int      `json:"max_keys,omitempty"`
	// Narrowing below a whole scope, where the platform offers it.
	Constraints *constraintSupportJSON `json:"constraints,omitempty"`
}

type constraintSupportJSON struct {
	Targets          []constraintTargetJSON `json:"targets,omitempty"`
	Ops              []string               `json:"ops,omitempty"`
	AllowedIPs       bool                   `json:"allowed_ips"`
	IPRanges         bool                   `json:"ip_ranges"`
	AllowedIPsListed bool                   `json:"allowed_ips_listed"`
	Note             string                 `json:"note,omitempty"`
}

type constraintTargetJSON struct {
	Scope       string `json:"scope"`
	Resource    string `json:"resource"`
	Param       string `json:"param,omitempty"`
	Integer     bool   `json:"integer,omitempty"`
	Description string `json:"description,omitempty"`
}

type policyJSON struct {
	DefaultTTL      string   `json:"default_ttl"`
	MaxTTL          string   `json:"max_ttl"`
	AllowNoExpiry   bool     `json:"allow_no_expiry"`
	AllowFullAccess bool     `json:"allow_full_access"`
	Reveal          string   `json:"reveal"`
	Confirm         string   `json:"confirm"` // true, required or false (KEYWARD_CONFIRM)
	ReadOnly        bool     `json:"read_only"`
	Tools           []string `json:"tools,omitempty"`
	MaxGrace        string   `json:"max_grace"`
}

func providersOut(r manager.Providers) providersJSON {
	out := providersJSON{Providers: []providerJSON{}}
	for _, p := range r.Providers {
		pj := providerJSON{Name: p.Name, Title: p.Title, Configured: p.Configured, DefaultScopes: nonNil(p.DefaultScopes), AllowedScopes: nonNil(p.AllowedScopes)}
		if p.Configured {
			pj.Capabilities = capabilitiesOut(p.Capabilities)
		} else {
			pj.Enable = "set " + p.EnableWith
		}
		out.Providers = append(out.Providers, pj)
	}
	r2 := r.Policy.Rules
	out.Policy = policyJSON{
		DefaultTTL: policy.FormatDuration(r2.DefaultTTL), MaxTTL: policy.FormatDuration(r2.MaxTTL),
		AllowNoExpiry: r2.AllowNoExpiry, AllowFullAccess: r2.AllowFullAccess,
		Reveal: string(r.Policy.Reveal), Confirm: string(r.Policy.Confirm), ReadOnly: r.Policy.ReadOnly, Tools: r.Policy.Tools,
		MaxGrace: policy.FormatDuration(r.Policy.MaxGrace),
	}
	return out
}

func capabilitiesOut(c provider.Capabilities) capabilitiesJSON {
	out := capabilitiesJSON{
		Manage: c.Manage, Revoke: c.Revoke, Scopes: c.Scopes, ScopesMutable: c.ScopesMutable, Rename: c.Rename,
		Expiry: string(c.Expiry), Toggle: c.Toggle, Validate: c.Validate, Whoami: c.Whoami, MaxKeys: c.MaxKeys,
	}
	for _, d := range c.ExpiryPresets {
		if d == 0 {
			out.ExpiryPresets = append(out.ExpiryPresets, "never")
		} else {
			out.ExpiryPresets = append(out.ExpiryPresets, policy.FormatDuration(d))
		}
	}
	if sup := c.Constraints; len(sup.Targets) > 0 || sup.AllowedIPs {
		cs := &constraintSupportJSON{AllowedIPs: sup.AllowedIPs, IPRanges: sup.IPRanges, AllowedIPsListed: sup.AllowedIPsListed, Note: sup.Note}
		for _, t := range sup.Targets {
			cs.Targets = append(cs.Targets, constraintTargetJSON{Scope: t.Scope, Resource: t.Resource, Param: t.Param, Integer: t.Integer, Description: t.Description})
		}
		for _, o := range sup.Ops {
			cs.Ops = append(cs.Ops, string(o))
		}
		out.Constraints = cs
	}
	switch {
	case !c.Manage:
		out.Rotate = "none"
	case c.Rotate && c.RotateGrace:
		out.Rotate = "native, with grace"
	case c.Rotate:
		out.Rotate = "native"
	default:
		out.Rotate = "emulated: a replacement key, then the old one is revoked"
	}
	return out
}

// scopesJSON answers list_scopes.
type scopesJSON struct {
	Provider string      `json:"provider"`
	HasScope bool        `json:"has_scopes"`
	Scopes   []scopeJSON `json:"scopes"`
	Default  []string    `json:"default"`
	Ceiling  []string    `json:"ceiling"`
	Note     string      `json:"note,omitempty"`
}

type scopeJSON struct {
	Name        string `json:"name"`
	Description string `json:"description"`
	ReadOnly    bool   `json:"read_only"`
	Allowed     bool   `json:"allowed"`
	Default     bool   `json:"default"`
}

func scopesOut(r manager.Scopes) scopesJSON {
	out := scopesJSON{Provider: r.Provider, HasScope: r.HasScopes, Scopes: []scopeJSON{}, Default: nonNil(r.Default), Ceiling: nonNil(r.Ceiling)}
	if !r.HasScopes {
		out.Note = r.Title + " keys have no scopes: every key has full access to the account"
		if !r.FullAccessAllowed {
			out.Note += ", so keyward refuses to create them unless the operator sets KEYWARD_ALLOW_FULL_ACCESS=true"
		}
	}
	for _, s := range r.Scopes {
		out.Scopes = append(out.Scopes, scopeJSON{Name: s.Name, Description: s.Description, ReadOnly: s.ReadOnly, Allowed: s.Allowed, Default: s.Default})
	}
	return out
}

// listJSON answers list_keys.
type listJSON struct {
	Provider   string    `json:"provider"`
	Keys       []keyJSON `json:"keys"`
	Total      int       `json:"total"` // matching keys, across all pages
	NextCursor string    `json:"next_cursor,omitempty"`
}

func listOut(r manager.Listing) listJSON {
	out := listJSON{Provider: r.Provider, Keys: make([]keyJSON, 0, len(r.Keys)), Total: r.Total, NextCursor: r.NextCursor}
	for _, k := range r.Keys {
		out.Keys = append(out.Keys, keyOut(k))
	}
	return out
}

// validateJSON answers validate_key.
type validateJSON struct {
	Provider    string           `json:"provider"`
	Valid       bool             `json:"valid"`
	Status      string           `json:"status,omitempty"`
	Reason      string           `json:"reason,omitempty"`
	KeyID       string           `json:"key_id,omitempty"`
	Name        string           `json:"name,omitempty"`
	Owner       string           `json:"owner,omitempty"`
	Scopes      []string         `json:"scopes,omitempty"`
	ExpiresAt   *time.Time       `json:"expires_at,omitempty"`
	Masked      string           `json:"masked,omitempty"`
	Constraints []constraintJSON `json:"constraints,omitempty"`
	Whoami      *whoamiJSON      `json:"whoami,omitempty"`
}

type whoamiJSON struct {
	Account     string           `json:"account"`
	KeyName     string           `json:"key_name,omitempty"`
	Scopes      []string         `json:"scopes,omitempty"`
	Detail      string           `json:"detail,omitempty"`
	Constraints []constraintJSON `json:"constraints,omitempty"`
}

func validateOut(r manager.Validation) validateJSON {
	v := r.Validation
	out := validateJSON{Provider: r.Provider, Valid: r.Valid, Status: string(v.Status), Reason: withHint(v.Reason, v.Step),
		KeyID: v.KeyID, Name: v.Name, Owner: v.Owner, Scopes: v.Scopes, ExpiresAt: v.ExpiresAt, Masked: v.Masked,
		Constraints: constraintsOut(v.Constraints)}
	if id := r.Whoami; id != nil {
		out.Whoami = &whoamiJSON{Account: id.Account, KeyName: id.KeyName, Scopes: id.Scopes, Detail: id.Detail, Constraints: constraintsOut(id.Constraints)}
	}
	return out
}

// auditJSON answers audit_log. A record's JSON is the audit package's own:
// the same form keyward audit --json prints.
type auditJSON struct {
	Records    []audit.Record `json:"records"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

func auditOut(r manager.AuditPage) auditJSON {
	return auditJSON{Records: r.Records, NextCursor: r.NextCursor}
}

// errorJSON is the structured part of an error result: what kind of failure,
// whether anything may have changed, when to retry and what to do next.
type errorJSON struct {
	Kind              string `json:"kind"`
	Changed           string `json:"changed,omitempty"` // "no" or "unknown"; absent when nothing was attempted
	RetryAfterSeconds int    `json:"retry_after_seconds,omitempty"`
	Next              string `json:"next,omitempty"`
	Setting           string `json:"setting,omitempty"`
	Provider          string `json:"provider,omitempty"`
	DryRun            bool   `json:"dry_run,omitempty"` // the failure a real call would meet; nothing was tried
	// Approval: the operator's approval the act waits for (kind awaiting_approval).
	Approval *approvalJSON `json:"approval,omitempty"`
}

func errorOut(err error) errorJSON {
	out := errorJSON{Kind: "error", Next: string(provider.StepOf(err))}
	var dry *dryRunRefusal
	out.DryRun = errors.As(err, &dry)
	var pe *provider.Error
	var r *policy.Refusal
	var waiting *manager.AwaitingApproval
	switch {
	case errors.As(err, &waiting):
		out.Kind, out.Changed, out.Approval = "awaiting_approval", string(provider.ChangedNo), approvalOut(err)
		out.RetryAfterSeconds = int(retryAfterApproval / time.Second)
	case errors.As(err, &r):
		out.Kind, out.Setting, out.Changed = "refused", r.Setting, string(provider.ChangedNo)
	case manager.IsDeclined(err):
		out.Kind, out.Changed = "declined", string(provider.ChangedNo)
	case errors.As(err, &pe):
		out.Kind, out.Changed, out.Setting, out.Provider = string(pe.Kind), string(pe.Changed), pe.Setting, pe.Provider
		if pe.RetryAfter > 0 {
			out.RetryAfterSeconds = int((pe.RetryAfter + time.Second - 1) / time.Second)
		}
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
