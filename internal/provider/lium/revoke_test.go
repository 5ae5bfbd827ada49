package lium_test

import (
	"testing"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/lium"
	"github.com/keyward/keyward/internal/provider/lium/liumfake"
	"github.com/keyward/keyward/internal/provider/providertest"
)

// A revoke is done only when Lium answers it or a fresh listing shows the
// key gone (providertest.RevokeNeedsProof).
func TestRevokeNeedsProof(t *testing.T) {
	providertest.RevokeNeedsProof(t, revokeSubject())
}

// revokeSubject is Lium under the shared revoke and listing suites.
func revokeSubject() providertest.RevokeSubject {
	return providertest.RevokeSubject{
		Provider: lium.Name,
		Start: func(t *testing.T) (providertest.RevokeFake, provider.Provider, string, string, []string) {
			f := start(t)
			p := withSession(f)
			id, secret := f.AddKey(liumfake.WorkspaceID, "ci", []string{"read"})
			return f, p, id, secret, []string{f.APIKey(), f.SessionToken()}
		},
		DeletePath:     func(id string) string { return "/api/keys/" + id },
		ServerError:    `Internal Server Error`,
		Gateway:        502,
		NotDeleted:     `{"deleted": false}`,
		NotDeletedSays: []string{"still works"},
	}
}
