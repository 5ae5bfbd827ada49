// Package lurusfake is a fake of the little of Lurus Code's API that keyward
// touches, with in-memory state. Source: https://code.lurus.ai/en/features/api-keys/
// (keys lc_…, sent in the X-API-Key header; created with an expiry of 7, 30,
// 90 days, 1 year or never; revocation stops a key at once). Lurus documents no
// REST route, so the account route (GET /api/auth/me), its status codes and
// its answer follow keyward's assumptions, listed in ../SOURCES.md; the
// dashboard actions are methods here (CreateKey, Revoke) because Lurus offers
// them only in its web UI. AnswerWithoutAccount makes the guessed route answer
// 2xx without naming an account, which is what a guessed route may well do.
package lurusfake

import (
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"sync"
	"time"

	"github.com/keyward/keyward/internal/provider/fakeserver"
)

const (
	AccountPath = "/api/auth/me"
	UserID      = "usr_7Hq2xK"
	UserName    = "Jonas"
	UserEmail   = "jonas@example.com"
)

// AccountlessAnswers are 2xx bodies that name no account, as a host that
// serves something else at the guessed route might answer.
var AccountlessAnswers = []string{`{}`, `null`, `[]`, `{"ok":true}`, `{"id":"","email":""}`}

type key struct {
	secret    string
	revoked   bool
	expiresAt *time.Time
}

// Fake is one Lurus account with one initial key.
type Fake struct {
	srv *fakeserver.Server

	mu          sync.Mutex
	keys        map[string]*key // by secret
	apiKey      string
	now         func() time.Time
	accountless string // when set, the account route answers 200 with it
}

// New starts the fake on a loopback port.
func New() *Fake {
	f := &Fake{keys: map[string]*key{}, now: time.Now}
	f.apiKey = f.CreateKey(0)
	mux := http.NewServeMux()
	mux.HandleFunc(AccountPath, f.account)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Not found"})
	})
	f.srv = fakeserver.Start(mux)
	return f
}

func (f *Fake) URL() string                    { return f.srv.URL }
func (f *Fake) APIKey() string                 { return f.apiKey }
func (f *Fake) Faults() *fakeserver.Faults     { return f.srv.Faults }
func (f *Fake) Requests() []fakeserver.Request { return f.srv.Requests() }
func (f *Fake) Close()                         { f.srv.Close() }

// OpenConns is how many connections clients hold open to the fake.
func (f *Fake) OpenConns() int { return f.srv.OpenConns() }

// AnswerWithoutAccount makes the account route answer every request 200 with
// body, naming no account ("" restores the normal answers): Lurus documents
// no route, so the one keyward guesses may be served by something else.
func (f *Fake) AnswerWithoutAccount(body string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accountless = body
}

// CreateKey is the dashboard's "New Key": ttl 0 means no expiry.
func (f *Fake) CreateKey(ttl time.Duration) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := &key{secret: "lc_" + randomToken(32)}
	if ttl > 0 {
		at := f.now().Add(ttl)
		k.expiresAt = &at
	}
	f.keys[k.secret] = k
	return k.secret
}

// Revoke is the dashboard's revoke: the key stops working at once.
func (f *Fake) Revoke(secret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k := f.keys[secret]; k != nil {
		k.revoked = true
	}
}

// Expire moves a key's expiry into the past.
func (f *Fake) Expire(secret string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if k := f.keys[secret]; k != nil {
		past := f.now().Add(-time.Minute)
		k.expiresAt = &past
	}
}

func (f *Fake) account(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "Method not allowed"})
		return
	}
	f.mu.Lock()
	k := f.keys[r.Header.Get("X-API-Key")]
	live := k != nil && !k.revoked && (k.expiresAt == nil || k.expiresAt.After(f.now()))
	accountless := f.accountless
	f.mu.Unlock()
	if accountless != "" {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(accountless))
		return
	}
	if !live {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "Invalid or missing API key"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": UserID, "name": UserName, "email": UserEmail})
}

func writeJSON(w http.ResponseWriter, status int, v any) { fakeserver.WriteJSON(w, status, v) }

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
