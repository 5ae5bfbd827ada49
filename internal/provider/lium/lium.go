// Package lium is keyward's provider for Lium (lium.io), the GPU cloud on
// Bittensor subnet 51. SOURCES.md beside this file cites every fact used here.
//
// Lium lets only a signed-in browser session manage API keys: an API key such
// as LIUM_API_KEY can validate itself (GET /users/me) but cannot list, create
// or delete keys. New therefore gives a provider that validates keys and says
// plainly that it cannot manage them; NewWithSession adds the key routes for an
// operator who hands keyward a Lium session token.
package lium

import (
	"context"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/httpapi"
	"github.com/keyward/keyward/internal/secret"
)

const (
	Name  = "lium"
	Title = "Lium"
	// DefaultBaseURL is the API root every documented path hangs off.
	DefaultBaseURL = "https://lium.io/api"
	EnvKey         = "LIUM_API_KEY"
	// SessionEnvKey is where Lium's own SDK reads a browser session token.
	SessionEnvKey = "LIUM_SESSION_TOKEN"
	dashboardURL  = "https://lium.io"

	pathMe   = "/users/me"
	pathKeys = "/keys"
)

// Scope names Lium knows. billing, the money-moving scope, is in Lium's SDK
// but "not released" on lium.io (servers without it answer 422), so keyward
// does not offer it.
const (
	ScopeRead    = "read"
	ScopeRent    = "rent"
	ScopeManage  = "manage"
	ScopeBilling = "billing"

	// podVisibilityOwn makes a key see only the pods it creates, the
	// narrowest of Lium's two values ("own", "account") and its SDK's default.
	podVisibilityOwn = "own"
)

var keyPlatform = httpapi.Platform{
	Name:       Name,
	Title:      Title,
	EnvKey:     EnvKey,
	DefaultURL: DefaultBaseURL,
	AuthHeader: "X-API-Key",
}

var sessionPlatform = httpapi.Platform{
	Name:       Name,
	Title:      Title,
	EnvKey:     SessionEnvKey,
	DefaultURL: DefaultBaseURL,
	AuthHeader: "Authorization",
	AuthPrefix: "Bearer ",
}

var vocabulary = []provider.Scope{
	{Name: ScopeRead, ReadOnly: true,
		Description: "List pods, nodes, templates, the balance and the audit log; changes nothing."},
	{Name: ScopeRent,
		Description: "Rent nodes and reboot, edit or remove the pods this key rented."},
	{Name: ScopeManage,
		Description: "Manage every pod of the account, templates, SSH keys, volumes and backups."},
}

// Provider implements provider.Provider for Lium.
type Provider struct {
	api     *httpapi.Client // X-API-Key: the configured LIUM_API_KEY
	session *httpapi.Client // Authorization: Bearer; nil without a session
}

// New returns a provider that validates keys and answers whoami with the
// configured API key; it cannot manage keys (Capabilities.Manage is false).
func New(s httpapi.Settings) *Provider {
	return &Provider{api: httpapi.New(keyPlatform, s)}
}

// NewWithSession also manages keys through Lium's session-only /keys routes.
// sessionToken is a Lium browser session (a JWT from the dashboard or from
// POST /users/login); s.APIKey stays the credential for whoami.
func NewWithSession(s httpapi.Settings, sessionToken string) *Provider {
	p := New(s)
	if strings.TrimSpace(sessionToken) != "" {
		ss := s
		ss.APIKey = sessionToken
		p.session = httpapi.New(sessionPlatform, ss)
	}
	return p
}

func (p *Provider) Name() string  { return Name }
func (p *Provider) Title() string { return Title }

func (p *Provider) Capabilities() provider.Capabilities {
	return provider.Capabilities{
		Manage:   p.session != nil,
		Revoke:   p.session != nil,
		KeyShape: "lium",
		Scopes:   true,
		Expiry:   provider.ExpiryNone,
		Validate: true,
		Whoami:   true,
		LastUsed: true,
	}
}

func (p *Provider) ScopeVocabulary() []provider.Scope { return slices.Clone(vocabulary) }

func (p *Provider) DefaultScopes() []string { return []string{ScopeRead} }

// Wire types, with Lium's JSON field names.

type keyRow struct {
	ID              string    `json:"id"`
	UserID          string    `json:"user_id"`
	Name            string    `json:"name"`
	IsActive        *bool     `json:"is_active"`
	CreatedAt       wireTime  `json:"created_at"`
	ExpiresAt       *wireTime `json:"expires_at"`
	LastUsed        *wireTime `json:"last_used"`
	Scopes          []string  `json:"scopes"`
	WorkspaceID     string    `json:"workspace_id"`
	CreatedByUserID string    `json:"created_by_user_id"`
}

// createKeyRequest is POST /keys. pod_visibility is always "own": a server
// before Lium's budgets and visibility release ignores it (per its SDK).
type createKeyRequest struct {
	Name          string   `json:"name"`
	Scopes        []string `json:"scopes"`
	PodVisibility string   `json:"pod_visibility"`
}

type createKeyResponse struct {
	keyRow
	Key string `json:"key"`
}

type userMe struct {
	ID        string         `json:"id"`
	Name      string         `json:"name"`
	Email     string         `json:"email"`
	Workspace *userWorkspace `json:"workspace"`
}

type userWorkspace struct {
	ID         string `json:"id"`
	Name       string `json:"name"`
	Role       string `json:"role"`
	IsPersonal *bool  `json:"is_personal"`
}

func (p *Provider) List(ctx context.Context) ([]provider.Key, error) {
	if err := p.needSession("list"); err != nil {
		return nil, err
	}
	var rows []keyRow
	if err := p.session.Do(ctx, "GET", pathKeys, nil, &rows, true); err != nil {
		return nil, err
	}
	keys := make([]provider.Key, 0, len(rows))
	for _, r := range rows {
		keys = append(keys, r.key(""))
	}
	return keys, nil
}

func (p *Provider) Get(ctx context.Context, id string) (provider.Key, error) {
	if err := p.needSession("read"); err != nil {
		return provider.Key{}, err
	}
	var row keyRow
	if err := p.session.Do(ctx, "GET", keyPath(id), nil, &row, true); err != nil {
		return provider.Key{}, notFoundAs(err, id)
	}
	return row.key(""), nil
}

func (p *Provider) Create(ctx context.Context, req provider.CreateRequest) (provider.Created, error) {
	if err := p.needSession("create"); err != nil {
		return provider.Created{}, err
	}
	scopes := req.Scopes
	if len(scopes) == 0 {
		scopes = p.DefaultScopes()
	}
	if err := checkScopes(scopes); err != nil {
		return provider.Created{}, err
	}
	if req.Narrowed() {
		return provider.Created{}, provider.Errorf(provider.KindInvalid, Name,
			"Lium keys cannot be narrowed below their scopes by constraints or address allow-lists; a new key already sees only the pods it creates")
	}
	// Lium takes no expiry on a new key: with ExpiryNone the manager records
	// req.ExpiresAt and revokes the key itself.
	body := createKeyRequest{Name: req.Name, Scopes: scopes, PodVisibility: podVisibilityOwn}
	var resp createKeyResponse
	if err := p.session.Do(ctx, "POST", pathKeys, body, &resp, false); err != nil {
		return provider.Created{}, err
	}
	if resp.Key == "" || resp.ID == "" {
		return provider.Created{}, provider.Fail(provider.KindUpstream, provider.ChangedUnknown, Name, 0,
			"Lium answered the creation of key %q without its id or secret, so keyward cannot use it; look for the key in the dashboard at %s (Access → API Keys) and delete it there",
			req.Name, dashboardURL)
	}
	return provider.Created{Key: resp.key(secret.Mask(resp.Key)), Secret: resp.Key}, nil
}

func (p *Provider) Update(ctx context.Context, id string, req provider.UpdateRequest) (provider.Key, error) {
	return provider.Key{}, provider.Unsupported(Name,
		"Lium keys cannot be renamed, re-scoped or given a new expiry through its API; create a new key with the settings you want and revoke this one")
}

func (p *Provider) SetActive(ctx context.Context, id string, active bool) (provider.Key, error) {
	return provider.Key{}, provider.Unsupported(Name,
		"Lium has no way to disable a key and enable it later; revoke the key to stop it, and create a new one when it is needed again")
}

func (p *Provider) Rotate(ctx context.Context, id string, req provider.RotateRequest) (provider.Created, error) {
	return provider.Created{}, provider.Unsupported(Name,
		"Lium cannot rotate a key in place; create a new key with the same scopes, move to it, then revoke the old one")
}

func (p *Provider) Revoke(ctx context.Context, id string) error {
	if err := p.needSession("revoke"); err != nil {
		return err
	}
	if err := p.session.Do(ctx, "DELETE", keyPath(id), nil, nil, true); err != nil {
		return notFoundAs(err, id)
	}
	return nil
}

// Validate asks Lium who the secret belongs to. A rejected secret is an
// answer, not an error.
func (p *Provider) Validate(ctx context.Context, key string) (provider.Validation, error) {
	key = strings.TrimSpace(key)
	if key == "" || strings.ContainsFunc(key, isSpaceOrControl) {
		return provider.Validation{Status: provider.StatusInvalidFormat,
			Reason: "a Lium API key is one word without spaces, like sk_ followed by about 43 letters and digits"}, nil
	}
	masked := secret.Mask(key)
	var me userMe
	// The checked key travels over the provider's own connections.
	err := p.api.WithKey(key).Do(ctx, "GET", pathMe, nil, &me, true)
	switch {
	case err == nil:
		v := provider.Validation{Status: provider.StatusValid, Owner: me.owner(), Masked: masked,
			Reason: "Lium accepted the key" + me.describe()}
		return v, nil
	case provider.IsKind(err, provider.KindUnauthorized):
		return provider.Validation{Status: provider.StatusNotFound, Masked: masked,
			Reason: "Lium does not accept this key: it was never issued, was deleted, or has expired (Lium answers all three alike)"}, nil
	case provider.IsKind(err, provider.KindForbidden):
		return forbiddenValidation(err, masked), nil
	default:
		return provider.Validation{}, err
	}
}

func (p *Provider) Whoami(ctx context.Context) (provider.Identity, error) {
	var me userMe
	if err := p.api.Do(ctx, "GET", pathMe, nil, &me, true); err != nil {
		return provider.Identity{}, err
	}
	id := provider.Identity{Account: me.owner(), Detail: "Lium accepted the configured key (" + EnvKey + ")" + me.describe()}
	if p.session == nil {
		id.Detail += "; keys are managed only in the dashboard, since keyward has no Lium session token"
	}
	return id, nil
}

// forbiddenValidation sorts Lium's 403 on /users/me the way Lium's own CLI
// does: only the platform's message (quoted in the error) tells a working key
// that lacks the read scope or balance from a dead or blocked one.
func forbiddenValidation(err error, masked string) provider.Validation {
	var pe *provider.Error
	errors.As(err, &pe)
	msg := strings.ToLower(pe.Message)
	v := provider.Validation{Masked: masked}
	switch {
	case pe.Permission != "":
		v.Status = provider.StatusValid
		v.Reason = "Lium accepts the key, but it lacks the " + pe.Permission + " scope, so keyward could not read whose key it is"
	case strings.Contains(msg, "balance"):
		v.Status = provider.StatusValid
		v.Reason = "Lium accepts the key, but the account's balance is too low for it to act"
	case strings.Contains(msg, "workspace") || strings.Contains(msg, "no longer a member"):
		v.Status = provider.StatusRevoked
		v.Reason = "Lium no longer honours the key: its workspace is gone, or the account that created it left the workspace"
	default:
		v.Status = provider.StatusDisabled
		v.Reason = "Lium recognises the key but refuses to act with it (403); the account may be blocked"
	}
	return v
}

func (p *Provider) needSession(verb string) error {
	if p.session != nil {
		return nil
	}
	return provider.Unsupported(Name,
		"Lium lets only a signed-in browser session %s API keys, and keyward holds an API key (%s), so it cannot; manage Lium keys in the dashboard at %s (Access → API Keys), or give keyward a Lium session token in %s. keyward can still validate Lium keys",
		verb, EnvKey, dashboardURL, SessionEnvKey)
}

func checkScopes(scopes []string) error {
	for _, s := range scopes {
		if s == ScopeBilling {
			return provider.Unsupported(Name,
				"lium.io does not accept the billing scope yet: Lium's own SDK calls it not released, and servers without it answer 422; create the key with read, rent or manage, and move money in the dashboard at %s", dashboardURL)
		}
		if !slices.ContainsFunc(vocabulary, func(v provider.Scope) bool { return v.Name == s }) {
			return provider.Errorf(provider.KindInvalid, Name,
				"Lium has no scope %q; its scopes are read, rent and manage", s)
		}
	}
	return nil
}

func keyPath(id string) string { return pathKeys + "/" + url.PathEscape(id) }

// notFoundAs turns Lium's 404 for a key path into keyward's usual sentence.
func notFoundAs(err error, id string) error {
	var pe *provider.Error
	if errors.As(err, &pe) && pe.Kind == provider.KindNotFound {
		return provider.Fail(provider.KindNotFound, provider.ChangedNo, Name, pe.Status,
			"Lium has no key with id %q in this account", id).Next(provider.StepFindKey)
	}
	return err
}

func (r keyRow) key(masked string) provider.Key {
	k := provider.Key{
		ID:        r.ID,
		Name:      r.Name,
		Scopes:    slices.Clone(r.Scopes),
		Active:    r.IsActive == nil || *r.IsActive,
		CreatedAt: r.CreatedAt.Time,
		ExpiresAt: r.ExpiresAt.ptr(),
		// Lium's rows carry no masked prefix, so only a new key has one.
		Masked:     masked,
		LastUsedAt: r.LastUsed.ptr(),
	}
	if k.ExpiresAt != nil && !k.ExpiresAt.After(time.Now()) {
		k.Active = false
	}
	return k
}

func (m userMe) owner() string {
	if m.Email != "" {
		return m.Email
	}
	return m.ID
}

func (m userMe) describe() string {
	var b strings.Builder
	if m.Name != "" {
		b.WriteString(" " + m.Name)
	}
	if m.Email != "" {
		b.WriteString(" <" + m.Email + ">")
	}
	if w := m.Workspace; w != nil && w.Name != "" {
		b.WriteString(", workspace " + w.Name)
		if w.Role != "" {
			b.WriteString(" (" + w.Role + ")")
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return " for" + b.String()
}

func isSpaceOrControl(r rune) bool { return r <= ' ' || r == 0x7f }
