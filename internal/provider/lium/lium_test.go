package lium_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/fakeserver"
	"github.com/keyward/keyward/internal/provider/httpapi"
	"github.com/keyward/keyward/internal/provider/lium"
	"github.com/keyward/keyward/internal/provider/lium/liumfake"
	"github.com/keyward/keyward/internal/provider/providertest"
)

func settings(f *liumfake.Fake, key string) httpapi.Settings {
	return providertest.Settings(f.URL(), key)
}

func requireKind(t *testing.T, err error, kind provider.Kind) *provider.Error {
	t.Helper()
	return providertest.RequireKind(t, err, kind, lium.Name)
}

func count(f *liumfake.Fake, method, path string) int {
	return providertest.Count(f.Requests(), method, path)
}

func start(t *testing.T) *liumfake.Fake {
	t.Helper()
	f := liumfake.New()
	t.Cleanup(f.Close)
	return f
}

func withSession(f *liumfake.Fake) *lium.Provider {
	return lium.NewWithSession(settings(f, f.APIKey()), f.SessionToken())
}

func TestLifecycleWithASession(t *testing.T) {
	f := start(t)
	p := withSession(f)
	ctx := context.Background()
	secrets := []string{f.APIKey(), f.SessionToken()}

	if !p.Capabilities().Manage {
		t.Fatal("a provider with a session should manage keys")
	}
	keys, err := p.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].Name != liumfake.FirstKeyName || !keys[0].Active {
		t.Fatalf("want the one active first key, got %+v", keys)
	}

	created, err := p.Create(ctx, provider.CreateRequest{Name: "agent-1", Scopes: []string{"read", "rent"}})
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, created.Secret)
	if !strings.HasPrefix(created.Secret, "sk_") || created.Key.ID == "" {
		t.Fatalf("want an sk_ secret and an id, got %+v", created.Key)
	}
	if created.Key.Masked == "" || strings.Contains(created.Key.Masked, created.Secret[8:]) {
		t.Fatalf("masked form %q should show only the ends of the secret", created.Key.Masked)
	}
	if got := strings.Join(created.Key.Scopes, ","); got != "read,rent" {
		t.Fatalf("scopes = %s, want read,rent", got)
	}

	v, err := p.Validate(ctx, created.Secret)
	if err != nil || v.Status != provider.StatusValid || v.Owner != liumfake.UserEmail {
		t.Fatalf("the new key should validate for %s: %+v, %v", liumfake.UserEmail, v, err)
	}

	got, err := p.Get(ctx, created.Key.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "agent-1" || !got.Active || got.CreatedAt.IsZero() || got.Masked != "" {
		t.Fatalf("get: %+v", got)
	}
	if got.LastUsedAt == nil {
		t.Fatal("the validation should show as the key's last use")
	}

	if err := p.Revoke(ctx, created.Key.ID); err != nil {
		t.Fatal(err)
	}
	v, err = p.Validate(ctx, created.Secret)
	if err != nil || v.Status != provider.StatusNotFound || v.Reason == "" {
		t.Fatalf("a deleted key should be not_found with a reason: %+v, %v", v, err)
	}
	_, err = p.Get(ctx, created.Key.ID)
	pe := requireKind(t, err, provider.KindNotFound)
	if !strings.Contains(pe.Message, created.Key.ID) || pe.Step != provider.StepFindKey {
		t.Fatalf("not-found sentence should name the id and point at the list of keys: %s (%s)", pe.Message, pe.Step)
	}
	providertest.NoSecret(t, secrets, err)
	err = p.Revoke(ctx, created.Key.ID)
	requireKind(t, err, provider.KindNotFound)
	providertest.NoSecret(t, secrets, err)

	keys, err = p.List(ctx)
	if err != nil || len(keys) != 1 {
		t.Fatalf("after revoke want one key, got %d, %v", len(keys), err)
	}
}

func TestCreateSendsTheDefaultScopeWhenNoneIsGiven(t *testing.T) {
	f := start(t)
	p := withSession(f)
	created, err := p.Create(context.Background(), provider.CreateRequest{Name: "reader"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(created.Key.Scopes, ","); got != "read" {
		t.Fatalf("scopes = %s, want keyward's default read (never Lium's wider default)", got)
	}
}

func TestCreateRefusesScopesLiumCannotHoldBeforeAnyRequest(t *testing.T) {
	f := start(t)
	p := withSession(f)
	for _, tc := range []struct {
		scopes []string
		kind   provider.Kind
	}{{[]string{"admin"}, provider.KindInvalid}, {[]string{"billing", "read"}, provider.KindUnsupported}} {
		_, err := p.Create(context.Background(), provider.CreateRequest{Name: "x", Scopes: tc.scopes})
		pe := requireKind(t, err, tc.kind)
		if !strings.Contains(pe.Message, tc.scopes[0]) {
			t.Fatalf("the sentence should name %s: %s", tc.scopes[0], pe.Message)
		}
	}
	if n := count(f, http.MethodPost, "/api/keys"); n != 0 {
		t.Fatalf("%d creates reached Lium", n)
	}
}

func TestWithoutASessionKeysAreManagedInTheDashboard(t *testing.T) {
	f := start(t)
	p := lium.New(settings(f, f.APIKey()))
	ctx := context.Background()
	if p.Capabilities().Manage {
		t.Fatal("an API key cannot manage Lium keys")
	}
	calls := map[string]error{}
	_, calls["list"] = p.List(ctx)
	_, calls["get"] = p.Get(ctx, "k1")
	_, calls["create"] = p.Create(ctx, provider.CreateRequest{Name: "x", Scopes: []string{"read"}})
	calls["revoke"] = p.Revoke(ctx, "k1")
	for op, err := range calls {
		pe := requireKind(t, err, provider.KindUnsupported)
		for _, want := range []string{"dashboard", "https://lium.io", lium.SessionEnvKey, "validate"} {
			if !strings.Contains(pe.Message, want) {
				t.Errorf("%s: the sentence should mention %q: %s", op, want, pe.Message)
			}
		}
		providertest.NoSecret(t, []string{f.APIKey()}, err)
	}
	if n := len(f.Requests()); n != 0 {
		t.Fatalf("%d requests reached Lium for operations it refuses", n)
	}
}

func TestOperationsLiumLacksAreRefusedPlainly(t *testing.T) {
	f := start(t)
	p := withSession(f)
	ctx := context.Background()
	name := "new"
	_, errUpdate := p.Update(ctx, "k1", provider.UpdateRequest{Name: &name})
	_, errActive := p.SetActive(ctx, "k1", false)
	_, errRotate := p.Rotate(ctx, "k1", provider.RotateRequest{})
	for op, c := range map[string]struct {
		err  error
		want string
	}{
		"update":     {errUpdate, "renamed"},
		"set_active": {errActive, "disable"},
		"rotate":     {errRotate, "rotate"},
	} {
		pe := requireKind(t, c.err, provider.KindUnsupported)
		if !strings.Contains(pe.Message, c.want) || !strings.HasPrefix(pe.Message, "Lium") {
			t.Errorf("%s: want a sentence about Lium mentioning %q, got %q", op, c.want, pe.Message)
		}
	}
	if n := len(f.Requests()); n != 0 {
		t.Fatalf("%d requests reached Lium", n)
	}
	caps := p.Capabilities()
	if caps.Rename || caps.Toggle || caps.Rotate || caps.ScopesMutable || caps.Expiry != provider.ExpiryNone {
		t.Fatalf("capabilities claim what Lium lacks: %+v", caps)
	}
}

func TestValidate(t *testing.T) {
	f := start(t)
	p := withSession(f)
	ctx := context.Background()

	v, err := p.Validate(ctx, f.APIKey())
	if err != nil || v.Status != provider.StatusValid || !strings.Contains(v.Reason, liumfake.WorkspaceName) {
		t.Fatalf("the configured key: %+v, %v", v, err)
	}
	if strings.Contains(v.Masked+v.Reason, f.APIKey()) {
		t.Fatal("a validation result holds the whole secret")
	}

	v, err = p.Validate(ctx, "sk_thisKeyWasNeverIssued0000000000000000000")
	if err != nil || v.Status != provider.StatusNotFound {
		t.Fatalf("an unknown key: %+v, %v", v, err)
	}

	before := len(f.Requests())
	for _, bad := range []string{"", "   ", "sk_two words", "sk_line\nbreak"} {
		v, err = p.Validate(ctx, bad)
		if err != nil || v.Status != provider.StatusInvalidFormat || v.Reason == "" {
			t.Fatalf("%q: %+v, %v", bad, v, err)
		}
	}
	if len(f.Requests()) != before {
		t.Fatal("a malformed key was sent to Lium")
	}

	noRead, err := p.Create(ctx, provider.CreateRequest{Name: "renter", Scopes: []string{"rent"}})
	if err != nil {
		t.Fatal(err)
	}
	v, err = p.Validate(ctx, noRead.Secret)
	if err != nil || v.Status != provider.StatusValid || !strings.Contains(v.Reason, "read scope") {
		t.Fatalf("a key without the read scope: %+v, %v", v, err)
	}
}

func TestAnExpiredKeyIsListedInactiveAndRejected(t *testing.T) {
	f := start(t)
	p := withSession(f)
	ctx := context.Background()
	created, err := p.Create(ctx, provider.CreateRequest{Name: "short", Scopes: []string{"read"}})
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-time.Hour).UTC().Truncate(time.Second)
	f.SetExpiry(created.Key.ID, past)
	got, err := p.Get(ctx, created.Key.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Active || got.ExpiresAt == nil || !got.ExpiresAt.Equal(past) {
		t.Fatalf("want inactive with expiry %s, got active=%v expires=%v", past, got.Active, got.ExpiresAt)
	}
	v, err := p.Validate(ctx, created.Secret)
	if err != nil || v.Status != provider.StatusNotFound {
		t.Fatalf("an expired key: %+v, %v", v, err)
	}
}

func TestWhoami(t *testing.T) {
	f := start(t)
	id, err := lium.New(settings(f, f.APIKey())).Whoami(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if id.Account != liumfake.UserEmail || !strings.Contains(id.Detail, liumfake.WorkspaceName) {
		t.Fatalf("whoami: %+v", id)
	}
	if !strings.Contains(id.Detail, "dashboard") {
		t.Fatalf("without a session whoami should say keys are dashboard-only: %s", id.Detail)
	}
}

func TestRejectedCredentialsNameTheirSetting(t *testing.T) {
	f := start(t)
	ctx := context.Background()

	_, err := lium.New(settings(f, "sk_revokedOrWrong000000000000000000000000000")).Whoami(ctx)
	pe := requireKind(t, err, provider.KindUnauthorized)
	if !strings.Contains(pe.Message, lium.EnvKey) {
		t.Fatalf("should name %s: %s", lium.EnvKey, pe.Message)
	}

	ended := withSession(f)
	f.EndSession(f.SessionToken())
	_, err = ended.List(ctx)
	pe = requireKind(t, err, provider.KindUnauthorized)
	if !strings.Contains(pe.Message, lium.SessionEnvKey) {
		t.Fatalf("should name %s: %s", lium.SessionEnvKey, pe.Message)
	}
	providertest.NoSecret(t, []string{f.APIKey(), f.SessionToken()}, err)

	// Lium's key routes refuse an API key even where a session is expected.
	g := start(t)
	asKey := lium.NewWithSession(settings(g, g.APIKey()), g.APIKey())
	_, err = asKey.List(ctx)
	requireKind(t, err, provider.KindUnauthorized)
	providertest.NoSecret(t, []string{g.APIKey()}, err)
}

func TestUpstreamFailures(t *testing.T) {
	cases := []struct {
		name  string
		fault fakeserver.Fault
		kind  provider.Kind
	}{
		{"401", fakeserver.Fault{Status: http.StatusUnauthorized, Body: `{"detail":"Not authenticated"}`}, provider.KindUnauthorized},
		{"403", fakeserver.Fault{Status: http.StatusForbidden, Body: `{"detail":"Account is blocked. Contact support."}`}, provider.KindForbidden},
		{"404", fakeserver.Fault{Status: http.StatusNotFound, Body: `{"detail":"Not Found"}`}, provider.KindNotFound},
		{"429", fakeserver.Fault{Status: http.StatusTooManyRequests, Body: `{"detail":"Too many requests"}`, Header: http.Header{"Retry-After": {"7"}}}, provider.KindRateLimited},
		{"500", fakeserver.Fault{Status: http.StatusInternalServerError, Body: `Internal Server Error`}, provider.KindUpstream},
		{"truncated", fakeserver.Fault{Truncate: true}, provider.KindUpstream},
		{"non-JSON", fakeserver.Fault{NonJSON: true}, provider.KindUpstream},
		{"closed connection", fakeserver.Fault{CloseConn: true}, provider.KindUpstream},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := start(t)
			p := withSession(f)
			f.Faults().Set(c.fault)
			_, err := p.List(context.Background())
			pe := requireKind(t, err, c.kind)
			if !strings.Contains(pe.Message, "Lium") {
				t.Fatalf("want a sentence about Lium, got %q", pe.Message)
			}
			if c.kind == provider.KindRateLimited && pe.RetryAfter != 7*time.Second {
				t.Fatalf("RetryAfter = %s, want 7s", pe.RetryAfter)
			}
			providertest.NoSecret(t, []string{f.APIKey(), f.SessionToken()}, err)
		})
	}
}

func TestATimeoutIsAnUpstreamFailure(t *testing.T) {
	f := start(t)
	s := settings(f, f.APIKey())
	s.Timeout = 50 * time.Millisecond
	s.MaxRetries = -1
	p := lium.New(s)
	f.Faults().Set(fakeserver.Fault{Delay: 2 * time.Second})
	_, err := p.Whoami(context.Background())
	requireKind(t, err, provider.KindUpstream)
	providertest.NoSecret(t, []string{f.APIKey()}, err)
}

func TestCreateIsNeverRetriedButReadsAre(t *testing.T) {
	f := start(t)
	p := withSession(f)
	// On the key routes only: GET /users/me, which names the workspace,
	// answers as usual.
	f.Faults().Set(fakeserver.Fault{Path: "/api/keys", Status: http.StatusBadGateway, Body: "bad gateway"})
	ctx := context.Background()

	_, err := p.Create(ctx, provider.CreateRequest{Name: "once", Scopes: []string{"read"}})
	requireKind(t, err, provider.KindUpstream)
	if n := count(f, http.MethodPost, "/api/keys"); n != 1 {
		t.Fatalf("create was sent %d times, want exactly once", n)
	}

	_, err = p.List(ctx)
	requireKind(t, err, provider.KindUpstream)
	if n := count(f, http.MethodGet, "/api/keys"); n != 3 {
		t.Fatalf("list was sent %d times, want 1 + 2 retries", n)
	}
}

func TestValidateReportsUpstreamFailuresAsErrors(t *testing.T) {
	f := start(t)
	p := lium.New(settings(f, f.APIKey()))
	f.Faults().Set(fakeserver.Fault{Status: http.StatusServiceUnavailable, Body: "down"})
	_, err := p.Validate(context.Background(), f.APIKey())
	requireKind(t, err, provider.KindUpstream)
	providertest.NoSecret(t, []string{f.APIKey()}, err)
}

func TestValidateSortsLiumsRefusalsLikeLiumsOwnCLI(t *testing.T) {
	cases := []struct {
		detail string
		want   provider.ValidationStatus
	}{
		{"API key 'ci' does not have the 'read' scope", provider.StatusValid},
		{"Insufficient balance. Your balance is $0.00", provider.StatusValid},
		{"API key 'cli' belongs to a workspace that is gone or that its account has left", provider.StatusRevoked},
		{"API key 'cli' was created by an account that is no longer a member of its workspace", provider.StatusRevoked},
		{"Account is blocked. Contact support.", provider.StatusDisabled},
	}
	for _, c := range cases {
		t.Run(c.detail, func(t *testing.T) {
			f := start(t)
			f.Faults().Set(fakeserver.Fault{Status: http.StatusForbidden, Body: `{"detail":"` + c.detail + `"}`})
			v, err := lium.New(settings(f, f.APIKey())).Validate(context.Background(), f.APIKey())
			if err != nil || v.Status != c.want || v.Reason == "" {
				t.Fatalf("want %s with a reason, got %+v, %v", c.want, v, err)
			}
		})
	}
}
