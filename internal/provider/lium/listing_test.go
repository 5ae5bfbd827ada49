package lium_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/fakeserver"
	"github.com/keyward/keyward/internal/provider/lium/liumfake"
)

// GET /keys answers a list; null or an object is not "no keys", since a
// listing is what proves a revoked key gone.
func TestAListingWithoutAListIsNotEmpty(t *testing.T) {
	for _, body := range []string{`null`, `{}`, `{"keys": []}`} {
		t.Run(body, func(t *testing.T) {
			f := start(t)
			p := withSession(f)
			id, _ := f.AddKey(liumfake.WorkspaceID, "ci", []string{"read"})
			f.Faults().Set(fakeserver.Fault{Method: http.MethodGet, Path: "/api/keys", Status: http.StatusOK, Body: body})
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
	f := start(t)
	p := withSession(f)
	f.Faults().Set(fakeserver.Fault{Method: http.MethodGet, Path: "/api/keys", Status: http.StatusOK, Body: `[]`})
	keys, err := p.List(context.Background())
	require.NoError(t, err)
	assert.Empty(t, keys)
}
