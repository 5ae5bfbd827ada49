package policy_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/provider"
)

// testProvider models a platform's metadata; key operations are unsupported.
type testProvider struct {
	name, title string
	caps        provider.Capabilities
	vocab       []provider.Scope
	defaults    []string
}

func (p *testProvider) Name() string                                 { return p.name }
func (p *testProvider) Title() string                                { return p.title }
func (p *testProvider) Capabilities() provider.Capabilities          { return p.caps }
func (p *testProvider) ScopeVocabulary() []provider.Scope            { return slices.Clone(p.vocab) }
func (p *testProvider) DefaultScopes() []string                      { return slices.Clone(p.defaults) }
func (p *testProvider) List(context.Context) ([]provider.Key, error) { return nil, p.unsupported() }
func (p *testProvider) Get(context.Context, string) (provider.Key, error) {
	return provider.Key{}, p.unsupported()
}
func (p *testProvider) Create(context.Context, provider.CreateRequest) (provider.Created, error) {
	return provider.Created{}, p.unsupported()
}
func (p *testProvider) Update(context.Context, string, provider.UpdateRequest) (provider.Key, error) {
	return provider.Key{}, p.unsupported()
}
func (p *testProvider) SetActive(context.Context, string, bool) (provider.Key, error) {
	return provider.Key{}, p.unsupported()
}
func (p *testProvider) Rotate(context.Context, string, provider.RotateRequest) (provider.Created, error) {
	return provider.Created{}, p.unsupported()
}
func (p *testProvider) Revoke(context.Context, string) error { return p.unsupported() }
func (p *testProvider) Validate(context.Context, string) (provider.Validation, error) {
	return provider.Validation{}, p.unsupported()
}
func (p *testProvider) Whoami(context.Context) (provider.Identity, error) {
	return provider.Identity{}, p.unsupported()
}
func (p *testProvider) unsupported() error { return provider.Unsupported(p.name, "not in this test") }

var _ provider.Provider = (*testProvider)(nil)

const day = policy.Day

var (
	localP = &testProvider{
		name: "local", title: "the local authority",
		caps:     provider.Capabilities{Manage: true, Scopes: true, ScopesMutable: true, Expiry: provider.ExpiryAny},
		vocab:    []provider.Scope{{Name: "read", ReadOnly: true}, {Name: "write"}},
		defaults: []string{"read"},
	}
	vastP = &testProvider{
		name: "vast", title: "Vast.ai",
		caps: provider.Capabilities{Manage: true, Scopes: true, Expiry: provider.ExpiryNone},
		vocab: []provider.Scope{
			{Name: "instance_read", ReadOnly: true}, {Name: "instance_write"},
			{Name: "user_read", ReadOnly: true}, {Name: "user_write", Sensitive: true},
			{Name: "billing_read", ReadOnly: true, Sensitive: true}, {Name: "billing_write", Sensitive: true},
			{Name: "machine_read", ReadOnly: true}, {Name: "machine_write"},
			{Name: "misc"},
			{Name: "team_read", ReadOnly: true, Sensitive: true}, {Name: "team_write", Sensitive: true},
		},
		defaults: []string{"instance_read"},
	}
	lyceumP = &testProvider{
		name: "lyceum", title: "Lyceum",
		caps: provider.Capabilities{Manage: true, Expiry: provider.ExpiryAny},
	}
	lurusP = &testProvider{
		name: "lurus", title: "Lurus",
		caps: provider.Capabilities{Manage: true, Expiry: provider.ExpiryPresets,
			ExpiryPresets: []time.Duration{7 * day, 30 * day, 90 * day, 365 * day, 0}},
	}
	// presetsNoNever is a preset platform that cannot express "never".
	presetsNoNever = &testProvider{
		name: "fixed", title: "Fixed",
		caps: provider.Capabilities{Manage: true, Scopes: true, Expiry: provider.ExpiryPresets,
			ExpiryPresets: []time.Duration{90 * day, 30 * day}},
		vocab:    []provider.Scope{{Name: "read", ReadOnly: true}},
		defaults: []string{"read"},
	}
)

var now = time.Date(2025, 3, 10, 9, 30, 0, 0, time.UTC)

func at(d time.Duration) *time.Time { t := now.Add(d); return &t }

type op int

const (
	opCreate op = iota
	opUpdate
	opExpiry
)

type policyCase struct {
	name  string
	prov  provider.Provider
	rules policy.Rules
	op    op

	// opCreate / opUpdate
	requested, current []string
	// opExpiry
	expiresIn string

	// Expectations on success.
	scopes    []string
	defaulted bool
	deadline  *time.Time // nil: never
	upstream  *time.Time
	enforced  bool
	note      []string // substrings; empty: no note at all

	// Expectations on failure.
	err     []string      // substrings of the message; nil: success expected
	setting string        // non-empty: the error is a *policy.Refusal naming it
	step    provider.Step // the next step the error names
}

func cases() []policyCase {
	vastCeiling := "instance_read, instance_write, user_read, machine_read, machine_write, misc"
	return []policyCase{
		// --- scopes on create -------------------------------------------------
		{name: "local default scopes", prov: localP, op: opCreate, scopes: []string{"read"}, defaulted: true},
		{name: "local empty list is the default", prov: localP, op: opCreate, requested: []string{}, scopes: []string{"read"}, defaulted: true},
		{name: "local write", prov: localP, op: opCreate, requested: []string{"write"}, scopes: []string{"write"}},
		{name: "local dedupe and sort", prov: localP, op: opCreate, requested: []string{"write", "read", "write"}, scopes: []string{"read", "write"}},
		{name: "local trims spaces", prov: localP, op: opCreate, requested: []string{" read "}, scopes: []string{"read"}},
		{name: "local unknown scope", prov: localP, op: opCreate, requested: []string{"read", "admin"},
			err: []string{`"admin" is not a scope on the local authority`, "valid scopes are read, write"}, step: provider.StepListScopes},
		{name: "local empty-string scope", prov: localP, op: opCreate, requested: []string{""},
			err: []string{`"" is not a scope`}},
		{name: "local operator default", prov: localP, op: opCreate, rules: policy.Rules{DefaultScopes: map[string][]string{"local": {"write"}}},
			scopes: []string{"write"}, defaulted: true},
		{name: "vast default scopes", prov: vastP, op: opCreate, scopes: []string{"instance_read"}, defaulted: true},
		{name: "vast operator default", prov: vastP, op: opCreate,
			rules:  policy.Rules{DefaultScopes: map[string][]string{"vast": {"machine_read", "instance_read"}}},
			scopes: []string{"machine_read", "instance_read"}, defaulted: true},
		{name: "vast operator default for another provider is ignored", prov: vastP, op: opCreate,
			rules:  policy.Rules{DefaultScopes: map[string][]string{"local": {"write"}}},
			scopes: []string{"instance_read"}, defaulted: true},
		{name: "vast empty operator default falls back", prov: vastP, op: opCreate,
			rules:  policy.Rules{DefaultScopes: map[string][]string{"vast": {}}},
			scopes: []string{"instance_read"}, defaulted: true},
		{name: "vast within ceiling", prov: vastP, op: opCreate, requested: []string{"user_read", "instance_write"},
			scopes: []string{"instance_write", "user_read"}},
		{name: "vast misc", prov: vastP, op: opCreate, requested: []string{"misc"}, scopes: []string{"misc"}},
		{name: "vast unknown scope lists vocabulary", prov: vastP, op: opCreate, requested: []string{"instances"},
			err: []string{`"instances" is not a scope on Vast.ai`, "instance_read, instance_write, user_read, user_write, billing_read, billing_write, machine_read, machine_write, misc, team_read, team_write"}},
		{name: "vast scope names are case-sensitive", prov: vastP, op: opCreate, requested: []string{"Instance_Read"},
			err: []string{`"Instance_Read" is not a scope`}},
		{name: "vast billing_read above ceiling", prov: vastP, op: opCreate, requested: []string{"instance_read", "billing_read"},
			err: []string{`scope "billing_read" on Vast.ai is above what agents may grant`, "allowed: " + vastCeiling}, setting: "KEYWARD_ALLOWED_SCOPES_VAST"},
		{name: "vast billing_write above ceiling", prov: vastP, op: opCreate, requested: []string{"billing_write"},
			err: []string{`"billing_write"`}, setting: "KEYWARD_ALLOWED_SCOPES_VAST"},
		{name: "vast team_write above ceiling", prov: vastP, op: opCreate, requested: []string{"team_write"},
			err: []string{`"team_write"`}, setting: "KEYWARD_ALLOWED_SCOPES_VAST"},
		{name: "vast team_read above ceiling", prov: vastP, op: opCreate, requested: []string{"team_read"},
			err: []string{`"team_read"`}, setting: "KEYWARD_ALLOWED_SCOPES_VAST"},
		{name: "vast user_write above ceiling", prov: vastP, op: opCreate, requested: []string{"user_write"},
			err: []string{`"user_write"`}, setting: "KEYWARD_ALLOWED_SCOPES_VAST"},
		{name: "vast operator ceiling allows billing_read", prov: vastP, op: opCreate,
			rules:     policy.Rules{AllowedScopes: map[string][]string{"vast": {"billing_read", "instance_read"}}},
			requested: []string{"billing_read"}, scopes: []string{"billing_read"}},
		{name: "vast operator ceiling replaces the default one", prov: vastP, op: opCreate,
			rules:     policy.Rules{AllowedScopes: map[string][]string{"vast": {"billing_read", "instance_read"}}},
			requested: []string{"instance_write"},
			err:       []string{`"instance_write"`, "allowed: billing_read, instance_read"}, setting: "KEYWARD_ALLOWED_SCOPES_VAST"},
		{name: "vast operator ceiling cannot add unknown scopes", prov: vastP, op: opCreate,
			rules:     policy.Rules{AllowedScopes: map[string][]string{"vast": {"root"}}},
			requested: []string{"root"}, err: []string{`"root" is not a scope on Vast.ai`}},
		{name: "scoped preset platform default", prov: presetsNoNever, op: opCreate, scopes: []string{"read"}, defaulted: true},

		// --- scopes on update -------------------------------------------------
		{name: "vast narrowing keeps a held scope above the ceiling", prov: vastP, op: opUpdate,
			current: []string{"billing_write", "instance_read"}, requested: []string{"billing_write"}, scopes: []string{"billing_write"}},
		{name: "vast unchanged scopes above the ceiling", prov: vastP, op: opUpdate,
			current: []string{"instance_read", "team_write"}, requested: []string{"team_write", "instance_read"}, scopes: []string{"instance_read", "team_write"}},
		{name: "vast narrowing to a default scope", prov: vastP, op: opUpdate,
			current: []string{"instance_read", "instance_write"}, requested: []string{"instance_read"}, scopes: []string{"instance_read"}},
		{name: "vast widening inside the ceiling", prov: vastP, op: opUpdate,
			current: []string{"instance_read"}, requested: []string{"instance_read", "machine_write"}, scopes: []string{"instance_read", "machine_write"}},
		{name: "vast widening above the ceiling", prov: vastP, op: opUpdate,
			current: []string{"instance_read"}, requested: []string{"instance_read", "billing_write"},
			err: []string{`"billing_write"`}, setting: "KEYWARD_ALLOWED_SCOPES_VAST"},
		{name: "vast swapping one sensitive scope for another", prov: vastP, op: opUpdate,
			current: []string{"billing_read"}, requested: []string{"team_read"},
			err: []string{`"team_read"`}, setting: "KEYWARD_ALLOWED_SCOPES_VAST"},
		{name: "vast widening allowed by operator ceiling", prov: vastP, op: opUpdate,
			rules:   policy.Rules{AllowedScopes: map[string][]string{"vast": {"billing_read", "instance_read"}}},
			current: []string{"instance_read"}, requested: []string{"instance_read", "billing_read"}, scopes: []string{"billing_read", "instance_read"}},
		{name: "vast empty scopes on update", prov: vastP, op: opUpdate, current: []string{"instance_read"}, requested: []string{},
			err: []string{"at least one scope"}, step: provider.StepTakeAway},
		{name: "vast nil scopes on update", prov: vastP, op: opUpdate, current: []string{"instance_read"},
			err: []string{"at least one scope"}},
		{name: "vast unknown scope on update", prov: vastP, op: opUpdate, current: []string{"instance_read"}, requested: []string{"gpu"},
			err: []string{`"gpu" is not a scope on Vast.ai`}},
		{name: "local narrowing", prov: localP, op: opUpdate, current: []string{"read", "write"}, requested: []string{"read"}, scopes: []string{"read"}},
		{name: "local swap read for write", prov: localP, op: opUpdate, current: []string{"read"}, requested: []string{"write"}, scopes: []string{"write"}},

		// --- platforms without scopes -----------------------------------------
		{name: "lyceum create refused without full access", prov: lyceumP, op: opCreate,
			err: []string{"Lyceum keys have no scopes", "full access"}, setting: "KEYWARD_ALLOW_FULL_ACCESS=true"},
		{name: "lyceum create allowed with full access", prov: lyceumP, op: opCreate,
			rules: policy.Rules{AllowFullAccess: true}},
		{name: "lyceum scopes given", prov: lyceumP, op: opCreate, requested: []string{"read"},
			err: []string{"Lyceum keys have no scopes", "name none"}, step: provider.StepOmitScopes},
		{name: "lyceum scopes given even with full access", prov: lyceumP, op: opCreate, requested: []string{"read"},
			rules: policy.Rules{AllowFullAccess: true}, err: []string{"Lyceum keys have no scopes"}},
		{name: "lurus create refused without full access", prov: lurusP, op: opCreate,
			err: []string{"Lurus keys have no scopes"}, setting: "KEYWARD_ALLOW_FULL_ACCESS=true"},
		{name: "lurus create allowed with full access", prov: lurusP, op: opCreate, rules: policy.Rules{AllowFullAccess: true}},
		{name: "lyceum re-scope", prov: lyceumP, op: opUpdate, requested: []string{"read"},
			err: []string{"Lyceum keys have no scopes, so they cannot be re-scoped"}},

		// --- expiry -------------------------------------------------------------
		{name: "local default expiry", prov: localP, op: opExpiry,
			deadline: at(30 * day), upstream: at(30 * day), note: []string{"no lifetime asked for", "30d", "KEYWARD_DEFAULT_TTL"}},
		{name: "local 12h", prov: localP, op: opExpiry, expiresIn: "12h", deadline: at(12 * time.Hour), upstream: at(12 * time.Hour)},
		{name: "local at the maximum", prov: localP, op: opExpiry, expiresIn: "90d", deadline: at(90 * day), upstream: at(90 * day)},
		{name: "local above the maximum", prov: localP, op: opExpiry, expiresIn: "91d",
			err: []string{"a lifetime of 91d is longer than the maximum of 90d"}, setting: "KEYWARD_MAX_TTL"},
		{name: "local 1y above the maximum", prov: localP, op: opExpiry, expiresIn: "1y",
			err: []string{"1y", "90d"}, setting: "KEYWARD_MAX_TTL"},
		{name: "local never refused", prov: localP, op: opExpiry, expiresIn: "never",
			err: []string{"never expire", "at most 90d"}, setting: "KEYWARD_ALLOW_NO_EXPIRY=true"},
		{name: "local never allowed", prov: localP, op: opExpiry, expiresIn: "never", rules: policy.Rules{AllowNoExpiry: true}},
		{name: "local custom default TTL", prov: localP, op: opExpiry, rules: policy.Rules{DefaultTTL: 7 * day},
			deadline: at(7 * day), upstream: at(7 * day), note: []string{"7d", "KEYWARD_DEFAULT_TTL"}},
		{name: "local custom max allows 200d", prov: localP, op: opExpiry, rules: policy.Rules{MaxTTL: policy.Year},
			expiresIn: "200d", deadline: at(200 * day), upstream: at(200 * day)},
		{name: "local custom max refuses 366d", prov: localP, op: opExpiry, rules: policy.Rules{MaxTTL: policy.Year},
			expiresIn: "366d", err: []string{"366d", "maximum of 1y"}, setting: "KEYWARD_MAX_TTL"},
		{name: "local custom lower max", prov: localP, op: opExpiry, rules: policy.Rules{MaxTTL: 14 * day, DefaultTTL: 7 * day},
			expiresIn: "15d", err: []string{"maximum of 14d"}, setting: "KEYWARD_MAX_TTL"},
		{name: "local zero expiry", prov: localP, op: opExpiry, expiresIn: "0d", err: []string{"longer than zero"}},
		{name: "local garbage expiry", prov: localP, op: opExpiry, expiresIn: "soon", err: []string{`"soon" is not a duration`}},
		{name: "lyceum default expiry", prov: lyceumP, op: opExpiry,
			deadline: at(30 * day), upstream: at(30 * day), note: []string{"30d"}},
		{name: "vast default expiry is enforced", prov: vastP, op: opExpiry, deadline: at(30 * day), enforced: true,
			note: []string{"KEYWARD_DEFAULT_TTL", "Vast.ai keys have no expiry of their own", "keyward will revoke this key at 2025-04-09T09:30:00Z"}},
		{name: "vast 12h enforced", prov: vastP, op: opExpiry, expiresIn: "12h", deadline: at(12 * time.Hour), enforced: true,
			note: []string{"keyward will revoke"}},
		{name: "vast never allowed", prov: vastP, op: opExpiry, expiresIn: "never", rules: policy.Rules{AllowNoExpiry: true}},
		{name: "vast never refused", prov: vastP, op: opExpiry, expiresIn: "never", setting: "KEYWARD_ALLOW_NO_EXPIRY=true", err: []string{"never"}},
		{name: "lurus 45d gets the 30d preset", prov: lurusP, op: opExpiry, expiresIn: "45d",
			deadline: at(30 * day), upstream: at(30 * day), note: []string{"preset 30d chosen, the longest not above the request"}},
		{name: "lurus 90d gets 90d", prov: lurusP, op: opExpiry, expiresIn: "90d", deadline: at(90 * day), upstream: at(90 * day), note: []string{"preset 90d"}},
		{name: "lurus 30d gets 30d", prov: lurusP, op: opExpiry, expiresIn: "30d", deadline: at(30 * day), upstream: at(30 * day), note: []string{"preset 30d"}},
		{name: "lurus 7d gets 7d", prov: lurusP, op: opExpiry, expiresIn: "7d", deadline: at(7 * day), upstream: at(7 * day), note: []string{"preset 7d"}},
		{name: "lurus 8d gets 7d", prov: lurusP, op: opExpiry, expiresIn: "8d", deadline: at(7 * day), upstream: at(7 * day), note: []string{"preset 7d"}},
		{name: "lurus 400d with a 2y max gets 1y", prov: lurusP, op: opExpiry, rules: policy.Rules{MaxTTL: 2 * policy.Year},
			expiresIn: "400d", deadline: at(365 * day), upstream: at(365 * day), note: []string{"preset 1y"}},
		{name: "lurus 1y with a 1y max gets 1y", prov: lurusP, op: opExpiry, rules: policy.Rules{MaxTTL: policy.Year},
			expiresIn: "1y", deadline: at(365 * day), upstream: at(365 * day), note: []string{"preset 1y"}},
		{name: "lurus 400d with a 1y max refused", prov: lurusP, op: opExpiry, rules: policy.Rules{MaxTTL: policy.Year},
			expiresIn: "400d", err: []string{"400d", "1y"}, setting: "KEYWARD_MAX_TTL"},
		{name: "lurus 1d below the shortest preset", prov: lurusP, op: opExpiry, expiresIn: "1d",
			deadline: at(day), upstream: at(7 * day), enforced: true,
			note: []string{"preset 7d chosen", "keyward will revoke the key at 2025-03-11T09:30:00Z"}},
		{name: "lurus 6d23h below the shortest preset", prov: lurusP, op: opExpiry, expiresIn: "6d23h",
			deadline: at(6*day + 23*time.Hour), upstream: at(7 * day), enforced: true, note: []string{"keyward will revoke"}},
		{name: "lurus default gets 30d", prov: lurusP, op: opExpiry,
			deadline: at(30 * day), upstream: at(30 * day), note: []string{"KEYWARD_DEFAULT_TTL", "preset 30d"}},
		{name: "lurus never when allowed", prov: lurusP, op: opExpiry, expiresIn: "never", rules: policy.Rules{AllowNoExpiry: true},
			note: []string{"Lurus preset chosen: never"}},
		{name: "lurus never refused", prov: lurusP, op: opExpiry, expiresIn: "never",
			err: []string{"never expire"}, setting: "KEYWARD_ALLOW_NO_EXPIRY=true"},
		{name: "presets without never: 60d gets 30d", prov: presetsNoNever, op: opExpiry, expiresIn: "60d",
			deadline: at(30 * day), upstream: at(30 * day), note: []string{"preset 30d"}},
		{name: "presets without never: 10d enforced", prov: presetsNoNever, op: opExpiry, expiresIn: "10d",
			deadline: at(10 * day), upstream: at(30 * day), enforced: true, note: []string{"keyward will revoke"}},
	}
}

func TestPolicyTable(t *testing.T) {
	t.Parallel()
	cs := cases()
	require.GreaterOrEqual(t, len(cs), 40)
	names := map[string]bool{}
	for _, c := range cs {
		require.False(t, names[c.name], "duplicate case name %q", c.name)
		names[c.name] = true
		t.Run(c.name, func(t *testing.T) {
			p := policy.New(c.rules)
			var (
				err error
				dec policy.ScopeDecision
				exp policy.Expiry
			)
			switch c.op {
			case opCreate:
				dec, err = p.ScopesForCreate(c.prov, c.requested)
			case opUpdate:
				var scopes []string
				scopes, err = p.ScopesForUpdate(c.prov, c.current, c.requested)
				dec = policy.ScopeDecision{Scopes: scopes}
			case opExpiry:
				exp, err = p.ExpiryForCreate(c.prov, now, c.expiresIn)
			}

			if c.err != nil || c.setting != "" {
				require.Error(t, err)
				for _, s := range c.err {
					assert.Contains(t, err.Error(), s)
				}
				if c.step != provider.StepNone {
					assert.Equal(t, c.step, provider.StepOf(err), "the next step")
				}
				for _, tool := range []string{"list_scopes", "create_key", "set_key_active", "revoke_key", "expires_in"} {
					assert.NotContains(t, err.Error(), tool, "policy speaks no interface's words")
				}
				var r *policy.Refusal
				if c.setting != "" {
					require.True(t, errors.As(err, &r), "want a *policy.Refusal, got %T: %v", err, err)
					assert.Equal(t, c.setting, r.Setting)
					assert.Contains(t, err.Error(), c.setting)
					assert.True(t, strings.HasPrefix(err.Error(), "refused by keyward policy: "))
				} else {
					assert.False(t, errors.As(err, &r), "a request error is not a policy refusal: %v", err)
				}
				return
			}
			require.NoError(t, err)

			switch c.op {
			case opCreate, opUpdate:
				assert.Equal(t, c.scopes, dec.Scopes)
				assert.Equal(t, c.defaulted, dec.Defaulted)
			case opExpiry:
				assert.Equal(t, c.deadline, exp.Deadline, "deadline")
				assert.Equal(t, c.upstream, exp.Upstream, "upstream")
				assert.Equal(t, c.enforced, exp.Enforced, "enforced")
				if len(c.note) == 0 {
					assert.Empty(t, exp.Note)
				}
				for _, s := range c.note {
					assert.Contains(t, exp.Note, s)
				}
				if exp.Deadline != nil && exp.Upstream != nil && exp.Upstream.After(*exp.Deadline) {
					assert.True(t, exp.Enforced, "an upstream expiry later than the deadline must be enforced")
				}
			}
		})
	}
}

// The caller's request slice is not aliased by the decision, and the
// provider's or operator's defaults cannot be changed through it.
func TestPolicyResultsAreCopies(t *testing.T) {
	t.Parallel()
	rules := policy.Rules{
		DefaultScopes: map[string][]string{"vast": {"machine_read"}},
		AllowedScopes: map[string][]string{"vast": {"machine_read", "instance_read"}},
	}
	p := policy.New(rules)
	d, err := p.ScopesForCreate(vastP, nil)
	require.NoError(t, err)
	d.Scopes[0] = "billing_write"
	c := p.Ceiling(vastP)
	c[0] = "billing_write"
	assert.Equal(t, []string{"machine_read"}, p.DefaultScopes(vastP))
	assert.Equal(t, []string{"machine_read", "instance_read"}, p.Ceiling(vastP))

	req := []string{"machine_read", "instance_read"}
	d, err = p.ScopesForCreate(vastP, req)
	require.NoError(t, err)
	assert.Equal(t, []string{"instance_read", "machine_read"}, d.Scopes)
	assert.Equal(t, []string{"machine_read", "instance_read"}, req, "request untouched")
}

func TestCeilingAndDefaults(t *testing.T) {
	t.Parallel()
	p := policy.New(policy.Rules{})
	assert.Equal(t, []string{"instance_read", "instance_write", "user_read", "machine_read", "machine_write", "misc"}, p.Ceiling(vastP))
	assert.Equal(t, []string{"read", "write"}, p.Ceiling(localP))
	assert.Empty(t, p.Ceiling(lyceumP))
	assert.Equal(t, []string{"instance_read"}, p.DefaultScopes(vastP))
	// Every default scope is inside the default ceiling.
	for _, prov := range []provider.Provider{vastP, localP, presetsNoNever} {
		for _, s := range p.DefaultScopes(prov) {
			assert.Contains(t, p.Ceiling(prov), s, prov.Name())
		}
	}
	assert.Equal(t, policy.DefaultTTL, p.Rules().DefaultTTL)
	assert.Equal(t, policy.MaxTTL, p.Rules().MaxTTL)
	assert.Equal(t, 30*day, policy.DefaultTTL)
	assert.Equal(t, 90*day, policy.MaxTTL)
	assert.Equal(t, "VAST", policy.EnvName("vast"))
}

func TestRefusalError(t *testing.T) {
	t.Parallel()
	r := &policy.Refusal{Reason: "no", Setting: "KEYWARD_X"}
	assert.Equal(t, "refused by keyward policy: no (an operator can change this with KEYWARD_X)", r.Error())
	r = &policy.Refusal{Reason: "no"}
	assert.Equal(t, "refused by keyward policy: no", r.Error())
	var err error = fmt.Errorf("wrapped: %w", &policy.Refusal{Reason: "x", Setting: "S"})
	var got *policy.Refusal
	require.True(t, errors.As(err, &got))
	assert.Equal(t, "S", got.Setting)
}

// A sub-second "now" (what time.Now returns) must not push an exact preset
// request down to a shorter preset.
func TestExpiryPresetsWithSubSecondNow(t *testing.T) {
	t.Parallel()
	p := policy.New(policy.Rules{MaxTTL: policy.Year})
	for _, frac := range []time.Duration{time.Nanosecond, 500 * time.Millisecond, 999 * time.Millisecond} {
		n := now.Add(frac)
		for _, ask := range []string{"7d", "30d", "90d", "1y"} {
			want, err := policy.ParseDuration(ask)
			require.NoError(t, err)
			e, err := p.ExpiryForCreate(lurusP, n, ask)
			require.NoError(t, err)
			require.NotNil(t, e.Upstream)
			require.NotNil(t, e.Deadline)
			assert.Equal(t, n.Add(want).Truncate(time.Second), *e.Upstream, "ask %s at %v", ask, n)
			assert.Equal(t, *e.Upstream, *e.Deadline, "ask %s at %v", ask, n)
			assert.False(t, e.Enforced, "ask %s at %v", ask, n)
			assert.Contains(t, e.Note, "preset "+ask, "ask %s at %v", ask, n)
		}
	}
}

func TestExpiryForCreateTruncatesToSeconds(t *testing.T) {
	t.Parallel()
	p := policy.New(policy.Rules{})
	n := now.Add(1234567 * time.Microsecond).In(time.FixedZone("X", 3600))
	for _, prov := range []provider.Provider{localP, vastP, lyceumP} {
		e, err := p.ExpiryForCreate(prov, n, "12h")
		require.NoError(t, err)
		require.NotNil(t, e.Deadline)
		assert.Equal(t, n.Add(12*time.Hour).UTC().Truncate(time.Second), *e.Deadline)
		assert.Equal(t, time.UTC, e.Deadline.Location())
		assert.False(t, e.Deadline.After(n.Add(12*time.Hour)), "never later than asked")
	}
}

// Keep (rotation, re-issue) never yields a later deadline than the
// predecessor's, on any kind of provider, for any deadline.
func TestKeepNeverOutlivesThePredecessor(t *testing.T) {
	t.Parallel()
	p := policy.New(policy.Rules{})
	provs := []provider.Provider{localP, vastP, lyceumP, lurusP, presetsNoNever}
	offsets := []time.Duration{-48 * time.Hour, -time.Second, 0, time.Second, time.Hour, day, 6 * day, 7*day - time.Second,
		7 * day, 7*day + time.Second, 29 * day, 30 * day, 31 * day, 45 * day, 89 * day, 90 * day, 91 * day,
		364 * day, 365 * day, 400 * day, 10 * policy.Year}
	nows := []time.Time{now, now.Add(250 * time.Millisecond), now.Add(999999999), now.Add(17 * time.Hour)}
	for _, prov := range provs {
		for _, n := range nows {
			e := p.Keep(prov, n, nil)
			assert.Nil(t, e.Deadline, "%s: a key without expiry keeps none", prov.Name())
			for _, off := range offsets {
				for _, jitter := range []time.Duration{0, 123 * time.Millisecond} {
					d := n.Add(off).Add(jitter)
					e := p.Keep(prov, n, &d)
					label := fmt.Sprintf("%s now=%s deadline=now%+v", prov.Name(), n.Format(time.RFC3339Nano), off+jitter)
					require.NotNil(t, e.Deadline, label)
					assert.False(t, e.Deadline.After(d), "%s: deadline %s later than the predecessor's %s", label, e.Deadline, d)
					if e.Upstream != nil && e.Upstream.After(d) {
						assert.True(t, e.Enforced, "%s: upstream %s outlives the deadline but is not enforced", label, e.Upstream)
					}
					if prov.Capabilities().Expiry == provider.ExpiryNone {
						assert.True(t, e.Enforced, label)
						assert.Nil(t, e.Upstream, label)
					}
					if prov.Capabilities().Expiry == provider.ExpiryAny {
						assert.Equal(t, &d, e.Upstream, label)
						assert.False(t, e.Enforced, label)
					}
				}
			}
		}
	}
}
