package lium_test

import (
	"context"
	"testing"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/providertest"
)

// Validating a key goes over the provider's own connections, however many
// keys are checked.
func TestValidateSharesTheClient(t *testing.T) {
	f := start(t)
	p := withSession(f)
	providertest.NoConnectionLeak(t, 200, 8, 40, f.OpenConns, func() {
		v, err := p.Validate(context.Background(), f.APIKey())
		if err != nil || v.Status != provider.StatusValid {
			t.Fatalf("%+v, %v", v, err)
		}
	})
}
