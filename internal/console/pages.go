package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/approvals"
	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/manager"
	"github.com/keyward/keyward/internal/sanitize"
)

// page is what every template gets.
type page struct {
	Title   string
	Nav     string // which tab is current
	CSRF    string
	Refresh int // seconds; 0: no automatic reload
	Error   string
	Notice  string
	Next    string
	Pending int // approvals waiting, for the tab

	Data any
}

// funcs are the templates' helpers. show is for every value an agent, a
// client or a platform chose: html/template escapes markup, and show makes
// control, invisible and bidirectional characters visible (\u202E), so a
// name cannot reorder or hide the text around it.
var funcs = template.FuncMap{
	"show": func(s string) string { return sanitize.Escape(s) },
	"when": func(t any) string {
		switch v := t.(type) {
		case time.Time:
			if v.IsZero() {
				return "—"
			}
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		case *time.Time:
			if v == nil {
				return "never"
			}
			return v.UTC().Format("2006-01-02 15:04:05 UTC")
		}
		return ""
	},
	"join": func(s []string) string {
		if len(s) == 0 {
			return "none"
		}
		return sanitize.Escape(strings.Join(s, ", "))
	},
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name string, p page) {
	if s := sessionFrom(r.Context()); s.id != "" {
		p.CSRF = s.csrf
		if c.o.Manager != nil && p.Pending == 0 {
			if pending, _, err := c.o.Manager.Approvals(r.Context(), 0); err == nil {
				p.Pending = len(pending)
			}
		}
	}
	var buf bytes.Buffer
	if err := c.pages.ExecuteTemplate(&buf, name, p); err != nil {
		c.o.Log.Error("rendering a console page failed", "page", name, "err", err)
		http.Error(w, "keyward could not show this page; see its log", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// problem is a page that says what went wrong and where to go next.
func (c *Console) problem(w http.ResponseWriter, r *http.Request, status int, title, msg, back string) {
	c.render(w, r, status, "problem", page{Title: title, Error: msg, Data: back})
}

// keysPage: every provider that keyward manages keys on, with its keys.
type providerKeys struct {
	Provider string
	Keys     []manager.Key
	Total    int
	More     bool
	Error    string
}

func (c *Console) keys(w http.ResponseWriter, r *http.Request) {
	var out []providerKeys
	now := c.o.Now()
	for _, name := range c.o.Manager.ProviderNames() {
		l, err := c.o.Manager.ListKeys(r.Context(), manager.ListArgs{Provider: name, Limit: manager.MaxListLimit})
		pk := providerKeys{Provider: name, Keys: l.Keys, Total: l.Total, More: l.NextCursor != ""}
		if err != nil {
			pk.Error = sanitize.Bound(err.Error(), 500)
		}
		out = append(out, pk)
	}
	c.render(w, r, http.StatusOK, "keys", page{Title: "Keys", Nav: "keys", Data: struct {
		Providers []providerKeys
		Now       time.Time
	}{out, now}})
}

// audit: the audit log, filtered and paged.
func (c *Console) audit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	a := manager.AuditArgs{Provider: q.Get("provider"), KeyID: q.Get("key"), Outcome: q.Get("outcome"), Tool: q.Get("tool"), Since: q.Get("since"), Cursor: q.Get("cursor"), Limit: 50}
	for _, f := range []*string{&a.Provider, &a.KeyID, &a.Outcome, &a.Tool, &a.Since, &a.Cursor} {
		*f = sanitize.Bound(strings.TrimSpace(*f), 200)
	}
	res, err := c.o.Manager.AuditLog(r.Context(), a)
	p := page{Title: "Audit log", Nav: "audit"}
	if err != nil {
		p.Error = "The filter was not understood: " + sanitize.Bound(err.Error(), 300) + ". Change it and search again."
	}
	next := ""
	if res.NextCursor != "" {
		v := url.Values{}
		for k, val := range map[string]string{"provider": a.Provider, "key": a.KeyID, "outcome": a.Outcome, "tool": a.Tool, "since": a.Since, "cursor": res.NextCursor} {
			if val != "" {
				v.Set(k, val)
			}
		}
		next = "/audit?" + v.Encode()
	}
	p.Data = struct {
		Filter    manager.AuditArgs
		Records   []audit.Record
		Next      string
		Providers []string
		Outcomes  []string
	}{a, res.Records, next, c.o.Manager.ProviderNames(), manager.Outcomes}
	c.render(w, r, http.StatusOK, "audit", p)
}

// approvals: what waits for the operator, and what was decided lately.
func (c *Console) approvals(w http.ResponseWriter, r *http.Request) {
	pending, decided, err := c.o.Manager.Approvals(r.Context(), 50)
	p := page{Title: "Approvals", Nav: "approvals", Refresh: 15, Pending: len(pending), Notice: noticeOf(r)}
	if err != nil {
		p.Error = "The approval requests could not be read: " + sanitize.Bound(err.Error(), 300)
	}
	p.Data = struct {
		Pending []approvals.Approval
		Decided []approvals.Approval
	}{pending, decided}
	c.render(w, r, http.StatusOK, "approvals", p)
}

// noticeOf is the short confirmation a redirect after a decision carries
// (a fixed word, never text from the request).
func noticeOf(r *http.Request) string {
	switch r.URL.Query().Get("done") {
	case "approved":
		return "Approved. The agent's next identical call will do it."
	case "denied":
		return "Denied. The agent's next call is told so; nothing was changed."
	}
	return ""
}

func (c *Console) decide(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !approvals.IsID(id) {
		c.problem(w, r, http.StatusNotFound, "No such request", "There is no approval request with that id.", "/approvals")
		return
	}
	var approve bool
	switch r.PostForm.Get("decision") {
	case "approve":
		approve = true
	case "deny":
	default:
		c.problem(w, r, http.StatusBadRequest, "No decision", "Choose Approve or Deny.", "/approvals")
		return
	}
	_, err := c.o.Manager.DecideApproval(r.Context(), id, approve)
	var de *approvals.DecisionError
	switch {
	case errors.As(err, &de):
		c.problem(w, r, http.StatusConflict, "Not decided", sentence(de.Error())+" Nothing was changed.", "/approvals")
		return
	case err != nil:
		c.problem(w, r, http.StatusServiceUnavailable, "Not decided", "keyward could not record the decision: "+sanitize.Bound(err.Error(), 300)+". Try again.", "/approvals")
		return
	}
	done := "denied"
	if approve {
		done = "approved"
	}
	http.Redirect(w, r, "/approvals?done="+done, http.StatusSeeOther)
}

func sentence(s string) string {
	if s == "" {
		return s
	}
	s = strings.ToUpper(s[:1]) + s[1:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// emergency: choose whose keys to revoke.
func (c *Console) emergency(w http.ResponseWriter, r *http.Request) {
	creators, err := c.o.Manager.Creators(r.Context())
	p := page{Title: "Emergency revoke", Nav: "emergency", Data: creators}
	if err != nil {
		p.Error = sanitize.Bound(err.Error(), 300)
	}
	c.render(w, r, http.StatusOK, "emergency", p)
}

type selection struct {
	CreatedBy string
	Hours     int // 0: any time
	Since     time.Time
}

// selectionOf reads whose keys, and since when, from a query or a form.
func (c *Console) selectionOf(v url.Values) (selection, string) {
	s := selection{CreatedBy: v.Get("created_by")}
	if s.CreatedBy == "" {
		return s, "Choose whose keys to revoke."
	}
	if len(s.CreatedBy) > 1000 {
		return s, "That client name is too long to be one keyward recorded."
	}
	if h := strings.TrimSpace(v.Get("hours")); h != "" {
		n, err := strconv.Atoi(h)
		if err != nil || n < 1 || n > 24*366 {
			return s, "Give the hours as a whole number from 1 to 8784, or leave it empty for any time."
		}
		s.Hours = n
		s.Since = c.o.Now().Add(-time.Duration(n) * time.Hour)
	}
	return s, ""
}

func (c *Console) emergencyPreview(w http.ResponseWriter, r *http.Request) {
	sel, bad := c.selectionOf(r.URL.Query())
	if bad != "" {
		c.problem(w, r, http.StatusBadRequest, "Emergency revoke", bad, "/emergency")
		return
	}
	keys, err := c.o.Manager.CreatedBy(r.Context(), sel.CreatedBy, sel.Since)
	p := page{Title: "Revoke these keys?", Nav: "emergency"}
	if err != nil {
		p.Error = sanitize.Bound(err.Error(), 300)
	}
	p.Data = struct {
		Sel  selection
		Keys []manager.KeyRef
	}{sel, keys}
	c.render(w, r, http.StatusOK, "preview", p)
}

// maxRevokeKeys bounds the keys one emergency revoke works through.
const maxRevokeKeys = 1000

// revokeResult is one key of an emergency revoke.
type revokeResult struct {
	manager.KeyRef
	Error string
}

// emergencyRevoke revokes exactly the keys the preview listed (and that
// are still the chosen client's), each through the rules: audited with the
// operator as the one who did it, secret files removed.
func (c *Console) emergencyRevoke(w http.ResponseWriter, r *http.Request) {
	sel, bad := c.selectionOf(r.PostForm)
	if bad != "" {
		c.problem(w, r, http.StatusBadRequest, "Emergency revoke", bad, "/emergency")
		return
	}
	current, err := c.o.Manager.CreatedBy(r.Context(), sel.CreatedBy, time.Time{})
	if err != nil {
		c.problem(w, r, http.StatusServiceUnavailable, "Nothing was revoked", sanitize.Bound(err.Error(), 300), "/emergency")
		return
	}
	byRef := map[string]manager.KeyRef{}
	for _, k := range current {
		byRef[KeyRefValue(k)] = k
	}
	var done, failed []revokeResult
	seen := map[string]bool{}
	for _, ref := range r.PostForm["key"] {
		if seen[ref] {
			continue
		}
		prov, id, _ := strings.Cut(ref, ":")
		over := len(seen) >= maxRevokeKeys
		seen[ref] = true
		if over {
			// Said, never dropped: the operator must not believe a key
			// revoked that still works.
			failed = append(failed, revokeResult{KeyRef: manager.KeyRef{Provider: prov, KeyID: sanitize.Bound(id, 200)},
				Error: fmt.Sprintf("not revoked: one emergency revoke takes at most %d keys; run it again for the rest", maxRevokeKeys)})
			continue
		}
		k, ok := byRef[ref]
		if !ok {
			failed = append(failed, revokeResult{KeyRef: manager.KeyRef{Provider: prov, KeyID: id}, Error: "not revoked here: keyward no longer records it as this client's (already revoked, or never theirs)"})
			continue
		}
		detail := fmt.Sprintf("emergency revoke from the console: every key %s created", sel.CreatedBy)
		if sel.Hours > 0 {
			detail = fmt.Sprintf("emergency revoke from the console: keys %s created in the last %d hours", sel.CreatedBy, sel.Hours)
		}
		ctx := context.WithoutCancel(r.Context()) // a closed browser tab must not stop half-way
		if _, err := c.o.Manager.RevokeKey(ctx, manager.RevokeArgs{Provider: k.Provider, KeyID: k.KeyID, ByOperator: true, Detail: detail}); err != nil {
			failed = append(failed, revokeResult{KeyRef: k, Error: sanitize.Bound(err.Error(), 300)})
			continue
		}
		done = append(done, revokeResult{KeyRef: k})
	}
	status := http.StatusOK
	if len(failed) > 0 {
		status = http.StatusMultiStatus
	}
	c.render(w, r, status, "revoked", page{Title: "Emergency revoke: result", Nav: "emergency", Data: struct {
		Sel          selection
		Done, Failed []revokeResult
	}{sel, done, failed}})
}

// KeyRefValue is how a key travels in the preview's form: provider:id
// (provider names hold no colon).
func KeyRefValue(k manager.KeyRef) string { return k.Provider + ":" + k.KeyID }

func init() {
	funcs["keyref"] = KeyRefValue
	funcs["state"] = func(k manager.Key, now time.Time) string {
		switch {
		case k.ExpiresAt != nil && !now.Before(*k.ExpiresAt):
			return "expired"
		case !k.Active:
			return "disabled"
		}
		return "active"
	}
}
