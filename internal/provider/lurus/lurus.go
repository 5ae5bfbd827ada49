// Package lurus is keyward's provider for Lurus Code (code.lurus.ai), whose
// API keys start with lc_. SOURCES.md beside this file cites every fact used
// here and lists what is assumed.
//
// Lurus documents its keys (expiry presets, instant revocation, audit, plan
// limits) but no REST API to manage them: keys are made and revoked in the
// dashboard. So this provider checks keys and says plainly that it cannot
// manage them.
package lurus

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/jsonvalue"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/httpapi"
	"github.com/keyward/keyward/internal/secret"
)

const (
	Name  = "lurus"
	Title = "Lurus"
	// DefaultBaseURL is assumed: the documented curl example is cut before
	// its URL, so this is the product's own host. LURUS_API_URL overrides it.
	DefaultBaseURL = "https://code.lurus.ai"
	EnvKey         = "LURUS_API_KEY"
	// KeyPrefix starts every Lurus Code key.
	KeyPrefix    = "lc_"
	dashboardURL = "https://code.lurus.ai"

	// accountPath is assumed (no source names an account route); a 404 from
	// it is reported as this assumption failing, never as a missing key.
	accountPath = "/api/auth/me"
)

// The documented expiry choices: 7, 30, 90 days, 1 year, never (0).
var expiryPresets = []time.Duration{
	7 * 24 * time.Hour,
	30 * 24 * time.Hour,
	90 * 24 * time.Hour,
	365 * 24 * time.Hour,
	0,
}

var platform = httpapi.Platform{
	Name:       Name,
	Title:      Title,
	EnvKey:     EnvKey,
	DefaultURL: DefaultBaseURL,
	AuthHeader: "X-API-Key",
}

// Provider implements provider.Provider for Lurus Code.
type Provider struct {
	api *httpapi.Client
}

func New(s httpapi.Settings) *Provider {
	return &Provider{api: httpapi.New(platform, s)}
}

func (p *Provider) Name() string  { return Name }
func (p *Provider) Title() string { return Title }

func (p *Provider) Capabilities() provider.Capabilities {
	return provider.Capabilities{
		Manage:        false,
		KeyShape:      "lurus",
		Expiry:        provider.ExpiryPresets,
		ExpiryPresets: append([]time.Duration(nil), expiryPresets...),
		Validate:      true,
		Whoami:        true,
		// The larger documented plan limit; Pro allows 5.
		MaxKeys: 10,
	}
}

// Lurus keys carry no scopes: each has its account's full access.
func (p *Provider) ScopeVocabulary() []provider.Scope { return nil }
func (p *Provider) DefaultScopes() []string           { return nil }

// account is the answer of the account route; every field is assumed. An
// answer counts only when it names the account (an id or an e-mail).
type account struct {
	ID    jsonvalue.StringOrNumber `json:"id"`
	Email string                   `json:"email"`
	Name  string                   `json:"name"`
}

func (p *Provider) List(ctx context.Context) ([]provider.Key, error) {
	return nil, dashboardOnly("list")
}

func (p *Provider) Get(ctx context.Context, id string) (provider.Key, error) {
	return provider.Key{}, dashboardOnly("read")
}

func (p *Provider) Create(ctx context.Context, req provider.CreateRequest) (provider.Created, error) {
	return provider.Created{}, dashboardOnly("create")
}

func (p *Provider) Update(ctx context.Context, id string, req provider.UpdateRequest) (provider.Key, error) {
	return provider.Key{}, dashboardOnly("change")
}

func (p *Provider) SetActive(ctx context.Context, id string, active bool) (provider.Key, error) {
	return provider.Key{}, provider.Unsupported(Name,
		"Lurus keys cannot be disabled and enabled again, and keyward cannot reach them anyway: Lurus keys are managed in its dashboard at %s (Settings → API keys), where a key can be revoked; keyward can check a key but not list, create, change or revoke one",
		dashboardURL)
}

func (p *Provider) Rotate(ctx context.Context, id string, req provider.RotateRequest) (provider.Created, error) {
	return provider.Created{}, dashboardOnly("rotate")
}

func (p *Provider) Revoke(ctx context.Context, id string) error {
	return dashboardOnly("revoke")
}

// Validate checks the lc_ form offline, then asks Lurus with the key itself.
// A rejected key is an answer, not an error.
func (p *Provider) Validate(ctx context.Context, key string) (provider.Validation, error) {
	key = strings.TrimSpace(key)
	if reason := formatProblem(key); reason != "" {
		return provider.Validation{Status: provider.StatusInvalidFormat, Reason: reason}, nil
	}
	masked := secret.Mask(key)
	var who account
	// The checked key travels over the provider's own connections.
	err := p.callAccount(ctx, p.api.WithKey(key), &who)
	switch {
	case err == nil:
		return provider.Validation{Status: provider.StatusValid, Owner: who.owner(), Masked: masked,
			Reason: "Lurus accepted the key" + who.describe()}, nil
	case provider.IsKind(err, provider.KindUnauthorized):
		return provider.Validation{Status: provider.StatusNotFound, Masked: masked,
			Reason: "Lurus does not accept this key: it was never issued, was revoked, or has expired"}, nil
	case provider.IsKind(err, provider.KindForbidden):
		return provider.Validation{Status: provider.StatusDisabled, Masked: masked,
			Reason: "Lurus recognised the key but refused it (403); the account or plan may not allow API access"}, nil
	default:
		return provider.Validation{}, err
	}
}

func (p *Provider) Whoami(ctx context.Context) (provider.Identity, error) {
	var who account
	if err := p.callAccount(ctx, p.api, &who); err != nil {
		return provider.Identity{}, err
	}
	detail := "Lurus accepted the configured key (" + EnvKey + ")" + who.describe() +
		"; its keys are managed only in the dashboard"
	return provider.Identity{Account: who.owner(), Detail: detail}, nil
}

// callAccount asks the account route. Only an answer that names an account
// confirms a key; a 2xx without one (an empty object, null, another shape),
// on a route that is itself a guess, confirms nothing either way.
func (p *Provider) callAccount(ctx context.Context, c *httpapi.Client, out *account) error {
	err := c.Do(ctx, "GET", accountPath, nil, out, true)
	var pe *provider.Error
	switch {
	case provider.IsKind(err, provider.KindNotFound):
		return provider.Fail(provider.KindUpstream, provider.ChangedNo, Name, http.StatusNotFound,
			"Lurus answered 404 for GET %s, the account route keyward assumes because Lurus documents none; the key was not checked. If Lurus serves its API elsewhere, set LURUS_API_URL to that address",
			accountPath)
	case errors.As(err, &pe) && pe.Kind == provider.KindUpstream && pe.Status >= 200 && pe.Status < 300:
		return unconfirmed(pe.Status, "a body keyward could not read as an account")
	case err != nil:
		return err
	case out.owner() == "":
		return unconfirmed(http.StatusOK, "no account in it")
	}
	return nil
}

func unconfirmed(status int, what string) error {
	return provider.Fail(provider.KindUpstream, provider.ChangedNo, Name, status,
		"Lurus answered GET %s with %d and %s, so keyward could not confirm the key: it is neither valid nor invalid as far as keyward can tell. That route is keyward's guess, as Lurus documents none; if Lurus serves its API elsewhere, set LURUS_API_URL to that address, or check the key in the dashboard at %s",
		accountPath, status, what, dashboardURL)
}

func formatProblem(key string) string {
	switch {
	case key == "":
		return "the key is empty; a Lurus key starts with lc_"
	case strings.ContainsFunc(key, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return "a Lurus key is one word without spaces or line breaks, starting with lc_"
	case !strings.HasPrefix(key, KeyPrefix) || len(key) == len(KeyPrefix):
		return "a Lurus key starts with lc_ followed by its secret part; this one does not, so it is not a Lurus Code key"
	}
	return ""
}

func dashboardOnly(verb string) error {
	return provider.Unsupported(Name,
		"Lurus keys are managed in its dashboard at %s (Settings → API keys), so keyward cannot %s one; keyward can check a key but not list, create, change or revoke one",
		dashboardURL, verb)
}

func (a account) owner() string {
	if a.Email != "" {
		return a.Email
	}
	return string(a.ID)
}

func (a account) describe() string {
	switch {
	case a.Name != "" && a.Email != "":
		return " for " + a.Name + " <" + a.Email + ">"
	case a.Email != "":
		return " for " + a.Email
	case a.Name != "":
		return " for " + a.Name
	}
	return ""
}
