package lyceum_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/fakeserver"
)

// Lyceum's own CLI shows a key whose is_active is null as inactive; keyward
// reads it the same way, so enabling it toggles it on, not off.
func TestANullIsActiveIsInactive(t *testing.T) {
	f, p := start(t)
	ctx := context.Background()
	id, secret := f.AddKey("dormant", nil)
	f.SetActiveNull(id)
	require.False(t, f.Works(secret))

	k, err := p.Get(ctx, id)
	require.NoError(t, err)
	assert.False(t, k.Active, "null is not active")

	k, err = p.SetActive(ctx, id, true)
	require.NoError(t, err)
	assert.True(t, k.Active)
	assert.True(t, f.Works(secret), "enabling it made it work")
	assert.Equal(t, 1, count(f, http.MethodPatch, "/api/v2/external/auth/api-keys/"+id+"/toggle"))

	v, err := p.Validate(ctx, secret)
	require.NoError(t, err)
	assert.Equal(t, provider.StatusValid, v.Status)
}

// A disabled key that validates as a known key is "disabled", also when the
// list says null.
func TestANullKeyValidatesAsDisabled(t *testing.T) {
	f, p := start(t)
	id, secret := f.AddKey("dormant", nil)
	f.SetActiveNull(id)
	v, err := p.Validate(context.Background(), secret)
	require.NoError(t, err)
	assert.Equal(t, provider.StatusDisabled, v.Status)
	assert.Equal(t, id, v.KeyID)
}

// When a listing does not say whether a key is active at all, keyward does
// not toggle it blind: the toggle flips whatever the state is.
func TestNoToggleWithoutAKnownState(t *testing.T) {
	f, p := start(t)
	ctx := context.Background()
	f.Faults().Set(fakeserver.Fault{Method: http.MethodGet, Status: 200,
		Body: `[{"id":"a1","key_name":"n","key_prefix":"lk_abcde","created_at":"2025-01-01T00:00:00Z"}]`})
	k, err := p.Get(ctx, "a1")
	require.NoError(t, err)
	assert.False(t, k.Active, "Lyceum's CLI shows a missing is_active as inactive")

	for _, want := range []bool{true, false} {
		_, err = p.SetActive(ctx, "a1", want)
		pe := requireKind(t, err, provider.KindUpstream)
		assert.Equal(t, provider.ChangedNo, pe.Changed)
		assert.Contains(t, pe.Message, "is_active")
	}
	assert.Zero(t, count(f, http.MethodPatch, "/api/v2/external/auth/api-keys/a1/toggle"))
}

func TestLyceumKeysCannotBeNarrowed(t *testing.T) {
	f, p := start(t)
	_, err := p.Create(context.Background(), provider.CreateRequest{Name: "x",
		Constraints: []provider.Constraint{{Scope: "any", Resource: "r", Param: "id", Op: provider.OpEq, Value: "1"}}})
	pe := requireKind(t, err, provider.KindInvalid)
	assert.Contains(t, pe.Message, "cannot be narrowed")
	assert.Zero(t, count(f, http.MethodPost, "/api/v2/external/auth/api-keys/"))
}
