package lium_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/fakeserver"
	"github.com/keyward/keyward/internal/provider/lium/liumfake"
	"github.com/keyward/keyward/internal/provider/providertest"
)

// A revoke is done only when Lium answers it or a fresh listing shows the key
// gone; a DELETE retried after a lost answer is never taken at its 404.
func TestRevokeNeedsProof(t *testing.T) {
	deletePath := func(id string) string { return "/api/keys/" + id }
	add := func(f *liumfake.Fake) (string, string) {
		return f.AddKey(liumfake.WorkspaceID, "ci", []string{"read"})
	}

	for name, fault := range map[string]fakeserver.Fault{
		"the connection drops after Lium deleted the key": {Method: http.MethodDelete, CloseConn: true, After: true, Times: 1},
		"the answer is cut short":                         {Method: http.MethodDelete, Truncate: true, Times: 1},
		"a 500 after Lium deleted the key":                {Method: http.MethodDelete, Status: 500, Body: `Internal Server Error`, After: true, Times: 1},
		"a 502 from a gateway after the key was deleted":  {Method: http.MethodDelete, Status: 502, Body: "bad gateway", After: true, Times: 1},
	} {
		t.Run(name, func(t *testing.T) {
			f := start(t)
			p := withSession(f)
			id, _ := add(f)
			f.Faults().Set(fault)
			require.NoError(t, p.Revoke(context.Background(), id), "the first DELETE deleted the key; only its answer was lost")
			assert.False(t, f.Exists(id))
			assert.Equal(t, 1, count(f, http.MethodDelete, deletePath(id)), "the listing proved it: no second DELETE, no 404 taken at its word")
		})
	}

	t.Run("a 2xx page that is not Lium's answer is not believed", func(t *testing.T) {
		f := start(t)
		p := withSession(f)
		id, _ := add(f)
		f.Faults().Set(fakeserver.Fault{Method: http.MethodDelete, NonJSON: true, Times: 1})
		require.NoError(t, p.Revoke(context.Background(), id))
		assert.False(t, f.Exists(id), "reported revoked, so it must be gone upstream")
		assert.Equal(t, 2, count(f, http.MethodDelete, deletePath(id)))
	})

	t.Run("a 2xx that says it did not delete is not believed", func(t *testing.T) {
		f := start(t)
		p := withSession(f)
		id, secret := add(f)
		f.Faults().Set(fakeserver.Fault{Method: http.MethodDelete, Status: 200, Body: `{"deleted": false}`, Times: 1})
		err := p.Revoke(context.Background(), id)
		pe := requireKind(t, err, provider.KindUpstream)
		assert.Equal(t, provider.ChangedNo, pe.Changed)
		assert.Contains(t, pe.Message, "still works")
		assert.True(t, f.Exists(id))
		providertest.NoSecret(t, []string{f.APIKey(), f.SessionToken(), secret}, err)
	})

	t.Run("no proof either way: the key may still work", func(t *testing.T) {
		f := start(t)
		p := withSession(f)
		id, secret := add(f)
		_, err := p.List(context.Background()) // the workspace is known before the faults
		require.NoError(t, err)
		f.Faults().Set(fakeserver.Fault{Truncate: true})
		err = p.Revoke(context.Background(), id)
		f.Faults().Clear()
		pe := requireKind(t, err, provider.KindUpstream)
		assert.Equal(t, provider.ChangedUnknown, pe.Changed)
		assert.Contains(t, pe.Message, "may still work")
		providertest.NoSecret(t, []string{f.APIKey(), f.SessionToken(), secret}, err)
	})

	t.Run("a first 404 is still no such key", func(t *testing.T) {
		f := start(t)
		p := withSession(f)
		id, _ := add(f)
		require.NoError(t, p.Revoke(context.Background(), id))
		pe := requireKind(t, p.Revoke(context.Background(), id), provider.KindNotFound)
		assert.Equal(t, provider.StepFindKey, pe.Step)
		assert.Equal(t, 2, count(f, http.MethodDelete, deletePath(id)))
	})
}
