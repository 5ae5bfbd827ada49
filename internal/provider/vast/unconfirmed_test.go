package vast_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/fakeserver"
	"github.com/keyward/keyward/internal/provider/providertest"
)

// Vast.ai's /users/current/ always names the user. A 2xx that does not is
// not its answer: it confirms no key, and whoami says so.
func TestAnAnswerWithoutAUserConfirmsNothing(t *testing.T) {
	for _, body := range []string{`{}`, `null`, `{"balance": 3}`, `{"id": 0, "email": ""}`} {
		t.Run(body, func(t *testing.T) {
			f, p := start(t)
			f.Faults().Set(fakeserver.Fault{Method: http.MethodGet, Path: "/api/v0/users/current/", Status: http.StatusOK, Body: body})
			ctx := context.Background()

			v, err := p.Validate(ctx, f.APIKey())
			pe := requireKind(t, err, provider.KindUpstream)
			assert.NotEqual(t, provider.StatusValid, v.Status)
			assert.Equal(t, provider.ChangedNo, pe.Changed)
			assert.Contains(t, pe.Message, "neither valid nor invalid")
			providertest.NoSecret(t, []string{f.APIKey()}, err)

			_, err = p.Whoami(ctx)
			requireKind(t, err, provider.KindUpstream)
		})
	}
}
