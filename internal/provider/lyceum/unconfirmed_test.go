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

// Lyceum's validate says valid true or false. An answer without it is not
// Lyceum's: it proves a key neither good ("valid") nor bad ("not found"), and
// it does not make the configured key a rejected credential.
func TestAValidateAnswerWithoutValidConfirmsNothing(t *testing.T) {
	for _, body := range []string{`{}`, `null`, `{"user_id": null}`, `{"valid": null}`} {
		t.Run(body, func(t *testing.T) {
			f, p := start(t)
			f.Faults().Set(fakeserver.Fault{Method: http.MethodPost, Path: "/api/v2/external/auth/api-keys/validate", Status: http.StatusOK, Body: body})
			ctx := context.Background()

			v, err := p.Validate(ctx, f.APIKey())
			pe := requireKind(t, err, provider.KindUpstream)
			assert.Empty(t, v.Status)
			assert.Equal(t, provider.ChangedNo, pe.Changed)
			assert.Contains(t, pe.Message, "neither valid nor invalid")
			providertest.NoSecret(t, []string{f.APIKey()}, err)

			_, err = p.Whoami(ctx)
			pe = requireKind(t, err, provider.KindUpstream)
			assert.NotContains(t, pe.Message, "LYCEUM_API_KEY", "the credential was not rejected")
		})
	}

	// Lyceum's own "no" is still a no.
	f, p := start(t)
	f.Faults().Set(fakeserver.Fault{Method: http.MethodPost, Status: http.StatusOK, Body: `{"valid": false}`})
	v, err := p.Validate(context.Background(), "lk_"+"unknown0000000000000000000000000000000000")
	require.NoError(t, err)
	assert.Equal(t, provider.StatusNotFound, v.Status)
}
