package lyceum_test

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

// A revoke is done only when Lyceum answers it or a fresh listing shows the
// key gone; a DELETE retried after a lost answer is never taken at its 404.
func TestRevokeNeedsProof(t *testing.T) {
	deletePath := func(id string) string { return "/api/v2/external/auth/api-keys/" + id }

	for name, fault := range map[string]fakeserver.Fault{
		"the connection drops after Lyceum deleted the key": {Method: http.MethodDelete, CloseConn: true, After: true, Times: 1},
		"the answer is cut short":                           {Method: http.MethodDelete, Truncate: true, Times: 1},
		"a 500 after Lyceum deleted the key":                {Method: http.MethodDelete, Status: 500, Body: `{"detail":"Internal Server Error"}`, After: true, Times: 1},
		"a 504 from a gateway after the key was deleted":    {Method: http.MethodDelete, Status: 504, Body: "gateway timeout", After: true, Times: 1},
	} {
		t.Run(name, func(t *testing.T) {
			f, p := start(t)
			id, secret := f.AddKey("ci", nil)
			f.Faults().Set(fault)
			require.NoError(t, p.Revoke(context.Background(), id), "the first DELETE deleted the key; only its answer was lost")
			assert.False(t, f.Exists(id))
			assert.False(t, f.Works(secret))
			assert.Equal(t, 1, count(f, http.MethodDelete, deletePath(id)), "the listing proved it: no second DELETE, no 404 taken at its word")
		})
	}

	t.Run("a dropped connection before Lyceum acted: the key is listed, so the DELETE is sent again", func(t *testing.T) {
		f, p := start(t)
		id, _ := f.AddKey("ci", nil)
		f.Faults().Set(fakeserver.Fault{Method: http.MethodDelete, CloseConn: true, Times: 1})
		require.NoError(t, p.Revoke(context.Background(), id))
		assert.False(t, f.Exists(id))
		assert.Equal(t, 2, count(f, http.MethodDelete, deletePath(id)))
	})

	t.Run("a 2xx page that is not Lyceum's answer is not believed", func(t *testing.T) {
		f, p := start(t)
		id, _ := f.AddKey("ci", nil)
		f.Faults().Set(fakeserver.Fault{Method: http.MethodDelete, NonJSON: true, Times: 1})
		require.NoError(t, p.Revoke(context.Background(), id))
		assert.False(t, f.Exists(id), "reported revoked, so it must be gone upstream")
		assert.Equal(t, 2, count(f, http.MethodDelete, deletePath(id)))
	})

	t.Run("a 2xx that says it did not delete is checked, not believed, and not sent again", func(t *testing.T) {
		f, p := start(t)
		id, secret := f.AddKey("ci", nil)
		f.Faults().Set(fakeserver.Fault{Method: http.MethodDelete, Status: 200, Body: `{"success": false, "message": "could not delete"}`, Times: 1})
		err := p.Revoke(context.Background(), id)
		pe := requireKind(t, err, provider.KindUpstream)
		assert.Equal(t, provider.ChangedNo, pe.Changed, "the listing still shows the key")
		assert.Contains(t, pe.Message, "still works")
		assert.True(t, f.Works(secret))
		assert.Equal(t, 1, count(f, http.MethodDelete, deletePath(id)))
		providertest.NoSecret(t, []string{f.APIKey(), secret}, err)
	})

	t.Run("a lasting 500 leaves the key, and says so", func(t *testing.T) {
		f, p := start(t)
		id, secret := f.AddKey("ci", nil)
		f.Faults().Set(fakeserver.Fault{Method: http.MethodDelete, Status: 500, Body: `{"detail":"boom"}`})
		err := p.Revoke(context.Background(), id)
		f.Faults().Clear()
		pe := requireKind(t, err, provider.KindUpstream)
		assert.Equal(t, provider.ChangedNo, pe.Changed, "a fresh listing shows the key")
		assert.Contains(t, pe.Message, "still works")
		assert.True(t, f.Works(secret))
	})

	t.Run("a lasting 503 is a refusal that changed nothing", func(t *testing.T) {
		f, p := start(t)
		id, _ := f.AddKey("ci", nil)
		f.Faults().Set(fakeserver.Fault{Method: http.MethodDelete, Status: 503, Body: `{"detail":"down"}`})
		err := p.Revoke(context.Background(), id)
		f.Faults().Clear()
		pe := requireKind(t, err, provider.KindUpstream)
		assert.Equal(t, provider.ChangedNo, pe.Changed)
		assert.True(t, f.Exists(id))
	})

	t.Run("no proof either way: the key may still work", func(t *testing.T) {
		f, p := start(t)
		id, secret := f.AddKey("ci", nil)
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
		id, _ := f.AddKey("ci", nil)
		require.NoError(t, p.Revoke(context.Background(), id))
		requireKind(t, p.Revoke(context.Background(), id), provider.KindNotFound)
		assert.Equal(t, 2, count(f, http.MethodDelete, deletePath(id)))
	})
}
