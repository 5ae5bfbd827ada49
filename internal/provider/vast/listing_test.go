package vast_test

import (
	"testing"

	"github.com/keyward/keyward/internal/provider/providertest"
)

// An answer without "apikeys" is not "no keys": a listing is what proves a revoked key gone.
func TestAListingWithoutAListIsNotEmpty(t *testing.T) {
	providertest.ListingWithoutAListIsNotEmpty(t, revokeSubject(), providertest.Listings{
		Path:   "/api/v0/auth/apikeys/",
		NoList: []string{`{}`, `null`, `{"apikeys": null}`, `{"success": true}`},
	})
}
