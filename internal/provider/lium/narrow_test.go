package lium_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/providertest"
)

// lium.io does not accept the billing scope yet (Lium's SDK: "not released";
// servers before it answer 422), so keyward does not offer it.
func TestBillingIsNotOffered(t *testing.T) {
	f := start(t)
	p := withSession(f)
	var names []string
	for _, s := range p.ScopeVocabulary() {
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{"read", "rent", "manage"}, names)

	_, err := p.Create(context.Background(), provider.CreateRequest{Name: "pay", Scopes: []string{"billing"}})
	pe := requireKind(t, err, provider.KindUnsupported)
	assert.Contains(t, pe.Message, "not released")
	assert.Zero(t, count(f, http.MethodPost, "/api/keys"), "refused before any request")
}

// A new key sees only the pods it creates, as Lium's SDK makes keys by
// default; pod_visibility cannot be changed later.
func TestNewKeysSeeOnlyTheirOwnPods(t *testing.T) {
	f := start(t)
	p := withSession(f)
	created, err := p.Create(context.Background(), provider.CreateRequest{Name: "renter", Scopes: []string{"read", "rent"}})
	require.NoError(t, err)
	assert.Equal(t, "own", f.PodVisibility(created.Key.ID))
	providertest.NoSecret(t, []string{f.APIKey(), f.SessionToken(), created.Secret}, created.Key)
}

// Every create takes only what it is given.
func TestLiumKeysCannotBeNarrowedByConstraints(t *testing.T) {
	f := start(t)
	p := withSession(f)
	_, err := p.Create(context.Background(), provider.CreateRequest{Name: "x", Scopes: []string{"read"}, AllowedIPs: []string{"203.0.113.7"}})
	requireKind(t, err, provider.KindInvalid)
	assert.Zero(t, count(f, http.MethodPost, "/api/keys"))
}
