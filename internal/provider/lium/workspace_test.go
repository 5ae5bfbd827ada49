package lium_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/fakeserver"
	"github.com/keyward/keyward/internal/provider/lium"
	"github.com/keyward/keyward/internal/provider/lium/liumfake"
	"github.com/keyward/keyward/internal/provider/providertest"
)

// keyRequests are the requests a fake saw on the /keys routes.
func keyRequests(f *liumfake.Fake) []fakeserver.Request {
	var out []fakeserver.Request
	for _, r := range f.Requests() {
		if r.Path == "/api/keys" || strings.HasPrefix(r.Path, "/api/keys/") {
			out = append(out, r)
		}
	}
	return out
}

// Lium's CLI sends every /keys request X-Lium-Workspace-Id with the workspace
// the configured API key acts in; without it the server acts in the
// session's own workspace, which may be another. keyward sends it too, and
// asks GET /users/me only once.
func TestKeyRequestsActInTheWorkspaceOfTheConfiguredKey(t *testing.T) {
	f := start(t)
	p := withSession(f)
	ctx := context.Background()
	personal, _ := f.AddKey(liumfake.PersonalWorkspaceID, "the session's own", []string{"read"})

	keys, err := p.List(ctx)
	require.NoError(t, err)
	var names []string
	for _, k := range keys {
		names = append(names, k.Name)
	}
	assert.Equal(t, []string{liumfake.FirstKeyName}, names, "the keys of Research, where LIUM_API_KEY acts")

	created, err := p.Create(ctx, provider.CreateRequest{Name: "agent", Scopes: []string{"read"}})
	require.NoError(t, err)
	assert.Equal(t, liumfake.WorkspaceID, f.Workspace(created.Key.ID), "the new key is bound to the configured key's workspace")
	_, err = p.Get(ctx, created.Key.ID)
	require.NoError(t, err)
	require.NoError(t, p.Revoke(ctx, created.Key.ID))

	requireKind(t, p.Revoke(ctx, personal), provider.KindNotFound)
	assert.True(t, f.Exists(personal), "a key of another workspace is out of reach")

	reqs := keyRequests(f)
	require.NotEmpty(t, reqs)
	for _, r := range reqs {
		assert.Equal(t, liumfake.WorkspaceID, r.Header.Get(liumfake.WorkspaceHeader), "%s %s", r.Method, r.Path)
	}
	assert.Equal(t, 1, count(f, http.MethodGet, "/api/users/me"), "the workspace is learnt once")
}

// A failure to learn the workspace sends no key request and is not kept: the
// next call asks again.
func TestNoKeyRequestWithoutTheWorkspace(t *testing.T) {
	f := start(t)
	p := withSession(f)
	ctx := context.Background()
	f.Faults().Set(fakeserver.Fault{Path: "/api/users/me", Status: http.StatusUnauthorized, Body: `{"detail":"API key not found"}`, Times: 1})
	_, err := p.Create(ctx, provider.CreateRequest{Name: "x", Scopes: []string{"read"}})
	pe := requireKind(t, err, provider.KindUnauthorized)
	assert.Equal(t, provider.ChangedNo, pe.Changed)
	assert.Contains(t, pe.Message, lium.EnvKey)
	assert.Contains(t, pe.Message, "workspace")
	assert.Empty(t, keyRequests(f), "nothing reached the key routes")
	providertest.NoSecret(t, []string{f.APIKey(), f.SessionToken()}, err)

	f.Faults().Set(fakeserver.Fault{Path: "/api/users/me", Status: http.StatusTooManyRequests, Body: `{"detail":"Too many requests"}`, Header: http.Header{"Retry-After": {"3"}}, Times: 1})
	_, err = p.List(ctx)
	pe = requireKind(t, err, provider.KindRateLimited)
	assert.Equal(t, "3s", pe.RetryAfter.String(), "the wait survives")

	keys, err := p.List(ctx)
	require.NoError(t, err)
	assert.Len(t, keys, 1)
}

// A configured key of a workspace the session's user is not in: Lium refuses
// the key routes, rather than keyward acting in the session's own workspace.
func TestAWorkspaceTheSessionIsNotInIsRefused(t *testing.T) {
	f := start(t)
	_, foreign := f.AddKey(liumfake.ForeignWorkspaceID, "elsewhere", []string{"read"})
	p := lium.NewWithSession(settings(f, foreign), f.SessionToken())
	_, err := p.List(context.Background())
	pe := requireKind(t, err, provider.KindForbidden)
	assert.Contains(t, pe.Message, "Not a member of this workspace")
	providertest.NoSecret(t, []string{foreign, f.SessionToken()}, err)
}

// A server without workspaces names none on /users/me; then no header is
// sent, as Lium's SDK sends none.
func TestWithoutWorkspacesNoHeaderIsSent(t *testing.T) {
	f := start(t)
	f.WorkspacesOff()
	p := withSession(f)
	keys, err := p.List(context.Background())
	require.NoError(t, err)
	assert.Len(t, keys, 1)
	for _, r := range keyRequests(f) {
		assert.Empty(t, r.Header.Values(liumfake.WorkspaceHeader))
	}
}

// GET /users/me that names no user is not Lium's answer: it confirms
// nothing, so no key is called valid and no key request is sent.
func TestAnAnswerWithoutAUserConfirmsNothing(t *testing.T) {
	for _, body := range []string{`{}`, `null`, `{"balance": 1}`, `{"id": "", "email": ""}`} {
		t.Run(body, func(t *testing.T) {
			f := start(t)
			p := withSession(f)
			ctx := context.Background()
			f.Faults().Set(fakeserver.Fault{Path: "/api/users/me", Status: http.StatusOK, Body: body})

			_, err := p.Validate(ctx, f.APIKey())
			pe := requireKind(t, err, provider.KindUpstream)
			assert.Equal(t, provider.ChangedNo, pe.Changed)
			assert.Contains(t, pe.Message, "could not confirm")
			assert.Contains(t, pe.Message, "neither valid nor invalid")

			_, err = p.Whoami(ctx)
			requireKind(t, err, provider.KindUpstream)

			_, err = p.List(ctx)
			requireKind(t, err, provider.KindUpstream)
			assert.Empty(t, keyRequests(f))
			providertest.NoSecret(t, []string{f.APIKey(), f.SessionToken()}, err)
		})
	}
}

// Only is_active true is active: null or a missing field proves nothing.
func TestOnlyIsActiveTrueIsActive(t *testing.T) {
	f := start(t)
	p := withSession(f)
	f.Faults().Set(fakeserver.Fault{Method: http.MethodGet, Path: "/api/keys", Status: http.StatusOK, Body: `[
		{"id": "k-true", "name": "on", "is_active": true, "created_at": "2026-09-20T08:00:00", "scopes": ["read"]},
		{"id": "k-null", "name": "null", "is_active": null, "created_at": "2026-09-20T08:00:00", "scopes": ["read"]},
		{"id": "k-none", "name": "missing", "created_at": "2026-09-20T08:00:00", "scopes": ["read"]},
		{"id": "k-false", "name": "off", "is_active": false, "created_at": "2026-09-20T08:00:00", "scopes": ["read"]}]`})
	keys, err := p.List(context.Background())
	require.NoError(t, err)
	active := map[string]bool{}
	for _, k := range keys {
		active[k.ID] = k.Active
	}
	assert.Equal(t, map[string]bool{"k-true": true, "k-null": false, "k-none": false, "k-false": false}, active)
}

// A workspace named without an id a header can carry is not guessed at.
func TestAWorkspaceWithoutAUsableIDSendsNothing(t *testing.T) {
	for _, ws := range []string{`{"name": "Research"}`, `{"id": ""}`, `{"id": "9d8c 7b6a"}`, `{"id": "9d8c\r\nX-Injected: 1"}`} {
		f := start(t)
		p := withSession(f)
		f.Faults().Set(fakeserver.Fault{Path: "/api/users/me", Status: http.StatusOK, Body: `{"id": "u1", "email": "ana@example.com", "workspace": ` + ws + `}`})
		_, err := p.List(context.Background())
		pe := requireKind(t, err, provider.KindUpstream)
		assert.Contains(t, pe.Message, "did not touch any key", ws)
		assert.Empty(t, keyRequests(f), ws)
	}
}
