// Package vastfake is a contract fake of Vast.ai's API-key endpoints, with
// in-memory state, for tests of keyward's Vast.ai provider and of anything
// built on it. ../SOURCES.md cites every fact; in short:
//
//   - docs.vast.ai permissions reference and the CLI permissions page
//     (vast-ai/docs main: api-reference/permissions.mdx, cli/permissions.mdx):
//     Authorization: Bearer <key>; {"api": {<category>: {}}}; a category may
//     be narrowed to named operations whose parameters are bounded with eq,
//     lte and gte ({"api.instance.destroy": {"constraints": {"id": {"eq":
//     1227}}}}); only the CLI and the API make such keys.
//   - vast-ai/vast-cli scripts/data/api_scopes.json (commit 5567983, generated
//     from Vast's backend): the categories, agents_read and agents_write
//     included.
//   - vast-ai/docs main api-reference/openapi/yaml/create_api_key.yaml,
//     show_api_keys.yaml, delete_api_key.yaml, show_user.yaml: paths with
//     their trailing slashes; create {name, permissions, key_params} where
//     key_params is an object such as {"ip_whitelist": ["1.2.3.4"]}; the list
//     answers 400 "API Key not provided as bearer token." / "API Key not
//     found." for a missing or unknown bearer; delete answers the JSON string
//     "Successfully Deleted API Key", 404 "API Key not found.", 400 for the
//     primary key.
//   - the unmerged preview branch auto/openapi-preview-pr-5363 of vast-ai/docs
//     (commit 000751a, generated from Vast's backend but not published): create
//     answers {success, id, key, permissions}; 401 for creating a key with
//     permissions the caller lacks; the list's entries are {id, user_id, key:
//     null, key_type, name, team_*}.
//
// Assumed where no source says: list entries also carry "permissions" (as the
// key was created) and "created_at" (epoch seconds), which only a third-party
// client reads; the list does not show key_params; a key lacking the category
// an endpoint needs gets 403 {"success": false, "error": "forbidden", "msg":
// "... <category> ..."}; a missing or unknown bearer gets 401 on every route
// but the list; GET /auth/apikeys/{id}/ answers with the key's value, as a
// docs.vast.ai page (accounts/show-api-key) once said — keyward never calls
// it; any other path gets 404.
package vastfake

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/provider/fakeserver"
)

const (
	UserID    = 412345
	UserEmail = "ana@example.com"
	Username  = "ana"
	// FirstKeyName names the primary, full-access key APIKey returns.
	FirstKeyName = "keyward"

	apiRoot = "/api/v0"
)

// Categories are the permission categories Vast.ai knows: the eleven of its
// permissions reference and the two agents_* of its backend's scope table.
var Categories = []string{
	"instance_read", "instance_write", "user_read", "user_write", "billing_read",
	"billing_write", "machine_read", "machine_write", "misc", "team_read", "team_write",
	"agents_read", "agents_write",
}

// constraintOps are the operators the permissions reference names.
var constraintOps = []string{"eq", "lte", "gte"}

type key struct {
	id          int64
	name        string
	secret      string
	categories  []string // nil: full access
	primary     bool
	createdAt   time.Time
	deleted     bool
	permissions json.RawMessage // as the client sent them, shown in the list
	keyParams   json.RawMessage // as the client sent them; never listed
}

// Fake is one Vast.ai account with a primary key.
type Fake struct {
	srv *fakeserver.Server

	mu            sync.Mutex
	keys          map[int64]*key
	nextID        int64
	apiKey        string
	listShowsKeys bool
}

// New starts the fake on a loopback port.
func New() *Fake {
	f := &Fake{keys: map[int64]*key{}, nextID: 1000}
	first := f.add(FirstKeyName, nil)
	first.primary = true
	f.apiKey = first.secret
	mux := http.NewServeMux()
	mux.HandleFunc(apiRoot+"/users/current/", f.currentUser)
	mux.HandleFunc(apiRoot+"/auth/apikeys/", f.apikeys)
	mux.HandleFunc("/", notFound)
	f.srv = fakeserver.Start(mux)
	return f
}

// URL is the counterpart of https://console.vast.ai/api/v0.
func (f *Fake) URL() string { return f.srv.URL + apiRoot }

// APIKey is the account's primary key, with full access.
func (f *Fake) APIKey() string { return f.apiKey }

func (f *Fake) Faults() *fakeserver.Faults { return f.srv.Faults }

func (f *Fake) Requests() []fakeserver.Request { return f.srv.Requests() }

func (f *Fake) Close() { f.srv.Close() }

// AddKey makes a key as the dashboard would; nil categories give full access.
func (f *Fake) AddKey(name string, categories []string) (id, secret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.add(name, categories)
	return strconv.FormatInt(k.id, 10), k.secret
}

// AddConstrainedKey makes a key with these permissions, as Vast's CLI or API
// would (its web console makes no constrained keys); it panics on
// permissions Vast would refuse.
func (f *Fake) AddConstrainedKey(name string, permissions json.RawMessage) (id, secret string) {
	categories, ok := parsePermissions(permissions)
	if !ok {
		panic("vastfake: permissions Vast.ai would refuse: " + string(permissions))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.add(name, categories)
	k.permissions = permissions
	return strconv.FormatInt(k.id, 10), k.secret
}

// Permissions returns what a client sent as a key's permissions, or nil.
func (f *Fake) Permissions(id string) json.RawMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, _ := strconv.ParseInt(id, 10, 64)
	if k := f.keys[n]; k != nil {
		return k.permissions
	}
	return nil
}

// KeyParams returns what a client sent as a key's key_params, or nil.
func (f *Fake) KeyParams(id string) json.RawMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, _ := strconv.ParseInt(id, 10, 64)
	if k := f.keys[n]; k != nil {
		return k.keyParams
	}
	return nil
}

// Exists reports whether a key with that id is live (not deleted).
func (f *Fake) Exists(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, _ := strconv.ParseInt(id, 10, 64)
	k := f.keys[n]
	return k != nil && !k.deleted
}

// SetListShowsKeys makes the list carry key values, as an older Vast.ai
// reference shows, to prove that clients never keep them.
func (f *Fake) SetListShowsKeys(show bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.listShowsKeys = show
}

func (f *Fake) add(name string, categories []string) *key {
	f.nextID++
	k := &key{id: f.nextID, name: name, secret: newSecret(), categories: categories, createdAt: time.Now().UTC()}
	f.keys[k.id] = k
	return k
}

// caller authenticates the request and checks that its key has category.
func (f *Fake) caller(w http.ResponseWriter, r *http.Request, category string) *key {
	k, ok := f.bearer(r)
	if !ok {
		fail(w, http.StatusUnauthorized, "unauthorized", "Authentication required")
		return nil
	}
	return f.authorize(w, k, category)
}

// bearer finds the live key a request carries.
func (f *Fake) bearer(r *http.Request) (*key, bool) {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if ok {
		for _, k := range f.keys {
			if !k.deleted && k.secret == token {
				return k, true
			}
		}
	}
	return nil, false
}

// listCaller is caller for GET /auth/apikeys/, which answers a missing or
// unknown bearer with 400, as both references of that route say.
func (f *Fake) listCaller(w http.ResponseWriter, r *http.Request) *key {
	k, ok := f.bearer(r)
	switch {
	case ok:
		return f.authorize(w, k, "user_read")
	case !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "):
		failMsg(w, http.StatusBadRequest, "API Key not provided as bearer token.")
	default:
		failMsg(w, http.StatusBadRequest, "API Key not found.")
	}
	return nil
}

// authorize checks that the caller's key has category.
func (f *Fake) authorize(w http.ResponseWriter, found *key, category string) *key {
	if found.categories != nil && !slices.Contains(found.categories, category) {
		fail(w, http.StatusForbidden, "forbidden", "API key does not have permission "+category)
		return nil
	}
	return found
}

func (f *Fake) currentUser(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != apiRoot+"/users/current/" || r.Method != http.MethodGet {
		notFound(w, r)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.caller(w, r, "user_read")
	if k == nil {
		return
	}
	fakeserver.WriteJSON(w, http.StatusOK, map[string]any{
		"id": UserID, "key_id": k.id, "email": UserEmail, "username": Username,
		"balance": 0, "credit": 25.0, "ssh_key": "ssh-ed25519 AAAAC3Nza fake", "sid": "fake-sid",
		"api_key": k.secret,
	})
}

func (f *Fake) apikeys(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, apiRoot+"/auth/apikeys/")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case rest == "" && r.Method == http.MethodGet:
		f.list(w, r)
	case rest == "" && r.Method == http.MethodPost:
		f.create(w, r)
	case strings.HasSuffix(rest, "/") && !strings.Contains(strings.TrimSuffix(rest, "/"), "/"):
		id, err := strconv.ParseInt(strings.TrimSuffix(rest, "/"), 10, 64)
		if err != nil {
			notFound(w, r)
			return
		}
		switch r.Method {
		case http.MethodGet:
			f.show(w, r, id)
		case http.MethodDelete:
			f.delete(w, r, id)
		default:
			fail(w, http.StatusMethodNotAllowed, "method_not_allowed", "Method Not Allowed")
		}
	default:
		notFound(w, r)
	}
}

func (f *Fake) list(w http.ResponseWriter, r *http.Request) {
	if f.listCaller(w, r) == nil {
		return
	}
	ids := make([]int64, 0, len(f.keys))
	for id, k := range f.keys {
		if !k.deleted {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	entries := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		k := f.keys[id]
		var value any // null, as current answers redact it
		if f.listShowsKeys {
			value = k.secret
		}
		keyType := "api"
		if k.primary {
			keyType = "primary"
		}
		entries = append(entries, map[string]any{
			"id": k.id, "user_id": UserID, "key": value, "key_type": keyType, "name": k.name,
			"permissions": k.shownPermissions(), "created_at": float64(k.createdAt.UnixMilli()) / 1000,
			"team_id": nil, "team_name": nil, "team_owner": nil,
		})
	}
	fakeserver.WriteJSON(w, http.StatusOK, map[string]any{"apikeys": entries})
}

func (f *Fake) create(w http.ResponseWriter, r *http.Request) {
	caller := f.caller(w, r, "user_write")
	if caller == nil {
		return
	}
	var in struct {
		Name        *string         `json:"name"`
		Permissions json.RawMessage `json:"permissions"`
		KeyParams   json.RawMessage `json:"key_params"`
	}
	if err := fakeserver.ReadJSON(r, &in); err != nil {
		fail(w, http.StatusBadRequest, "invalid_args", "Invalid JSON body.")
		return
	}
	if in.Name == nil {
		fail(w, http.StatusBadRequest, "invalid_args", "name is required")
		return
	}
	categories, ok := parsePermissions(in.Permissions)
	if !ok {
		fail(w, http.StatusBadRequest, "invalid_permissions", "Invalid permission format")
		return
	}
	if caller.categories != nil && (categories == nil || !subset(categories, caller.categories)) {
		fail(w, http.StatusUnauthorized, "unauthorized", "You are not authorized to create a key with these permissions.")
		return
	}
	if !validKeyParams(in.KeyParams) {
		fail(w, http.StatusBadRequest, "invalid_args", "Invalid key_params")
		return
	}
	k := f.add(*in.Name, categories)
	if categories != nil {
		k.permissions = in.Permissions
	}
	if len(in.KeyParams) > 0 && string(in.KeyParams) != "null" {
		k.keyParams = in.KeyParams
	}
	fakeserver.WriteJSON(w, http.StatusOK, map[string]any{
		"success": true, "id": k.id, "key": k.secret, "permissions": k.shownPermissions(),
	})
}

// shownPermissions is the key's permissions as the list and the create
// answer show them: as sent, or built from the categories of a dashboard key.
func (k *key) shownPermissions() any {
	if len(k.permissions) > 0 {
		return k.permissions
	}
	return permissionsOf(k.categories)
}

// validKeyParams accepts what the create reference shows, an object such as
// {"ip_whitelist": ["1.2.3.4"]}, or nothing.
func validKeyParams(raw json.RawMessage) bool {
	if len(raw) == 0 || string(raw) == "null" {
		return true
	}
	var p struct {
		IPWhitelist []string `json:"ip_whitelist"`
	}
	return json.Unmarshal(raw, &p) == nil
}

// show is GET /auth/apikeys/{id}/, which answers with the key's value.
func (f *Fake) show(w http.ResponseWriter, r *http.Request, id int64) {
	if f.caller(w, r, "user_read") == nil {
		return
	}
	k := f.keys[id]
	if k == nil || k.deleted {
		failMsg(w, http.StatusNotFound, "API Key not found.")
		return
	}
	fakeserver.WriteJSON(w, http.StatusOK, k.secret)
}

func (f *Fake) delete(w http.ResponseWriter, r *http.Request, id int64) {
	if f.caller(w, r, "user_write") == nil {
		return
	}
	k := f.keys[id]
	switch {
	case k == nil || k.deleted:
		failMsg(w, http.StatusNotFound, "API Key not found.")
	case k.primary:
		fail(w, http.StatusBadRequest, "invalid_args", "You cannot delete your primary key.")
	default:
		k.deleted = true
		fakeserver.WriteJSON(w, http.StatusOK, "Successfully Deleted API Key")
	}
}

// parsePermissions accepts a missing or null value (full access) or
// {"api": {<known category>: {} or {<operation>: {} or {"constraints":
// {<param>: {<eq|lte|gte>: <value>}}}}}}.
func parsePermissions(raw json.RawMessage) ([]string, bool) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, true
	}
	var p struct {
		API map[string]map[string]json.RawMessage `json:"api"`
	}
	if json.Unmarshal(raw, &p) != nil || p.API == nil {
		return nil, false
	}
	out := make([]string, 0, len(p.API))
	for name, operations := range p.API {
		if !slices.Contains(Categories, name) {
			return nil, false
		}
		for _, op := range operations {
			if !validOperation(op) {
				return nil, false
			}
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out, true
}

func validOperation(raw json.RawMessage) bool {
	var op struct {
		Constraints map[string]map[string]json.RawMessage `json:"constraints"`
	}
	if json.Unmarshal(raw, &op) != nil {
		return false
	}
	for _, bounds := range op.Constraints {
		if len(bounds) == 0 {
			return false
		}
		for name := range bounds {
			if !slices.Contains(constraintOps, name) {
				return false
			}
		}
	}
	return true
}

func permissionsOf(categories []string) any {
	if categories == nil {
		return nil
	}
	api := map[string]any{}
	for _, c := range categories {
		api[c] = map[string]any{}
	}
	return map[string]any{"api": api}
}

func subset(a, b []string) bool {
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

func fail(w http.ResponseWriter, status int, code, msg string) {
	fakeserver.WriteJSON(w, status, map[string]any{"success": false, "error": code, "msg": msg})
}

func failMsg(w http.ResponseWriter, status int, msg string) {
	fakeserver.WriteJSON(w, status, map[string]any{"msg": msg})
}

func notFound(w http.ResponseWriter, _ *http.Request) {
	failMsg(w, http.StatusNotFound, "Not Found")
}

// newSecret looks like a Vast.ai key: 64 hex digits.
func newSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
