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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
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

	// workspaceHeader names the workspace a session request acts in. Lium's
	// CLI sends it on every /keys request, with the workspace of the
	// configured API key; without it the server picks the session's own.
	workspaceHeader = "X-Lium-Workspace-Id"
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

// podVisibilities are the values of pod_visibility in Lium's SDK.
var podVisibilities = []string{podVisibilityOwn, "account"}

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

	// keysOnce guards keys: the session client for the /keys routes, with the
	// workspace LIUM_API_KEY acts in, learnt once (a key is bound to its
	// workspace for good); nil until then, and left nil by a failure, so the
	// next call asks again.
	keysOnce sync.Mutex
	keys     *httpapi.Client
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

// keyRows is GET /keys: a JSON array. null or any other shape is not read as
// "no keys", since a listing is what proves a revoked key gone.
type keyRows []keyRow

func (r *keyRows) UnmarshalJSON(b []byte) error {
	if !bytes.HasPrefix(bytes.TrimSpace(b), []byte("[")) {
		return errors.New("the answer is not a list of keys")
	}
	var rows []keyRow
	if err := json.Unmarshal(b, &rows); err != nil {
		return err
	}
	*r = rows
	return nil
}

// createKeyRequest is POST /keys. pod_visibility is always "own": a server
// before Lium's budgets and visibility release ignores it (per its SDK).
type createKeyRequest struct {
	Name          string   `json:"name"`
	Scopes        []string `json:"scopes"`
	PodVisibility string   `json:"pod_visibility"`
}

// createKeyResponse is the row plus the secret. pod_visibility is there only
// when the server recorded it: a server before Lium's release drops the
// field from the request and the row (see podVisibilityNote).
type createKeyResponse struct {
	keyRow
	Key           string  `json:"key"`
	PodVisibility *string `json:"pod_visibility"`
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
	c, err := p.keyClient(ctx)
	if err != nil {
		return nil, err
	}
	var rows keyRows
	if err := c.Do(ctx, "GET", pathKeys, nil, &rows, true); err != nil {
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
	c, err := p.keyClient(ctx)
	if err != nil {
		return provider.Key{}, err
	}
	var row keyRow
	if err := c.Do(ctx, "GET", keyPath(id), nil, &row, true); err != nil {
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
	c, err := p.keyClient(ctx)
	if err != nil {
		return provider.Created{}, err
	}
	body := createKeyRequest{Name: req.Name, Scopes: scopes, PodVisibility: podVisibilityOwn}
	var resp createKeyResponse
	if err := c.Do(ctx, "POST", pathKeys, body, &resp, false); err != nil {
		return provider.Created{}, err
	}
	if resp.Key == "" || resp.ID == "" {
		return provider.Created{}, provider.Fail(provider.KindUpstream, provider.ChangedUnknown, Name, 0,
			"Lium answered the creation of key %q without its id or secret, so keyward cannot use it; look for the key in the dashboard at %s (Access → API Keys) and delete it there",
			req.Name, dashboardURL)
	}
	created := provider.Created{Key: resp.key(secret.Mask(resp.Key)), Secret: resp.Key}
	if note := podVisibilityNote(resp.PodVisibility); note != "" {
		created.Notes = append(created.Notes, note)
	}
	return created, nil
}

// podVisibilityNote says when the create answer shows that Lium did not
// record pod_visibility "own": Lium's CLI reads a field missing from the row,
// or echoed with another value, as not recorded (a server before the release
// drops it). The key then sees what the server's default allows.
func podVisibilityNote(recorded *string) string {
	if recorded != nil && *recorded == podVisibilityOwn {
		return ""
	}
	said := "its answer does not carry pod_visibility"
	switch {
	case recorded != nil && slices.Contains(podVisibilities, *recorded):
		said = fmt.Sprintf("its answer says pod_visibility %q", *recorded)
	case recorded != nil:
		// Not one of Lium's values: not repeated, since a note goes to the caller.
		said = "its answer gives pod_visibility a value Lium does not define"
	}
	return fmt.Sprintf("Lium did not record pod_visibility %q on this key (%s): this Lium server does not support per-key pod visibility yet, so the key may see and act on every pod of the workspace that its scopes reach, not only the pods it creates; revoke it if that is too wide", podVisibilityOwn, said)
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
	c, err := p.keyClient(ctx)
	if err != nil {
		return err
	}
	// The DELETE's answer is undocumented; Lium's SDK takes any 2xx as done.
	// A lost answer is settled by a fresh listing, never by a retried
	// DELETE's 404.
	err = provider.RevokeWithProof(ctx, provider.Revocation{
		Provider: Name, Title: Title, ID: id,
		Delete: func(ctx context.Context) (provider.DeleteAnswer, error) {
			var raw json.RawMessage
			if err := c.Do(ctx, "DELETE", keyPath(id), nil, &raw, false); err != nil {
				return 0, err
			}
			return provider.DeleteAnswerOf(raw), nil
		},
		Listed: func(ctx context.Context) (bool, error) {
			keys, err := p.List(ctx)
			if err != nil {
				return false, err
			}
			return !slices.ContainsFunc(keys, func(k provider.Key) bool { return k.ID == id }), nil
		},
	})
	return notFoundAs(err, id)
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
	// The checked key travels over the provider's own connections.
	me, err := readMe(ctx, p.api.WithKey(key))
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
	me, err := readMe(ctx, p.api)
	if err != nil {
		return provider.Identity{}, err
	}
	id := provider.Identity{Account: me.owner(), Detail: "Lium accepted the configured key (" + EnvKey + ")" + me.describe()}
	if p.session == nil {
		id.Detail += "; keys are managed only in the dashboard, since keyward has no Lium session token"
	}
	return id, nil
}

// readMe is GET /users/me. Only an answer that names the user (an id or an
// e-mail, as every recorded answer does) is Lium's: any other 2xx (an empty
// object, null, another shape) confirms nothing either way.
func readMe(ctx context.Context, c *httpapi.Client) (userMe, error) {
	var me userMe
	if err := c.Do(ctx, "GET", pathMe, nil, &me, true); err != nil {
		return userMe{}, err
	}
	if strings.TrimSpace(me.ID) == "" && strings.TrimSpace(me.Email) == "" {
		return userMe{}, provider.Fail(provider.KindUpstream, provider.ChangedNo, Name, 0,
			"Lium answered GET %s without naming a user, so keyward could not confirm the key: it is neither valid nor invalid as far as keyward can tell; check that LIUM_API_URL (if set) points at Lium's API (%s), or try again later",
			pathMe, DefaultBaseURL)
	}
	return me, nil
}

// keyClient is the session client for the /keys routes. Lium's CLI sends
// every /keys request X-Lium-Workspace-Id with its target workspace, by
// default the one the configured API key acts in (GET /users/me); so does
// keyward, learning it once. A server without workspaces names none on
// /users/me, and then no header is sent, as Lium's SDK sends none.
func (p *Provider) keyClient(ctx context.Context) (*httpapi.Client, error) {
	p.keysOnce.Lock()
	defer p.keysOnce.Unlock()
	if p.keys != nil {
		return p.keys, nil
	}
	me, err := readMe(ctx, p.api)
	if err != nil {
		return nil, workspaceUnknown(err)
	}
	c := p.session
	if w := me.Workspace; w != nil {
		id := strings.TrimSpace(w.ID)
		if !validWorkspaceID(id) {
			return nil, provider.Fail(provider.KindUpstream, provider.ChangedNo, Name, 0,
				"Lium's GET %s named the workspace %s acts in without an id keyward can send, so keyward did not touch any key; try again later, or manage keys in the dashboard at %s",
				pathMe, EnvKey, dashboardURL)
		}
		c = c.WithHeader(workspaceHeader, id)
	}
	p.keys = c
	return c, nil
}

// workspaceUnknown: without the workspace no /keys request is sent, since
// the session's own workspace may be another one.
func workspaceUnknown(err error) error {
	var pe *provider.Error
	if !errors.As(err, &pe) {
		return err
	}
	e := provider.Fail(pe.Kind, provider.ChangedNo, Name, pe.Status,
		"keyward manages the Lium keys of the workspace that %s acts in, as Lium's own CLI does, and could not learn which it is, so no key request was sent: %s",
		EnvKey, pe.Message)
	e.Permission, e.RetryAfter = pe.Permission, pe.RetryAfter
	return e
}

// validWorkspaceID: one word of visible characters (Lium's are UUIDs), short
// enough for a header.
func validWorkspaceID(id string) bool {
	return id != "" && len(id) <= 128 && !strings.ContainsFunc(id, func(r rune) bool { return r <= ' ' || r >= 0x7f })
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
		ID:     r.ID,
		Name:   r.Name,
		Scopes: slices.Clone(r.Scopes),
		// Only true is active: null or a missing field proves nothing, and a
		// Python server's "if not key.is_active" refuses such a key.
		Active:    r.IsActive != nil && *r.IsActive,
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
