// Package vast is keyward's provider for Vast.ai. SOURCES.md beside this file
// cites every endpoint and field used here.
package vast

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/httpapi"
	"github.com/keyward/keyward/internal/secret"
)

const (
	Name  = "vast"
	Title = "Vast.ai"
	// DefaultBaseURL is the API root every documented path hangs off.
	DefaultBaseURL = "https://console.vast.ai/api/v0"
	EnvKey         = "VAST_API_KEY"

	pathKeys        = "/auth/apikeys/"
	pathCurrentUser = "/users/current/"
)

var platform = httpapi.Platform{
	Name:       Name,
	Title:      Title,
	EnvKey:     EnvKey,
	DefaultURL: DefaultBaseURL,
	AuthHeader: "Authorization",
	AuthPrefix: "Bearer ",
}

// The permission categories of docs.vast.ai/api-reference/permissions.
const (
	ScopeInstanceRead  = "instance_read"
	ScopeInstanceWrite = "instance_write"
	ScopeUserRead      = "user_read"
	ScopeUserWrite     = "user_write"
	ScopeBillingRead   = "billing_read"
	ScopeBillingWrite  = "billing_write"
	ScopeMachineRead   = "machine_read"
	ScopeMachineWrite  = "machine_write"
	ScopeMisc          = "misc"
	ScopeTeamRead      = "team_read"
	ScopeTeamWrite     = "team_write"
)

// vocabulary follows Vast's own table. user_read and user_write are sensitive
// because they cover API keys: user_write creates and deletes keys, and
// user_read lists them and, per Vast's "show api key" reference, reads a
// key's value, so either lets a key reach beyond its own scopes.
var vocabulary = []provider.Scope{
	{Name: ScopeInstanceRead, Description: "view instances, logs, SSH keys, volumes and deposits", ReadOnly: true},
	{Name: ScopeInstanceWrite, Description: "create, manage and destroy instances and volumes (spends credit)"},
	{Name: ScopeUserRead, Description: "view account info, API keys, SSH keys, environment variables and templates", ReadOnly: true, Sensitive: true},
	{Name: ScopeUserWrite, Description: "create and delete API keys; change SSH keys, environment variables, templates and teams", Sensitive: true},
	{Name: ScopeBillingRead, Description: "view invoices and earnings", ReadOnly: true, Sensitive: true},
	{Name: ScopeBillingWrite, Description: "transfer credit", Sensitive: true},
	{Name: ScopeMachineRead, Description: "view hosted machines and their reports", ReadOnly: true},
	{Name: ScopeMachineWrite, Description: "manage hosted machines: maintenance, listing and unlisting"},
	{Name: ScopeMisc, Description: "search offers, benchmarks and volumes; manage serverless endpoints and worker groups"},
	{Name: ScopeTeamRead, Description: "view team members and roles", ReadOnly: true, Sensitive: true},
	{Name: ScopeTeamWrite, Description: "invite and remove team members, manage roles", Sensitive: true},
}

// Provider manages Vast.ai API keys with the key in VAST_API_KEY, which needs
// user_read to list keys and user_write to create and revoke them.
type Provider struct {
	api *httpapi.Client
}

// New builds the provider; s.BaseURL empty means DefaultBaseURL.
func New(s httpapi.Settings) *Provider {
	return &Provider{api: httpapi.New(platform, s)}
}

func (p *Provider) Name() string  { return Name }
func (p *Provider) Title() string { return Title }

func (p *Provider) Capabilities() provider.Capabilities {
	return provider.Capabilities{
		Manage:   true,
		Scopes:   true,
		Expiry:   provider.ExpiryNone,
		Validate: true,
		Whoami:   true,
	}
}

func (p *Provider) ScopeVocabulary() []provider.Scope { return slices.Clone(vocabulary) }

func (p *Provider) DefaultScopes() []string { return []string{ScopeInstanceRead} }

func (p *Provider) List(ctx context.Context) ([]provider.Key, error) {
	var out listResponse
	if err := p.api.Do(ctx, http.MethodGet, pathKeys, nil, &out, true); err != nil {
		return nil, err
	}
	keys := make([]provider.Key, 0, len(out.APIKeys))
	for _, w := range out.APIKeys {
		keys = append(keys, w.key())
	}
	return keys, nil
}

// Get reads the list: Vast's GET /auth/apikeys/{id}/ answers with the key's
// value, which keyward must not fetch, and no metadata.
func (p *Provider) Get(ctx context.Context, id string) (provider.Key, error) {
	if _, err := keyID(id); err != nil {
		return provider.Key{}, err
	}
	keys, err := p.List(ctx)
	if err != nil {
		return provider.Key{}, err
	}
	return provider.FindKey(keys, Name, id)
}

func (p *Provider) Create(ctx context.Context, req provider.CreateRequest) (provider.Created, error) {
	scopes, err := checkScopes(req.Scopes)
	if err != nil {
		return provider.Created{}, err
	}
	body := createRequest{Name: req.Name, Permissions: permissionsFor(scopes)}
	var out createResponse
	if err := p.api.Do(ctx, http.MethodPost, pathKeys, body, &out, false); err != nil {
		return provider.Created{}, p.explainRefusal(ctx, err, fmt.Sprintf(
			"Vast.ai refused to create a key with %s: a key cannot grant permissions that the key in %s lacks, and creating keys needs user_write; ask the operator for a key that has them",
			strings.Join(scopes, ", "), EnvKey))
	}
	if out.ID <= 0 || out.Key == "" {
		return provider.Created{}, &provider.Error{Kind: provider.KindUpstream, Provider: Name, Changed: provider.ChangedUnknown,
			Message: "Vast.ai accepted the new key but its answer lacked the id or the secret; the key may exist without keyward knowing its secret; check with list_keys and revoke any key you cannot use"}
	}
	return provider.Created{
		Key: provider.Key{
			ID:        strconv.FormatInt(out.ID, 10),
			Name:      req.Name,
			Scopes:    scopes,
			Active:    true,
			CreatedAt: time.Now().UTC().Truncate(time.Second),
			Masked:    secret.Mask(out.Key),
		},
		Secret: out.Key,
	}, nil
}

func (p *Provider) Update(_ context.Context, _ string, req provider.UpdateRequest) (provider.Key, error) {
	switch {
	case req.Scopes != nil:
		return provider.Key{}, provider.Unsupported(Name, "Vast.ai fixes a key's permissions at creation; pass reissue: true to update_key to create a replacement with the new scopes and revoke the old one")
	case req.Name != nil:
		return provider.Key{}, provider.Unsupported(Name, "Vast.ai cannot rename a key; pass reissue: true to update_key to create a replacement with the new name and revoke the old one")
	case req.SetExpiry:
		return provider.Key{}, provider.Unsupported(Name, "Vast.ai keys have no expiry of their own; keyward records the deadline and revokes the key when it passes")
	}
	return provider.Key{}, provider.Errorf(provider.KindInvalid, Name, "update_key needs a name, scopes or expires_in to change")
}

func (p *Provider) SetActive(context.Context, string, bool) (provider.Key, error) {
	return provider.Key{}, provider.Unsupported(Name, "Vast.ai keys cannot be disabled; revoke it instead")
}

func (p *Provider) Rotate(context.Context, string, provider.RotateRequest) (provider.Created, error) {
	return provider.Created{}, provider.Unsupported(Name, "Vast.ai cannot rotate a chosen key: its reset changes only the calling key's own secret, with no overlap; create a replacement key and revoke the old one instead")
}

func (p *Provider) Revoke(ctx context.Context, id string) error {
	n, err := keyID(id)
	if err != nil {
		return err
	}
	err = p.api.Do(ctx, http.MethodDelete, keyPath(n), nil, nil, true)
	switch {
	case err == nil:
		return nil
	case provider.IsKind(err, provider.KindNotFound):
		return provider.NotFound(Name, id)
	}
	return p.explainRefusal(ctx, err, fmt.Sprintf(
		"Vast.ai refused to delete key %s for the key in %s: deleting keys needs user_write, and only keys of the same account can be deleted", id, EnvKey))
}

// Validate asks Vast who owns secret; a key Vast does not accept is reported
// as not found, since Vast does not say whether it was deleted or reset.
func (p *Provider) Validate(ctx context.Context, key string) (provider.Validation, error) {
	if strings.TrimSpace(key) == "" {
		return provider.Validation{Status: provider.StatusInvalidFormat, Reason: "no key was given; pass the Vast.ai API key to check"}, nil
	}
	masked := secret.Mask(key)
	var me currentUser
	err := p.api.WithKey(key).Do(ctx, http.MethodGet, pathCurrentUser, nil, &me, true)
	switch {
	case provider.IsKind(err, provider.KindUnauthorized):
		return provider.Validation{Status: provider.StatusNotFound, Masked: masked,
			Reason: "Vast.ai does not accept this key: it is wrong, deleted or was reset"}, nil
	case provider.IsKind(err, provider.KindForbidden):
		return provider.Validation{Status: provider.StatusValid, Masked: masked,
			Reason: "Vast.ai accepts this key, but it lacks user_read, so Vast.ai does not say whose it is"}, nil
	case err != nil:
		return provider.Validation{}, err
	}
	v := provider.Validation{Status: provider.StatusValid, Owner: me.owner(), Masked: masked}
	if me.KeyID != nil {
		v.KeyID = strconv.FormatInt(*me.KeyID, 10)
		if k, ok := p.lookup(ctx, v.KeyID); ok {
			v.Name, v.Scopes = k.Name, k.Scopes
		}
	}
	return v, nil
}

func (p *Provider) Whoami(ctx context.Context) (provider.Identity, error) {
	var me currentUser
	if err := p.api.Do(ctx, http.MethodGet, pathCurrentUser, nil, &me, true); err != nil {
		return provider.Identity{}, err
	}
	id := provider.Identity{Account: me.owner(), Detail: fmt.Sprintf("Vast.ai user %d", me.ID)}
	if me.KeyID != nil {
		keyID := strconv.FormatInt(*me.KeyID, 10)
		id.Detail += ", API key " + keyID
		if k, ok := p.lookup(ctx, keyID); ok {
			id.KeyName, id.Scopes = k.Name, k.Scopes
		}
	}
	return id, nil
}

// lookup finds a key's name and scopes for a report; a failure only leaves
// them out.
func (p *Provider) lookup(ctx context.Context, id string) (provider.Key, bool) {
	k, err := p.Get(ctx, id)
	return k, err == nil
}

// explainRefusal: Vast answers 401 both for a rejected credential and for a
// request the credential may not make. When the credential still works, the
// 401 was a refusal, said with the caller's sentence.
func (p *Provider) explainRefusal(ctx context.Context, err error, refusal string) error {
	if !provider.IsKind(err, provider.KindUnauthorized) {
		return err
	}
	var me currentUser
	check := p.api.Do(ctx, http.MethodGet, pathCurrentUser, nil, &me, true)
	if check != nil && !provider.IsKind(check, provider.KindForbidden) {
		return err
	}
	var pe *provider.Error
	errors.As(err, &pe)
	return &provider.Error{Kind: provider.KindForbidden, Provider: Name, Message: refusal, Changed: provider.ChangedNo, Status: pe.Status}
}

// keyID accepts only Vast's positive integer ids, so no other text reaches a path.
func keyID(id string) (int64, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil || n <= 0 {
		return 0, provider.NotFound(Name, id)
	}
	return n, nil
}

func keyPath(id int64) string { return pathKeys + strconv.FormatInt(id, 10) + "/" }

// checkScopes refuses an empty list, because Vast gives a key without
// permissions full access to the account, and names outside the vocabulary.
func checkScopes(scopes []string) ([]string, error) {
	if len(scopes) == 0 {
		return nil, provider.Errorf(provider.KindInvalid, Name,
			"Vast.ai gives a key without permissions full access to the account, so keyward creates none; name at least one scope (list_scopes shows them)")
	}
	out := slices.Clone(scopes)
	for _, s := range out {
		if !slices.ContainsFunc(vocabulary, func(v provider.Scope) bool { return v.Name == s }) {
			return nil, provider.Errorf(provider.KindInvalid, Name, "%q is not a Vast.ai permission; list_scopes shows the ones that exist", s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
