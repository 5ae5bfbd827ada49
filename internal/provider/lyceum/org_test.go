package lyceum_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/fakeserver"
	"github.com/keyward/keyward/internal/provider/lyceum"
	"github.com/keyward/keyward/internal/provider/lyceum/lyceumfake"
	"github.com/keyward/keyward/internal/provider/providertest"
)

func startOrg(t *testing.T) (*lyceumfake.Fake, *lyceum.Provider) {
	t.Helper()
	f := lyceumfake.New()
	t.Cleanup(f.Close)
	return f, lyceum.NewOrg(settings(f, f.APIKey()), lyceumfake.OrgSlug)
}

const orgKeys = "/api/v2/external/orgs/acme/api-keys"

func TestOrganisationKeysAreAProviderOfTheirOwn(t *testing.T) {
	_, p := startOrg(t)
	assert.Equal(t, "lyceum-org", p.Name())
	assert.Equal(t, "Lyceum organisation acme", p.Title())
	assert.Equal(t, provider.Capabilities{Manage: true, KeyShape: "lyceum", Expiry: provider.ExpiryAny, Rotate: true, Validate: true, Whoami: true, LastUsed: true},
		p.Capabilities(), "regenerate is native rotation; no toggle is documented for organisation keys")
	assert.Empty(t, p.ScopeVocabulary())
}

func TestOrganisationKeyLifecycle(t *testing.T) {
	f, p := startOrg(t)
	ctx := context.Background()
	personalID, _ := f.AddKey("mine", nil)
	dashID, _ := f.AddOrgKey("team-ci")

	keys, err := p.List(ctx)
	require.NoError(t, err)
	require.Len(t, keys, 1, "only the organisation's keys")
	assert.Equal(t, dashID, keys[0].ID)
	assert.Equal(t, "team-ci", keys[0].Name)
	assert.True(t, keys[0].Active)
	_, err = p.Get(ctx, personalID)
	requireOrgKind(t, err, provider.KindNotFound)

	expires := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
	created, err := p.Create(ctx, provider.CreateRequest{Name: "agent", ExpiresAt: &expires})
	require.NoError(t, err)
	assert.Equal(t, "agent", created.Key.Name)
	assert.Equal(t, expires, *created.Key.ExpiresAt)
	assert.Equal(t, created.Secret[:8]+"…", created.Key.Masked)
	assert.True(t, f.Works(created.Secret))

	v, err := p.Validate(ctx, created.Secret)
	require.NoError(t, err)
	assert.Equal(t, provider.StatusValid, v.Status)
	assert.Equal(t, created.Key.ID, v.KeyID, "matched among the organisation's keys")

	rotated, err := p.Rotate(ctx, created.Key.ID, provider.RotateRequest{})
	require.NoError(t, err)
	assert.Equal(t, created.Key.ID, rotated.Key.ID)
	assert.NotEqual(t, created.Secret, rotated.Secret)
	assert.True(t, f.Works(rotated.Secret))
	assert.False(t, f.Works(created.Secret), "the regenerated key's old secret is over")
	assert.Equal(t, 1, count(f, http.MethodPost, orgKeys+"/"+created.Key.ID+"/regenerate"))

	providertest.NoSecret(t, []string{f.APIKey(), created.Secret, rotated.Secret}, keys, created.Key, rotated.Key, v)
}

func TestOrganisationCreateSendsTheDocumentedBody(t *testing.T) {
	var body map[string]json.RawMessage
	srv := fakeserver.Start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, "/orgs/acme/api-keys", r.URL.Path)
		require.NoError(t, fakeserver.ReadJSON(r, &body))
		fakeserver.WriteJSON(w, http.StatusOK, map[string]any{"id": "k1", "org_id": "o1", "name": "n", "prefix": "lk_abcde",
			"plaintext_key": "lk_abcdefghijklmnop", "created_at": "2026-01-01T00:00:00Z", "expires_at": nil})
	}))
	defer srv.Close()
	p := lyceum.NewOrg(providertest.Settings(srv.URL, "lk_configured"), "acme")
	created, err := p.Create(context.Background(), provider.CreateRequest{Name: "n"})
	require.NoError(t, err)
	assert.Equal(t, map[string]json.RawMessage{"name": json.RawMessage(`"n"`)}, body)
	assert.Equal(t, "lk_abcdefghijklmnop", created.Secret)
	assert.Equal(t, "lk_abcde…", created.Key.Masked)
}

func TestOrganisationKeysLackWhatLyceumDoesNotDocument(t *testing.T) {
	f, p := startOrg(t)
	ctx := context.Background()
	id, _ := f.AddOrgKey("team-ci")
	err := p.Revoke(ctx, id)
	pe := requireOrgKind(t, err, provider.KindUnsupported)
	assert.Contains(t, pe.Message, "dashboard")
	_, err = p.SetActive(ctx, id, false)
	requireOrgKind(t, err, provider.KindUnsupported)
	_, err = p.Rotate(ctx, id, provider.RotateRequest{Grace: time.Hour})
	requireOrgKind(t, err, provider.KindUnsupported)
	for _, r := range f.Requests() {
		assert.NotEqual(t, http.MethodDelete, r.Method)
		assert.NotEqual(t, http.MethodPatch, r.Method)
	}
	// The personal provider says where rotation lives.
	_, personal := start(t)
	_, err = personal.Rotate(ctx, id, provider.RotateRequest{})
	pe = requireKind(t, err, provider.KindUnsupported)
	assert.Contains(t, pe.Message, "organisation keys")
}

func TestAnUnknownOrganisationNamesTheSetting(t *testing.T) {
	f := lyceumfake.New()
	t.Cleanup(f.Close)
	p := lyceum.NewOrg(settings(f, f.APIKey()), "globex")
	_, err := p.List(context.Background())
	pe := requireOrgKind(t, err, provider.KindNotFound)
	assert.Contains(t, pe.Message, "LYCEUM_ORG")

	bad := lyceum.NewOrg(settings(f, f.APIKey()), "../auth")
	before := len(f.Requests())
	_, err = bad.List(context.Background())
	pe = requireOrgKind(t, err, provider.KindInvalid)
	assert.Contains(t, pe.Message, "LYCEUM_ORG")
	assert.Len(t, f.Requests(), before, "nothing is sent to a path built from a bad slug")
}

func requireOrgKind(t *testing.T, err error, kind provider.Kind) *provider.Error {
	t.Helper()
	return providertest.RequireKind(t, err, kind, lyceum.OrgName)
}
