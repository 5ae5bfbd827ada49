package vast_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/fakeserver"
	"github.com/keyward/keyward/internal/provider/providertest"
	"github.com/keyward/keyward/internal/provider/vast"
)

// A revoke is done only when Vast.ai says so or a fresh listing shows the key
// gone (providertest.RevokeNeedsProof); a passing 503 is retried.
func TestRevokeNeedsProof(t *testing.T) {
	providertest.RevokeNeedsProof(t, revokeSubject())

	t.Run("a passing 503 is sent again", func(t *testing.T) {
		f, p := start(t)
		id, _ := f.AddKey("ci", []string{"instance_read"})
		f.Faults().Set(fakeserver.Fault{Method: http.MethodDelete, Status: 503, Body: `{"msg": "busy"}`, Times: 1})
		require.NoError(t, p.Revoke(context.Background(), id))
		assert.False(t, f.Exists(id))
	})
	t.Run("a lasting 503 is an error that changed nothing", func(t *testing.T) {
		f, p := start(t)
		id, _ := f.AddKey("ci", []string{"instance_read"})
		f.Faults().Set(fakeserver.Fault{Method: http.MethodDelete, Status: 503, Body: `{"msg": "busy"}`})
		err := p.Revoke(context.Background(), id)
		f.Faults().Clear()
		pe := requireKind(t, err, provider.KindUpstream)
		assert.Equal(t, provider.ChangedNo, pe.Changed)
		assert.True(t, f.Exists(id))
	})
}

// Vast.ai answers the key list with 400 for a key it does not know or a
// missing bearer; that is the configured credential's fault, not the request's.
func TestVastsCredential400IsUnauthorized(t *testing.T) {
	f, _ := start(t)
	wrong := strings.Repeat("cd", 32)
	p := vast.New(settings(f, wrong))
	_, err := p.List(context.Background())
	pe := requireKind(t, err, provider.KindUnauthorized)
	assert.Contains(t, pe.Message, "VAST_API_KEY")
	assert.NotContains(t, pe.Message, "correct the request")
	assert.Equal(t, http.StatusBadRequest, pe.Status)
	assert.Equal(t, provider.ChangedNo, pe.Changed)
	providertest.NoSecret(t, []string{wrong, f.APIKey()}, err)

	for _, msg := range []string{"API Key not provided as bearer token.", "API Key not found."} {
		f, p := start(t)
		f.Faults().Set(fakeserver.Fault{Status: 400, Body: `{"msg": "` + msg + `"}`})
		_, err := p.Get(context.Background(), "1001")
		pe := requireKind(t, err, provider.KindUnauthorized)
		assert.Contains(t, pe.Message, "VAST_API_KEY", msg)
	}

	// A key Vast.ai answers so is not a key: Validate says so, it does not fail.
	f.Faults().Set(fakeserver.Fault{Status: 400, Body: `{"msg": "API Key not found."}`})
	v, err := p.Validate(context.Background(), strings.Repeat("ef", 32))
	require.NoError(t, err)
	assert.Equal(t, provider.StatusNotFound, v.Status)
}

// A 400 to a write names the credential only when Vast's sentence says so.
func TestVastsCredential400OnAWrite(t *testing.T) {
	f, p := start(t)
	f.Faults().Set(fakeserver.Fault{Status: 400, Body: `{"msg": "API Key not found."}`})
	_, err := p.Create(context.Background(), provider.CreateRequest{Name: "x", Scopes: []string{"misc"}})
	pe := requireKind(t, err, provider.KindUnauthorized)
	assert.Contains(t, pe.Message, "VAST_API_KEY")

	f.Faults().Set(fakeserver.Fault{Method: http.MethodPost, Status: 400, Body: `{"success": false, "error": "invalid_permissions", "msg": "Invalid permission format"}`})
	_, err = p.Create(context.Background(), provider.CreateRequest{Name: "x", Scopes: []string{"misc"}})
	requireKind(t, err, provider.KindInvalid)
}

// A 400 that is about the request stays a request error.
func TestVasts400AboutTheRequestStaysInvalid(t *testing.T) {
	_, p := start(t)
	keys, err := p.List(context.Background())
	require.NoError(t, err)
	err = p.Revoke(context.Background(), keys[0].ID)
	pe := requireKind(t, err, provider.KindInvalid)
	assert.Contains(t, pe.Message, "primary key")
}

// revokeSubject is Vast.ai under the shared revoke and listing suites.
func revokeSubject() providertest.RevokeSubject {
	return providertest.RevokeSubject{
		Provider: vast.Name,
		Start: func(t *testing.T) (providertest.RevokeFake, provider.Provider, string, string, []string) {
			f, p := start(t)
			id, secret := f.AddKey("ci", []string{"instance_read"})
			return f, p, id, secret, []string{f.APIKey()}
		},
		DeletePath:     func(id string) string { return "/api/v0/auth/apikeys/" + id + "/" },
		ServerError:    `{"success": false, "error": "server_error", "msg": "Internal Server Error"}`,
		Gateway:        502,
		NotDeleted:     `{"success": false, "error": "server_error", "msg": "Failed to delete API key."}`,
		NotDeletedSays: []string{"still", "success: false"},
	}
}
