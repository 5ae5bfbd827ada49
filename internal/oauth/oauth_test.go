package oauth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/oauth/oauthtest"
	"github.com/keyward/keyward/internal/testutil"
)

const audience = "https://keyward.example/mcp"

type env struct {
	is    *oauthtest.Issuer
	v     *Verifier
	clock *testutil.Clock
}

func newEnv(t *testing.T) *env {
	is := oauthtest.New(t)
	clk := testutil.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	v, err := New(Settings{Issuer: is.URL(), Audience: audience, ReadScope: "keyward:read", WriteScope: "keyward:write", Now: clk.Now})
	require.NoError(t, err)
	return &env{is: is, v: v, clock: clk}
}

// claims are a valid token's claims; tests change one thing at a time.
func (e *env) claims() map[string]any {
	now := e.clock.Now()
	return map[string]any{
		"iss": e.is.URL(), "aud": []string{audience}, "sub": "alice@example.com", "client_id": "claude-code",
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "scope": "openid keyward:read",
	}
}

func (e *env) with(k string, v any) map[string]any {
	c := e.claims()
	if v == nil {
		delete(c, k)
	} else {
		c[k] = v
	}
	return c
}

func TestAValidTokenGrantsWhatItsScopesSay(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	g, err := e.v.Verify(context.Background(), e.is.Token("k1", jose.RS256, "at+jwt", e.claims()))
	require.NoError(t, err)
	assert.Equal(t, "alice@example.com", g.Subject)
	assert.Equal(t, "claude-code", g.Client)
	assert.Equal(t, AccessRead, g.Access)
	assert.Equal(t, e.clock.Now().Add(time.Hour).Unix(), g.Expiry.Unix())

	g, err = e.v.Verify(context.Background(), e.is.Token("k1", jose.PS256, "JWT", e.with("scope", "keyward:read keyward:write")))
	require.NoError(t, err)
	assert.Equal(t, AccessWrite, g.Access)

	// Some issuers list scopes under scp, and name the client in azp.
	c := e.with("scope", nil)
	c["scp"] = []string{"keyward:write"}
	delete(c, "client_id")
	c["azp"] = "cursor"
	g, err = e.v.Verify(context.Background(), e.is.Token("k1", jose.RS256, "", c))
	require.NoError(t, err)
	assert.Equal(t, AccessWrite, g.Access)
	assert.Equal(t, "cursor", g.Client)

	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	e.is.AddKey("k2", ec)
	e.clock.Advance(2 * time.Minute)
	g, err = e.v.Verify(context.Background(), e.is.Token("k2", jose.ES256, "at+jwt", e.claims()))
	require.NoError(t, err, "a key the issuer added later is fetched")
	assert.Equal(t, AccessRead, g.Access)
}

func TestTokensThatMustBeRefused(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other := oauthtest.RSAKey(t)
	now := e.clock.Now()
	for _, tc := range []struct {
		name  string
		token func() string
		want  string
	}{
		{"another issuer", func() string { return e.is.Token("k1", jose.RS256, "at+jwt", e.with("iss", "https://evil.example")) }, "not by the issuer keyward trusts"},
		{"another audience", func() string {
			return e.is.Token("k1", jose.RS256, "at+jwt", e.with("aud", "https://other-service.example"))
		}, "not meant for keyward"},
		{"no audience", func() string { return e.is.Token("k1", jose.RS256, "at+jwt", e.with("aud", nil)) }, "not meant for keyward"},
		{"expired", func() string {
			return e.is.Token("k1", jose.RS256, "at+jwt", e.with("exp", now.Add(-time.Minute).Unix()))
		}, "expired"},
		{"no expiry", func() string { return e.is.Token("k1", jose.RS256, "at+jwt", e.with("exp", nil)) }, "no expiry"},
		{"not yet valid", func() string {
			return e.is.Token("k1", jose.RS256, "at+jwt", e.with("nbf", now.Add(time.Hour).Unix()))
		}, "not valid yet"},
		{"no subject", func() string { return e.is.Token("k1", jose.RS256, "at+jwt", e.with("sub", nil)) }, "no subject"},
		{"an ID token", func() string { return e.is.Token("k1", jose.RS256, "id_token+jwt", e.claims()) }, "not an access token"},
		{"signed by a key the issuer does not publish", func() string {
			return oauthtest.Sign(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: other, KeyID: "k1"}}, "at+jwt", e.claims())
		}, "signature does not verify"},
		{"naming an unknown key", func() string {
			return oauthtest.Sign(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: other, KeyID: "k9"}}, "at+jwt", e.claims())
		}, "does not publish"},
		{"HMAC with the public key as the secret", func() string {
			pub, err := json.Marshal(jose.JSONWebKey{Key: e.is.Key("k1").Public()})
			require.NoError(t, err)
			return oauthtest.Sign(t, jose.SigningKey{Algorithm: jose.HS256, Key: pub}, "at+jwt", e.claims())
		}, "asymmetric"},
		{"alg none", func() string {
			enc := func(v any) string {
				b, _ := json.Marshal(v)
				return base64.RawURLEncoding.EncodeToString(b)
			}
			return enc(map[string]string{"alg": "none", "typ": "at+jwt"}) + "." + enc(e.claims()) + "."
		}, "asymmetric"},
		{"garbage", func() string { return "not.a.jwt" }, "not a JWT"},
		{"empty", func() string { return "" }, "no token"},
		{"huge", func() string { return strings.Repeat("A", 20<<10) }, "bytes long"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.v.Verify(context.Background(), tc.token())
			var oe *Error
			require.True(t, errors.As(err, &oe), "%v", err)
			assert.Equal(t, "invalid_token", oe.Code)
			assert.Equal(t, http.StatusUnauthorized, oe.Status)
			assert.Contains(t, oe.Description, tc.want)
		})
	}

	_, err := e.v.Verify(context.Background(), e.is.Token("k1", jose.RS256, "at+jwt", e.with("scope", "openid profile")))
	var oe *Error
	require.True(t, errors.As(err, &oe))
	assert.Equal(t, "insufficient_scope", oe.Code)
	assert.Equal(t, http.StatusForbidden, oe.Status)
	assert.Equal(t, "keyward:read", oe.Scope)
}

// A flood of tokens naming unknown keys makes keyward fetch the issuer's keys
// at most once a MinRefetch, and tokens with known keys never wait on it.
func TestUnknownKeysDoNotMakeKeywardHammerTheIssuer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, err := e.v.Verify(context.Background(), e.is.Token("k1", jose.RS256, "at+jwt", e.claims()))
	require.NoError(t, err)
	require.EqualValues(t, 1, e.is.Fetches())
	other := oauthtest.RSAKey(t)
	for i := range 50 {
		tok := oauthtest.Sign(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: other, KeyID: "unknown-" + string(rune('a'+i%26))}}, "at+jwt", e.claims())
		_, err := e.v.Verify(context.Background(), tok)
		require.Error(t, err)
	}
	assert.EqualValues(t, 1, e.is.Fetches(), "no refetch within MinRefetch")
	e.clock.Advance(time.Minute)
	_, err = e.v.Verify(context.Background(), oauthtest.Sign(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: other, KeyID: "unknown"}}, "at+jwt", e.claims()))
	require.Error(t, err)
	assert.EqualValues(t, 2, e.is.Fetches(), "one refetch once it is due")
}

// An issuer that cannot be reached is a 503 that says so, not a refusal of
// the token; keys already fetched keep working.
func TestAnUnreachableIssuer(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	_, err := e.v.Verify(context.Background(), e.is.Token("k1", jose.RS256, "at+jwt", e.claims()))
	require.NoError(t, err)
	e.is.Break(true)
	e.clock.Advance(time.Hour)
	_, err = e.v.Verify(context.Background(), e.is.Token("k1", jose.RS256, "at+jwt", e.claims()))
	require.NoError(t, err, "a known key needs no fetch")

	e2 := newEnv(t)
	e2.is.Break(true)
	_, err = e2.v.Verify(context.Background(), e2.is.Token("k1", jose.RS256, "at+jwt", e2.claims()))
	var oe *Error
	require.True(t, errors.As(err, &oe), "%v", err)
	assert.Equal(t, http.StatusServiceUnavailable, oe.Status)
	assert.Contains(t, oe.Description, "502")
	assert.NotContains(t, oe.Description, "down", "the issuer's body is not repeated")
}

func TestSettingsAreChecked(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		s    Settings
		want string
	}{
		{Settings{Issuer: "http://idp.example", Audience: audience, ReadScope: "r", WriteScope: "w"}, "must use https"},
		{Settings{Issuer: "idp.example", Audience: audience, ReadScope: "r", WriteScope: "w"}, "not an absolute URL"},
		{Settings{Issuer: "https://idp.example", ReadScope: "r", WriteScope: "w"}, "no audience"},
		{Settings{Issuer: "https://idp.example", Audience: audience, ReadScope: "r", WriteScope: "r"}, "two different names"},
		{Settings{Issuer: "https://idp.example", Audience: audience, JWKSURL: "http://idp.example/jwks", ReadScope: "r", WriteScope: "w"}, "must use https"},
	} {
		_, err := New(tc.s)
		require.Error(t, err)
		assert.Contains(t, err.Error(), tc.want)
	}
	_, err := New(Settings{Issuer: "http://127.0.0.1:9/x", Audience: audience, ReadScope: "r", WriteScope: "w"})
	assert.NoError(t, err, "plain http to this machine is allowed")
}

// Metadata that names another issuer is not trusted for this one's keys.
func TestMetadataMustNameTheIssuer(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	var srv *httptest.Server
	mux.HandleFunc("/.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": "https://evil.example", "jwks_uri": srv.URL + "/jwks"})
	})
	srv = httptest.NewServer(mux)
	defer srv.Close()
	v, err := New(Settings{Issuer: srv.URL, Audience: audience, ReadScope: "r", WriteScope: "w"})
	require.NoError(t, err)
	k := oauthtest.RSAKey(t)
	_, err = v.Verify(context.Background(), oauthtest.Sign(t, jose.SigningKey{Algorithm: jose.RS256, Key: k}, "at+jwt", map[string]any{"iss": srv.URL}))
	var oe *Error
	require.True(t, errors.As(err, &oe), "%v", err)
	assert.Equal(t, http.StatusServiceUnavailable, oe.Status)
	assert.Contains(t, oe.Description, "evil.example")
}
