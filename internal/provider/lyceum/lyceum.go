// Package lyceum is keyward's provider for Lyceum Cloud. SOURCES.md beside
// this file cites every endpoint and field used here, and says which are
// assumed.
package lyceum

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/httpapi"
)

const (
	Name  = "lyceum"
	Title = "Lyceum"
	// DefaultBaseURL is the API root every documented path hangs off.
	DefaultBaseURL = "https://api.lyceum.technology/api/v2/external"
	EnvKey         = "LYCEUM_API_KEY"

	// KeyPrefix starts every Lyceum API key.
	KeyPrefix = "lk_"
	// prefixLen is how much of a key Lyceum shows after creation.
	prefixLen = 8

	pathKeys     = "/auth/api-keys/"
	pathValidate = "/auth/api-keys/validate"
)

var platform = httpapi.Platform{
	Name:       Name,
	Title:      Title,
	EnvKey:     EnvKey,
	DefaultURL: DefaultBaseURL,
	AuthHeader: "Authorization",
	AuthPrefix: "Bearer ",
}

// Provider manages Lyceum API keys with the key in LYCEUM_API_KEY. Lyceum
// keys have no scopes: each one carries the account's full access.
type Provider struct {
	api *httpapi.Client
	// own is the configured key, which whoami sends to /validate; behind a
	// pointer so that printing a Provider shows an address, not the key.
	own *credential
	now func() time.Time
}

type credential struct{ key string }

// New builds the provider; s.BaseURL empty means DefaultBaseURL.
func New(s httpapi.Settings) *Provider {
	return &Provider{api: httpapi.New(platform, s), own: &credential{key: s.APIKey}, now: time.Now}
}

func (p *Provider) Name() string  { return Name }
func (p *Provider) Title() string { return Title }

func (p *Provider) Capabilities() provider.Capabilities {
	return provider.Capabilities{
		Manage:   true,
		Expiry:   provider.ExpiryAny,
		Toggle:   true,
		Validate: true,
		Whoami:   true,
		LastUsed: true,
	}
}

func (p *Provider) ScopeVocabulary() []provider.Scope { return nil }

func (p *Provider) DefaultScopes() []string { return nil }

func (p *Provider) List(ctx context.Context) ([]provider.Key, error) {
	var out keyList
	if err := p.api.Do(ctx, http.MethodGet, pathKeys, nil, &out, true); err != nil {
		return nil, err
	}
	keys := make([]provider.Key, 0, len(out))
	for _, w := range out {
		keys = append(keys, w.key())
	}
	return keys, nil
}

// Get reads the list: Lyceum documents no way to fetch one key.
func (p *Provider) Get(ctx context.Context, id string) (provider.Key, error) {
	keys, err := p.List(ctx)
	if err != nil {
		return provider.Key{}, err
	}
	return provider.FindKey(keys, Name, id)
}

func (p *Provider) Create(ctx context.Context, req provider.CreateRequest) (provider.Created, error) {
	if len(req.Scopes) > 0 {
		return provider.Created{}, provider.Errorf(provider.KindInvalid, Name,
			"Lyceum keys have no scopes: every key has full access to the account; create the key without scopes")
	}
	body := createRequest{KeyName: req.Name}
	if req.ExpiresAt != nil {
		at := req.ExpiresAt.UTC().Truncate(time.Second)
		body.ExpiresAt = &at
	}
	var out createResponse
	if err := p.api.Do(ctx, http.MethodPost, pathKeys, body, &out, false); err != nil {
		return provider.Created{}, err
	}
	if out.ID == "" || out.APIKey == "" {
		return provider.Created{}, &provider.Error{Kind: provider.KindUpstream, Provider: Name, Changed: provider.ChangedUnknown,
			Message: "Lyceum accepted the new key but its answer lacked the id or the secret; the key may exist without keyward knowing its secret; check with list_keys and revoke any key you cannot use"}
	}
	prefix := out.KeyPrefix
	if prefix == "" {
		prefix = visiblePrefix(out.APIKey)
	}
	name := out.KeyName
	if name == "" {
		name = req.Name
	}
	return provider.Created{
		Key: provider.Key{
			ID:        string(out.ID),
			Name:      name,
			Active:    true,
			CreatedAt: out.CreatedAt.time(),
			ExpiresAt: out.ExpiresAt.ptr(),
			Masked:    maskPrefix(prefix),
		},
		Secret: out.APIKey,
	}, nil
}

func (p *Provider) Update(_ context.Context, _ string, req provider.UpdateRequest) (provider.Key, error) {
	if req.Scopes != nil {
		return provider.Key{}, provider.Unsupported(Name, "Lyceum keys have no scopes: every key has full access to the account")
	}
	return provider.Key{}, provider.Unsupported(Name, "Lyceum cannot rename a key or change its expiry; pass reissue: true to update_key to create a replacement and revoke the old one")
}

// SetActive toggles only when the key is not already in the wanted state,
// since Lyceum's toggle flips whatever the state is.
func (p *Provider) SetActive(ctx context.Context, id string, active bool) (provider.Key, error) {
	k, err := p.Get(ctx, id)
	if err != nil || k.Active == active {
		return k, err
	}
	if err := p.api.Do(ctx, http.MethodPatch, keyPath(id)+"/toggle", nil, nil, false); err != nil {
		if provider.IsKind(err, provider.KindNotFound) {
			return provider.Key{}, provider.NotFound(Name, id)
		}
		return provider.Key{}, err
	}
	k, err = p.Get(ctx, id)
	if err != nil {
		return provider.Key{}, err
	}
	if k.Active != active {
		return k, provider.Errorf(provider.KindConflict, Name,
			"Lyceum toggled key %s but it is still %s, so something else changed it at the same time; check with get_key and try again", id, state(k.Active))
	}
	return k, nil
}

func (p *Provider) Rotate(context.Context, string, provider.RotateRequest) (provider.Created, error) {
	return provider.Created{}, provider.Unsupported(Name, "Lyceum has no key rotation; create a replacement key and revoke the old one instead")
}

func (p *Provider) Revoke(ctx context.Context, id string) error {
	err := p.api.Do(ctx, http.MethodDelete, keyPath(id), nil, nil, true)
	if provider.IsKind(err, provider.KindNotFound) {
		return provider.NotFound(Name, id)
	}
	return err
}

// Validate asks Lyceum about key, authenticated with the configured key, so
// the key being checked is never used as a credential.
func (p *Provider) Validate(ctx context.Context, key string) (provider.Validation, error) {
	key = strings.TrimSpace(key)
	if !strings.HasPrefix(key, KeyPrefix) || len(key) <= len(KeyPrefix) {
		return provider.Validation{Status: provider.StatusInvalidFormat,
			Reason: "Lyceum API keys start with lk_; this is not one"}, nil
	}
	masked := maskPrefix(visiblePrefix(key))
	out, err := p.validate(ctx, key)
	if provider.IsKind(err, provider.KindNotFound) {
		return provider.Validation{Status: provider.StatusNotFound, Masked: masked, Reason: notAccepted}, nil
	}
	if err != nil {
		return provider.Validation{}, err
	}
	v := provider.Validation{Owner: out.owner(), ExpiresAt: out.ExpiresAt.ptr(), Masked: masked}
	if out.KeyName != nil {
		v.Name = *out.KeyName
	}
	match, found := p.match(ctx, key, v.Name)
	if found {
		v.KeyID = match.ID
	}
	switch {
	case out.Valid:
		v.Status = provider.StatusValid
	case v.ExpiresAt != nil && !v.ExpiresAt.After(p.now()):
		v.Status, v.Reason = provider.StatusExpired, fmt.Sprintf("the key expired at %s", v.ExpiresAt.Format(time.RFC3339))
	case found && !match.Active:
		v.Status, v.Reason = provider.StatusDisabled, "the key is disabled; set_key_active with active=true enables it"
	default:
		v.Status, v.Reason = provider.StatusNotFound, notAccepted
	}
	return v, nil
}

const notAccepted = "Lyceum does not accept this key: it is wrong, revoked, disabled or expired"

func (p *Provider) Whoami(ctx context.Context) (provider.Identity, error) {
	out, err := p.validate(ctx, "")
	if err != nil {
		return provider.Identity{}, err
	}
	if !out.Valid {
		return provider.Identity{}, provider.Errorf(provider.KindUnauthorized, Name,
			"Lyceum does not count the credential in %s as a valid API key (it may be disabled, expired or a login token); set an lk_ API key", EnvKey)
	}
	id := provider.Identity{Account: out.owner()}
	if out.KeyName != nil {
		id.KeyName = *out.KeyName
	}
	if out.UserID != nil {
		id.Detail = "Lyceum user " + *out.UserID
	}
	return id, nil
}

// validate checks key, or the configured key when key is empty. The key
// travels in the body, never in a sentence or a log.
func (p *Provider) validate(ctx context.Context, key string) (validateResponse, error) {
	var out validateResponse
	body := validateRequest{APIKey: key}
	if key == "" {
		body.APIKey = p.own.key
	}
	err := p.api.Read(ctx, http.MethodPost, pathValidate, body, &out)
	return out, err
}

// match finds the listed key that a secret belongs to: same visible prefix,
// and the same name when Lyceum gave one. Only a single match counts.
func (p *Provider) match(ctx context.Context, key, name string) (provider.Key, bool) {
	keys, err := p.List(ctx)
	if err != nil {
		return provider.Key{}, false
	}
	want := maskPrefix(visiblePrefix(key))
	var found []provider.Key
	for _, k := range keys {
		if k.Masked == want && (name == "" || k.Name == name) {
			found = append(found, k)
		}
	}
	if len(found) != 1 {
		return provider.Key{}, false
	}
	return found[0], true
}

func keyPath(id string) string { return pathKeys + url.PathEscape(id) }

func visiblePrefix(key string) string { return key[:min(prefixLen, len(key)/2)] }

// maskPrefix shows the part Lyceum itself shows after creation.
func maskPrefix(prefix string) string {
	if prefix == "" {
		return ""
	}
	return prefix + "…"
}

func state(active bool) string {
	if active {
		return "active"
	}
	return "disabled"
}
