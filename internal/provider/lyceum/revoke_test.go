package lyceum_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/fakeserver"
	"github.com/keyward/keyward/internal/provider/lyceum"
	"github.com/keyward/keyward/internal/provider/providertest"
)

// A revoke is done only when Lyceum answers it or a fresh listing shows the
// key gone (providertest.RevokeNeedsProof); and a lasting failure says
// whether the key still works.
func TestRevokeNeedsProof(t *testing.T) {
	providertest.RevokeNeedsProof(t, revokeSubject())

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
}

// revokeSubject is Lyceum under the shared revoke and listing suites.
func revokeSubject() providertest.RevokeSubject {
	return providertest.RevokeSubject{
		Provider: lyceum.Name,
		Start: func(t *testing.T) (providertest.RevokeFake, provider.Provider, string, string, []string) {
			f, p := start(t)
			id, secret := f.AddKey("ci", nil)
			return f, p, id, secret, []string{f.APIKey()}
		},
		DeletePath:     func(id string) string { return "/api/v2/external/auth/api-keys/" + id },
		ServerError:    `{"detail":"Internal Server Error"}`,
		Gateway:        504,
		NotDeleted:     `{"success": false, "message": "could not delete"}`,
		NotDeletedSays: []string{"still works"},
	}
}
