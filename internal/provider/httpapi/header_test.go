package httpapi

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/fakeserver"
)

// headers records the headers of every request a fake answers.
type headers struct {
	mu  sync.Mutex
	got []http.Header
}

func (h *headers) handler(w http.ResponseWriter, r *http.Request) {
	h.mu.Lock()
	h.got = append(h.got, r.Header.Clone())
	h.mu.Unlock()
	fakeserver.WriteJSON(w, http.StatusOK, map[string]any{"ok": true})
}

func (h *headers) all() []http.Header {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]http.Header(nil), h.got...)
}

// WithHeader adds a header to the copy's requests only, keeps the credential
// and shares the connections.
func TestWithHeaderAddsAHeaderToTheCopyOnly(t *testing.T) {
	var rec headers
	srv := serve(t, rec.handler)
	c, _ := testClient(srv.URL)
	ws := c.WithHeader("X-Lium-Workspace-Id", "9d8c7b6a-5f4e-4d3c-8b2a-190807060504")
	ctx := context.Background()
	var out map[string]any
	require.NoError(t, ws.Do(ctx, http.MethodGet, "/keys", nil, &out, true))
	require.NoError(t, ws.Do(ctx, http.MethodPost, "/keys", map[string]string{"name": "n"}, &out, false))
	require.NoError(t, c.Do(ctx, http.MethodGet, "/keys", nil, &out, true))
	require.NoError(t, ws.WithKey("sk_other0000000000000000000000").Do(ctx, http.MethodGet, "/users/me", nil, &out, true))

	got := rec.all()
	require.Len(t, got, 4)
	for i, h := range got {
		want := "9d8c7b6a-5f4e-4d3c-8b2a-190807060504"
		if i == 2 {
			want = "" // the client it was copied from is unchanged
		}
		assert.Equal(t, want, h.Get("X-Lium-Workspace-Id"), "request %d", i)
	}
	assert.Equal(t, "Bearer "+testKey, got[0].Get("Authorization"))
	assert.Equal(t, "Bearer sk_other0000000000000000000000", got[3].Get("Authorization"), "WithKey keeps the header")
	assert.Equal(t, 1, srv.AcceptedConns(), "the copies share one connection")
}

// A header keyward sets itself cannot be replaced, and one that HTTP cannot
// carry is never sent.
func TestWithHeaderRefusesWhatItMustNotSend(t *testing.T) {
	var rec headers
	srv := serve(t, rec.handler)
	c, _ := testClient(srv.URL)
	for name, value := range map[string]string{
		"Authorization":       "Bearer someone-else",
		"authorization":       "Bearer someone-else",
		"User-Agent":          "x",
		"X-Lium-Workspace-Id": "9d8c\r\nX-Injected: 1",
		"X Workspace":         "1",
		"":                    "1",
		"X-Too-Long":          string(make([]byte, 2000)),
	} {
		err := c.WithHeader(name, value).Do(context.Background(), http.MethodDelete, "/keys/1", nil, nil, false)
		require.Error(t, err, "%q", name)
		pe := providerError(t, err)
		assert.Equal(t, provider.KindInvalid, pe.Kind, "%q", name)
		assert.Equal(t, provider.ChangedNo, pe.Changed)
		assert.Contains(t, pe.Message, "nothing was sent")
		assert.NotContains(t, pe.Message, testKey)
	}
	assert.Empty(t, rec.all(), "no request left")
}

// A server failure to a write may come after the write was carried out, so
// it does not say that nothing changed; to a read, and for 501, 503 and 505
// (refusals before any work), it does.
func TestServerFailureToAWriteMayHaveChangedSomething(t *testing.T) {
	cases := []struct {
		method  string
		status  int
		changed provider.Changed
	}{
		{http.MethodDelete, 500, provider.ChangedUnknown},
		{http.MethodPost, 500, provider.ChangedUnknown},
		{http.MethodPost, 502, provider.ChangedUnknown},
		{http.MethodDelete, 504, provider.ChangedUnknown},
		{http.MethodPatch, 500, provider.ChangedUnknown},
		{http.MethodPost, 503, provider.ChangedNo},
		{http.MethodPost, 501, provider.ChangedNo},
		{http.MethodGet, 500, provider.ChangedNo},
		{http.MethodGet, 504, provider.ChangedNo},
	}
	for _, tc := range cases {
		srv := serve(t, answer(tc.status, `{"detail":"boom"}`))
		c, _ := testClient(srv.URL, func(s *Settings) { s.MaxRetries = -1 })
		err := c.Do(context.Background(), tc.method, "/keys/1", nil, nil, false)
		pe := providerError(t, err)
		assert.Equal(t, provider.KindUpstream, pe.Kind)
		assert.Equal(t, tc.status, pe.Status)
		assert.Equal(t, tc.changed, pe.Changed, "%s answered %d", tc.method, tc.status)
		if tc.changed == provider.ChangedUnknown {
			assert.Contains(t, pe.Message, "may have changed something on Vast.ai, so look before retrying")
			assert.Equal(t, provider.StepCheckKeys, pe.Step)
		} else {
			assert.Contains(t, pe.Message, "try again later")
		}
	}
}
