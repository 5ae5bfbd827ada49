package lyceum_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/fakeserver"
)

const listPath = "/api/v2/external/auth/api-keys/"

// An answer with no list in it is not "no keys": a listing is what proves a
// revoked key gone.
func TestAListingWithoutAListIsNotEmpty(t *testing.T) {
	for _, body := range []string{`{}`, `null`, `{"api_keys": null}`, `{"detail": "ok"}`} {
		t.Run(body, func(t *testing.T) {
			f, p := start(t)
			f.Faults().Set(fakeserver.Fault{Method: http.MethodGet, Path: listPath, Status: http.StatusOK, Body: body})
			_, err := p.List(context.Background())
			requireKind(t, err, provider.KindUpstream)

			id, _ := f.AddKey("ci", nil)
			f.Faults().Add(fakeserver.Fault{Method: http.MethodDelete, CloseConn: true, Times: 1})
			err = p.Revoke(context.Background(), id)
			pe := requireKind(t, err, provider.KindUpstream)
			assert.Equal(t, provider.ChangedUnknown, pe.Changed)
			assert.Contains(t, pe.Message, "may still work")
			assert.True(t, f.Exists(id))
		})
	}
	// An empty list is still an empty list.
	f, p := start(t)
	f.Faults().Set(fakeserver.Fault{Method: http.MethodGet, Path: listPath, Status: http.StatusOK, Body: `{"keys": []}`})
	keys, err := p.List(context.Background())
	assert.NoError(t, err)
	assert.Empty(t, keys)
}
