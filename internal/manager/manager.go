// Package manager is the one place where keyward's rules meet: every tool
// call goes policy → provider → audit → secret delivery through here. It knows
// nothing of MCP, so a CLI or HTTP API can call it the same way.
package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/keyward/keyward/internal/approvals"
	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/delivery"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/reveal"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/store"
)

// DefaultProvider is used when a call names none.
const DefaultProvider = "local"

// MaxGrace bounds how long a rotated-away secret may keep working.
const MaxGrace = 7 * policy.Day

// Options wire a Manager.
type Options struct {
	Providers  []provider.Provider // "local" among them
	Policy     *policy.Policy
	Store      *store.Store
	Audit      *audit.Log
	Reveal     secret.Mode
	SecretsDir string
	// Secrets delivers new secrets; nil: files and fallbacks under SecretsDir
	// in the Reveal mode (tests put a scripted delivery here).
	Secrets delivery.Secrets
	Confirm policy.ConfirmMode // ask the human before destructive or write-scoped actions
	// Approvals keeps acts that wait for the operator (the console); nil:
	// no console, nobody but the client's human is asked.
	Approvals *approvals.Store
	// Reveals keeps one-time links to new secrets (KEYWARD_REVEAL=url).
	Reveals *reveal.Store
	// Unconfigured maps known but unconfigured providers to the variable that enables them.
	Unconfigured map[string]string
	// ReadOnly and Tools are the tool selection in force, which ListProviders reports.
	ReadOnly bool
	Tools    []string
	Now      func() time.Time
	Logger   *slog.Logger
}

// Manager applies the rules.
type Manager struct {
	providers map[string]provider.Provider
	order     []string
	opts      Options
	log       *slog.Logger
	now       func() time.Time
	// creating holds the ids of this process's creates in flight: Reconcile
	// leaves them alone, and undoes this process's other intents (a create
	// whose undo failed) like any other.
	creating sync.Map
	keys     keyLocks
	// consoleURL is the console's base URL, once the HTTP front knows it.
	consoleURL atomic.Pointer[string]
}

// New builds a Manager.
func New(o Options) (*Manager, error) {
	if o.Policy == nil || o.Store == nil || o.Audit == nil {
		return nil, errors.New("manager needs a policy, a store and an audit log")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Reveal == "" {
		o.Reveal = secret.ModeFile
	}
	if o.Confirm == "" {
		o.Confirm = policy.ConfirmAsk
	}
	if o.Secrets == nil {
		o.Secrets = delivery.Files{Mode: o.Reveal, Dir: o.SecretsDir, Links: o.Reveals}
	}
	m := &Manager{providers: map[string]provider.Provider{}, opts: o, log: o.Logger, now: o.Now}
	for _, p := range o.Providers {
		m.providers[p.Name()] = p
		m.order = append(m.order, p.Name())
	}
	return m, nil
}

// ProviderNames lists configured providers, local first.
func (m *Manager) ProviderNames() []string { return slices.Clone(m.order) }

// EnableWith names the variable that enables a known but unconfigured
// provider; "" for any other name.
func (m *Manager) EnableWith(name string) string { return m.opts.Unconfigured[name] }

// UnconfiguredNames lists the providers keyward knows but has no credentials for, sorted.
func (m *Manager) UnconfiguredNames() []string {
	out := make([]string, 0, len(m.opts.Unconfigured))
	for n := range m.opts.Unconfigured {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// provider resolves a provider name ("" → local) or says how to configure it.
func (m *Manager) provider(name string) (provider.Provider, error) {
	if name == "" {
		name = DefaultProvider
	}
	if p, ok := m.providers[name]; ok {
		return p, nil
	}
	if env, ok := m.opts.Unconfigured[name]; ok {
		return nil, provider.Errorf(provider.KindUnsupported, name, "provider %q is not configured: set %s in keyward's environment and restart keyward", name, env).For(env)
	}
	return nil, provider.Errorf(provider.KindInvalid, name, "unknown provider %q; configured providers are %s", name, strings.Join(m.order, ", ")).Next(provider.StepListProvider)
}

// view shows k with keyward's own record of it (mk may be nil).
func view(p provider.Provider, k provider.Key, mk *managedKey) Key {
	v := Key{
		Provider: p.Name(), ID: k.ID, Name: k.Name, Scopes: nonNil(k.Scopes), Active: k.Active,
		ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt, Masked: k.Masked,
		FullAccess: !p.Capabilities().Scopes, Constraints: k.Constraints, AllowedIPs: k.AllowedIPs,
	}
	if sup := p.Capabilities().Constraints; sup.AllowedIPs && !sup.AllowedIPsListed && mk != nil && mk.narrowing && len(mk.allowedIPs) > 0 {
		v.AllowedIPs, v.AllowedIPsAsCreated = mk.allowedIPs, true
	}
	if !k.CreatedAt.IsZero() {
		t := k.CreatedAt
		v.CreatedAt = &t
	}
	if mk != nil {
		v.CreatedBy = mk.createdBy
	}
	if mk != nil && mk.expiresAt != nil {
		if v.ExpiresAt == nil || mk.expiresAt.Before(*v.ExpiresAt) {
			v.ExpiresAt = mk.expiresAt
			v.ExpiryEnforced = true
		}
	}
	return v
}

// viewWithRecord shows one key with keyward's record of it.
// Without the record (the state file failed) the platform's view is shown,
// and the failure logged.
func (m *Manager) viewWithRecord(ctx context.Context, p provider.Provider, k provider.Key) Key {
	mk, err := m.managed(ctx, p.Name(), k.ID)
	if err != nil {
		m.log.Warn("reading keyward's record of a key failed; showing the platform's view alone", "provider", p.Name(), "key_id", k.ID, "err", err)
	}
	return view(p, k, mk)
}

// errDeclined marks a confirmation the human did not give.
var errDeclined = errors.New("declined")

type declinedError struct {
	msg   string
	cause error // why the human could not be asked, when that is why
}

func (e *declinedError) Error() string   { return e.msg }
func (e *declinedError) Unwrap() []error { return []error{errDeclined, e.cause} }

// IsDeclined reports whether err is a confirmation the human did not give.
func IsDeclined(err error) bool { return errors.Is(err, errDeclined) }

// Confirmation is what became of a question the rules wanted to put to the
// human; results and audit records carry it, so an act nobody confirmed is
// never mistaken for one somebody did.
type Confirmation string

const (
	Confirmed   Confirmation = "confirmed"
	Declined    Confirmation = "declined"
	Cancelled   Confirmation = "cancelled"
	AskFailed   Confirmation = "ask_failed"    // the question could not be shown
	CouldNotAsk Confirmation = "could_not_ask" // the client cannot ask its human
	NotAsked    Confirmation = "not_asked"     // the operator turned confirmations off
	WouldAsk    Confirmation = "would_ask"     // a dry run: the human would be asked
)

// confirm puts q to the human when the operator wants confirmations: the
// client's human when it can ask, or the operator in the console (rec names
// the act for the approval). When nobody can be asked, the act proceeds
// (recorded as could_not_ask) or, with KEYWARD_CONFIRM=required, is refused.
// A dry run learns what would become of the question without asking it.
// approval is the id of the operator's request, when there is one.
func (m *Manager) confirm(ctx context.Context, q caller.Question, dry bool, rec audit.Record) (_ Confirmation, approval string, _ error) {
	if m.opts.Confirm == policy.ConfirmOff {
		return NotAsked, "", nil
	}
	h := caller.HumanFrom(ctx)
	if m.byOperator(h) {
		if dry {
			return WouldWaitForOperator, "", nil
		}
		return m.askOperator(ctx, rec, q)
	}
	if m.opts.Confirm == policy.ConfirmConsole {
		// Settings checks make this unreachable: console needs the operator's token.
		return CouldNotAsk, "", &policy.Refusal{Reason: "this needs the operator's approval in the console, and this keyward has no console, so nothing was changed", Setting: "KEYWARD_CONFIRM"}
	}
	if h != nil && dry {
		return WouldAsk, "", nil
	}
	if h == nil {
		if m.opts.Confirm == policy.ConfirmRequired {
			return CouldNotAsk, "", &policy.Refusal{
				Reason:  "this needs the human's confirmation, and this client cannot ask them (it has no elicitation support), so nothing was changed; ask the human to do it with a client that can ask, or to change the setting",
				Setting: "KEYWARD_CONFIRM",
			}
		}
		return CouldNotAsk, "", nil
	}
	d, err := h.Confirm(ctx, q)
	if errors.Is(err, caller.ErrInputRequired) {
		return "", "", err // asked; the answer comes with the next round
	}
	if err != nil {
		return AskFailed, "", &declinedError{cause: err, msg: fmt.Sprintf("the confirmation could not be shown to the human (%v), so nothing was changed; retry, or the operator can set KEYWARD_CONFIRM=false", err)}
	}
	switch d {
	case caller.Accept:
		return Confirmed, "", nil
	case caller.Cancel:
		return Cancelled, "", &declinedError{msg: "the human cancelled the confirmation; nothing was changed. Do not retry unless the human asks you to"}
	}
	return Declined, "", &declinedError{msg: "the human declined; nothing was changed. Do not retry unless the human asks you to"}
}

func writeScopes(p provider.Provider, scopes []string) []string {
	readOnly := map[string]bool{}
	for _, s := range p.ScopeVocabulary() {
		readOnly[s.Name] = s.ReadOnly
	}
	var out []string
	for _, s := range scopes {
		if !readOnly[s] {
			out = append(out, s)
		}
	}
	return out
}

func describeScopes(p provider.Provider, scopes []string) string {
	if !p.Capabilities().Scopes {
		return "full account access (this platform has no scopes)"
	}
	if len(scopes) == 0 {
		return "no scopes"
	}
	return strings.Join(scopes, ", ")
}

// sortByCreation orders keys oldest first (by id among equals), in place.
func sortByCreation(keys []provider.Key) {
	sort.SliceStable(keys, func(i, j int) bool {
		if !keys[i].CreatedAt.Equal(keys[j].CreatedAt) {
			return keys[i].CreatedAt.Before(keys[j].CreatedAt)
		}
		return keys[i].ID < keys[j].ID
	})
}

// RecordRefused audits a call that was refused before it reached the rules
// (a rate limit, shutdown, arguments that fail the tool's schema), so every
// refused call leaves a trace.
func (m *Manager) RecordRefused(ctx context.Context, tool, providerName, keyID, reason string) {
	m.record(ctx, audit.Record{Tool: tool, Provider: orDefault(providerName), KeyID: keyID}, &policy.Refusal{Reason: reason})
}
