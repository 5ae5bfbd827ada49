// Package oauth checks OAuth 2.0 access tokens that are JWTs (RFC 9068) from
// the one issuer the operator names: the signature against the keys the
// issuer publishes (its JWKS), the issuer, the audience (keyward's own
// resource URL, so a token minted for another service is refused), the
// expiry, and the scopes, which say what the bearer may do through keyward.
//
// It is the resource-server half of the MCP authorization spec; keyward
// never issues tokens. The JOSE work (parsing, signature algorithms, claim
// checks) is go-jose's; this package fetches and caches the keys, bounds
// every input, and maps scopes to access.
package oauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/keyward/keyward/internal/sanitize"
)

// Access is what a token lets its bearer do through keyward.
type Access int

const (
	AccessRead  Access = iota + 1 // the read-only tools
	AccessWrite                   // every tool
)

func (a Access) String() string {
	switch a {
	case AccessRead:
		return "read"
	case AccessWrite:
		return "write"
	}
	return "none"
}

// Settings configure a Verifier.
type Settings struct {
	Issuer   string // the issuer's identifier, exactly as tokens' "iss" carries it
	Audience string // keyward's resource URL; tokens must name it in "aud"
	// JWKSURL is where the issuer publishes its keys; empty: read from the
	// issuer's metadata (RFC 8414, then OpenID discovery).
	JWKSURL    string
	ReadScope  string // grants the read-only tools
	WriteScope string // grants every tool
	// Client fetches metadata and keys; nil: a client with a 10 s timeout.
	Client *http.Client
	Now    func() time.Time
	// MinRefetch is the least time between two fetches of the keys, so tokens
	// naming unknown keys cannot make keyward hammer the issuer. Default 1m.
	MinRefetch time.Duration
}

// Grant is what a verified token says about its bearer.
type Grant struct {
	Subject string // "sub": the principal in the audit log and rate limits
	Client  string // "client_id" or "azp", when the token names the client
	Scopes  []string
	Access  Access
	Expiry  time.Time
}

// Error is a refused token, with the RFC 6750 error code a 401 or 403
// answer carries in WWW-Authenticate.
type Error struct {
	Code        string // invalid_token, insufficient_scope, or temporarily_unavailable
	Description string // safe to send back: it never holds the token
	Status      int    // 401, 403 or 503
	Scope       string // insufficient_scope: the scope that would do
}

func (e *Error) Error() string { return e.Description }

func invalid(format string, a ...any) *Error {
	return &Error{Code: "invalid_token", Status: http.StatusUnauthorized, Description: fmt.Sprintf(format, a...)}
}

// Limits on what a bearer sends and an issuer answers.
const (
	maxTokenLen   = 16 << 10
	maxSubjectLen = 255
	maxFetchBytes = 1 << 20
	leeway        = 30 * time.Second
)

// algorithms are the asymmetric signature algorithms keyward accepts. No
// HMAC: a key the issuer publishes is public, so a token "signed" with it
// would prove nothing; no "none".
var algorithms = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512, jose.EdDSA,
}

// Verifier checks tokens. It is safe for concurrent use.
type Verifier struct {
	s Settings

	mu   sync.RWMutex
	keys jose.JSONWebKeySet

	fetchMu   sync.Mutex // one fetch at a time; guards the fields below
	jwksURL   string
	fetchedAt time.Time
	fetchErr  error
}

// New checks the settings; keys are fetched on first use, so keyward starts
// while the issuer is briefly unreachable.
func New(s Settings) (*Verifier, error) {
	if err := checkURL("the issuer", s.Issuer); err != nil {
		return nil, err
	}
	if strings.TrimSpace(s.Audience) == "" {
		return nil, errors.New("no audience: tokens must be bound to keyward's resource URL")
	}
	if s.JWKSURL != "" {
		if err := checkURL("the JWKS URL", s.JWKSURL); err != nil {
			return nil, err
		}
	}
	if s.ReadScope == "" || s.WriteScope == "" || s.ReadScope == s.WriteScope {
		return nil, errors.New("the read and write scopes must be two different names")
	}
	if s.Client == nil {
		s.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.MinRefetch <= 0 {
		s.MinRefetch = time.Minute
	}
	return &Verifier{s: s, jwksURL: s.JWKSURL}, nil
}

// Verify checks raw (the bearer token) and answers what it grants.
func (v *Verifier) Verify(ctx context.Context, raw string) (Grant, error) {
	if raw == "" {
		return Grant{}, invalid("no token")
	}
	if len(raw) > maxTokenLen {
		return Grant{}, invalid("the token is %d bytes long; tokens of more than %d bytes are refused", len(raw), maxTokenLen)
	}
	tok, err := jwt.ParseSigned(raw, algorithms)
	if err != nil {
		return Grant{}, invalid("the token is not a JWT signed with an asymmetric algorithm (%s)", algorithmNames())
	}
	if len(tok.Headers) != 1 {
		return Grant{}, invalid("the token must carry exactly one signature")
	}
	h := tok.Headers[0]
	if typ, _ := h.ExtraHeaders[jose.HeaderType].(string); !acceptedType(typ) {
		return Grant{}, invalid("the token's type %q is not an access token (at+jwt)", echo(typ))
	}
	key, err := v.key(ctx, h)
	if err != nil {
		return Grant{}, err
	}
	var c claims
	if err := tok.Claims(key.Key, &c.Claims, &c); err != nil {
		return Grant{}, invalid("the token's signature does not verify against the issuer's keys")
	}
	now := v.s.Now()
	switch err := c.ValidateWithLeeway(jwt.Expected{Issuer: v.s.Issuer, AnyAudience: jwt.Audience{v.s.Audience}, Time: now}, leeway); {
	case errors.Is(err, jwt.ErrInvalidIssuer):
		return Grant{}, invalid("the token was issued by %q, not by the issuer keyward trusts", echo(c.Issuer))
	case errors.Is(err, jwt.ErrInvalidAudience):
		return Grant{}, invalid("the token is not meant for keyward: its audience does not include %s", v.s.Audience)
	case errors.Is(err, jwt.ErrExpired):
		return Grant{}, invalid("the token expired; get a new one")
	case errors.Is(err, jwt.ErrNotValidYet), errors.Is(err, jwt.ErrIssuedInTheFuture):
		return Grant{}, invalid("the token is not valid yet")
	case err != nil:
		return Grant{}, invalid("the token's claims are not valid")
	}
	if c.Expiry == nil {
		return Grant{}, invalid("the token has no expiry; keyward accepts only tokens that expire")
	}
	if c.Subject == "" {
		return Grant{}, invalid("the token names no subject")
	}
	// The subject is the principal, exactly: rate limits, approvals and
	// sessions are bound to it, so it is never cut or rewritten (two
	// subjects would become one).
	if len(c.Subject) > maxSubjectLen {
		return Grant{}, invalid("the token's subject is %d bytes long; keyward accepts subjects of at most %d (OpenID Connect's bound)", len(c.Subject), maxSubjectLen)
	}
	if sanitize.Escape(c.Subject) != c.Subject {
		return Grant{}, invalid("the token's subject holds control or invisible characters (or is not UTF-8), which keyward does not accept in a principal")
	}
	g := Grant{Subject: c.Subject, Client: bound(firstOf(c.ClientID, c.AZP)), Scopes: c.scopes(), Expiry: c.Expiry.Time()}
	switch {
	case slices.Contains(g.Scopes, v.s.WriteScope):
		g.Access = AccessWrite
	case slices.Contains(g.Scopes, v.s.ReadScope):
		g.Access = AccessRead
	default:
		return Grant{}, &Error{Code: "insufficient_scope", Status: http.StatusForbidden, Scope: v.s.ReadScope,
			Description: fmt.Sprintf("the token has neither scope %s (read-only tools) nor %s (every tool)", v.s.ReadScope, v.s.WriteScope)}
	}
	return g, nil
}

// claims are the registered claims and the ones RFC 9068 and common
// issuers add.
type claims struct {
	jwt.Claims
	Scope    string   `json:"scope"` // RFC 9068: space-separated
	SCP      []string `json:"scp"`   // some issuers: a list
	ClientID string   `json:"client_id"`
	AZP      string   `json:"azp"`
}

func (c claims) scopes() []string {
	out := strings.Fields(c.Scope)
	for _, s := range c.SCP {
		out = append(out, strings.Fields(s)...)
	}
	if len(out) > 64 {
		out = out[:64]
	}
	for i := range out {
		out[i] = bound(out[i])
	}
	return out
}

// acceptedType: RFC 9068 access tokens say at+jwt; many issuers still say
// JWT or nothing. Anything else (an ID token's or a logout token's type, say)
// is some other token.
func acceptedType(typ string) bool {
	switch strings.ToLower(typ) {
	case "", "jwt", "at+jwt", "application/at+jwt":
		return true
	}
	return false
}

// key finds the issuer's key that signed a token, fetching the keys when it
// names one keyward has not seen (the issuer rotated), at most once every
// MinRefetch. Tokens signed with known keys never wait for a fetch.
func (v *Verifier) key(ctx context.Context, h jose.Header) (jose.JSONWebKey, error) {
	if k, ok := v.match(h); ok {
		return k, nil
	}
	v.fetchMu.Lock()
	defer v.fetchMu.Unlock()
	if k, ok := v.match(h); ok {
		return k, nil // another call fetched them meanwhile
	}
	if v.fetchedAt.IsZero() || v.s.Now().Sub(v.fetchedAt) >= v.s.MinRefetch {
		v.fetchedAt = v.s.Now()
		var keys jose.JSONWebKeySet
		// Not the caller's cancellation: the result serves every call
		// until the next fetch is due. The client's timeout bounds it.
		if keys, v.fetchErr = v.fetch(context.WithoutCancel(ctx)); v.fetchErr == nil {
			v.mu.Lock()
			v.keys = keys
			v.mu.Unlock()
		}
		if k, ok := v.match(h); ok {
			return k, nil
		}
	}
	if v.fetchErr != nil {
		return jose.JSONWebKey{}, &Error{Code: "temporarily_unavailable", Status: http.StatusServiceUnavailable,
			Description: "keyward could not fetch the issuer's keys to check the token (" + v.fetchErr.Error() + "); retry shortly"}
	}
	return jose.JSONWebKey{}, invalid("the token was signed with a key the issuer does not publish")
}

// match picks the published key for a token's header: by key id when it
// names one, else the only signing key of the token's algorithm.
func (v *Verifier) match(h jose.Header) (jose.JSONWebKey, bool) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	var found []jose.JSONWebKey
	for _, k := range v.keys.Keys {
		if k.Use == "enc" || !k.IsPublic() || (k.Algorithm != "" && k.Algorithm != h.Algorithm) {
			continue
		}
		if h.KeyID != "" && k.KeyID != h.KeyID {
			continue
		}
		found = append(found, k)
	}
	if len(found) != 1 {
		return jose.JSONWebKey{}, false
	}
	return found[0], true
}

func algorithmNames() string {
	var names []string
	for _, a := range algorithms {
		names = append(names, string(a))
	}
	return strings.Join(names, ", ")
}

func firstOf(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

// bound makes a claim fit for an audit record or a log line: no control or
// invisible characters, at most 200 bytes.
func bound(s string) string { return sanitize.Bound(sanitize.Escape(s), 200) }

// echo makes what a token or an issuer claims fit for an error, which goes
// back to whoever sent the token: as bound, and anything shaped like a
// secret masked.
func echo(s string) string { return sanitize.Echo(s, 200) }
