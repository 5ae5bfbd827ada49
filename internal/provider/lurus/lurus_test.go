package lurus_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/fakeserver"
	"github.com/keyward/keyward/internal/provider/httpapi"
	"github.com/keyward/keyward/internal/provider/lurus"
	"github.com/keyward/keyward/internal/provider/lurus/lurusfake"
	"github.com/keyward/keyward/internal/provider/providertest"
)

func settings(f *lurusfake.Fake, key string) httpapi.Settings {
	return providertest.Settings(f.URL(), key)
}

func requireKind(t *testing.T, err error, kind provider.Kind) *provider.Error {
	t.Helper()
	return providertest.RequireKind(t, err, kind, lurus.Name)
}

func start(t *testing.T) (*lurusfake.Fake, *lurus.Provider) {
	t.Helper()
	f := lurusfake.New()
	t.Cleanup(f.Close)
	return f, lurus.New(settings(f, f.APIKey()))
}

func TestCapabilitiesAreWhatLurusDocuments(t *testing.T) {
	_, p := start(t)
	caps := p.Capabilities()
	if caps.Manage || caps.Scopes || caps.Toggle || caps.Rotate || !caps.Validate || !caps.Whoami {
		t.Fatalf("capabilities: %+v", caps)
	}
	want := []time.Duration{7 * 24 * time.Hour, 30 * 24 * time.Hour, 90 * 24 * time.Hour, 365 * 24 * time.Hour, 0}
	if caps.Expiry != provider.ExpiryPresets || len(caps.ExpiryPresets) != len(want) {
		t.Fatalf("expiry: %s %v", caps.Expiry, caps.ExpiryPresets)
	}
	for i := range want {
		if caps.ExpiryPresets[i] != want[i] {
			t.Fatalf("presets = %v, want %v", caps.ExpiryPresets, want)
		}
	}
	caps.ExpiryPresets[0] = time.Second
	if p.Capabilities().ExpiryPresets[0] != want[0] {
		t.Fatal("a caller changed the provider's presets through the returned slice")
	}
	if p.ScopeVocabulary() != nil || p.DefaultScopes() != nil {
		t.Fatal("Lurus keys have no scopes")
	}
}

func TestManagementIsRefusedWithTheDashboardAddress(t *testing.T) {
	f, p := start(t)
	ctx := context.Background()
	name := "x"
	calls := map[string]error{}
	_, calls["list"] = p.List(ctx)
	_, calls["get"] = p.Get(ctx, "k1")
	_, calls["create"] = p.Create(ctx, provider.CreateRequest{Name: "x"})
	_, calls["update"] = p.Update(ctx, "k1", provider.UpdateRequest{Name: &name})
	_, calls["set_active"] = p.SetActive(ctx, "k1", false)
	_, calls["rotate"] = p.Rotate(ctx, "k1", provider.RotateRequest{})
	calls["revoke"] = p.Revoke(ctx, "k1")
	for op, err := range calls {
		pe := requireKind(t, err, provider.KindUnsupported)
		if !strings.HasPrefix(pe.Message, "Lurus keys") || !strings.Contains(pe.Message, "https://code.lurus.ai") ||
			!strings.Contains(pe.Message, "keyward can check a key") {
			t.Errorf("%s: %q", op, pe.Message)
		}
	}
	if n := len(f.Requests()); n != 0 {
		t.Fatalf("%d requests reached Lurus for operations it does not offer", n)
	}
}

func TestValidate(t *testing.T) {
	f, p := start(t)
	ctx := context.Background()

	v, err := p.Validate(ctx, f.APIKey())
	if err != nil || v.Status != provider.StatusValid || v.Owner != lurusfake.UserEmail {
		t.Fatalf("the configured key: %+v, %v", v, err)
	}
	if v.Masked == "" || strings.Contains(v.Masked, f.APIKey()[6:]) {
		t.Fatalf("masked %q shows too much", v.Masked)
	}

	weekly := f.CreateKey(7 * 24 * time.Hour)
	if v, err = p.Validate(ctx, weekly); err != nil || v.Status != provider.StatusValid {
		t.Fatalf("a new dashboard key: %+v, %v", v, err)
	}
	f.Revoke(weekly)
	v, err = p.Validate(ctx, weekly)
	if err != nil || v.Status != provider.StatusNotFound || !strings.Contains(v.Reason, "revoked") {
		t.Fatalf("a revoked key: %+v, %v", v, err)
	}

	soon := f.CreateKey(30 * 24 * time.Hour)
	f.Expire(soon)
	if v, err = p.Validate(ctx, soon); err != nil || v.Status != provider.StatusNotFound {
		t.Fatalf("an expired key: %+v, %v", v, err)
	}
	if v, err = p.Validate(ctx, "lc_neverIssued000000000000000000000000000"); err != nil || v.Status != provider.StatusNotFound {
		t.Fatalf("an unknown key: %+v, %v", v, err)
	}
}

func TestMalformedKeysAreRejectedWithoutARequest(t *testing.T) {
	f, p := start(t)
	for _, bad := range []string{"", "  ", "lc_", "sk_abcdef123456", "lc_two words", "lc_line\nbreak"} {
		v, err := p.Validate(context.Background(), bad)
		if err != nil || v.Status != provider.StatusInvalidFormat || !strings.Contains(v.Reason, "lc_") {
			t.Fatalf("%q: %+v, %v", bad, v, err)
		}
	}
	if n := len(f.Requests()); n != 0 {
		t.Fatalf("%d malformed keys were sent to Lurus", n)
	}
}

func TestWhoami(t *testing.T) {
	f, p := start(t)
	id, err := p.Whoami(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if id.Account != lurusfake.UserEmail || !strings.Contains(id.Detail, "dashboard") {
		t.Fatalf("whoami: %+v", id)
	}

	f.Revoke(f.APIKey())
	_, err = p.Whoami(context.Background())
	pe := requireKind(t, err, provider.KindUnauthorized)
	if !strings.Contains(pe.Message, lurus.EnvKey) {
		t.Fatalf("should name %s: %s", lurus.EnvKey, pe.Message)
	}
	providertest.NoSecret(t, []string{f.APIKey()}, err)
}

func TestAMissingAccountRouteIsNotAMissingKey(t *testing.T) {
	f, p := start(t)
	f.Faults().Set(fakeserver.Fault{Status: http.StatusNotFound, Body: `{"error":"Not found"}`})
	_, err := p.Validate(context.Background(), f.APIKey())
	pe := requireKind(t, err, provider.KindUpstream)
	if !strings.Contains(pe.Message, "LURUS_API_URL") || !strings.Contains(pe.Message, "/api/auth/me") {
		t.Fatalf("the sentence should name the assumed route and the override: %s", pe.Message)
	}
	providertest.NoSecret(t, []string{f.APIKey()}, err)
}

func TestUpstreamFailures(t *testing.T) {
	cases := []struct {
		name  string
		fault fakeserver.Fault
		kind  provider.Kind
	}{
		{"401", fakeserver.Fault{Status: http.StatusUnauthorized, Body: `{"error":"Invalid or missing API key"}`}, provider.KindUnauthorized},
		{"403", fakeserver.Fault{Status: http.StatusForbidden, Body: `{"error":"Forbidden"}`}, provider.KindForbidden},
		{"429", fakeserver.Fault{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"3"}}}, provider.KindRateLimited},
		{"500", fakeserver.Fault{Status: http.StatusInternalServerError, Body: "oops"}, provider.KindUpstream},
		{"truncated", fakeserver.Fault{Truncate: true}, provider.KindUpstream},
		{"non-JSON", fakeserver.Fault{NonJSON: true}, provider.KindUpstream},
		{"closed connection", fakeserver.Fault{CloseConn: true}, provider.KindUpstream},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, p := start(t)
			f.Faults().Set(c.fault)
			_, err := p.Whoami(context.Background())
			pe := requireKind(t, err, c.kind)
			if c.kind == provider.KindRateLimited && pe.RetryAfter != 3*time.Second {
				t.Fatalf("RetryAfter = %s, want 3s", pe.RetryAfter)
			}
			providertest.NoSecret(t, []string{f.APIKey()}, err)
		})
	}
}

func TestATimeoutIsAnUpstreamFailure(t *testing.T) {
	f := lurusfake.New()
	t.Cleanup(f.Close)
	s := settings(f, f.APIKey())
	s.Timeout = 50 * time.Millisecond
	s.MaxRetries = -1
	f.Faults().Set(fakeserver.Fault{Delay: 2 * time.Second})
	_, err := lurus.New(s).Validate(context.Background(), f.APIKey())
	requireKind(t, err, provider.KindUpstream)
	providertest.NoSecret(t, []string{f.APIKey()}, err)
}
