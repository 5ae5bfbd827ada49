package lium_test

import (
	"testing"

	"github.com/keyward/keyward/internal/provider/providertest"
)

// An answer that is not a list is not "no keys": a listing is what proves a revoked key gone.
func TestAListingWithoutAListIsNotEmpty(t *testing.T) {
	providertest.ListingWithoutAListIsNotEmpty(t, revokeSubject(), providertest.Listings{
		Path:      "/api/keys",
		NoList:    []string{`null`, `{}`, `{"keys": []}`},
		EmptyList: `[]`,
	})
}
