package lyceum_test

import (
	"testing"

	"github.com/keyward/keyward/internal/provider/providertest"
)

// An answer with no list in it is not "no keys": a listing is what proves a revoked key gone.
func TestAListingWithoutAListIsNotEmpty(t *testing.T) {
	providertest.ListingWithoutAListIsNotEmpty(t, revokeSubject(), providertest.Listings{
		Path:      "/api/v2/external/auth/api-keys/",
		NoList:    []string{`{}`, `null`, `{"api_keys": null}`, `{"detail": "ok"}`},
		EmptyList: `{"keys": []}`,
	})
}
