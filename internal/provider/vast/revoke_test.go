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
// gone; anything else is an error that says whether the key may still work.
func TestRevokeNeedsProof(t *testing.T) {
	deletePath := func(id string) string { return "/api/v0/auth/apikeys/" + id + "/" }

	t.Run("a 2xx that says success: false is not a revocation", func(t *testing.T) {
		f, p := start(t)
		id, secret := f.AddKey("ci", []string{"instance_read"})
		f.Faults().Set(fakeserver.Fault{Method: http.MethodDelete, Status: 200, Times: 1,
			Body: `{"success": false, "error": "server_error", "msg": "Failed to delete API key."}`})
		err := p.Revoke(context.Background(), id)
		pe := requireKind(t, err, provider.KindUpstream)
		assert.Equal(t, provider.ChangedNo, pe.Changed, "a fresh listing still shows the key, so nothing changed")
		assert.Contains(t, pe.Message, "still")
		assert.Contains(t, pe.Message, "success: false")
		assert.True(t, f.Exists(id), "the key lives on upstream")
		assert.Equal(t, 1, count(f, http.MethodDelete, deletePath(id)), "a refusal is not sent again")
		providertest.NoSecret(t, []string{f.APIKey(), secret}, err)
	})

	t.Run("a 2xx that is not JSON is checked and the delete sent again", func(t *testing.T) {
		f, p := start(t)
		id, _ := f.AddKey("ci", []string{"instance_read"})
		f.Faults().Set(fakeserver.Fault{Method: http.MethodDelete, NonJSON: true, Times: 1})
		require.NoError(t, p.Revoke(context.Background(), id))
		assert.False(t, f.Exists(id), "reported revoked, so it must be gone upstream")
		assert.Equal(t, 2, count(f, http.MethodDelete, deletePath(id)))
	})

	t.Run("a 404 after a cut answer is confirmed by the listing", func(t *testing.T) {
		f, p := start(t)
		id, _ := f.AddKey("ci", []string{"instance_read"})
		f.Faults().Set(fakeserver.Fault{Method: http.MethodDelete, Truncate: true, Times: 1})
		require.NoError(t, p.Revoke(context.Background(), id), "the first DELETE deleted the key; its answer was lost")
		assert.False(t, f.Exists(id))
	})

	t.Run("a dropped connection: the key is still listed, so the delete is sent again", func(t *testing.T) {
		f, p := start(t)
		id, _ := f.AddKey("ci", []string{"instance_read"})
		f.Faults().Set(fakeserver.Fault{Method: http.MethodDelete, CloseConn: true, Times: 1})
		require.NoError(t, p.Revoke(context.Background(), id))
		assert.False(t, f.Exists(id))
	})

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

	t.Run("no proof either way: changed unknown", func(t *testing.T) {
		f, p := start(t)
		id, secret := f.AddKey("ci", []string{"instance_read"})
		f.Faults().Set(fakeserver.Fault{Truncate: true})
		err := p.Revoke(context.Background(), id)
		f.Faults().Clear()
		pe := requireKind(t, err, provider.KindUpstream)
		assert.Equal(t, provider.ChangedUnknown, pe.Changed)
		assert.Contains(t, pe.Message, "may still work")
		assert.Equal(t, provider.StepCheckKeys, pe.Step)
		providertest.NoSecret(t, []string{f.APIKey(), secret}, err)
	})

	t.Run("a first 404 is still no such key", func(t *testing.T) {
		f, p := start(t)
		id, _ := f.AddKey("ci", []string{"instance_read"})
		require.NoError(t, p.Revoke(context.Background(), id))
		requireKind(t, p.Revoke(context.Background(), id), provider.KindNotFound)
		assert.Equal(t, 2, count(f, http.MethodDelete, deletePath(id)))
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
