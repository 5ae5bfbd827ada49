package lium_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/fakeserver"
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
	assert.Empty(t, created.Notes, "the server recorded it, so there is nothing to say")
	providertest.NoSecret(t, []string{f.APIKey(), f.SessionToken(), created.Secret}, created.Key)
}

// Lium's CLI checks the create answer for what the server did not record; a
// server before Lium's release (lium.io today) drops pod_visibility, and
// keyward says so with the key.
func TestAnUnrecordedPodVisibilityIsSaid(t *testing.T) {
	f := start(t)
	f.IgnorePodVisibility()
	p := withSession(f)
	created, err := p.Create(context.Background(), provider.CreateRequest{Name: "renter", Scopes: []string{"read", "rent"}})
	require.NoError(t, err)
	require.Len(t, created.Notes, 1)
	assert.Contains(t, created.Notes[0], `did not record pod_visibility "own"`)
	assert.Contains(t, created.Notes[0], "does not carry pod_visibility")
	assert.Contains(t, created.Notes[0], "every pod")
	assert.Equal(t, "", f.PodVisibility(created.Key.ID))
	providertest.NoSecret(t, []string{f.APIKey(), f.SessionToken(), created.Secret}, created.Notes)
}

// An answer that echoes another value did not record "own" either.
func TestAnotherPodVisibilityIsSaid(t *testing.T) {
	f := start(t)
	p := withSession(f)
	f.Faults().Set(fakeserver.Fault{Method: http.MethodPost, Path: "/api/keys", Status: http.StatusOK, Times: 1,
		Body: `{"id": "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d", "name": "renter", "key": "sk_test_fixture_key_not_a_secret_0000000000",
			"is_active": true, "created_at": "2026-09-21T11:00:00", "scopes": ["read"], "pod_visibility": "account"}`})
	created, err := p.Create(context.Background(), provider.CreateRequest{Name: "renter", Scopes: []string{"read"}})
	require.NoError(t, err)
	require.Len(t, created.Notes, 1)
	assert.Contains(t, created.Notes[0], `says pod_visibility "account"`)
}

// Every create takes only what it is given.
func TestLiumKeysCannotBeNarrowedByConstraints(t *testing.T) {
	f := start(t)
	p := withSession(f)
	_, err := p.Create(context.Background(), provider.CreateRequest{Name: "x", Scopes: []string{"read"}, AllowedIPs: []string{"203.0.113.7"}})
	requireKind(t, err, provider.KindInvalid)
	assert.Zero(t, count(f, http.MethodPost, "/api/keys"))
}

// A value Lium does not define is not repeated to the caller.
func TestAnUnknownPodVisibilityIsNotRepeated(t *testing.T) {
	f := start(t)
	p := withSession(f)
	f.Faults().Set(fakeserver.Fault{Method: http.MethodPost, Path: "/api/keys", Status: http.StatusOK, Times: 1,
		Body: `{"id": "5b4a3c2d-1e0f-4a9b-8c7d-6e5f4a3b2c1d", "name": "renter", "key": "sk_test_fixture_key_not_a_secret_0000000000",
			"is_active": true, "created_at": "2026-09-21T11:00:00", "scopes": ["read"], "pod_visibility": "<script>sk_live_AbCdEfGh1234567890</script>"}`})
	created, err := p.Create(context.Background(), provider.CreateRequest{Name: "renter", Scopes: []string{"read"}})
	require.NoError(t, err)
	require.Len(t, created.Notes, 1)
	assert.Contains(t, created.Notes[0], "a value Lium does not define")
	assert.NotContains(t, created.Notes[0], "script")
}
