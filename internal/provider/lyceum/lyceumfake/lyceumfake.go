// Package lyceumfake is a contract fake of Lyceum Cloud's API-key endpoints,
// with in-memory state, for tests of keyward's Lyceum provider and of
// anything built on it. ../SOURCES.md cites every fact; in short:
//
//   - docs.lyceum.technology/docs/configuration/api-keys: keys start with lk_
//     and go in Authorization: Bearer; GET/POST /auth/api-keys/, DELETE
//     /auth/api-keys/{api_key_id}, PATCH /auth/api-keys/{api_key_id}/toggle,
//     POST /auth/api-keys/validate; the full key is returned once, then only
//     its first 8 characters; revocation is immediate; keys carry the
//     account's full access.
//   - docs.lyceum.technology/api-reference/introduction: base
//     https://api.lyceum.technology/api/v2/external; 422 with FastAPI's
//     HTTPValidationError for malformed bodies; other failures carry "detail";
//     keys created under /orgs/{slug}/api-keys carry their organisation.
//   - docs.lyceum.technology/api-reference/api-keys/create-api-key and
//     validate-api-key: the personal create and validate bodies.
//   - docs.lyceum.technology/api-reference/organizations/create-org-api-key,
//     regenerate-org-api-key and api-reference/api-keys/list-api-keys:
//     GET/POST /orgs/{slug}/api-keys and POST
//     /orgs/{slug}/api-keys/{key_id}/regenerate, with their bodies
//     ({name, expires_at} in; {id, org_id, name, prefix, plaintext_key,
//     created_at, expires_at} out; list entries {id, org_id, name, prefix,
//     is_active, created_at, expires_at, last_used_at}). No page shows a
//     delete or a toggle for organisation keys, so the fake has none.
//   - Lyceum's own CLI shows a key whose is_active is null or missing as
//     inactive; the fake treats such a key as inactive (it does not
//     authenticate and validate says valid: false) and toggling it makes it
//     active.
//
// Assumed, as no public source shows them: the personal list is a bare JSON
// array of {id, key_name, key_prefix, is_active, created_at, expires_at,
// last_used_at} and holds only personal keys; toggle flips is_active and
// answers with that entry; DELETE answers {"message": ...}; validate answers
// 200 {"valid": false} with all other fields null for an unknown key, and
// with key_name, created_at and expires_at for a known key that is disabled
// or expired; regenerate keeps the key's id and ends the old secret at once;
// an unknown organisation gets 404 {"detail": "Organization not found"}; ids
// are UUIDs; a wrong, disabled or expired bearer gets 401 {"detail": ...};
// any other path gets 404 and a known path with another method 405.
package lyceumfake

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/provider/fakeserver"
)

const (
	UserID    = "5b0f6c1e-2d3a-4e5f-8a9b-0c1d2e3f4a5b"
	UserEmail = "ana@example.com"
	// FirstKeyName names the key APIKey returns.
	FirstKeyName = "keyward"

	// OrgSlug and OrgID name the one organisation the fake's user administers.
	OrgSlug = "acme"
	OrgID   = "0c7e5a1d-3b2f-4c8e-9a6d-5f4e3d2c1b0a"

	apiRoot  = "/api/v2/external"
	keysPath = apiRoot + "/auth/api-keys/"
	orgsPath = apiRoot + "/orgs/"
)

type key struct {
	id        string
	name      string
	secret    string
	active    bool
	nullState bool // is_active is null: inactive, as Lyceum's CLI shows it
	org       string
	createdAt time.Time
	expiresAt *time.Time
	lastUsed  *time.Time
	deleted   bool
}

func (k *key) usable(now time.Time) bool {
	return !k.deleted && k.active && !k.nullState && (k.expiresAt == nil || now.Before(*k.expiresAt))
}

// Fake is one Lyceum account with one key.
type Fake struct {
	srv *fakeserver.Server

	mu     sync.Mutex
	keys   []*key
	apiKey string
	now    func() time.Time
}

// New starts the fake on a loopback port.
func New() *Fake {
	f := &Fake{now: func() time.Time { return time.Now().UTC() }}
	f.apiKey = f.add(FirstKeyName, nil).secret
	mux := http.NewServeMux()
	mux.HandleFunc(keysPath, f.route)
	mux.HandleFunc(orgsPath, f.orgRoute)
	mux.HandleFunc("/", notFound)
	f.srv = fakeserver.Start(mux)
	return f
}

// URL is the counterpart of https://api.lyceum.technology/api/v2/external.
func (f *Fake) URL() string { return f.srv.URL + apiRoot }

// APIKey is a valid key of the account.
func (f *Fake) APIKey() string { return f.apiKey }

func (f *Fake) Faults() *fakeserver.Faults { return f.srv.Faults }

func (f *Fake) Requests() []fakeserver.Request { return f.srv.Requests() }

func (f *Fake) Close() { f.srv.Close() }

// AddKey makes a key as the dashboard would.
func (f *Fake) AddKey(name string, expiresAt *time.Time) (id, secret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.add(name, expiresAt)
	return k.id, k.secret
}

// AddOrgKey makes a key of the organisation, as its dashboard would.
func (f *Fake) AddOrgKey(name string) (id, secret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.add(name, nil)
	k.org = OrgSlug
	return k.id, k.secret
}

// SetActiveNull makes a key's is_active null, a state Lyceum's own CLI
// shows as inactive.
func (f *Fake) SetActiveNull(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k := f.find(id); k != nil {
		k.nullState = true
	}
}

// Exists reports whether a key with that id is there (not deleted).
func (f *Fake) Exists(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.find(id) != nil
}

// Works reports whether a secret authenticates now.
func (f *Fake) Works(secret string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.keys {
		if k.secret == secret {
			return k.usable(f.now())
		}
	}
	return false
}

func (f *Fake) add(name string, expiresAt *time.Time) *key {
	k := &key{id: newID(), name: name, secret: newSecret(), active: true, createdAt: f.now(), expiresAt: expiresAt}
	f.keys = append(f.keys, k)
	return k
}

func (f *Fake) find(id string) *key {
	for _, k := range f.keys {
		if k.id == id && !k.deleted {
			return k
		}
	}
	return nil
}

func (f *Fake) route(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, keysPath)
	id, toggle := strings.CutSuffix(rest, "/toggle")
	var handle func()
	var allowed string
	switch {
	case rest == "":
		allowed = "GET, POST"
		if r.Method == http.MethodGet {
			handle = func() { f.list(w) }
		} else if r.Method == http.MethodPost {
			handle = func() { f.create(w, r) }
		}
	case rest == "validate":
		allowed = http.MethodPost
		if r.Method == http.MethodPost {
			handle = func() { f.validate(w, r) }
		}
	case toggle && id != "" && !strings.Contains(id, "/"):
		allowed = http.MethodPatch
		if r.Method == http.MethodPatch {
			handle = func() { f.toggle(w, id) }
		}
	case !strings.Contains(rest, "/"):
		allowed = http.MethodDelete
		if r.Method == http.MethodDelete {
			handle = func() { f.delete(w, rest) }
		}
	default:
		notFound(w, r)
		return
	}
	if handle == nil {
		w.Header().Set("Allow", allowed)
		detail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.authenticate(w, r) {
		handle()
	}
}

// authenticate accepts a usable key and counts its use.
func (f *Fake) authenticate(w http.ResponseWriter, r *http.Request) bool {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	now := f.now()
	for _, k := range f.keys {
		if k.secret == token && k.usable(now) {
			k.lastUsed = &now
			return true
		}
	}
	w.Header().Set("WWW-Authenticate", "Bearer")
	detail(w, http.StatusUnauthorized, "Invalid or expired API key")
	return false
}

func (f *Fake) list(w http.ResponseWriter) {
	out := []map[string]any{}
	for _, k := range f.keys {
		if !k.deleted && k.org == "" {
			out = append(out, entry(k))
		}
	}
	fakeserver.WriteJSON(w, http.StatusOK, out)
}

func (f *Fake) create(w http.ResponseWriter, r *http.Request) {
	var in struct {
		KeyName   *string    `json:"key_name"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	if err := fakeserver.ReadJSON(r, &in); err != nil {
		invalid(w, "body", "Input should be a valid JSON object", "json_invalid")
		return
	}
	switch {
	case in.KeyName == nil:
		invalid(w, "key_name", "Field required", "missing")
		return
	case len(*in.KeyName) < 1 || len(*in.KeyName) > 255:
		invalid(w, "key_name", "String should have between 1 and 255 characters", "string_too_short")
		return
	}
	k := f.add(*in.KeyName, in.ExpiresAt)
	fakeserver.WriteJSON(w, http.StatusOK, map[string]any{
		"api_key": k.secret, "id": k.id, "key_name": k.name, "key_prefix": k.secret[:8],
		"created_at": k.createdAt, "expires_at": k.expiresAt,
	})
}

func (f *Fake) delete(w http.ResponseWriter, id string) {
	k := f.find(id)
	if k == nil {
		detail(w, http.StatusNotFound, "API key not found")
		return
	}
	k.deleted = true
	fakeserver.WriteJSON(w, http.StatusOK, map[string]string{"message": "API key deleted successfully"})
}

func (f *Fake) toggle(w http.ResponseWriter, id string) {
	k := f.find(id)
	if k == nil {
		detail(w, http.StatusNotFound, "API key not found")
		return
	}
	if k.nullState {
		k.nullState, k.active = false, true
	} else {
		k.active = !k.active
	}
	fakeserver.WriteJSON(w, http.StatusOK, entry(k))
}

func (f *Fake) validate(w http.ResponseWriter, r *http.Request) {
	var in struct {
		APIKey *string `json:"api_key"`
	}
	if err := fakeserver.ReadJSON(r, &in); err != nil || in.APIKey == nil {
		invalid(w, "api_key", "Field required", "missing")
		return
	}
	i := slices.IndexFunc(f.keys, func(k *key) bool { return k.secret == *in.APIKey && !k.deleted })
	if i < 0 {
		fakeserver.WriteJSON(w, http.StatusOK, map[string]any{
			"valid": false, "user_id": nil, "email": nil, "key_name": nil, "created_at": nil, "expires_at": nil, "last_used_at": nil,
		})
		return
	}
	k := f.keys[i]
	valid := k.usable(f.now())
	out := map[string]any{
		"valid": valid, "user_id": nil, "email": nil, "key_name": k.name,
		"created_at": k.createdAt, "expires_at": k.expiresAt, "last_used_at": k.lastUsed,
	}
	if valid {
		out["user_id"], out["email"] = UserID, UserEmail
	}
	fakeserver.WriteJSON(w, http.StatusOK, out)
}

func entry(k *key) map[string]any {
	return map[string]any{
		"id": k.id, "key_name": k.name, "key_prefix": k.secret[:8], "is_active": k.isActive(),
		"created_at": k.createdAt, "expires_at": k.expiresAt, "last_used_at": k.lastUsed,
	}
}

// isActive is is_active as the API sends it: true, false or null.
func (k *key) isActive() any {
	if k.nullState {
		return nil
	}
	return k.active
}

// orgRoute serves /orgs/{slug}/api-keys and
// /orgs/{slug}/api-keys/{key_id}/regenerate.
func (f *Fake) orgRoute(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, orgsPath), "/")
	if len(parts) < 2 || parts[1] != "api-keys" || (len(parts) != 2 && (len(parts) != 4 || parts[3] != "regenerate")) {
		notFound(w, r)
		return
	}
	allowed := "GET, POST"
	if len(parts) == 4 {
		allowed = http.MethodPost
	}
	if !strings.Contains(allowed, r.Method) {
		w.Header().Set("Allow", allowed)
		detail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.authenticate(w, r) {
		return
	}
	if parts[0] != OrgSlug {
		detail(w, http.StatusNotFound, "Organization not found")
		return
	}
	switch {
	case len(parts) == 4:
		f.regenerate(w, parts[2])
	case r.Method == http.MethodGet:
		out := []map[string]any{}
		for _, k := range f.keys {
			if !k.deleted && k.org == OrgSlug {
				out = append(out, orgEntry(k))
			}
		}
		fakeserver.WriteJSON(w, http.StatusOK, out)
	default:
		f.createOrgKey(w, r)
	}
}

func (f *Fake) createOrgKey(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name      *string    `json:"name"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	if err := fakeserver.ReadJSON(r, &in); err != nil {
		invalid(w, "body", "Input should be a valid JSON object", "json_invalid")
		return
	}
	switch {
	case in.Name == nil:
		invalid(w, "name", "Field required", "missing")
		return
	case len(*in.Name) < 1 || len(*in.Name) > 255:
		invalid(w, "name", "String should have between 1 and 255 characters", "string_too_short")
		return
	}
	k := f.add(*in.Name, in.ExpiresAt)
	k.org = OrgSlug
	fakeserver.WriteJSON(w, http.StatusOK, orgCreated(k))
}

func (f *Fake) regenerate(w http.ResponseWriter, id string) {
	k := f.find(id)
	if k == nil || k.org != OrgSlug {
		detail(w, http.StatusNotFound, "API key not found")
		return
	}
	k.secret = newSecret()
	fakeserver.WriteJSON(w, http.StatusOK, orgCreated(k))
}

func orgEntry(k *key) map[string]any {
	return map[string]any{
		"id": k.id, "org_id": OrgID, "name": k.name, "prefix": k.secret[:8], "is_active": k.isActive(),
		"created_at": k.createdAt, "expires_at": k.expiresAt, "last_used_at": k.lastUsed,
	}
}

func orgCreated(k *key) map[string]any {
	return map[string]any{
		"id": k.id, "org_id": OrgID, "name": k.name, "prefix": k.secret[:8], "plaintext_key": k.secret,
		"created_at": k.createdAt, "expires_at": k.expiresAt,
	}
}

func detail(w http.ResponseWriter, status int, msg string) {
	fakeserver.WriteJSON(w, status, map[string]string{"detail": msg})
}

// invalid answers as FastAPI does for a body that fails validation.
func invalid(w http.ResponseWriter, field, msg, typ string) {
	fakeserver.WriteJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"detail": []map[string]any{{"loc": []string{"body", field}, "msg": msg, "type": typ}},
	})
}

func notFound(w http.ResponseWriter, _ *http.Request) { detail(w, http.StatusNotFound, "Not Found") }

// newID is a random (version 4) UUID.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// newSecret looks like a Lyceum key: lk_ and 40 base62 characters.
func newSecret() string {
	b := make([]byte, 40)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return "lk_" + string(b)
}
