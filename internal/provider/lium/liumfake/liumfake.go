// Package liumfake is a contract fake of the parts of Lium's API that keyward
// uses, with in-memory state. It mirrors what Lium's own SDK and recorded
// fixtures show (see ../SOURCES.md):
//
//   - Datura-ai/lium lium/sdk/client.py, config.py: base https://lium.io/api,
//     X-API-Key, GET /users/me.
//   - Datura-ai/lium lium/sdk/api_keys.py, workspaces.py: GET/POST /keys,
//     GET/DELETE /keys/{id}, all session-only (Authorization: Bearer <session>),
//     a key sent to them is answered 401; POST /keys takes pod_visibility
//     ("own": the key sees only the pods it creates, or "account") and the
//     SDK sends "own" unless told otherwise; the billing scope is "not
//     released" (lium-platform#630) and servers before it answer 422, as
//     this fake does.
//   - Datura-ai/lium lium/sdk/workspaces.py, lium/cli/workspaces/command.py,
//     lium/cli/keys/command.py: an API key acts in exactly one workspace,
//     which GET /users/me names (no "workspace" on a server without
//     workspaces); a session request names its workspace in
//     X-Lium-Workspace-Id, and without it the server picks the session's
//     own; the CLI sends the key's workspace on every /keys request. The
//     fake's user belongs to two workspaces: Research, where APIKey acts, and
//     a personal one, the session's. /keys lists, makes, reads and deletes the
//     keys of the request's workspace only.
//   - A server before Lium's budgets and visibility release (lium.io today)
//     ignores pod_visibility and answers rows without it
//     (IgnorePodVisibility); Lium's CLI reads that as "not recorded".
//   - Datura-ai/lium test/fixtures/api_keys/keys.json, workspaces/key_created.json,
//     workspaces/users_me_research.json: the JSON field names and shapes.
//   - Datura-ai/lium test/test_init_saved_key.py: 401 {"detail": "API key not
//     found"} for an unknown key on /users/me.
//
// What no source states (the DELETE answer, 404 and 422 bodies) follows
// FastAPI's defaults, which Lium's API is built on. A header naming a
// workspace the session's user is not a member of is answered 403 {"detail":
// "Not a member of this workspace"}: assumed.
package liumfake

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/provider/fakeserver"
)

// Scopes the fake accepts on POST /keys: those of lium.io today, where
// billing is not released.
var Scopes = []string{"read", "rent", "manage"}

// PodVisibilities are the values of pod_visibility.
var PodVisibilities = []string{"own", "account"}

type key struct {
	ID            string
	Workspace     string // the workspace the key acts in
	Name          string
	Secret        string
	Active        bool
	Scopes        []string
	PodVisibility string // "" when the client sent none (the server's default applies)
	CreatedAt     time.Time
	ExpiresAt     *time.Time
	LastUsed      *time.Time
}

// Fake is one Lium account with one user in two workspaces, a session token and
// an initial API key.
type Fake struct {
	srv *fakeserver.Server

	mu       sync.Mutex
	keys     map[string]*key // by id
	order    []string
	apiKey   string
	session  string
	sessions map[string]bool
	now      func() time.Time
	// workspacesOff: a server without workspaces (no "workspace" on
	// /users/me, the header ignored); ignoreVisibility: a server before
	// pod visibility (the field dropped, rows without it).
	workspacesOff    bool
	ignoreVisibility bool
}

const (
	UserID    = "2f1c8a3e-6d4b-4a1f-9c2e-0b7d5e6f8a91"
	UserName  = "Ana"
	UserEmail = "ana@example.com"
	// WorkspaceID is Research, the team workspace APIKey acts in.
	WorkspaceID   = "9d8c7b6a-5f4e-4d3c-8b2a-190807060504"
	WorkspaceName = "Research"
	// PersonalWorkspaceID is the user's personal workspace, the one a
	// session request without X-Lium-Workspace-Id acts in.
	PersonalWorkspaceID   = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
	PersonalWorkspaceName = "Ana's workspace"
	// ForeignWorkspaceID is a workspace the user is not a member of.
	ForeignWorkspaceID = "7e6d5c4b-3a29-4817-a6f5-e4d3c2b1a098"
	// WorkspaceHeader names the workspace of a session request.
	WorkspaceHeader = "X-Lium-Workspace-Id"
	// FirstKeyName names the key APIKey returns.
	FirstKeyName = "keyward"
)

// New starts the fake on a loopback port.
func New() *Fake {
	f := &Fake{keys: map[string]*key{}, sessions: map[string]bool{}, now: time.Now}
	f.session = "eyJ.fake." + randomToken(24)
	f.sessions[f.session] = true
	first := f.addKey(WorkspaceID, FirstKeyName, []string{"read", "rent", "manage"})
	f.apiKey = first.Secret
	mux := http.NewServeMux()
	mux.HandleFunc("/api/", f.route)
	mux.HandleFunc("/", notFound)
	f.srv = fakeserver.Start(mux)
	return f
}

// URL is the API root, the counterpart of https://lium.io/api.
func (f *Fake) URL() string { return f.srv.URL + "/api" }

// APIKey is a valid API key of the account (X-API-Key).
func (f *Fake) APIKey() string { return f.apiKey }

// SessionToken is a valid browser session (Authorization: Bearer).
func (f *Fake) SessionToken() string { return f.session }

// EndSession makes a session token invalid, as its expiry would.
func (f *Fake) EndSession(token string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sessions, token)
}

func (f *Fake) Faults() *fakeserver.Faults { return f.srv.Faults }

func (f *Fake) Requests() []fakeserver.Request { return f.srv.Requests() }

// OpenConns is how many connections clients hold open to the fake.
func (f *Fake) OpenConns() int { return f.srv.OpenConns() }

// WorkspacesOff makes the fake a server without workspaces: /users/me names
// none, and X-Lium-Workspace-Id is ignored.
func (f *Fake) WorkspacesOff() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.workspacesOff = true
}

// IgnorePodVisibility makes the fake a server before Lium's pod visibility
// release, as lium.io is today: pod_visibility is dropped and rows carry no
// such field.
func (f *Fake) IgnorePodVisibility() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ignoreVisibility = true
}

// AddKey makes a key in a workspace (WorkspaceID, PersonalWorkspaceID or
// ForeignWorkspaceID), as the dashboard would.
func (f *Fake) AddKey(workspace, name string, scopes []string) (id, secret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.addKey(workspace, name, scopes)
	return k.ID, k.Secret
}

// Workspace is the workspace a key acts in, "" when there is no such key.
func (f *Fake) Workspace(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k := f.keys[id]; k != nil {
		return k.Workspace
	}
	return ""
}

// Exists reports whether a key with that id is there.
func (f *Fake) Exists(id string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.keys[id] != nil
}

// PodVisibility is the pod_visibility a key was created with, "" for none.
func (f *Fake) PodVisibility(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k := f.keys[id]; k != nil {
		return k.PodVisibility
	}
	return ""
}

func (f *Fake) Close() { f.srv.Close() }

// SetExpiry sets a key's expires_at, which only the dashboard can do.
func (f *Fake) SetExpiry(id string, at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k := f.keys[id]; k != nil {
		k.ExpiresAt = &at
	}
}

// KeyID returns the id of the key with that secret, or "".
func (f *Fake) KeyID(secret string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range f.keys {
		if k.Secret == secret {
			return k.ID
		}
	}
	return ""
}

func (f *Fake) addKey(workspace, name string, scopes []string) *key {
	k := &key{
		ID:        newUUID(),
		Workspace: workspace,
		Name:      name,
		Secret:    "sk_" + randomToken(32),
		Active:    true,
		Scopes:    slices.Clone(scopes),
		CreatedAt: f.now().UTC().Truncate(time.Second),
	}
	f.keys[k.ID] = k
	f.order = append(f.order, k.ID)
	return k
}

func (f *Fake) route(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, "/api")
	switch {
	case path == "/users/me":
		if r.Method != http.MethodGet {
			methodNotAllowed(w)
			return
		}
		f.usersMe(w, r)
	case path == "/keys":
		switch r.Method {
		case http.MethodGet:
			f.withSession(w, r, func(ws string) { f.listKeys(w, ws) })
		case http.MethodPost:
			f.withSession(w, r, func(ws string) { f.createKey(w, r, ws) })
		default:
			methodNotAllowed(w)
		}
	case strings.HasPrefix(path, "/keys/") && !strings.Contains(path[len("/keys/"):], "/"):
		id := path[len("/keys/"):]
		switch r.Method {
		case http.MethodGet:
			f.withSession(w, r, func(ws string) { f.getKey(w, ws, id) })
		case http.MethodDelete:
			f.withSession(w, r, func(ws string) { f.deleteKey(w, ws, id) })
		default:
			methodNotAllowed(w)
		}
	default:
		notFound(w, r)
	}
}

// usersMe answers a key or a session, as the dashboard and the SDK both read
// it: the workspace is the key's, or the session's own.
func (f *Fake) usersMe(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	workspace := PersonalWorkspaceID
	if !f.sessionOK(r) {
		secret := r.Header.Get("X-API-Key")
		if secret == "" {
			detail(w, http.StatusUnauthorized, "Not authenticated")
			return
		}
		k := f.liveKey(secret)
		if k == nil {
			detail(w, http.StatusUnauthorized, "API key not found")
			return
		}
		if !slices.Contains(k.Scopes, "read") {
			detail(w, http.StatusForbidden, fmt.Sprintf("API key '%s' does not have the 'read' scope", k.Name))
			return
		}
		now := f.now().UTC().Truncate(time.Second)
		k.LastUsed = &now
		workspace = k.Workspace
	}
	me := map[string]any{
		"id":             UserID,
		"name":           UserName,
		"email":          UserEmail,
		"balance":        42.5,
		"email_verified": true,
		"admin":          false,
		"created_at":     "2026-08-01T10:00:00",
	}
	if !f.workspacesOff {
		me["workspace"] = workspaceInfo(workspace)
	}
	writeJSON(w, http.StatusOK, me)
}

func workspaceInfo(id string) map[string]any {
	name, role, personal := WorkspaceName, "owner", false
	switch id {
	case PersonalWorkspaceID:
		name, personal = PersonalWorkspaceName, true
	case ForeignWorkspaceID:
		name, role = "Elsewhere", "member"
	}
	return map[string]any{
		"id":                    id,
		"name":                  name,
		"role":                  role,
		"billing_owner_user_id": UserID,
		"is_personal":           personal,
	}
}

func (f *Fake) liveKey(secret string) *key {
	for _, k := range f.keys {
		if k.Secret == secret {
			if !k.Active || (k.ExpiresAt != nil && !k.ExpiresAt.After(f.now())) {
				return nil
			}
			return k
		}
	}
	return nil
}

func (f *Fake) sessionOK(r *http.Request) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && f.sessions[token]
}

// withSession guards the /keys routes: Lium's server lets only a browser
// session at them, and answers 401 to an API key. The request acts in the
// workspace its X-Lium-Workspace-Id names, or in the session's own; on a
// server without workspaces, in all of the user's keys ("").
func (f *Fake) withSession(w http.ResponseWriter, r *http.Request, next func(workspace string)) {
	f.mu.Lock()
	ok, off := f.sessionOK(r), f.workspacesOff
	f.mu.Unlock()
	if !ok {
		detail(w, http.StatusUnauthorized, "Not authenticated")
		return
	}
	workspace := PersonalWorkspaceID
	if off {
		workspace = "" // every key of the user
	} else if named := r.Header.Get(WorkspaceHeader); named != "" {
		if named != WorkspaceID && named != PersonalWorkspaceID {
			detail(w, http.StatusForbidden, "Not a member of this workspace")
			return
		}
		workspace = named
	}
	next(workspace)
}

func (f *Fake) listKeys(w http.ResponseWriter, workspace string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	rows := make([]map[string]any, 0, len(f.order))
	for _, id := range f.order {
		if k := f.keys[id]; workspace == "" || k.Workspace == workspace {
			rows = append(rows, f.row(k))
		}
	}
	writeJSON(w, http.StatusOK, rows)
}

func (f *Fake) createKey(w http.ResponseWriter, r *http.Request, workspace string) {
	var body struct {
		Name          *string   `json:"name"`
		Scopes        *[]string `json:"scopes"`
		PodVisibility *string   `json:"pod_visibility"`
	}
	if err := fakeserver.ReadJSON(r, &body); err != nil {
		unprocessable(w, []string{"body"}, "JSON decode error", "json_invalid")
		return
	}
	if body.Name == nil {
		unprocessable(w, []string{"body", "name"}, "Field required", "missing")
		return
	}
	scopes := []string{"read", "rent", "manage"}
	if body.Scopes != nil {
		scopes = *body.Scopes
	}
	for _, s := range scopes {
		if !slices.Contains(Scopes, s) {
			unprocessable(w, []string{"body", "scopes"}, "Input should be 'read', 'rent' or 'manage'", "enum")
			return
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if body.PodVisibility != nil && !f.ignoreVisibility && !slices.Contains(PodVisibilities, *body.PodVisibility) {
		unprocessable(w, []string{"body", "pod_visibility"}, "Input should be 'own' or 'account'", "enum")
		return
	}
	k := f.addKey(workspace, *body.Name, scopes)
	if body.PodVisibility != nil && !f.ignoreVisibility {
		k.PodVisibility = *body.PodVisibility
	}
	out := f.row(k)
	out["key"] = k.Secret
	writeJSON(w, http.StatusOK, out)
}

// getKey answers 404 for a key of another workspace, as for none at all.
func (f *Fake) getKey(w http.ResponseWriter, workspace, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := f.keys[id]
	if k == nil || (workspace != "" && k.Workspace != workspace) {
		detail(w, http.StatusNotFound, "API key not found")
		return
	}
	writeJSON(w, http.StatusOK, f.row(k))
}

// deleteKey removes the key at once: its next request is answered 401.
func (f *Fake) deleteKey(w http.ResponseWriter, workspace, id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k := f.keys[id]; k == nil || (workspace != "" && k.Workspace != workspace) {
		detail(w, http.StatusNotFound, "API key not found")
		return
	}
	delete(f.keys, id)
	f.order = slices.DeleteFunc(f.order, func(s string) bool { return s == id })
	writeJSON(w, http.StatusOK, map[string]string{"message": "API key deleted"})
}

// row is a key as Lium lists it: no secret, naive UTC timestamps, and
// pod_visibility only on a server that knows it.
func (f *Fake) row(k *key) map[string]any {
	out := map[string]any{
		"id":                 k.ID,
		"user_id":            UserID,
		"name":               k.Name,
		"is_active":          k.Active,
		"created_at":         stamp(&k.CreatedAt),
		"expires_at":         stamp(k.ExpiresAt),
		"last_used":          stamp(k.LastUsed),
		"scopes":             slices.Clone(k.Scopes),
		"workspace_id":       nilIfEmpty(k.Workspace),
		"created_by_user_id": UserID,
	}
	if !f.ignoreVisibility {
		out["pod_visibility"] = nilIfEmpty(k.PodVisibility)
	}
	return out
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func stamp(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UTC().Format("2006-01-02T15:04:05")
}

func writeJSON(w http.ResponseWriter, status int, v any) { fakeserver.WriteJSON(w, status, v) }

func detail(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"detail": msg})
}

func unprocessable(w http.ResponseWriter, loc []string, msg, typ string) {
	writeJSON(w, http.StatusUnprocessableEntity, map[string]any{
		"detail": []map[string]any{{"loc": loc, "msg": msg, "type": typ}},
	})
}

func notFound(w http.ResponseWriter, _ *http.Request) { detail(w, http.StatusNotFound, "Not Found") }

func methodNotAllowed(w http.ResponseWriter) {
	detail(w, http.StatusMethodNotAllowed, "Method Not Allowed")
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
