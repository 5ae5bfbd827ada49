package vast_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/fakeserver"
)

// An answer without "apikeys" is not "no keys": a listing is what proves a
// revoked key gone.
func TestAListingWithoutAListIsNotEmpty(t *testing.T) {
	for _, body := range []string{`{}`, `null`, `{"apikeys": null}`, `{"success": true}`} {
		t.Run(body, func(t *testing.T) {
			f, p := start(t)
			id, _ := f.AddKey("ci", []string{"instance_read"})
			f.Faults().Set(fakeserver.Fault{Method: http.MethodGet, Path: "/api/v0/auth/apikeys/", Status: http.StatusOK, Body: body})
			_, err := p.List(context.Background())
			requireKind(t, err, provider.KindUpstream)

			f.Faults().Add(fakeserver.Fault{Method: http.MethodDelete, CloseConn: true, Times: 1})
			err = p.Revoke(context.Background(), id)
			pe := requireKind(t, err, provider.KindUpstream)
			assert.Equal(t, provider.ChangedUnknown, pe.Changed)
			assert.Contains(t, pe.Message, "may still work")
			assert.True(t, f.Exists(id))
		})
	}
}
