package httpapi

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/provider/fakeserver"
)

type notices struct {
	mu   sync.Mutex
	msgs []string
}

func (n *notices) Notify(_ context.Context, level caller.Level, msg string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.msgs = append(n.msgs, string(level)+": "+msg)
}

// Each retry is told to the person behind the call as it happens, without the
// credential.
func TestRetriesAreNotified(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		fakeserver.WriteJSON(w, http.StatusOK, map[string]int{"id": 5})
	})
	srv.Faults.Set(fakeserver.Fault{Status: http.StatusServiceUnavailable, Times: 2})
	c, _ := testClient(srv.URL)
	n := &notices{}
	ctx := caller.WithNotifier(context.Background(), n)
	require.NoError(t, c.Do(ctx, http.MethodGet, "/k", nil, nil, true))
	require.Len(t, n.msgs, 2)
	assert.Contains(t, n.msgs[0], "warning: GET /k answered HTTP 503 to Vast.ai; keyward retries in")
	assert.Contains(t, n.msgs[1], "(retry 2 of 3)")
	for _, m := range n.msgs {
		assert.NotContains(t, m, testKey)
	}
}
