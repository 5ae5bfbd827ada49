package vast_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/fakeserver"
	"github.com/keyward/keyward/internal/provider/vast"
)

// The constrained key of Vast's CLI permissions page: one instance, view,
// reboot and destroy, nothing else.
const oneInstance = `{"api": {
	"instance_read": {"api.instance.show": {"constraints": {"id": {"eq": 1227}}}},
	"instance_write": {
		"api.instance.destroy": {"constraints": {"id": {"eq": 1227}}},
		"api.instance.reboot": {"constraints": {"id": {"eq": 1227}}}
	}
}}`

func TestReadingAConstrainedKeyShowsItsConstraints(t *testing.T) {
	f, p := start(t)
	id, _ := f.AddConstrainedKey("instance-1227-only", json.RawMessage(oneInstance))
	// The range example of Vast's permissions reference.
	rangeID, _ := f.AddConstrainedKey("logs-1-to-2", json.RawMessage(`{"api": {"instance_read": {"api.instance.request_logs": {"constraints": {"id": {"lte": 2, "gte": 1}}}}}}`))

	k, err := p.Get(context.Background(), id)
	require.NoError(t, err)
	assert.Equal(t, []string{"instance_read", "instance_write"}, k.Scopes)
	require.Equal(t, []provider.Constraint{
		{Scope: "instance_read", Resource: "api.instance.show", Param: "id", Op: provider.OpEq, Value: "1227"},
		{Scope: "instance_write", Resource: "api.instance.destroy", Param: "id", Op: provider.OpEq, Value: "1227"},
		{Scope: "instance_write", Resource: "api.instance.reboot", Param: "id", Op: provider.OpEq, Value: "1227"},
	}, k.Constraints, "the key holds one instance, not the two whole categories")
	assert.Equal(t, "instance_write: api.instance.destroy id eq 1227", k.Constraints[1].String())

	k, err = p.Get(context.Background(), rangeID)
	require.NoError(t, err)
	assert.Equal(t, []provider.Constraint{
		{Scope: "instance_read", Resource: "api.instance.request_logs", Param: "id", Op: provider.OpGTE, Value: "1"},
		{Scope: "instance_read", Resource: "api.instance.request_logs", Param: "id", Op: provider.OpLTE, Value: "2"},
	}, k.Constraints)
}

// What keyward cannot express is kept, never dropped: a narrowed category is
// never shown whole.
func TestUnreadableRestrictionsAreKeptAsOpaque(t *testing.T) {
	for name, tc := range map[string]struct {
		permissions string
		want        []provider.Constraint
	}{
		"wildcard params": {`{"api": {"instance_write": {"api.instance.destroy": {"params": {"id": "$ID"}}}}}`,
			[]provider.Constraint{{Scope: "instance_write", Resource: "api.instance.destroy", Opaque: `{"params":{"id":"$ID"}}`}}},
		"unknown operator": {`{"api": {"instance_read": {"api.instance.show": {"constraints": {"id": {"in": [1, 2]}}}}}}`,
			[]provider.Constraint{{Scope: "instance_read", Resource: "api.instance.show", Opaque: `{"constraints":{"id":{"in":[1,2]}}}`}}},
		"an operation without bounds": {`{"api": {"misc": {"api.search.offers": {}}}}`,
			[]provider.Constraint{{Scope: "misc", Resource: "api.search.offers"}}},
		"a category that is not an object": {`{"api": {"misc": "read"}}`,
			[]provider.Constraint{{Scope: "misc", Opaque: `"read"`}}},
	} {
		t.Run(name, func(t *testing.T) {
			f, p := start(t)
			f.Faults().Set(fakeserver.Fault{Status: 200, Body: `{"apikeys": [{"id": 5, "name": "x", "permissions": ` + tc.permissions + `}]}`})
			keys, err := p.List(context.Background())
			require.NoError(t, err)
			require.Len(t, keys, 1)
			assert.Equal(t, tc.want, keys[0].Constraints)
		})
	}
}

func TestCreateAKeyNarrowerThanACategory(t *testing.T) {
	f, p := start(t)
	ctx := context.Background()
	want := []provider.Constraint{
		{Scope: "instance_read", Resource: "api.instance.show", Param: "id", Op: provider.OpEq, Value: "1227"},
		{Scope: "instance_write", Resource: "api.instance.destroy", Param: "id", Op: provider.OpEq, Value: "1227"},
		{Scope: "instance_write", Resource: "api.instance.reboot", Param: "id", Op: provider.OpEq, Value: "1227"},
	}
	created, err := p.Create(ctx, provider.CreateRequest{
		Name:   "instance-1227-only",
		Scopes: []string{"instance_write", "instance_read"},
		// Out of order and with a duplicate: sent once, in order.
		Constraints: []provider.Constraint{want[2], want[0], want[1], want[0]},
		AllowedIPs:  []string{"203.0.113.7", " 2001:db8::1 ", "203.0.113.7"},
	})
	require.NoError(t, err)
	assert.JSONEq(t, oneInstance, string(f.Permissions(created.Key.ID)), "the body of Vast's own example")
	assert.JSONEq(t, `{"ip_whitelist": ["2001:db8::1", "203.0.113.7"]}`, string(f.KeyParams(created.Key.ID)))
	assert.Equal(t, want, created.Key.Constraints)
	assert.Equal(t, []string{"2001:db8::1", "203.0.113.7"}, created.Key.AllowedIPs)

	got, err := p.Get(ctx, created.Key.ID)
	require.NoError(t, err)
	assert.Equal(t, want, got.Constraints, "read back as created")
	assert.Empty(t, got.AllowedIPs, "no Vast listing shows the allow-list (AllowedIPsListed is false)")

	rng, err := p.Create(ctx, provider.CreateRequest{Name: "logs", Scopes: []string{"instance_read"}, Constraints: []provider.Constraint{
		{Scope: "instance_read", Resource: "api.instance.request_logs", Param: "id", Op: provider.OpLTE, Value: "100"},
		{Scope: "instance_read", Resource: "api.instance.request_logs", Param: "id", Op: provider.OpGTE, Value: "1"},
	}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"api": {"instance_read": {"api.instance.request_logs": {"constraints": {"id": {"gte": 1, "lte": 100}}}}}}`, string(f.Permissions(rng.Key.ID)))
}

func TestCreateRefusesConstraintsVastDoesNotDocument(t *testing.T) {
	eq := func(scope, resource, param, value string) provider.Constraint {
		return provider.Constraint{Scope: scope, Resource: resource, Param: param, Op: provider.OpEq, Value: value}
	}
	for name, tc := range map[string]struct {
		scopes []string
		cs     []provider.Constraint
		ips    []string
		want   string
	}{
		"a scope the key does not hold": {[]string{"instance_read"}, []provider.Constraint{eq("instance_write", "api.instance.destroy", "id", "1")}, nil, "does not hold"},
		"an undocumented operation":     {[]string{"instance_write"}, []provider.Constraint{eq("instance_write", "api.instance.create", "id", "1")}, nil, "cannot bound"},
		"an undocumented parameter":     {[]string{"instance_write"}, []provider.Constraint{eq("instance_write", "api.instance.destroy", "label", "x")}, nil, "cannot bound"},
		"an unknown operator": {[]string{"instance_read"}, []provider.Constraint{
			{Scope: "instance_read", Resource: "api.instance.show", Param: "id", Op: "in", Value: "1"}}, nil, "operator"},
		"a value that is not an id": {[]string{"instance_read"}, []provider.Constraint{eq("instance_read", "api.instance.show", "id", "one")}, nil, "whole number"},
		"eq beside a range": {[]string{"instance_read"}, []provider.Constraint{eq("instance_read", "api.instance.show", "id", "1"),
			{Scope: "instance_read", Resource: "api.instance.show", Param: "id", Op: provider.OpLTE, Value: "5"}}, nil, "eq and a range"},
		"an empty range": {[]string{"instance_read"}, []provider.Constraint{
			{Scope: "instance_read", Resource: "api.instance.show", Param: "id", Op: provider.OpGTE, Value: "9"},
			{Scope: "instance_read", Resource: "api.instance.show", Param: "id", Op: provider.OpLTE, Value: "2"}}, nil, "admits nothing"},
		"an opaque constraint": {[]string{"instance_read"}, []provider.Constraint{{Scope: "instance_read", Opaque: `"read"`}}, nil, "cannot be sent again"},
		"an address range":     {[]string{"instance_read"}, nil, []string{"203.0.113.0/24"}, "single addresses"},
		"not an address":       {[]string{"instance_read"}, nil, []string{"example.com"}, "not an IP address"},
	} {
		t.Run(name, func(t *testing.T) {
			f, p := start(t)
			_, err := p.Create(context.Background(), provider.CreateRequest{Name: "x", Scopes: tc.scopes, Constraints: tc.cs, AllowedIPs: tc.ips})
			pe := requireKind(t, err, provider.KindInvalid)
			assert.Contains(t, pe.Message, tc.want)
			assert.Equal(t, provider.ChangedNo, pe.Changed)
			assert.Zero(t, count(f, http.MethodPost, "/api/v0/auth/apikeys/"), "refused before any request")
		})
	}
}

func TestTheAgentsCategoriesOfVastsBackend(t *testing.T) {
	f, p := start(t)
	created, err := p.Create(context.Background(), provider.CreateRequest{Name: "agents", Scopes: []string{"agents_read"}})
	require.NoError(t, err)
	assert.JSONEq(t, `{"api": {"agents_read": {}}}`, string(f.Permissions(created.Key.ID)))
	for _, s := range p.ScopeVocabulary() {
		switch s.Name {
		case "agents_read":
			assert.True(t, s.ReadOnly)
			assert.False(t, s.Sensitive)
		case "agents_write":
			assert.False(t, s.ReadOnly)
			assert.True(t, s.Sensitive, "it refreshes a linked Bitbucket connection")
		}
	}
}

func TestValidateAndWhoamiShowConstraints(t *testing.T) {
	f, _ := start(t)
	_, secret := f.AddConstrainedKey("reader-1227", json.RawMessage(`{"api": {"user_read": {}, "user_write": {}, "instance_read": {"api.instance.show": {"constraints": {"id": {"eq": 1227}}}}}}`))
	p := newProvider(f, secret)
	want := []provider.Constraint{{Scope: "instance_read", Resource: "api.instance.show", Param: "id", Op: provider.OpEq, Value: "1227"}}
	id, err := p.Whoami(context.Background())
	require.NoError(t, err)
	assert.Equal(t, want, id.Constraints)
	v, err := p.Validate(context.Background(), secret)
	require.NoError(t, err)
	assert.Equal(t, want, v.Constraints)
}

// withoutNarrowing is a provider that supports no constraints, as every one
// but Vast.ai does today.
type withoutNarrowing struct{ *vast.Provider }

func (w withoutNarrowing) Capabilities() provider.Capabilities {
	c := w.Provider.Capabilities()
	c.Constraints = provider.ConstraintSupport{}
	return c
}

func TestCheckConstraintsRefusesWhatAProviderCannotDo(t *testing.T) {
	_, p := start(t)
	none := withoutNarrowing{p}
	_, _, err := provider.CheckConstraints(none, []string{"instance_read"},
		[]provider.Constraint{{Scope: "instance_read", Resource: "api.instance.show", Param: "id", Op: provider.OpEq, Value: "1"}}, nil)
	pe := requireKind(t, err, provider.KindInvalid)
	assert.Contains(t, pe.Message, "cannot narrow a key below a whole scope")
	_, _, err = provider.CheckConstraints(none, []string{"instance_read"}, nil, []string{"203.0.113.7"})
	pe = requireKind(t, err, provider.KindInvalid)
	assert.Contains(t, pe.Message, "cannot limit a key to source addresses")

	cs, ips, err := provider.CheckConstraints(none, []string{"instance_read"}, nil, nil)
	require.NoError(t, err, "nothing asked, nothing refused")
	assert.Empty(t, cs)
	assert.Empty(t, ips)
}
