// Package vast is keyward's provider for Vast.ai. SOURCES.md beside this file
// cites every endpoint and field used here.
package vast

import (
	"context"
	"encoding/json"
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
	// The agents_* categories are in Vast's backend scope table
	// (vast-cli scripts/data/api_scopes.json) but not in its permissions page.
	ScopeAgentsRead  = "agents_read"
	ScopeAgentsWrite = "agents_write"
)

// vocabulary follows Vast's own tables. user_read and user_write are sensitive
// because they cover API keys: user_write creates and deletes keys, and
// user_read lists them and reads GET /auth/apikeys/{id}/, whose answer no
// Vast page documents any more (it once showed the key's value), so either
// may let a key reach beyond its own scopes. agents_write
// is sensitive because it refreshes the account's linked Bitbucket connection
// (PUT /bitbucket/refresh) and no Vast page describes what else it allows.
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
	{Name: ScopeAgentsRead, Description: "view agents, their tasks and repositories (the /legion/ routes)", ReadOnly: true},
	{Name: ScopeAgentsWrite, Description: "create, change and delete agents and their tasks; refresh the linked Bitbucket connection", Sensitive: true},
}

// constraintOps are the operators of Vast's permissions reference.
var constraintOps = []provider.ConstraintOp{provider.OpEq, provider.OpLTE, provider.OpGTE}

// constraints are the operations Vast's permissions pages narrow by example,
// each bounded on the instance id; no Vast source lists the others.
var constraints = provider.ConstraintSupport{
	Targets: []provider.ConstraintTarget{
		{Scope: ScopeInstanceRead, Resource: "api.instance.show", Param: "id", Integer: true, Description: "show an instance"},
		{Scope: ScopeInstanceRead, Resource: "api.instance.request_logs", Param: "id", Integer: true, Description: "read an instance's logs"},
		{Scope: ScopeInstanceWrite, Resource: "api.instance.destroy", Param: "id", Integer: true, Description: "destroy an instance"},
		{Scope: ScopeInstanceWrite, Resource: "api.instance.reboot", Param: "id", Integer: true, Description: "reboot an instance"},
	},
	Ops:        constraintOps,
	AllowedIPs: true,
	Note: "A constrained category allows only the operations named for it, with those bounds. Vast.ai documents these four operations only by example, " +
		"and its address allow-list (key_params.ip_whitelist) only by one example address; no Vast.ai listing shows a key's allow-list, so keyward cannot read it back.",
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
		Manage:      true,
		Revoke:      true,
		KeyShape:    "vast",
		Scopes:      true,
		Expiry:      provider.ExpiryNone,
		Validate:    true,
		Whoami:      true,
		Constraints: cloneSupport(constraints),
	}
}

func cloneSupport(s provider.ConstraintSupport) provider.ConstraintSupport {
	s.Targets, s.Ops = slices.Clone(s.Targets), slices.Clone(s.Ops)
	return s
}

func (p *Provider) ScopeVocabulary() []provider.Scope { return slices.Clone(vocabulary) }

func (p *Provider) DefaultScopes() []string { return []string{ScopeInstanceRead} }

func (p *Provider) List(ctx context.Context) ([]provider.Key, error) {
	var out listResponse
	if err := p.do(ctx, http.MethodGet, pathKeys, nil, &out, true); err != nil {
		return nil, err
	}
	if out.APIKeys == nil {
		// {} or {"apikeys": null} is not "no keys" (the configured key itself
		// is always listed), and a listing is what proves a revoked key gone.
		return nil, provider.Fail(provider.KindUpstream, provider.ChangedNo, Name, 0,
			"Vast.ai answered GET %s without a list of keys (\"apikeys\"), so keyward cannot tell which keys exist; try again later", pathKeys)
	}
	keys := make([]provider.Key, 0, len(out.APIKeys))
	for _, w := range out.APIKeys {
		keys = append(keys, w.key())
	}
	return keys, nil
}

// Get reads the list: Vast documents no metadata answer for GET
// /auth/apikeys/{id}/, which may answer with the key's value, which keyward
// must not fetch.
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
	cs, ips, err := provider.CheckConstraints(p, scopes, req.Constraints, req.AllowedIPs)
	if err != nil {
		return provider.Created{}, err
	}
	body := createRequest{Name: req.Name, Permissions: permissionsFor(scopes, cs)}
	if len(ips) > 0 {
		body.KeyParams = &keyParams{IPWhitelist: ips}
	}
	var out createResponse
	if err := p.do(ctx, http.MethodPost, pathKeys, body, &out, false); err != nil {
		return provider.Created{}, p.explainRefusal(ctx, err, fmt.Sprintf(
			"Vast.ai refused to create a key with %s: a key cannot grant permissions that the key in %s lacks, and creating keys needs user_write; ask the operator for a key that has them",
			strings.Join(scopes, ", "), EnvKey))
	}
	if out.ID <= 0 || out.Key == "" {
		return provider.Created{}, provider.Fail(provider.KindUpstream, provider.ChangedUnknown, Name, 0,
			"Vast.ai accepted the new key but its answer lacked the id or the secret; the key may exist without keyward knowing its secret, so revoke any key you cannot use").Next(provider.StepCheckKeys)
	}
	k := provider.Key{
		ID:          strconv.FormatInt(out.ID, 10),
		Name:        req.Name,
		Scopes:      scopes,
		Constraints: cs,
		AllowedIPs:  ips,
		Active:      true,
		CreatedAt:   time.Now().UTC().Truncate(time.Second),
		Masked:      secret.Mask(out.Key),
	}
	// The key as Vast recorded it, when its answer says: faithful even if
	// Vast narrowed or widened what was asked.
	if recorded, rcs := readPermissions(out.Permissions); recorded != nil {
		k.Scopes, k.Constraints = recorded, rcs
	}
	return provider.Created{Key: k, Secret: out.Key}, nil
}

func (p *Provider) Update(_ context.Context, _ string, req provider.UpdateRequest) (provider.Key, error) {
	switch {
	case req.Scopes != nil:
		return provider.Key{}, provider.Unsupported(Name, "Vast.ai fixes a key's permissions at creation; a replacement key can have the new scopes").Next(provider.StepReissue)
	case req.Name != nil:
		return provider.Key{}, provider.Unsupported(Name, "Vast.ai cannot rename a key; a replacement key can have the new name").Next(provider.StepReissue)
	case req.SetExpiry:
		return provider.Key{}, provider.Unsupported(Name, "Vast.ai keys have no expiry of their own; keyward records the deadline and revokes the key when it passes")
	}
	return provider.Key{}, provider.Errorf(provider.KindInvalid, Name, "an update needs a new name, scopes or expiry")
}

func (p *Provider) SetActive(context.Context, string, bool) (provider.Key, error) {
	return provider.Key{}, provider.Unsupported(Name, "Vast.ai keys cannot be disabled; revoke it instead")
}

func (p *Provider) Rotate(context.Context, string, provider.RotateRequest) (provider.Created, error) {
	return provider.Created{}, provider.Unsupported(Name, "Vast.ai cannot rotate a chosen key: its reset changes only the calling key's own secret, with no overlap; create a replacement key and revoke the old one instead")
}

// Revoke deletes a key, and says it did only on proof: Vast's own "deleted",
// or a fresh listing without the key. A DELETE is sent once; when its outcome
// is unknown (no answer, an unreadable one, a 2xx that does not say) the
// listing decides, and a key still listed gets the DELETE again, whose 404 is
// in turn checked against the listing. A first 404 means no such key.
func (p *Provider) Revoke(ctx context.Context, id string) error {
	n, err := keyID(id)
	if err != nil {
		return err
	}
	answer, err := p.deleteKey(ctx, n, false)
	switch {
	case err == nil && answer.deleted:
		return nil
	case err == nil && answer.refused:
		return p.confirmGone(ctx, id, n, fmt.Sprintf("Vast.ai answered the deletion of key %s with success: false", id), false)
	case err == nil:
		return p.confirmGone(ctx, id, n, fmt.Sprintf("Vast.ai answered the deletion of key %s without saying it was deleted", id), true)
	case provider.IsKind(err, provider.KindNotFound):
		return provider.NotFound(Name, id)
	case changedOf(err) == provider.ChangedUnknown:
		return p.confirmGone(ctx, id, n, fmt.Sprintf("the deletion of key %s got no readable answer (%s)", id, strings.TrimSuffix(err.Error(), ".")), true)
	case passing(err):
		// Worth sending again, as the client would have for a read; it goes
		// through the listing so that a 404 to it is not taken at its word.
		return p.confirmGone(ctx, id, n, fmt.Sprintf("the deletion of key %s was turned away for now (%s)", id, strings.TrimSuffix(err.Error(), ".")), true)
	}
	return p.explainRefusal(ctx, err, revokeRefusal(id))
}

// passing is a refusal that says "not now": 429, 502, 503 or 504.
func passing(err error) bool {
	var pe *provider.Error
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Status {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

func revokeRefusal(id string) string {
	return fmt.Sprintf("Vast.ai refused to delete key %s for the key in %s: deleting keys needs user_write, and only keys of the same account can be deleted", id, EnvKey)
}

// deleteKey sends one DELETE (retried by the client only when again is set)
// and reads its 2xx answer.
func (p *Provider) deleteKey(ctx context.Context, n int64, again bool) (deleteAnswer, error) {
	var raw json.RawMessage
	if err := p.do(ctx, http.MethodDelete, keyPath(n), nil, &raw, again); err != nil {
		return deleteAnswer{}, err
	}
	return readDeleteAnswer(raw), nil
}

// confirmGone settles a deletion whose answer proved nothing: a fresh listing
// without the key is success; a key still listed gets the DELETE again when
// resend is set (the platform did not refuse), else it is a failure that
// changed nothing; no listing leaves the outcome unknown.
func (p *Provider) confirmGone(ctx context.Context, id string, n int64, what string, resend bool) error {
	gone, err := p.gone(ctx, id)
	switch {
	case err != nil:
		return unconfirmed(what, err)
	case gone:
		return nil
	case !resend:
		return stillListed(what)
	}
	answer, err := p.deleteKey(ctx, n, true)
	switch {
	case err == nil && answer.deleted:
		return nil
	case err != nil && !provider.IsKind(err, provider.KindNotFound) && changedOf(err) == provider.ChangedNo:
		return p.explainRefusal(ctx, err, revokeRefusal(id))
	}
	// A 404 here may answer a retry whose first attempt deleted the key; the
	// listing says which.
	what += fmt.Sprintf(", and the DELETE sent again after a listing still showed key %s proved nothing either", id)
	if gone, err = p.gone(ctx, id); err != nil {
		return unconfirmed(what, err)
	} else if gone {
		return nil
	}
	return stillListed(what)
}

func (p *Provider) gone(ctx context.Context, id string) (bool, error) {
	keys, err := p.List(ctx)
	if err != nil {
		return false, err
	}
	return !slices.ContainsFunc(keys, func(k provider.Key) bool { return k.ID == id }), nil
}

func unconfirmed(what string, listErr error) error {
	return provider.Fail(provider.KindUpstream, provider.ChangedUnknown, Name, 0,
		"%s, and keyward could not list the keys to see whether it is gone (%s); the key may still work: if it is still listed, revoke it again",
		what, strings.TrimSuffix(listErr.Error(), ".")).Next(provider.StepCheckKeys)
}

func stillListed(what string) error {
	return provider.Fail(provider.KindUpstream, provider.ChangedNo, Name, 0,
		"%s; the key is still listed, so it was not revoked and still works; try again later", what)
}

func changedOf(err error) provider.Changed {
	var pe *provider.Error
	if errors.As(err, &pe) {
		return pe.Changed
	}
	return provider.ChangedUnknown
}

// Validate asks Vast who owns secret; a key Vast does not accept is reported
// as not found, since Vast does not say whether it was deleted or reset.
func (p *Provider) Validate(ctx context.Context, key string) (provider.Validation, error) {
	if strings.TrimSpace(key) == "" {
		return provider.Validation{Status: provider.StatusInvalidFormat, Reason: "no key was given; pass the Vast.ai API key to check"}, nil
	}
	masked := secret.Mask(key)
	var me currentUser
	err := credentialRejected(p.api.WithKey(key).Do(ctx, http.MethodGet, pathCurrentUser, nil, &me, true), http.MethodGet)
	switch {
	case provider.IsKind(err, provider.KindUnauthorized):
		return provider.Validation{Status: provider.StatusNotFound, Masked: masked,
			Reason: "Vast.ai does not accept this key: it is wrong, deleted or was reset"}, nil
	case provider.IsKind(err, provider.KindForbidden):
		return provider.Validation{Status: provider.StatusValid, Masked: masked,
			Reason: "Vast.ai accepts this key, but it lacks user_read, so Vast.ai does not say whose it is"}, nil
	case err != nil:
		return provider.Validation{}, err
	case !me.named():
		return provider.Validation{}, unnamedUser()
	}
	v := provider.Validation{Status: provider.StatusValid, Owner: me.owner(), Masked: masked}
	if me.KeyID != nil {
		v.KeyID = strconv.FormatInt(*me.KeyID, 10)
		if k, ok := p.lookup(ctx, v.KeyID); ok {
			v.Name, v.Scopes, v.Constraints = k.Name, k.Scopes, k.Constraints
		}
	}
	return v, nil
}

func (p *Provider) Whoami(ctx context.Context) (provider.Identity, error) {
	var me currentUser
	if err := p.do(ctx, http.MethodGet, pathCurrentUser, nil, &me, true); err != nil {
		return provider.Identity{}, err
	}
	if !me.named() {
		return provider.Identity{}, unnamedUser()
	}
	id := provider.Identity{Account: me.owner(), Detail: fmt.Sprintf("Vast.ai user %d", me.ID)}
	if me.KeyID != nil {
		keyID := strconv.FormatInt(*me.KeyID, 10)
		id.Detail += ", API key " + keyID
		if k, ok := p.lookup(ctx, keyID); ok {
			id.KeyName, id.Scopes, id.Constraints = k.Name, k.Scopes, k.Constraints
		}
	}
	return id, nil
}

// unnamedUser: a 2xx from /users/current/ that names no user (an empty
// object, null, another shape) is not Vast.ai's answer, which always carries
// the user's id; it confirms nothing either way.
func unnamedUser() error {
	return provider.Fail(provider.KindUpstream, provider.ChangedNo, Name, 0,
		"Vast.ai answered GET %s without naming a user, so keyward could not confirm the key: it is neither valid nor invalid as far as keyward can tell; check that VAST_API_URL (if set) points at Vast.ai's API (%s), or try again later",
		pathCurrentUser, DefaultBaseURL)
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
	check := p.do(ctx, http.MethodGet, pathCurrentUser, nil, &me, true)
	if check != nil && !provider.IsKind(check, provider.KindForbidden) {
		return err
	}
	var pe *provider.Error
	errors.As(err, &pe)
	return provider.Fail(provider.KindForbidden, provider.ChangedNo, Name, pe.Status, "%s", refusal)
}

// do is every request to Vast.ai with the configured key.
func (p *Provider) do(ctx context.Context, method, path string, body, out any, idempotent bool) error {
	return credentialRejected(p.api.Do(ctx, method, path, body, out, idempotent), method)
}

// credentialRejected: Vast answers 400 "API Key not found." or "API Key not
// provided as bearer token." where others answer 401 (both references of the
// key list say so). A GET sends nothing else that could be wrong, so any 400
// to one is the credential; to other methods only those two sentences are.
func credentialRejected(err error, method string) error {
	var pe *provider.Error
	if !errors.As(err, &pe) || pe.Status != http.StatusBadRequest {
		return err
	}
	msg := strings.ToLower(pe.Message)
	if method != http.MethodGet && !strings.Contains(msg, "api key not found") && !strings.Contains(msg, "not provided as bearer token") {
		return err
	}
	return provider.Fail(provider.KindUnauthorized, provider.ChangedNo, Name, pe.Status,
		"the key in %s was rejected by %s (400, which %s answers for a key it does not know or a missing bearer token); set a valid key in %s",
		EnvKey, Title, Title, EnvKey)
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
			"Vast.ai gives a key without permissions full access to the account, so keyward creates none; name at least one scope").Next(provider.StepListScopes)
	}
	out := slices.Clone(scopes)
	for _, s := range out {
		if !slices.ContainsFunc(vocabulary, func(v provider.Scope) bool { return v.Name == s }) {
			return nil, provider.Errorf(provider.KindInvalid, Name, "%q is not a Vast.ai permission", s).Next(provider.StepListScopes)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
