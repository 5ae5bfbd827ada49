package console

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/manager"
	"github.com/keyward/keyward/internal/reveal"
	"github.com/keyward/keyward/internal/seal"
)

// A one-time link's page: GET shows what the link is for and a button (so a
// link preview, a prefetcher or a chat app's unfurler never uses it up); the
// POST of that button shows the secret, once. Later visits say it was
// viewed, and offer to revoke the key at once for whoever did not view it
// themselves. In keyward serve only the operator's login opens these pages
// (Console); in stdio mode a loopback page does (LinkPage), which checks
// who connects.

// revealData is what the reveal templates get.
type revealData struct {
	Token  string
	CSRF   string
	State  reveal.State
	Link   reveal.Link
	Secret string
	Error  string
}

// links are the pages of one-time links, with what they need.
type links struct {
	store    *reveal.Store
	manager  *manager.Manager
	render   func(w http.ResponseWriter, r *http.Request, status int, name string, p page)
	log      *slog.Logger
	onViewed func(sessionID, linkID string)
}

// serve answers /reveal/{token} and /reveal/{token}/revoke; csrf is the
// token the page's forms carry (checked by the caller for POSTs).
func (l *links) serve(w http.ResponseWriter, r *http.Request, csrf string) {
	token, action := r.PathValue("token"), r.PathValue("action")
	d := revealData{Token: token, CSRF: csrf}
	p := page{Title: "New secret"}
	switch {
	case r.Method == http.MethodGet && action == "":
		link, st, err := l.store.Look(r.Context(), token)
		if err != nil {
			d.Error = "keyward could not read this link; try again in a moment."
		}
		d.State, d.Link = st, link
		l.render(w, r, statusOf(st), "reveal", pageWith(p, d))
	case r.Method == http.MethodPost && action == "":
		link, st, secret, err := l.store.View(r.Context(), token)
		d.State, d.Link = st, link
		if err != nil {
			l.log.Warn("opening a one-time link failed", "link", link.ID, "err", err)
			d.Error = "keyward could not open the secret behind this link: " + err.Error()
			if !errors.Is(err, reveal.ErrUndecryptable) {
				d.Error = "keyward could not open the secret behind this link; try again in a moment."
			}
			l.render(w, r, http.StatusServiceUnavailable, "reveal", pageWith(p, d))
			return
		}
		if secret == "" {
			l.render(w, r, statusOf(st), "reveal", pageWith(p, d))
			return
		}
		l.manager.RecordLinkEvent(r.Context(), link.Provider, link.KeyID, link.KeyName,
			fmt.Sprintf("the new secret was shown once on its one-time link (%s)", link.ID))
		if l.onViewed != nil && link.SessionID != "" {
			l.onViewed(link.SessionID, link.ID)
		}
		d.Secret = secret
		p.Title = "Your new secret"
		l.render(w, r, http.StatusOK, "secret", pageWith(p, d))
	case r.Method == http.MethodPost && action == "revoke":
		link, st, err := l.store.Look(r.Context(), token)
		if err != nil || st == reveal.Unknown {
			d.State = reveal.Unknown
			l.render(w, r, http.StatusNotFound, "reveal", pageWith(p, d))
			return
		}
		d.Link = link
		ctx := context.WithoutCancel(r.Context())
		_, rerr := l.manager.RevokeKey(ctx, manager.RevokeArgs{Provider: link.Provider, KeyID: link.KeyID, ByOperator: true,
			Detail: fmt.Sprintf("revoked from its one-time link (%s): whoever had the link said they did not view the secret, so someone else may have", link.ID)})
		if rerr != nil {
			d.Error = "The key could not be revoked: " + rerr.Error() + ". Revoke it from the console or on the platform now."
			l.render(w, r, http.StatusBadGateway, "linkrevoked", pageWith(page{Title: "Key not revoked"}, d))
			return
		}
		l.render(w, r, http.StatusOK, "linkrevoked", pageWith(page{Title: "Key revoked"}, d))
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "open the link with GET, and use the page's buttons", http.StatusMethodNotAllowed)
	}
}

func pageWith(p page, d revealData) page { p.Data = d; return p }

func statusOf(st reveal.State) int {
	switch st {
	case reveal.Unknown:
		return http.StatusNotFound
	case reveal.Viewed, reveal.Expired:
		return http.StatusGone
	}
	return http.StatusOK
}

// reveal serves a link's page for the logged-in operator.
func (c *Console) reveal(w http.ResponseWriter, r *http.Request) {
	c.links.serve(w, r, sessionFrom(r.Context()).csrf)
}

// LinkPage serves one-time links without the console: the loopback page of
// stdio mode. The caller puts it behind its own check of who connects;
// here, POSTs must come from the page itself and carry a token bound to
// the link.
type LinkPage struct {
	sealer *seal.Sealer
	links  *links
	pages  *Console // templates and static files only
	mux    *http.ServeMux
}

// NewLinkPage builds the loopback page's handler.
func NewLinkPage(store *reveal.Store, m *manager.Manager, sealer *seal.Sealer, now func() time.Time, log *slog.Logger) (*LinkPage, error) {
	c, err := New(Options{Now: now, Log: log})
	if err != nil {
		return nil, err
	}
	lp := &LinkPage{sealer: sealer, pages: c, mux: http.NewServeMux()}
	lp.links = &links{store: store, manager: m, render: c.render, log: c.o.Log}
	lp.mux.Handle("GET /static/", c.mux)
	lp.mux.HandleFunc("/reveal/{token}", lp.serve)
	lp.mux.HandleFunc("/reveal/{token}/{action}", lp.serve)
	return lp, nil
}

func (lp *LinkPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	SecurityHeaders(w.Header())
	lp.mux.ServeHTTP(w, r)
}

func (lp *LinkPage) serve(w http.ResponseWriter, r *http.Request) {
	csrf := lp.sealer.Tag("reveal-csrf", reveal.HashToken(r.PathValue("token")))
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
		if !SameOrigin(r, "") || r.ParseForm() != nil || !seal.TagEqual(r.PostForm.Get("csrf"), csrf) {
			lp.pages.problem(w, r, http.StatusForbidden, "Refused", "This request did not come from this page, so nothing was done. Open the link again.", r.URL.Path)
			return
		}
	}
	ctx := caller.With(r.Context(), caller.Identity{ClientName: "keyward link page", Transport: "loopback", Principal: "local user"})
	lp.links.serve(w, r.WithContext(ctx), csrf)
}
