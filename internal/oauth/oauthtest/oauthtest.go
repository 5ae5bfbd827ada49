// Package oauthtest is an authorization server for tests: metadata (RFC
// 8414), a JWKS, and access tokens signed with its keys.
package oauthtest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/stretchr/testify/require"
)

// Issuer serves its metadata at the RFC 8414 location for its path
// (/.well-known/oauth-authorization-server/tenant) and its keys at /jwks.
type Issuer struct {
	t       testing.TB
	srv     *httptest.Server
	mu      sync.Mutex
	keys    map[string]crypto.Signer // kid → private key
	fetches atomic.Int32
	broken  atomic.Bool
}

// New starts an issuer with one RSA key, "k1"; it stops when the test ends.
func New(t testing.TB) *Issuer {
	is := &Issuer{t: t, keys: map[string]crypto.Signer{}}
	is.AddKey("k1", RSAKey(t))
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/oauth-authorization-server/tenant", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": is.URL(), "jwks_uri": is.srv.URL + "/jwks"})
	})
	mux.HandleFunc("/jwks", func(w http.ResponseWriter, r *http.Request) {
		is.fetches.Add(1)
		if is.broken.Load() {
			http.Error(w, "down", http.StatusBadGateway)
			return
		}
		is.mu.Lock()
		defer is.mu.Unlock()
		// A key of a type nobody knows must not hide the others.
		keys := []any{map[string]any{"kty": "weird", "kid": "x"}}
		for kid, k := range is.keys {
			raw, err := jose.JSONWebKey{Key: k.Public(), KeyID: kid, Use: "sig"}.MarshalJSON()
			require.NoError(t, err)
			keys = append(keys, json.RawMessage(raw))
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	})
	is.srv = httptest.NewServer(mux)
	t.Cleanup(is.srv.Close)
	return is
}

// URL is the issuer identifier.
func (is *Issuer) URL() string { return is.srv.URL + "/tenant" }

// Fetches counts the requests for its keys.
func (is *Issuer) Fetches() int { return int(is.fetches.Load()) }

// Break makes the keys answer 502 (true) or work again (false).
func (is *Issuer) Break(broken bool) { is.broken.Store(broken) }

// AddKey publishes another signing key.
func (is *Issuer) AddKey(kid string, k crypto.Signer) {
	is.mu.Lock()
	defer is.mu.Unlock()
	is.keys[kid] = k
}

// Key is the private key kid.
func (is *Issuer) Key(kid string) crypto.Signer {
	is.mu.Lock()
	defer is.mu.Unlock()
	return is.keys[kid]
}

// Claims are a valid access token's claims for audience and subject, with
// the given scope, valid for an hour from now.
func (is *Issuer) Claims(now time.Time, audience, subject, scope string) map[string]any {
	return map[string]any{
		"iss": is.URL(), "aud": []string{audience}, "sub": subject, "client_id": "test-client",
		"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "scope": scope,
	}
}

// Token signs claims with key kid ("at+jwt", RS256 when alg is "").
func (is *Issuer) Token(kid string, alg jose.SignatureAlgorithm, typ string, claims any) string {
	if alg == "" {
		alg = jose.RS256
	}
	return Sign(is.t, jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: is.Key(kid), KeyID: kid}}, typ, claims)
}

// Sign makes a signed JWT of claims with key and header type typ.
func Sign(t testing.TB, key jose.SigningKey, typ string, claims any) string {
	opts := &jose.SignerOptions{}
	if typ != "" {
		opts = opts.WithType(jose.ContentType(typ))
	}
	s, err := jose.NewSigner(key, opts)
	require.NoError(t, err)
	raw, err := jwt.Signed(s).Claims(claims).Serialize()
	require.NoError(t, err)
	return raw
}

// RSAKey is a new 2048-bit RSA key.
func RSAKey(t testing.TB) *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	return k
}
