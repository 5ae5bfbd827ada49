// Package lyceum is keyward's provider for Lyceum Cloud. SOURCES.md beside
// this file cites every endpoint and field used here, and says which are
// assumed.
package lyceum

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/httpapi"
)

const (
	Name  = "lyceum"
	Title = "Lyceum"
	// OrgName is the provider of one organisation's keys (NewOrg).
	OrgName = "lyceum-org"
	// DefaultBaseURL is the API root every documented path hangs off.
	DefaultBaseURL = "https://api.lyceum.technology/api/v2/external"
	EnvKey         = "LYCEUM_API_KEY"
	// OrgEnvKey names the organisation whose keys NewOrg manages.
	OrgEnvKey    = "LYCEUM_ORG"
	dashboardURL = "https://dashboard.lyceum.technology"

	// KeyPrefix starts every Lyceum API key.
	KeyPrefix = "lk_"
	// prefixLen is how much of a key Lyceum shows after creation.
	prefixLen = 8

	pathKeys     = "/auth/api-keys/"
	pathValidate = "/auth/api-keys/validate"
	pathOrgs     = "/orgs/"
)

var platform = httpapi.Platform{
	Name:       Name,
	Title:      Title,
	EnvKey:     EnvKey,
	DefaultURL: DefaultBaseURL,
	AuthHeader: "Authorization",
	AuthPrefix: "Bearer ",
}

// Provider manages Lyceum API keys with the key in LYCEUM_API_KEY: the
// caller's own keys (New), or one organisation's (NewOrg). Lyceum keys have
// no scopes: each one carries the account's, or the organisation's, full
// access.
type Provider struct {
	api *httpapi.Client
	// own is the configured key, which whoami sends to /validate; behind a
	// pointer so that printing a Provider shows an address, not the key.
	own *credential
	now func() time.Time
	// org is the organisation slug of an organisation provider, "" otherwise.
	org string
}

type credential struct{ key string }

// New builds the provider of the caller's own keys; s.BaseURL empty means
// DefaultBaseURL.
func New(s httpapi.Settings) *Provider {
	return &Provider{api: httpapi.New(platform, s), own: &credential{key: s.APIKey}, now: time.Now}
}

// NewOrg builds the provider of organisation slug's keys (/orgs/{slug}/api-keys),
// named lyceum-org. Lyceum documents listing, creating and regenerating them,
// but no delete and no toggle: those are refused and the dashboard named.
// The key in s.APIKey must belong to an owner or admin of the organisation.
func NewOrg(s httpapi.Settings, slug string) *Provider {
	p := New(s)
	p.org = strings.TrimSpace(slug)
	return p
}

func (p *Provider) Name() string {
	if p.org != "" {
		return OrgName
	}
	return Name
}

func (p *Provider) Title() string {
	if p.org != "" {
		return Title + " organisation " + p.org
	}
	return Title
}

func (p *Provider) Capabilities() provider.Capabilities {
	if p.org != "" {
		return provider.Capabilities{
			Manage:   true,
			KeyShape: "lyceum",
			Expiry:   provider.ExpiryAny,
			Rotate:   true,
			Validate: true,
			Whoami:   true,
			LastUsed: true,
		}
	}
	return provider.Capabilities{
		Manage:   true,
		Revoke:   true,
		KeyShape: "lyceum",
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
	entries, err := p.entries(ctx)
	if err != nil {
		return nil, err
	}
	keys := make([]provider.Key, 0, len(entries))
	for _, w := range entries {
		keys = append(keys, w.key())
	}
	return keys, nil
}

// entries reads the list as sent.
func (p *Provider) entries(ctx context.Context) (keyList, error) {
	path, err := p.listPath()
	if err != nil {
		return nil, err
	}
	var out keyList
	if err := p.api.Do(ctx, http.MethodGet, path, nil, &out, true); err != nil {
		return nil, p.orgMissing(err)
	}
	return out, nil
}

// Get reads the list: Lyceum documents no way to fetch one key.
func (p *Provider) Get(ctx context.Context, id string) (provider.Key, error) {
	keys, err := p.List(ctx)
	if err != nil {
		return provider.Key{}, err
	}
	return provider.FindKey(keys, p.Name(), id)
}

func (p *Provider) Create(ctx context.Context, req provider.CreateRequest) (provider.Created, error) {
	if len(req.Scopes) > 0 {
		return provider.Created{}, provider.Errorf(provider.KindInvalid, p.Name(),
			"Lyceum keys have no scopes: every key has full access to the account; create the key without scopes")
	}
	if req.Narrowed() {
		return provider.Created{}, provider.Errorf(provider.KindInvalid, p.Name(),
			"Lyceum keys cannot be narrowed: they have no scopes, constraints or address allow-lists; create the key without them")
	}
	var expires *time.Time
	if req.ExpiresAt != nil {
		at := req.ExpiresAt.UTC().Truncate(time.Second)
		expires = &at
	}
	path, err := p.listPath()
	if err != nil {
		return provider.Created{}, err
	}
	var body any = createRequest{KeyName: req.Name, ExpiresAt: expires}
	if p.org != "" {
		body = orgCreateRequest{Name: req.Name, ExpiresAt: expires}
	}
	var out createResponse
	if err := p.api.Do(ctx, http.MethodPost, path, body, &out, false); err != nil {
		return provider.Created{}, p.orgMissing(err)
	}
	return p.created(out, req.Name, "accepted the new key")
}

// created turns a create or regenerate answer into a key with its secret.
func (p *Provider) created(out createResponse, name, what string) (provider.Created, error) {
	if out.ID == "" || out.secret() == "" {
		return provider.Created{}, provider.Fail(provider.KindUpstream, provider.ChangedUnknown, p.Name(), 0,
			"Lyceum %s but its answer lacked the id or the secret; the key may exist without keyward knowing its secret, so revoke any key you cannot use", what).Next(provider.StepCheckKeys)
	}
	prefix := cmp.Or(out.KeyPrefix, out.Prefix, visiblePrefix(out.secret()))
	return provider.Created{
		Key: provider.Key{
			ID:        string(out.ID),
			Name:      cmp.Or(out.KeyName, out.Name, name),
			Active:    true,
			CreatedAt: out.CreatedAt.time(),
			ExpiresAt: out.ExpiresAt.ptr(),
			Masked:    maskPrefix(prefix),
		},
		Secret: out.secret(),
	}, nil
}

func (p *Provider) Update(_ context.Context, _ string, req provider.UpdateRequest) (provider.Key, error) {
	if req.Scopes != nil {
		return provider.Key{}, provider.Unsupported(p.Name(), "Lyceum keys have no scopes: every key has full access to the account")
	}
	return provider.Key{}, provider.Unsupported(p.Name(), "Lyceum cannot rename a key or change its expiry in place; a replacement key can have the new settings").Next(provider.StepReissue)
}

// SetActive toggles only when the key is known to be in the other state,
// since Lyceum's toggle flips whatever the state is.
func (p *Provider) SetActive(ctx context.Context, id string, active bool) (provider.Key, error) {
	if p.org != "" {
		return provider.Key{}, provider.Unsupported(p.Name(),
			"Lyceum documents no way to disable an organisation key (only a user's own keys have a toggle); delete it in the dashboard at %s, or rotate it", dashboardURL)
	}
	entries, err := p.entries(ctx)
	if err != nil {
		return provider.Key{}, err
	}
	i := slices.IndexFunc(entries, func(w wireKey) bool { return string(w.ID) == id })
	if i < 0 {
		return provider.Key{}, provider.NotFound(p.Name(), id)
	}
	k := entries[i].key()
	if !entries[i].IsActive.sent {
		return provider.Key{}, provider.Errorf(provider.KindUpstream, p.Name(),
			"Lyceum listed key %s without is_active, so keyward cannot tell whether it is enabled, and its toggle flips whatever the state is; nothing was changed; check the key in the dashboard at %s", id, dashboardURL)
	}
	if k.Active == active {
		return k, nil
	}
	if err := p.api.Do(ctx, http.MethodPatch, keyPath(id)+"/toggle", nil, nil, false); err != nil {
		if provider.IsKind(err, provider.KindNotFound) {
			return provider.Key{}, provider.NotFound(p.Name(), id)
		}
		return provider.Key{}, err
	}
	k, err = p.Get(ctx, id)
	if err != nil {
		return provider.Key{}, err
	}
	if k.Active != active {
		return k, provider.Errorf(provider.KindConflict, p.Name(),
			"Lyceum toggled key %s but it is still %s, so something else changed it at the same time", id, state(k.Active)).Next(provider.StepCheckKey)
	}
	return k, nil
}

// Rotate regenerates an organisation key (POST
// /orgs/{slug}/api-keys/{key_id}/regenerate); a user's own keys have no
// rotation.
func (p *Provider) Rotate(ctx context.Context, id string, req provider.RotateRequest) (provider.Created, error) {
	if p.org == "" {
		return provider.Created{}, provider.Unsupported(p.Name(), "Lyceum has no rotation for a user's own keys (only organisation keys can be regenerated); create a replacement key and revoke the old one instead")
	}
	if req.Grace > 0 {
		return provider.Created{}, provider.Unsupported(p.Name(), "Lyceum's regenerate keeps no grace period for the old secret; rotate without grace")
	}
	path, err := p.listPath()
	if err != nil {
		return provider.Created{}, err
	}
	var out createResponse
	if err := p.api.Do(ctx, http.MethodPost, path+"/"+url.PathEscape(id)+"/regenerate", nil, &out, false); err != nil {
		if provider.IsKind(err, provider.KindNotFound) {
			return provider.Created{}, provider.NotFound(p.Name(), id)
		}
		return provider.Created{}, err
	}
	return p.created(out, "", "regenerated the key")
}

// Revoke deletes one of the user's own keys, and says it did only on proof:
// Lyceum's answer, or a fresh listing without the key.
func (p *Provider) Revoke(ctx context.Context, id string) error {
	if p.org != "" {
		return provider.Unsupported(p.Name(),
			"Lyceum documents no way to delete an organisation key through its API; delete key %s in the dashboard at %s, or rotate it to end its current secret", id, dashboardURL)
	}
	// Lyceum documents no answer to the DELETE, so its 2xx is read as JSON
	// (a page that is not proves nothing), and a lost answer is settled by a
	// fresh listing, never by a retried DELETE's 404.
	return provider.RevokeWithProof(ctx, provider.Revocation{
		Provider: p.Name(), Title: Title, ID: id,
		Delete: func(ctx context.Context) (provider.DeleteAnswer, error) {
			var raw json.RawMessage
			if err := p.api.Do(ctx, http.MethodDelete, keyPath(id), nil, &raw, false); err != nil {
				return 0, err
			}
			return provider.DeleteAnswerOf(raw), nil
		},
		Listed: func(ctx context.Context) (bool, error) {
			entries, err := p.entries(ctx)
			if err != nil {
				return false, err
			}
			return !slices.ContainsFunc(entries, func(w wireKey) bool { return string(w.ID) == id }), nil
		},
	})
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
	if _, err := p.listPath(); err != nil {
		return provider.Validation{}, err
	}
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
	case out.valid():
		v.Status = provider.StatusValid
	case v.ExpiresAt != nil && !v.ExpiresAt.After(p.now()):
		v.Status, v.Reason = provider.StatusExpired, fmt.Sprintf("the key expired at %s", v.ExpiresAt.Format(time.RFC3339))
	case found && !match.Active:
		v.Status, v.Reason, v.Step = provider.StatusDisabled, "the key is disabled", provider.StepEnable
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
	if !out.valid() {
		return provider.Identity{}, provider.Errorf(provider.KindUnauthorized, p.Name(),
			"Lyceum does not count the credential in %s as a valid API key (it may be disabled, expired or a login token); set an lk_ API key", EnvKey)
	}
	id := provider.Identity{Account: out.owner()}
	if out.KeyName != nil {
		id.KeyName = *out.KeyName
	}
	if out.UserID != nil {
		id.Detail = "Lyceum user " + *out.UserID
	}
	if p.org != "" {
		id.Detail = strings.TrimPrefix(id.Detail+"; managing the keys of organisation "+p.org+" ("+OrgEnvKey+")", "; ")
	}
	return id, nil
}

// listPath is where the keys are listed and created.
func (p *Provider) listPath() (string, error) {
	if p.org == "" {
		return pathKeys, nil
	}
	if !validSlug(p.org) {
		return "", provider.Errorf(provider.KindInvalid, p.Name(),
			"%s=%q is not a Lyceum organisation slug, which has only a-z, 0-9 and -; set it to the slug shown in the dashboard's /orgs/{slug} address", OrgEnvKey, p.org)
	}
	return pathOrgs + p.org + "/api-keys", nil
}

// orgMissing names LYCEUM_ORG when the organisation routes answer 404.
func (p *Provider) orgMissing(err error) error {
	if p.org == "" || !provider.IsKind(err, provider.KindNotFound) {
		return err
	}
	return provider.Fail(provider.KindNotFound, provider.ChangedNo, p.Name(), http.StatusNotFound,
		"Lyceum has no organisation %q whose keys the key in %s may manage (404); check %s, and that the key belongs to an owner or admin of it", p.org, EnvKey, OrgEnvKey)
}

func validSlug(s string) bool {
	return s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return (r < 'a' || r > 'z') && (r < '0' || r > '9') && r != '-'
	})
}

// validate checks key, or the configured key when key is empty. The key
// travels in the body, never in a sentence or a log.
func (p *Provider) validate(ctx context.Context, key string) (validateResponse, error) {
	var out validateResponse
	body := validateRequest{APIKey: key}
	if key == "" {
		body.APIKey = p.own.key
	}
	if err := p.api.DoSafe(ctx, http.MethodPost, pathValidate, body, &out); err != nil {
		return out, err
	}
	if out.Valid == nil {
		// Lyceum's validate always says valid true or false; an answer
		// without it (an empty object, null, another shape) is not Lyceum's,
		// and proves a key neither good nor bad.
		return out, provider.Fail(provider.KindUpstream, provider.ChangedNo, p.Name(), 0,
			"Lyceum answered POST %s without saying whether the key is valid, so keyward could not confirm it: it is neither valid nor invalid as far as keyward can tell; try again later, or check the key in the dashboard at %s",
			pathValidate, dashboardURL)
	}
	return out, nil
}

// match finds the listed key that a secret belongs to: same visible prefix,
// and the same name when Lyceum gave one. Only a single match counts. An
// organisation provider matches among the organisation's keys.
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
