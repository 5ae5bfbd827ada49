package vast_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/fakeserver"
	"github.com/keyward/keyward/internal/provider/httpapi"
	"github.com/keyward/keyward/internal/provider/providertest"
	"github.com/keyward/keyward/internal/provider/vast"
	"github.com/keyward/keyward/internal/provider/vast/vastfake"
)

var _ provider.Provider = (*vast.Provider)(nil)

func settings(f *vastfake.Fake, key string) httpapi.Settings {
	return providertest.Settings(f.URL(), key)
}

func requireKind(t *testing.T, err error, kind provider.Kind) *provider.Error {
	t.Helper()
	return providertest.RequireKind(t, err, kind, vast.Name)
}

func count(f *vastfake.Fake, method, path string) int {
	return providertest.Count(f.Requests(), method, path)
}

func start(t *testing.T) (*vastfake.Fake, *vast.Provider) {
	t.Helper()
	f := vastfake.New()
	t.Cleanup(f.Close)
	return f, vast.New(settings(f, f.APIKey()))
}

func TestDescribesItself(t *testing.T) {
	_, p := start(t)
	assert.Equal(t, "vast", p.Name())
	assert.Equal(t, "Vast.ai", p.Title())
	caps := p.Capabilities()
	narrowing := caps.Constraints
	caps.Constraints = provider.ConstraintSupport{}
	assert.Equal(t, provider.Capabilities{Manage: true, Revoke: true, KeyShape: "vast", Scopes: true, Expiry: provider.ExpiryNone, Validate: true, Whoami: true}, caps)
	assert.Len(t, narrowing.Targets, 4, "the four operations Vast's permissions pages narrow")
	assert.Equal(t, []provider.ConstraintOp{"eq", "lte", "gte"}, narrowing.Ops)
	assert.True(t, narrowing.AllowedIPs)
	assert.False(t, narrowing.IPRanges, "Vast documents single addresses only")
	assert.False(t, narrowing.AllowedIPsListed, "no Vast listing shows a key's allow-list")
	assert.Equal(t, []string{"instance_read"}, p.DefaultScopes())

	names := map[string]provider.Scope{}
	for _, s := range p.ScopeVocabulary() {
		names[s.Name] = s
	}
	assert.ElementsMatch(t, vastfake.Categories, keysOf(names))
	for name, s := range names {
		assert.Equal(t, strings.HasSuffix(name, "_read"), s.ReadOnly, name)
		want := strings.HasPrefix(name, "billing_") || strings.HasPrefix(name, "team_") || strings.HasPrefix(name, "user_") || name == "agents_write"
		assert.Equal(t, want, s.Sensitive, name)
		assert.NotEmpty(t, s.Description, name)
	}
}

func keysOf(m map[string]provider.Scope) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestLifecycle(t *testing.T) {
	f, p := start(t)
	ctx := context.Background()
	secrets := []string{f.APIKey()}

	keys, err := p.List(ctx)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	first := keys[0]
	assert.Equal(t, vastfake.FirstKeyName, first.Name)
	assert.True(t, first.Active)
	assert.Nil(t, first.Scopes, "the primary key has full access")
	assert.False(t, first.CreatedAt.IsZero())
	assert.Empty(t, first.Masked, "Vast lists no key values")

	created, err := p.Create(ctx, provider.CreateRequest{Name: "agent-1", Scopes: []string{"misc", "instance_read", "misc"}})
	require.NoError(t, err)
	secrets = append(secrets, created.Secret)
	assert.Len(t, created.Secret, 64)
	assert.Equal(t, []string{"instance_read", "misc"}, created.Key.Scopes)
	assert.Equal(t, created.Secret[:4]+"…"+created.Secret[60:], created.Key.Masked)
	assert.Equal(t, "agent-1", created.Key.Name)
	assert.True(t, created.Key.Active)
	assert.Nil(t, created.Key.ExpiresAt)
	assert.JSONEq(t, `{"api":{"instance_read":{},"misc":{}}}`, string(f.Permissions(created.Key.ID)))

	got, err := p.Get(ctx, created.Key.ID)
	require.NoError(t, err)
	assert.Equal(t, "agent-1", got.Name)
	assert.Equal(t, []string{"instance_read", "misc"}, got.Scopes)

	v, err := p.Validate(ctx, created.Secret)
	require.NoError(t, err)
	assert.Equal(t, provider.StatusValid, v.Status)
	assert.Contains(t, v.Reason, "lacks user_read", "a key without user_read cannot read its own account")

	keys, err = p.List(ctx)
	require.NoError(t, err)
	assert.Len(t, keys, 2)

	require.NoError(t, p.Revoke(ctx, created.Key.ID))
	_, err = p.Get(ctx, created.Key.ID)
	requireKind(t, err, provider.KindNotFound)
	err = p.Revoke(ctx, created.Key.ID)
	pe := requireKind(t, err, provider.KindNotFound)
	assert.Equal(t, provider.StepFindKey, pe.Step)

	providertest.NoSecret(t, secrets, keys, got, v, err)
}

func TestValidate(t *testing.T) {
	f, p := start(t)
	ctx := context.Background()
	readerID, reader := f.AddKey("reader", []string{"user_read", "instance_read"})
	_, noUserRead := f.AddKey("no-user-read", []string{"instance_read"})
	secrets := []string{f.APIKey(), reader, noUserRead}

	v, err := p.Validate(ctx, reader)
	require.NoError(t, err)
	assert.Equal(t, provider.StatusValid, v.Status)
	assert.Equal(t, vastfake.UserEmail, v.Owner)
	assert.Equal(t, readerID, v.KeyID)
	assert.Equal(t, "reader", v.Name)
	assert.Equal(t, []string{"instance_read", "user_read"}, v.Scopes)
	assert.Equal(t, reader[:4]+"…"+reader[60:], v.Masked)

	v, err = p.Validate(ctx, noUserRead)
	require.NoError(t, err)
	assert.Equal(t, provider.StatusValid, v.Status)
	assert.Contains(t, v.Reason, "lacks user_read")

	v, err = p.Validate(ctx, strings.Repeat("ab", 32))
	require.NoError(t, err)
	assert.Equal(t, provider.StatusNotFound, v.Status)
	assert.Contains(t, v.Reason, "does not accept this key")

	require.NoError(t, p.Revoke(ctx, readerID))
	v, err = p.Validate(ctx, reader)
	require.NoError(t, err)
	assert.Equal(t, provider.StatusNotFound, v.Status, "a deleted key gets 401 at once")

	before := len(f.Requests())
	v, err = p.Validate(ctx, "  ")
	require.NoError(t, err)
	assert.Equal(t, provider.StatusInvalidFormat, v.Status)
	assert.Len(t, f.Requests(), before, "an empty key is not sent")

	providertest.NoSecret(t, secrets, v, err)
}

func TestCreatedKeyValidates(t *testing.T) {
	f, p := start(t)
	ctx := context.Background()
	created, err := p.Create(ctx, provider.CreateRequest{Name: "ci", Scopes: []string{"user_read"}})
	require.NoError(t, err)
	v, err := p.Validate(ctx, created.Secret)
	require.NoError(t, err)
	assert.Equal(t, provider.StatusValid, v.Status)
	assert.Equal(t, created.Key.ID, v.KeyID)
	assert.Equal(t, "ci", v.Name)
	providertest.NoSecret(t, []string{f.APIKey(), created.Secret}, v)
}

func TestWhoami(t *testing.T) {
	f, p := start(t)
	id, err := p.Whoami(context.Background())
	require.NoError(t, err)
	assert.Equal(t, vastfake.UserEmail, id.Account)
	assert.Equal(t, vastfake.FirstKeyName, id.KeyName)
	assert.Nil(t, id.Scopes)
	assert.Contains(t, id.Detail, fmt.Sprint(vastfake.UserID))
	providertest.NoSecret(t, []string{f.APIKey()}, id)
	assert.Equal(t, 1, count(f, http.MethodGet, "/api/v0/users/current/"))
}

func TestWhoamiWithAScopedKey(t *testing.T) {
	f, _ := start(t)
	_, k := f.AddKey("ops", []string{"user_read", "user_write", "instance_read"})
	p := vast.New(settings(f, k))
	id, err := p.Whoami(context.Background())
	require.NoError(t, err)
	assert.Equal(t, "ops", id.KeyName)
	assert.Equal(t, []string{"instance_read", "user_read", "user_write"}, id.Scopes)
}

func TestWireContract(t *testing.T) {
	f, p := start(t)
	ctx := context.Background()
	created, err := p.Create(ctx, provider.CreateRequest{Name: "n", Scopes: []string{"instance_read"}})
	require.NoError(t, err)
	_, err = p.List(ctx)
	require.NoError(t, err)
	require.NoError(t, p.Revoke(ctx, created.Key.ID))

	assert.Equal(t, 1, count(f, http.MethodPost, "/api/v0/auth/apikeys/"))
	assert.Equal(t, 1, count(f, http.MethodGet, "/api/v0/auth/apikeys/"))
	assert.Equal(t, 1, count(f, http.MethodDelete, "/api/v0/auth/apikeys/"+created.Key.ID+"/"))
	for _, r := range f.Requests() {
		assert.True(t, strings.HasPrefix(r.Header.Get("User-Agent"), "keyward/"), r.Path)
		if r.Method == http.MethodPost {
			assert.Equal(t, "application/json", r.Header.Get("Content-Type"))
		}
	}
}

func TestListNeverKeepsAKeyValue(t *testing.T) {
	f, p := start(t)
	f.SetListShowsKeys(true)
	keys, err := p.List(context.Background())
	require.NoError(t, err)
	require.Len(t, keys, 1)
	assert.Equal(t, f.APIKey()[:4]+"…"+f.APIKey()[60:], keys[0].Masked)
	providertest.NoSecret(t, []string{f.APIKey()}, keys)
}

func TestCreateRefusesWhatWouldWidenAccess(t *testing.T) {
	f, p := start(t)
	ctx := context.Background()

	_, err := p.Create(ctx, provider.CreateRequest{Name: "all"})
	pe := requireKind(t, err, provider.KindInvalid)
	assert.Contains(t, pe.Message, "full access")

	_, err = p.Create(ctx, provider.CreateRequest{Name: "x", Scopes: []string{"instance_read", "root"}})
	pe = requireKind(t, err, provider.KindInvalid)
	assert.Contains(t, pe.Message, `"root"`)
	assert.Empty(t, f.Requests(), "refused before any request")
}

func TestCreateAboveTheCallersPermissionsIsForbidden(t *testing.T) {
	f, _ := start(t)
	_, k := f.AddKey("manager", []string{"user_read", "user_write"})
	p := vast.New(settings(f, k))
	_, err := p.Create(context.Background(), provider.CreateRequest{Name: "x", Scopes: []string{"instance_write"}})
	pe := requireKind(t, err, provider.KindForbidden)
	assert.Contains(t, pe.Message, "instance_write")
	assert.Contains(t, pe.Message, "VAST_API_KEY")
	assert.Equal(t, http.StatusUnauthorized, pe.Status)
	providertest.NoSecret(t, []string{k, f.APIKey()}, err)
}

func TestCreateWithAKeyLackingUserWrite(t *testing.T) {
	f, _ := start(t)
	_, k := f.AddKey("reader", []string{"user_read"})
	p := vast.New(settings(f, k))
	_, err := p.Create(context.Background(), provider.CreateRequest{Name: "x", Scopes: []string{"user_read"}})
	pe := requireKind(t, err, provider.KindForbidden)
	assert.Equal(t, "user_write", pe.Permission)
}

func TestRevokeThePrimaryKeyIsInvalid(t *testing.T) {
	_, p := start(t)
	keys, err := p.List(context.Background())
	require.NoError(t, err)
	err = p.Revoke(context.Background(), keys[0].ID)
	pe := requireKind(t, err, provider.KindInvalid)
	assert.Contains(t, pe.Message, "You cannot delete your primary key.")
}

func TestIDsThatAreNotVastIDs(t *testing.T) {
	f, p := start(t)
	for _, id := range []string{"", "abc", "-1", "0", "1/../2"} {
		_, err := p.Get(context.Background(), id)
		requireKind(t, err, provider.KindNotFound)
		requireKind(t, p.Revoke(context.Background(), id), provider.KindNotFound)
	}
	assert.Empty(t, f.Requests())
}

func TestUnsupported(t *testing.T) {
	_, p := start(t)
	ctx := context.Background()
	name := "new"

	_, err := p.Update(ctx, "1001", provider.UpdateRequest{Scopes: []string{"misc"}})
	pe := requireKind(t, err, provider.KindUnsupported)
	assert.Equal(t, "Vast.ai fixes a key's permissions at creation; a replacement key can have the new scopes", pe.Message)
	assert.Equal(t, provider.StepReissue, pe.Step)

	_, err = p.Update(ctx, "1001", provider.UpdateRequest{Name: &name})
	pe = requireKind(t, err, provider.KindUnsupported)
	assert.Contains(t, pe.Message, "cannot rename")

	_, err = p.Update(ctx, "1001", provider.UpdateRequest{SetExpiry: true})
	requireKind(t, err, provider.KindUnsupported)

	_, err = p.SetActive(ctx, "1001", false)
	pe = requireKind(t, err, provider.KindUnsupported)
	assert.Equal(t, "Vast.ai keys cannot be disabled; revoke it instead", pe.Message)

	_, err = p.Rotate(ctx, "1001", provider.RotateRequest{})
	pe = requireKind(t, err, provider.KindUnsupported)
	assert.Contains(t, pe.Message, "revoke the old one")
}

func TestWrongConfiguredKey(t *testing.T) {
	f, _ := start(t)
	wrong := strings.Repeat("cd", 32)
	p := vast.New(settings(f, wrong))
	_, err := p.List(context.Background())
	pe := requireKind(t, err, provider.KindUnauthorized)
	assert.Contains(t, pe.Message, "the key in VAST_API_KEY was rejected by Vast.ai", "the list answers 400, other routes 401")

	_, err = p.Whoami(context.Background())
	pe = requireKind(t, err, provider.KindUnauthorized)
	assert.Equal(t, "the key in VAST_API_KEY was rejected by Vast.ai (invalid, expired or revoked); set a valid key", pe.Message)

	_, err = p.Create(context.Background(), provider.CreateRequest{Name: "x", Scopes: []string{"misc"}})
	requireKind(t, err, provider.KindUnauthorized)
	providertest.NoSecret(t, []string{wrong, f.APIKey()}, err)
}

func TestFaults(t *testing.T) {
	cases := []struct {
		name  string
		fault fakeserver.Fault
		kind  provider.Kind
	}{
		{"401", fakeserver.Fault{Status: 401, Body: `{"success":false,"error":"unauthorized","msg":"Authentication required"}`}, provider.KindUnauthorized},
		{"403", fakeserver.Fault{Status: 403, Body: `{"success":false,"error":"forbidden","msg":"API key does not have permission user_read"}`}, provider.KindForbidden},
		{"404", fakeserver.Fault{Status: 404, Body: `{"msg":"Not Found"}`}, provider.KindNotFound},
		{"429", fakeserver.Fault{Status: 429, Body: `{"detail":"API requests too frequent endpoint threshold=1.0"}`, Header: http.Header{"Retry-After": {"30"}}}, provider.KindRateLimited},
		{"500", fakeserver.Fault{Status: 500, Body: `{"success":false,"error":"server_error","msg":"oops"}`}, provider.KindUpstream},
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
			if tc.kind == provider.KindForbidden {
				assert.Equal(t, "user_read", pe.Permission)
			}
			if tc.kind == provider.KindRateLimited {
				assert.Equal(t, 30*time.Second, pe.RetryAfter)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	f, _ := start(t)
	s := settings(f, f.APIKey())
	s.Timeout, s.MaxRetries = 30*time.Millisecond, -1
	p := vast.New(s)
	f.Faults().Set(fakeserver.Fault{Delay: time.Minute})
	_, err := p.List(context.Background())
	pe := requireKind(t, err, provider.KindUpstream)
	assert.Contains(t, pe.Message, "did not answer")
}

func TestCreateIsNotRetried(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fault   fakeserver.Fault
		changed provider.Changed
	}{
		{"503", fakeserver.Fault{Status: 503, Body: "down"}, provider.ChangedNo},
		{"closed connection", fakeserver.Fault{CloseConn: true}, provider.ChangedUnknown},
		{"truncated answer", fakeserver.Fault{Truncate: true}, provider.ChangedUnknown},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, p := start(t)
			f.Faults().Set(tc.fault)
			_, err := p.Create(context.Background(), provider.CreateRequest{Name: "x", Scopes: []string{"misc"}})
			pe := requireKind(t, err, provider.KindUpstream)
			assert.Equal(t, tc.changed, pe.Changed)
			assert.Equal(t, 1, count(f, http.MethodPost, "/api/v0/auth/apikeys/"))
		})
	}
}

func TestCreateAnswerWithoutSecret(t *testing.T) {
	f, p := start(t)
	f.Faults().Set(fakeserver.Fault{Status: 200, Body: `{"success":true,"id":5}`})
	_, err := p.Create(context.Background(), provider.CreateRequest{Name: "x", Scopes: []string{"misc"}})
	pe := requireKind(t, err, provider.KindUpstream)
	assert.Equal(t, provider.ChangedUnknown, pe.Changed)
}

func TestReadsEveryPermissionsShape(t *testing.T) {
	for name, tc := range map[string]struct {
		entry string
		want  []string
	}{
		"object":           {`{"id":1,"name":"a","permissions":{"api":{"misc":{},"instance_read":{"api.instance.request_logs":{"constraints":{"id":{"eq":1}}}}}}}`, []string{"instance_read", "misc"}},
		"rights as string": {`{"id":1,"name":"a","rights":"{\"api\": {\"team_read\": {}}}"}`, []string{"team_read"}},
		"full access":      {`{"id":1,"name":"a","permissions":null,"rights":"read"}`, nil},
		"string created":   {`{"id":1,"name":"a","created_at":"1700000000.5"}`, nil},
	} {
		t.Run(name, func(t *testing.T) {
			f, p := start(t)
			f.Faults().Set(fakeserver.Fault{Status: 200, Body: `{"apikeys":[` + tc.entry + `]}`})
			keys, err := p.List(context.Background())
			require.NoError(t, err)
			require.Len(t, keys, 1)
			assert.Equal(t, tc.want, keys[0].Scopes)
			if name == "string created" {
				assert.Equal(t, time.Unix(1700000000, 5e8).UTC(), keys[0].CreatedAt)
			}
		})
	}
}

func TestCreateSendsNullKeyParams(t *testing.T) {
	var body map[string]json.RawMessage
	srv := fakeserver.Start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, fakeserver.ReadJSON(r, &body))
		fakeserver.WriteJSON(w, http.StatusOK, map[string]any{"success": true, "id": 7, "key": strings.Repeat("e", 64)})
	}))
	defer srv.Close()
	p := vast.New(httpapi.Settings{APIKey: "k", BaseURL: srv.URL})
	_, err := p.Create(context.Background(), provider.CreateRequest{Name: "n", Scopes: []string{"misc"}})
	require.NoError(t, err)
	assert.JSONEq(t, `"n"`, string(body["name"]))
	assert.JSONEq(t, `{"api":{"misc":{}}}`, string(body["permissions"]))
	assert.JSONEq(t, `null`, string(body["key_params"]))
}

func newProvider(f *vastfake.Fake, key string) *vast.Provider { return vast.New(settings(f, key)) }
