// Package console is the operator's web page in keyward serve: the keys per
// provider, the audit log, the approvals that wait for the operator, and the
// emergency revoke. It is server-rendered HTML (html/template) on the same
// listener as /mcp, with its CSS and its one small script embedded.
//
// Who may use it: only the holder of KEYWARD_OPERATOR_TOKEN, who logs in
// with it and gets a session cookie sealed with KEYWARD_STATE_KEY (so any
// replica accepts it) whose session lives in the database (so logging out
// ends it on every replica). The agents' bearer token and OAuth tokens are
// never accepted here. Every change is a POST with a token bound to the
// session, from the console's own origin; every page forbids framing, caching
// and referrers, and runs under a strict Content-Security-Policy.
package console

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/manager"
	"github.com/keyward/keyward/internal/reveal"
	"github.com/keyward/keyward/internal/seal"
	"github.com/keyward/keyward/internal/store"
)

// Schema is the console's tables, for store.Open: login sessions (so a
// logout ends a session on every replica) and failed logins per address (so
// the rate limit holds across replicas).
var Schema = store.Schema{Name: "console", Steps: []store.Step{
	{
		SQLite: `CREATE TABLE console_sessions (
			id         TEXT PRIMARY KEY,   -- SHA-256 of the session id the cookie carries
			created_at INTEGER NOT NULL,
			expires_at INTEGER NOT NULL,
			ended_at   INTEGER
		);
		CREATE TABLE console_logins (
			addr     TEXT PRIMARY KEY,     -- the remote address failed logins came from
			since    INTEGER NOT NULL,     -- start of the current window
			failures INTEGER NOT NULL
		);`,
		Postgres: `CREATE TABLE console_sessions (
			id         TEXT PRIMARY KEY,
			created_at BIGINT NOT NULL,
			expires_at BIGINT NOT NULL,
			ended_at   BIGINT
		);
		CREATE TABLE console_logins (
			addr     TEXT PRIMARY KEY,
			since    BIGINT NOT NULL,
			failures INTEGER NOT NULL
		);`,
	},
}}

// Tunables.
const (
	SessionTTL   = 12 * time.Hour
	loginWindow  = 15 * time.Minute
	maxFailures  = 10 // failed logins per address per window
	maxFormBytes = 64 << 10
	cookieName   = "keyward_operator"
)

//go:embed assets
var assets embed.FS

// Options wire a Console.
type Options struct {
	Manager *manager.Manager
	Store   *store.Store
	// Sealer seals session cookies and computes CSRF tokens; replicas share
	// its key (KEYWARD_STATE_KEY).
	Sealer *seal.Sealer
	// Token is KEYWARD_OPERATOR_TOKEN; empty: the console is off, and / says
	// how to turn it on.
	Token string
	// PublicURL is where people open keyward (KEYWARD_PUBLIC_URL); "" when unset.
	PublicURL string
	// Reveal keeps one-time links to new secrets, when that mode is on: the
	// console serves their pages to the operator.
	Reveal *reveal.Store
	// LinkViewed is told when a link's secret was viewed (the MCP session
	// that made it may be waiting for notifications/elicitation/complete).
	LinkViewed func(sessionID, linkID string)
	// NotFound answers paths the console does not serve.
	NotFound http.Handler
	Now      func() time.Time
	Log      *slog.Logger
}

// Console is the operator's web UI; it is an http.Handler.
type Console struct {
	o        Options
	tokenSum [32]byte
	pages    *template.Template
	mux      *http.ServeMux
	links    *links
}

// Paths are the URL paths the console answers, for mounting beside /mcp.
var Paths = []string{"/{$}", "/login", "/logout", "/keys", "/audit", "/approvals", "/approvals/", "/emergency", "/emergency/", "/static/", "/reveal/"}

// New builds the console.
func New(o Options) (*Console, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.NotFound == nil {
		o.NotFound = http.NotFoundHandler()
	}
	if o.Token != "" && (o.Manager == nil || o.Store == nil || o.Sealer == nil) {
		return nil, errors.New("the console needs the manager, the store and a sealer")
	}
	t, err := template.New("").Funcs(funcs).ParseFS(assets, "assets/*.html")
	if err != nil {
		return nil, fmt.Errorf("the console's templates: %w", err)
	}
	c := &Console{o: o, tokenSum: sha256.Sum256([]byte(o.Token)), pages: t, mux: http.NewServeMux()}
	static, _ := fs.Sub(assets, "assets/static")
	c.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	if o.Token == "" {
		c.mux.HandleFunc("GET /{$}", c.disabled)
		c.mux.HandleFunc("/", c.disabled)
		return c, nil
	}
	c.mux.HandleFunc("GET /login", c.loginForm)
	c.mux.HandleFunc("POST /login", c.login)
	c.mux.HandleFunc("POST /logout", c.operator(c.logout))
	c.mux.HandleFunc("GET /{$}", c.operator(c.keys))
	c.mux.HandleFunc("GET /keys", c.operator(c.keys))
	c.mux.HandleFunc("GET /audit", c.operator(c.audit))
	c.mux.HandleFunc("GET /approvals", c.operator(c.approvals))
	c.mux.HandleFunc("POST /approvals/{id}", c.operator(c.decide))
	c.mux.HandleFunc("GET /emergency", c.operator(c.emergency))
	c.mux.HandleFunc("GET /emergency/preview", c.operator(c.emergencyPreview))
	c.mux.HandleFunc("POST /emergency/revoke", c.operator(c.emergencyRevoke))
	if o.Reveal != nil {
		c.links = &links{store: o.Reveal, manager: o.Manager, render: c.render, log: o.Log, onViewed: o.LinkViewed}
		c.mux.HandleFunc("/reveal/{token}", c.operator(c.reveal))
		c.mux.HandleFunc("/reveal/{token}/{action}", c.operator(c.reveal))
	}
	c.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { o.NotFound.ServeHTTP(w, r) })
	return c, nil
}

// ServeHTTP implements http.Handler: every answer carries the headers that
// keep the page out of frames, caches and Referer headers.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	SecurityHeaders(w.Header())
	c.mux.ServeHTTP(w, r)
}

// SecurityHeaders are set on every console page and on reveal pages.
func SecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// session is a logged-in operator.
type session struct {
	id   string // the random id the cookie carries
	csrf string // the token every form of the session carries
	tag  string // a short, non-secret name of the session for the audit log
}

type sessionState struct {
	ID  string `json:"s"`
	Exp int64  `json:"e"`
}

type sessionKey struct{}

// operator wraps a handler that needs the operator's login: without it, a
// GET goes to the login page (and back afterwards), anything else is
// refused. A state-changing request must also carry the session's CSRF
// token and come from the console's own origin. The handler's context names
// the operator for the audit log.
func (c *Console) operator(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := c.session(r)
		if !ok {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			c.problem(w, r, http.StatusForbidden, "Not logged in", "Your console session ended. Log in again, then repeat what you were doing.", "/login")
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if !SameOrigin(r, c.o.PublicURL) {
				c.problem(w, r, http.StatusForbidden, "Refused", "This request did not come from the console's own pages, so it was refused. Use the buttons on the console.", "/")
				return
			}
			r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
			if err := r.ParseForm(); err != nil || !seal.TagEqual(r.PostForm.Get("csrf"), s.csrf) {
				c.problem(w, r, http.StatusForbidden, "Refused", "This form is out of date or did not come from the console, so nothing was done. Reload the page and try again.", "/")
				return
			}
		}
		ctx := context.WithValue(r.Context(), sessionKey{}, s)
		ctx = caller.With(ctx, caller.Identity{ClientName: "keyward console", Transport: "http", Principal: "operator", SessionID: s.tag})
		next(w, r.WithContext(ctx))
	}
}

// SameOrigin is the cross-site check of a state-changing request: a browser
// says where a request comes from. Sec-Fetch-Site, which pages cannot forge,
// decides when present; otherwise Origin must name this host (keyward's
// Referrer-Policy: no-referrer makes browsers send "Origin: null" on their
// own pages' form posts, so Sec-Fetch-Site is the one that matters there).
// A request with neither is not a browser's cross-site one.
func SameOrigin(r *http.Request, publicURL string) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" {
		return site == "same-origin" || site == "none"
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, r.Host) {
		return true
	}
	if p, err := url.Parse(publicURL); err == nil && publicURL != "" && strings.EqualFold(u.Host, p.Host) && u.Scheme == p.Scheme {
		return true
	}
	return false
}

// session is the operator's live session, if the request carries one.
func (c *Console) session(r *http.Request) (session, bool) {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return session{}, false
	}
	var st sessionState
	if c.o.Sealer.Open(ck.Value, &st) != nil || st.ID == "" || c.o.Now().Unix() >= st.Exp {
		return session{}, false
	}
	var ended sql.NullInt64
	var expires int64
	err = c.o.Store.DB().QueryRowContext(r.Context(), c.o.Store.Q(`SELECT expires_at, ended_at FROM console_sessions WHERE id = ?`), hashID(st.ID)).Scan(&expires, &ended)
	if err != nil || ended.Valid || c.o.Now().UnixMilli() >= expires {
		return session{}, false
	}
	return c.sessionOf(st.ID), true
}

func (c *Console) sessionOf(id string) session {
	return session{id: id, csrf: c.o.Sealer.Tag("console-csrf", id), tag: "console-" + hashID(id)[:12]}
}

func hashID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

func sessionFrom(ctx context.Context) session {
	s, _ := ctx.Value(sessionKey{}).(session)
	return s
}

// secure reports whether the cookie may only travel over TLS: the request
// came over TLS, or people reach keyward at an https:// address (a proxy
// ends TLS in front of it).
func (c *Console) secure(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(c.o.PublicURL, "https://")
}

func (c *Console) loginForm(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.session(r); ok {
		http.Redirect(w, r, localPath(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	c.render(w, r, http.StatusOK, "login", page{Title: "Log in", Next: localPath(r.URL.Query().Get("next"))})
}

// login checks the operator's token (constant time, hashed first so its
// length does not show) under a limit of failed attempts per address.
func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	next := localPath(r.URL.Query().Get("next"))
	if !SameOrigin(r, c.o.PublicURL) {
		c.problem(w, r, http.StatusForbidden, "Refused", "This login did not come from the console's own login page, so it was refused.", "/login")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		c.render(w, r, http.StatusBadRequest, "login", page{Title: "Log in", Next: next, Error: "The form could not be read. Paste the operator token and try again."})
		return
	}
	if f := r.PostForm.Get("next"); f != "" {
		next = localPath(f)
	}
	addr := remoteHost(r)
	if wait, err := c.attempt(r.Context(), addr); err != nil {
		c.o.Log.Warn("checking the console's login limit failed", "err", err)
		c.render(w, r, http.StatusServiceUnavailable, "login", page{Title: "Log in", Next: next, Error: "keyward could not check the login limit (its database did not answer). Try again in a moment."})
		return
	} else if wait > 0 {
		w.Header().Set("Retry-After", fmt.Sprint(int(wait.Seconds())+1))
		c.render(w, r, http.StatusTooManyRequests, "login", page{Title: "Log in", Next: next,
			Error: fmt.Sprintf("Too many failed logins from your address. Wait %s, then try again.", roundUp(wait))})
		return
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(r.PostForm.Get("token"))))
	if subtle.ConstantTimeCompare(sum[:], c.tokenSum[:]) != 1 {
		// Already counted by attempt.
		c.o.Log.Warn("a console login failed", "remote", addr)
		c.render(w, r, http.StatusUnauthorized, "login", page{Title: "Log in", Next: next,
			Error: "That is not the operator token. Use the value of KEYWARD_OPERATOR_TOKEN (the agents' token does not open the console)."})
		return
	}
	id := randomID()
	now := c.o.Now()
	exp := now.Add(SessionTTL)
	if _, err := c.o.Store.DB().ExecContext(r.Context(), c.o.Store.Q(`INSERT INTO console_sessions (id, created_at, expires_at) VALUES (?, ?, ?)`), hashID(id), now.UnixMilli(), exp.UnixMilli()); err != nil {
		c.o.Log.Warn("recording a console session failed", "err", c.o.Store.Scrub(err))
		c.render(w, r, http.StatusServiceUnavailable, "login", page{Title: "Log in", Next: next, Error: "keyward could not start your session (its database did not answer). Try again in a moment."})
		return
	}
	_, _ = c.o.Store.DB().ExecContext(r.Context(), c.o.Store.Q(`DELETE FROM console_logins WHERE addr = ?`), addr)
	// Expired sessions go as new ones come: the table stays small.
	_, _ = c.o.Store.DB().ExecContext(r.Context(), c.o.Store.Q(`DELETE FROM console_sessions WHERE expires_at < ?`), now.Add(-24*time.Hour).UnixMilli())
	value, err := c.o.Sealer.Seal(sessionState{ID: id, Exp: exp.Unix()})
	if err != nil {
		c.problem(w, r, http.StatusInternalServerError, "Login failed", "keyward could not seal your session. Try again.", "/login")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: value, Path: "/", Expires: exp, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secure(r)})
	c.o.Log.Info("the operator logged in to the console", "remote", addr, "session", c.sessionOf(id).tag)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// attempt counts a login attempt of addr in its window before the token is
// checked, and answers how long addr must wait (0: this attempt may go on).
// Counting first, in one statement, is what makes the limit hold for
// attempts sent at once: each sees the count with itself in it. A right
// token clears the count afterwards.
func (c *Console) attempt(ctx context.Context, addr string) (time.Duration, error) {
	now := c.o.Now()
	windowStart := now.Add(-loginWindow).UnixMilli()
	// Old windows go, so the table holds only addresses that tried lately.
	_, _ = c.o.Store.DB().ExecContext(ctx, c.o.Store.Q(`DELETE FROM console_logins WHERE since < ?`), now.Add(-2*loginWindow).UnixMilli())
	var since int64
	var failures int
	err := c.o.Store.DB().QueryRowContext(ctx, c.o.Store.Q(`INSERT INTO console_logins (addr, since, failures) VALUES (?, ?, 1)
		ON CONFLICT (addr) DO UPDATE SET
			failures = CASE WHEN console_logins.since < ? THEN 1 ELSE console_logins.failures + 1 END,
			since = CASE WHEN console_logins.since < ? THEN ? ELSE console_logins.since END
		RETURNING since, failures`), addr, now.UnixMilli(), windowStart, windowStart, now.UnixMilli()).Scan(&since, &failures)
	if err != nil {
		return 0, c.o.Store.Scrub(err)
	}
	end := time.UnixMilli(since).Add(loginWindow)
	if failures <= maxFailures || !now.Before(end) {
		return 0, nil
	}
	return end.Sub(now), nil
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	s := sessionFrom(r.Context())
	if _, err := c.o.Store.DB().ExecContext(r.Context(), c.o.Store.Q(`UPDATE console_sessions SET ended_at = ? WHERE id = ?`), c.o.Now().UnixMilli(), hashID(s.id)); err != nil {
		c.problem(w, r, http.StatusServiceUnavailable, "Logout failed", "keyward could not end your session (its database did not answer). Try again.", "/")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: c.secure(r)})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (c *Console) disabled(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/" && !strings.HasPrefix(r.URL.Path, "/reveal/") {
		c.o.NotFound.ServeHTTP(w, r)
		return
	}
	c.render(w, r, http.StatusNotFound, "disabled", page{Title: "No console"})
}

// localPath keeps a redirect on this site: a path, never another host.
// Browsers drop tabs and newlines from a URL and read a backslash as a
// slash, so "/\t/host" or "/\\host" would lead elsewhere: any control
// character or backslash sends the operator home instead.
func localPath(p string) string {
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsRune(p, '\\') ||
		strings.IndexFunc(p, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
		return "/"
	}
	if u, err := url.Parse(p); err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	return p
}

func remoteHost(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func randomID() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func roundUp(d time.Duration) string {
	if d < time.Minute {
		return "a minute"
	}
	return fmt.Sprintf("%d minutes", int(d.Minutes())+1)
}
