package lyceum_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/fakeserver"
	"github.com/keyward/keyward/internal/provider/httpapi"
	"github.com/keyward/keyward/internal/provider/lyceum"
	"github.com/keyward/keyward/internal/provider/lyceum/lyceumfake"
	"github.com/keyward/keyward/internal/provider/providertest"
)

var _ provider.Provider = (*lyceum.Provider)(nil)

func settings(f *lyceumfake.Fake, key string) httpapi.Settings {
	return providertest.Settings(f.URL(), key)
}

func requireKind(t *testing.T, err error, kind provider.Kind) *provider.Error {
	t.Helper()
	return providertest.RequireKind(t, err, kind, lyceum.Name)
}

func count(f *lyceumfake.Fake, method, path string) int {
	return providertest.Count(f.Requests(), method, path)
}

func start(t *testing.T) (*lyceumfake.Fake, *lyceum.Provider) {
	t.Helper()
	f := lyceumfake.New()
	t.Cleanup(f.Close)
	return f, lyceum.New(settings(f, f.APIKey()))
}

func TestDescribesItself(t *testing.T) {
	_, p := start(t)
	assert.Equal(t, "lyceum", p.Name())
	assert.Equal(t, "Lyceum", p.Title())
	assert.Equal(t, provider.Capabilities{Manage: true, Revoke: true, KeyShape: "lyceum", Expiry: provider.ExpiryAny, Toggle: true, Validate: true, Whoami: true, LastUsed: true}, p.Capabilities())
	assert.Empty(t, p.ScopeVocabulary())
	assert.Nil(t, p.DefaultScopes())
}

func TestLifecycle(t *testing.T) {
	f, p := start(t)
	ctx := context.Background()
	secrets := []string{f.APIKey()}

	keys, err := p.List(ctx)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	assert.Equal(t, lyceumfake.FirstKeyName, keys[0].Name)
	assert.True(t, keys[0].Active)
	assert.Equal(t, f.APIKey()[:8]+"…", keys[0].Masked)
	assert.NotNil(t, keys[0].LastUsedAt, "listing used the key")

	expires := time.Now().Add(30 * 24 * time.Hour).UTC().Truncate(time.Second)
	created, err := p.Create(ctx, provider.CreateRequest{Name: "agent-1", ExpiresAt: &expires})
	require.NoError(t, err)
	secrets = append(secrets, created.Secret)
	assert.True(t, strings.HasPrefix(created.Secret, "lk_"))
	assert.Equal(t, created.Secret[:8]+"…", created.Key.Masked)
	assert.Equal(t, "agent-1", created.Key.Name)
	assert.True(t, created.Key.Active)
	require.NotNil(t, created.Key.ExpiresAt)
	assert.True(t, expires.Equal(*created.Key.ExpiresAt))
	assert.False(t, created.Key.CreatedAt.IsZero())

	got, err := p.Get(ctx, created.Key.ID)
	require.NoError(t, err)
	assert.Equal(t, "agent-1", got.Name)
	assert.Nil(t, got.Scopes)
	assert.Nil(t, got.LastUsedAt, "the new key was never used")

	v, err := p.Validate(ctx, created.Secret)
	require.NoError(t, err)
	assert.Equal(t, provider.StatusValid, v.Status)
	assert.Equal(t, lyceumfake.UserEmail, v.Owner)
	assert.Equal(t, "agent-1", v.Name)
	assert.Equal(t, created.Key.ID, v.KeyID)
	require.NotNil(t, v.ExpiresAt)
	assert.Equal(t, created.Secret[:8]+"…", v.Masked)

	k, err := p.SetActive(ctx, created.Key.ID, false)
	require.NoError(t, err)
	assert.False(t, k.Active)
	k, err = p.SetActive(ctx, created.Key.ID, false)
	require.NoError(t, err)
	assert.False(t, k.Active, "already disabled: no toggle")
	assert.Equal(t, 1, count(f, http.MethodPatch, "/api/v2/external/auth/api-keys/"+created.Key.ID+"/toggle"))

	v, err = p.Validate(ctx, created.Secret)
	require.NoError(t, err)
	assert.Equal(t, provider.StatusDisabled, v.Status)
	assert.Equal(t, provider.StepEnable, v.Step)
	_, err = lyceum.New(settings(f, created.Secret)).List(ctx)
	requireKind(t, err, provider.KindUnauthorized)

	k, err = p.SetActive(ctx, created.Key.ID, true)
	require.NoError(t, err)
	assert.True(t, k.Active)
	_, err = lyceum.New(settings(f, created.Secret)).List(ctx)
	require.NoError(t, err, "an enabled key works again")

	require.NoError(t, p.Revoke(ctx, created.Key.ID))
	v, err = p.Validate(ctx, created.Secret)
	require.NoError(t, err)
	assert.Equal(t, provider.StatusNotFound, v.Status)
	_, err = lyceum.New(settings(f, created.Secret)).List(ctx)
	requireKind(t, err, provider.KindUnauthorized)
	_, err = p.Get(ctx, created.Key.ID)
	requireKind(t, err, provider.KindNotFound)
	requireKind(t, p.Revoke(ctx, created.Key.ID), provider.KindNotFound)
	_, err = p.SetActive(ctx, created.Key.ID, true)
	requireKind(t, err, provider.KindNotFound)

	providertest.NoSecret(t, secrets, keys, got, k, v, err)
}

func TestCreateWithoutExpiry(t *testing.T) {
	_, p := start(t)
	created, err := p.Create(context.Background(), provider.CreateRequest{Name: "forever"})
	require.NoError(t, err)
	assert.Nil(t, created.Key.ExpiresAt)
}

func TestCreateRefusesScopes(t *testing.T) {
	f, p := start(t)
	_, err := p.Create(context.Background(), provider.CreateRequest{Name: "x", Scopes: []string{"read"}})
	pe := requireKind(t, err, provider.KindInvalid)
	assert.Contains(t, pe.Message, "no scopes")
	assert.Empty(t, f.Requests())
}

func TestCreateQuotesLyceumsValidationMessage(t *testing.T) {
	_, p := start(t)
	_, err := p.Create(context.Background(), provider.CreateRequest{Name: ""})
	pe := requireKind(t, err, provider.KindInvalid)
	assert.Equal(t, http.StatusUnprocessableEntity, pe.Status)
	assert.Contains(t, pe.Message, "key_name: String should have between 1 and 255 characters")
}

func TestCreateSendsTheDocumentedBody(t *testing.T) {
	var body map[string]json.RawMessage
	srv := fakeserver.Start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, fakeserver.ReadJSON(r, &body))
		fakeserver.WriteJSON(w, http.StatusOK, map[string]any{
			"api_key": "lk_" + strings.Repeat("z", 40), "id": 17, "key_name": "n", "key_prefix": "lk_zzzzz",
			"created_at": "2025-03-01T12:00:00.123456", "expires_at": nil,
		})
	}))
	defer srv.Close()
	p := lyceum.New(httpapi.Settings{APIKey: "lk_configured", BaseURL: srv.URL})
	at := time.Date(2025, 4, 1, 10, 30, 0, 999, time.FixedZone("CEST", 2*3600))
	created, err := p.Create(context.Background(), provider.CreateRequest{Name: "n", ExpiresAt: &at})
	require.NoError(t, err)
	assert.JSONEq(t, `"n"`, string(body["key_name"]))
	assert.JSONEq(t, `"2025-04-01T08:30:00Z"`, string(body["expires_at"]))
	assert.Len(t, body, 2)
	assert.Equal(t, "17", created.Key.ID, "a numeric id is read too")
	assert.Equal(t, time.Date(2025, 3, 1, 12, 0, 0, 123456000, time.UTC), created.Key.CreatedAt, "a naive time is UTC")
	assert.Equal(t, "lk_zzzzz…", created.Key.Masked)
}

func TestValidate(t *testing.T) {
	f, p := start(t)
	ctx := context.Background()
	past := time.Now().Add(-time.Hour).UTC()
	_, expired := f.AddKey("old", &past)
	secrets := []string{f.APIKey(), expired}

	v, err := p.Validate(ctx, expired)
	require.NoError(t, err)
	assert.Equal(t, provider.StatusExpired, v.Status)
	assert.Contains(t, v.Reason, "expired at")

	v, err = p.Validate(ctx, "lk_"+strings.Repeat("q", 40))
	require.NoError(t, err)
	assert.Equal(t, provider.StatusNotFound, v.Status)
	assert.Contains(t, v.Reason, "does not accept")

	before := len(f.Requests())
	for _, bad := range []string{"", "sk_abc", "lk_", "  "} {
		v, err = p.Validate(ctx, bad)
		require.NoError(t, err)
		assert.Equal(t, provider.StatusInvalidFormat, v.Status, bad)
	}
	assert.Len(t, f.Requests(), before, "a malformed key is not sent")

	for _, r := range f.Requests() {
		if r.Path == "/api/v2/external/auth/api-keys/validate" {
			assert.Equal(t, http.MethodPost, r.Method)
			assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		}
	}
	providertest.NoSecret(t, secrets, v)
}

func TestValidateNeverAuthenticatesWithTheCheckedKey(t *testing.T) {
	f, p := start(t)
	_, other := f.AddKey("other", nil)
	ctx := context.Background()
	before, err := p.Get(ctx, idOf(t, p, "other"))
	require.NoError(t, err)
	_, err = p.Validate(ctx, other)
	require.NoError(t, err)
	after, err := p.Get(ctx, before.ID)
	require.NoError(t, err)
	assert.Nil(t, after.LastUsedAt, "checking a key must not count as using it")
}

func idOf(t *testing.T, p *lyceum.Provider, name string) string {
	t.Helper()
	keys, err := p.List(context.Background())
	require.NoError(t, err)
	for _, k := range keys {
		if k.Name == name {
			return k.ID
		}
	}
	t.Fatalf("no key named %s", name)
	return ""
}

func TestValidate404IsNotFound(t *testing.T) {
	f, p := start(t)
	f.Faults().Set(fakeserver.Fault{Status: 404, Body: `{"detail":"API key not found"}`, Times: 1})
	v, err := p.Validate(context.Background(), "lk_"+strings.Repeat("q", 40))
	require.NoError(t, err)
	assert.Equal(t, provider.StatusNotFound, v.Status)
}

func TestWhoami(t *testing.T) {
	f, p := start(t)
	id, err := p.Whoami(context.Background())
	require.NoError(t, err)
	assert.Equal(t, lyceumfake.UserEmail, id.Account)
	assert.Equal(t, lyceumfake.FirstKeyName, id.KeyName)
	assert.Nil(t, id.Scopes)
	assert.Contains(t, id.Detail, lyceumfake.UserID)
	providertest.NoSecret(t, []string{f.APIKey()}, id, p)
	assert.Equal(t, 1, count(f, http.MethodPost, "/api/v2/external/auth/api-keys/validate"))
}

func TestWhoamiWhenLyceumSaysInvalid(t *testing.T) {
	f, p := start(t)
	f.Faults().Set(fakeserver.Fault{Status: 200, Body: `{"valid":false,"user_id":null,"email":null,"key_name":null}`})
	_, err := p.Whoami(context.Background())
	pe := requireKind(t, err, provider.KindUnauthorized)
	assert.Contains(t, pe.Message, "LYCEUM_API_KEY")
}

func TestWrongConfiguredKey(t *testing.T) {
	f, _ := start(t)
	wrong := "lk_" + strings.Repeat("w", 40)
	p := lyceum.New(settings(f, wrong))
	_, err := p.List(context.Background())
	pe := requireKind(t, err, provider.KindUnauthorized)
	assert.Equal(t, "the key in LYCEUM_API_KEY was rejected by Lyceum (invalid, expired or revoked); set a valid key", pe.Message)

	_, err = p.Validate(context.Background(), f.APIKey())
	requireKind(t, err, provider.KindUnauthorized)
	_, err = p.Whoami(context.Background())
	requireKind(t, err, provider.KindUnauthorized)
	providertest.NoSecret(t, []string{wrong, f.APIKey()}, err)
}

func TestUnsupported(t *testing.T) {
	_, p := start(t)
	ctx := context.Background()
	name := "x"
	_, err := p.Update(ctx, "id", provider.UpdateRequest{Name: &name})
	pe := requireKind(t, err, provider.KindUnsupported)
	assert.Equal(t, provider.StepReissue, pe.Step)
	_, err = p.Update(ctx, "id", provider.UpdateRequest{Scopes: []string{"a"}})
	pe = requireKind(t, err, provider.KindUnsupported)
	assert.Equal(t, "Lyceum keys have no scopes: every key has full access to the account", pe.Message)
	_, err = p.Rotate(ctx, "id", provider.RotateRequest{})
	requireKind(t, err, provider.KindUnsupported)
}

func TestFaults(t *testing.T) {
	cases := []struct {
		name  string
		fault fakeserver.Fault
		kind  provider.Kind
	}{
		{"401", fakeserver.Fault{Status: 401, Body: `{"detail":"Invalid or expired API key"}`}, provider.KindUnauthorized},
		{"403", fakeserver.Fault{Status: 403, Body: `{"detail":"Not enough permissions"}`}, provider.KindForbidden},
		{"404", fakeserver.Fault{Status: 404, Body: `{"detail":"Not Found"}`}, provider.KindNotFound},
		{"429", fakeserver.Fault{Status: 429, Body: `{"detail":"Rate limit exceeded"}`, Header: http.Header{"Retry-After": {"12"}}}, provider.KindRateLimited},
		{"500", fakeserver.Fault{Status: 500, Body: "Internal Server Error"}, provider.KindUpstream},
		{"truncated", fakeserver.Fault{Truncate: true}, provider.KindUpstream},
		{"non-JSON", fakeserver.Fault{NonJSON: true}, provider.KindUpstream},
		{"closed connection", fakeserver.Fault{CloseConn: true}, provider.KindUpstream},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f, p := start(t)
			f.Faults().Set(tc.fault)
			_, err := p.List(context.Background())
			pe := requireKind(t, err, tc.kind)
			assert.Equal(t, provider.ChangedNo, pe.Changed)
			providertest.NoSecret(t, []string{f.APIKey()}, err)
			if tc.kind == provider.KindRateLimited {
				assert.Equal(t, 12*time.Second, pe.RetryAfter)
				assert.Contains(t, pe.Message, "retry after 12 s")
			}
		})
	}
}

func TestValidateFailureChangesNothing(t *testing.T) {
	f, p := start(t)
	f.Faults().Set(fakeserver.Fault{CloseConn: true})
	_, err := p.Validate(context.Background(), f.APIKey())
	pe := requireKind(t, err, provider.KindUpstream)
	assert.Equal(t, provider.ChangedNo, pe.Changed, "validate is a read even though it is a POST")
	assert.Equal(t, 3, count(f, http.MethodPost, "/api/v2/external/auth/api-keys/validate"), "and is retried like one")
}

func TestTimeout(t *testing.T) {
	f, _ := start(t)
	s := settings(f, f.APIKey())
	s.Timeout, s.MaxRetries = 30*time.Millisecond, -1
	p := lyceum.New(s)
	f.Faults().Set(fakeserver.Fault{Delay: time.Minute})
	_, err := p.List(context.Background())
	pe := requireKind(t, err, provider.KindUpstream)
	assert.Contains(t, pe.Message, "did not answer")
}

func TestWritesAreNotRetried(t *testing.T) {
	t.Run("create", func(t *testing.T) {
		f, p := start(t)
		f.Faults().Set(fakeserver.Fault{CloseConn: true})
		_, err := p.Create(context.Background(), provider.CreateRequest{Name: "x"})
		pe := requireKind(t, err, provider.KindUpstream)
		assert.Equal(t, provider.ChangedUnknown, pe.Changed)
		assert.Equal(t, provider.StepCheckKeys, pe.Step)
		assert.Equal(t, 1, count(f, http.MethodPost, "/api/v2/external/auth/api-keys/"))
	})
	t.Run("create on 503", func(t *testing.T) {
		f, p := start(t)
		f.Faults().Set(fakeserver.Fault{Status: 503, Body: `{"detail":"down"}`})
		_, err := p.Create(context.Background(), provider.CreateRequest{Name: "x"})
		requireKind(t, err, provider.KindUpstream)
		assert.Equal(t, 1, count(f, http.MethodPost, "/api/v2/external/auth/api-keys/"))
	})
	t.Run("toggle", func(t *testing.T) {
		f, p := start(t)
		id, _ := f.AddKey("t", nil)
		f.Faults().Set(fakeserver.Fault{CloseConn: true, Method: http.MethodPatch})
		_, err := p.SetActive(context.Background(), id, false)
		pe := requireKind(t, err, provider.KindUpstream)
		assert.Equal(t, provider.ChangedUnknown, pe.Changed, "a toggle whose answer was lost may have flipped the key")
		assert.Equal(t, 1, count(f, http.MethodPatch, "/api/v2/external/auth/api-keys/"+id+"/toggle"), "a second toggle would flip it back")
	})
}

func TestListShapes(t *testing.T) {
	for name, body := range map[string]string{
		"bare array":  `[{"id":"a","key_name":"n","key_prefix":"lk_abcde","is_active":false,"created_at":"2025-01-01T00:00:00Z","expires_at":null,"last_used_at":null}]`,
		"wrapped":     `{"api_keys":[{"id":"a","key_name":"n","key_prefix":"lk_abcde","is_active":false,"created_at":"2025-01-01T00:00:00Z"}]}`,
		"data":        `{"data":[{"id":"a","key_name":"n","key_prefix":"lk_abcde","is_active":false,"created_at":"2025-01-01T00:00:00+00:00"}]}`,
		"numeric ids": `[{"id":42,"key_name":"n","key_prefix":"lk_abcde","is_active":false,"created_at":"2025-01-01 00:00:00"}]`,
	} {
		t.Run(name, func(t *testing.T) {
			f, p := start(t)
			f.Faults().Set(fakeserver.Fault{Status: 200, Body: body})
			keys, err := p.List(context.Background())
			require.NoError(t, err)
			require.Len(t, keys, 1)
			assert.Equal(t, "n", keys[0].Name)
			assert.False(t, keys[0].Active)
			assert.Equal(t, "lk_abcde…", keys[0].Masked)
			assert.Equal(t, time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC), keys[0].CreatedAt)
		})
	}
}
