package keyward

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/tools"
)

// sessionTable is the one list of HTTP sessions across both transports. It
// enforces KEYWARD_MAX_SESSIONS, KEYWARD_SESSION_IDLE and KEYWARD_RATE_LIMIT,
// and is mcp-go's session id manager for streamable HTTP, so a session id
// keyward did not issue (or has expired) is refused instead of silently
// becoming a fresh, uncounted session.
type sessionTable struct {
	max  int
	idle time.Duration
	rate int // tool calls per minute per session
	now  func() time.Time

	mu   sync.Mutex
	byID map[string]*httpSession
	// Stateless (2026-07-28) callers have no session: their buckets are keyed
	// by principal and client name, at most maxCallers of them (full buckets
	// are dropped; past that, a principal's new clients share one bucket).
	callers    map[string]*bucket
	maxCallers int
	pending    int           // slots reserved by session-opening requests not yet given an id
	closed     bool          // shutting down: no new sessions
	answered   chan struct{} // signalled when an SSE response is written
}

// httpSession is one client session. Fields are guarded by sessionTable.mu.
type httpSession struct {
	id        string
	transport string // "http" or "sse"
	// principal is who opened the session (guard's sender): only the same
	// principal may use it, so a session id seen elsewhere (the audit log
	// names it) opens nothing for anyone else.
	principal string
	lastUsed  time.Time
	busy      int // requests being served; a busy SSE session never idles out
	streams   []*openStream
	awaiting  int // SSE: requests whose response has not been written to the stream yet
	bucket
}

// bucket is one rate limit (KEYWARD_RATE_LIMIT calls a minute): a session's,
// or a stateless caller's. Fields are guarded by sessionTable.mu.
type bucket struct {
	// The time the bucket would be full again (GCRA).
	tat time.Time
	// Refusals past the limit: when one was last audited, and how many since were not.
	refusalAudited time.Time
	unrecorded     int
}

// openStream is a long-lived response (the SSE stream, a streamable GET) that
// ends when its session does.
type openStream struct{ cancel context.CancelFunc }

// reservation holds a session slot from the request that asked for a session
// until mcp-go names the session (claim) or the request ends (release).
type reservation struct {
	claimed   bool
	id        string
	principal string      // who asked for the session
	stream    *openStream // SSE: the session is its stream
}

var (
	errSessionsFull   = errors.New("sessions full")
	errShuttingDown   = errors.New("shutting down")
	errNoSession      = errors.New("no such session")
	errOtherTransport = errors.New("the session belongs to the other transport")
)

// Transports, as sessions and audit records name them.
const (
	transportHTTP = "http" // streamable HTTP, /mcp
	transportSSE  = "sse"  // legacy SSE, /sse and /message
)

func newSessionTable(max int, idle time.Duration, rate int, now func() time.Time) *sessionTable {
	return &sessionTable{max: max, idle: idle, rate: rate, now: now, byID: map[string]*httpSession{}, answered: make(chan struct{}, 1),
		callers: map[string]*bucket{}, maxCallers: max}
}

func newSessionID() string { return sessionPrefix + rand.Text() }

// sessionPrefix starts every session id keyward gives; rand.Text follows.
const sessionPrefix = "mcp-session-"

// shownSession is how an answer names the session sid: quoted when it has
// the shape of the ids keyward gives, otherwise not at all.
func shownSession(sid string) string {
	rest, ok := strings.CutPrefix(sid, sessionPrefix)
	if !ok || len(rest) != 26 || strings.Trim(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
		return "named in the request"
	}
	return strconv.Quote(sid)
}

// reserve takes a slot for a session about to be opened.
func (t *sessionTable) reserve() (*reservation, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil, errShuttingDown
	}
	if len(t.byID)+t.pending >= t.max {
		return nil, errSessionsFull
	}
	t.pending++
	return &reservation{}, nil
}

// claim turns a reservation into a live session.
func (t *sessionTable) claim(res *reservation, id, transport string) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if !res.claimed {
		res.claimed = true
		t.pending--
	}
	res.id = id
	s := &httpSession{id: id, transport: transport, principal: res.principal, lastUsed: now}
	if res.stream != nil {
		s.streams = append(s.streams, res.stream)
	}
	t.byID[id] = s
}

// release gives back a reservation that never became a session.
func (t *sessionTable) release(res *reservation) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !res.claimed {
		res.claimed = true
		t.pending--
	}
}

// lookupLocked finds session id on transport; a session of the other
// transport is refused, and left as it was.
func (t *sessionTable) lookupLocked(id, transport string) (*httpSession, error) {
	s := t.byID[id]
	switch {
	case s == nil:
		return nil, errNoSession
	case s.transport != transport:
		return nil, errOtherTransport
	}
	return s, nil
}

// ownedLocked is lookupLocked for a request from principal: another
// principal's session is answered as unknown.
func (t *sessionTable) ownedLocked(id, transport, principal string) (*httpSession, error) {
	s, err := t.lookupLocked(id, transport)
	if err != nil {
		return nil, err
	}
	if s.principal != principal {
		return nil, errNoSession
	}
	return s, nil
}

// begin marks a request of principal on session id, made over transport, as
// started.
func (t *sessionTable) begin(id, transport, principal string) (*httpSession, error) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	s, err := t.ownedLocked(id, transport, principal)
	if err != nil {
		return nil, err
	}
	s.busy++
	s.lastUsed = now
	return s, nil
}

// end marks a request begun with begin as finished.
func (t *sessionTable) end(s *httpSession) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	s.busy--
	s.lastUsed = now
}

// await counts an SSE request whose response will come on the stream.
func (t *sessionTable) await(s *httpSession) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s.awaiting++
}

// answer uncounts one; id is the session (which may be gone by now).
func (t *sessionTable) answer(id string) {
	t.mu.Lock()
	s := t.byID[id]
	if s != nil && s.awaiting > 0 {
		s.awaiting--
	}
	t.mu.Unlock()
	select {
	case t.answered <- struct{}{}:
	default:
	}
}

// awaitAnswers waits until every SSE request has its response on the
// stream, or ctx ends.
func (t *sessionTable) awaitAnswers(ctx context.Context) {
	for {
		t.mu.Lock()
		n := 0
		for _, s := range t.byID {
			n += s.awaiting
		}
		t.mu.Unlock()
		if n == 0 {
			return
		}
		select {
		case <-t.answered:
		case <-ctx.Done():
			return
		}
	}
}

// attach ties a long-lived stream of principal's to session id (of
// transport), so it ends with the session.
func (t *sessionTable) attach(id, transport, principal string, st *openStream) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return errShuttingDown
	}
	s, err := t.ownedLocked(id, transport, principal)
	if err != nil {
		return err
	}
	s.streams = append(s.streams, st)
	return nil
}

func (t *sessionTable) detach(id string, st *openStream) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s := t.byID[id]; s != nil {
		for i, x := range s.streams {
			if x == st {
				s.streams = append(s.streams[:i], s.streams[i+1:]...)
				break
			}
		}
	}
}

// remove ends session id of transport and closes its streams; it reports
// whether it existed. A session of the other transport is left alone.
func (t *sessionTable) remove(id, transport string) bool {
	t.mu.Lock()
	s, err := t.lookupLocked(id, transport)
	if err == nil {
		delete(t.byID, id)
	}
	t.mu.Unlock()
	if err != nil {
		return false
	}
	for _, st := range s.streams {
		st.cancel()
	}
	return true
}

// expire removes and returns the SSE sessions unused for
// KEYWARD_SESSION_IDLE (mcp-go expires streamable HTTP sessions itself, see
// WithSessionIdleTTL, and tells Terminate), and drops stateless callers'
// buckets that are full again.
func (t *sessionTable) expire() []*httpSession {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for k, b := range t.callers {
		if !b.tat.After(now) {
			delete(t.callers, k)
		}
	}
	var out []*httpSession
	for id, s := range t.byID {
		if s.transport == transportSSE && s.busy == 0 && now.Sub(s.lastUsed) >= t.idle {
			delete(t.byID, id)
			out = append(out, s)
		}
	}
	return out
}

// close refuses new sessions and returns every open stream, so shutdown can end them.
func (t *sessionTable) close() []*openStream {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.closed = true
	var out []*openStream
	for _, s := range t.byID {
		out = append(out, s.streams...)
	}
	return out
}

func (t *sessionTable) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.byID)
}

// allow takes a tool-call token from session id's bucket (see take).
// Sessions keyward does not know are not limited here: their requests were
// already refused at the door.
func (t *sessionTable) allow(id string) (ok bool, wait time.Duration, record bool, unrecorded int) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.byID[id]
	if s == nil {
		return true, 0, false, 0
	}
	return t.take(&s.bucket, now)
}

// allowCaller is allow for a stateless request: the bucket is the
// principal's and the client name's. Buckets are bounded: when there are
// maxCallers, full ones are dropped, and if none is, the principal's new
// clients share one overflow bucket, so rotating client names neither grows
// the table nor escapes the limit.
func (t *sessionTable) allowCaller(principal, client string) (ok bool, wait time.Duration, record bool, unrecorded int) {
	now := t.now()
	key := principal + "\x00" + client
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.callers[key]
	if b == nil {
		if len(t.callers) >= t.maxCallers {
			for k, old := range t.callers {
				if !old.tat.After(now) {
					delete(t.callers, k)
				}
			}
		}
		if len(t.callers) >= t.maxCallers {
			key = principal + "\x00\x00overflow"
			b = t.callers[key]
		}
		if b == nil {
			b = &bucket{}
			t.callers[key] = b
		}
	}
	return t.take(b, now)
}

// take takes a token from b, which holds KEYWARD_RATE_LIMIT tokens and
// refills at that many per minute. It is kept as the time the bucket will be
// full again (GCRA), in whole nanoseconds, so the answer is exact. When the
// bucket is empty it says how long until the next token.
// When it refuses, record says whether this refusal should be audited: the
// first of a run, then at most one a minute, carrying how many went unrecorded
// since — so a flood past the limit cannot grow the audit log call by call.
// t.mu is held.
func (t *sessionTable) take(b *bucket, now time.Time) (ok bool, wait time.Duration, record bool, unrecorded int) {
	interval := time.Minute / time.Duration(t.rate)
	tat := b.tat
	if tat.Before(now) {
		tat = now
	}
	tat = tat.Add(interval)
	if over := tat.Sub(now) - time.Minute; over > 0 {
		if now.Sub(b.refusalAudited) >= time.Minute {
			unrecorded, b.unrecorded, b.refusalAudited = b.unrecorded, 0, now
			return false, over, true, unrecorded
		}
		b.unrecorded++
		return false, over, false, 0
	}
	b.tat = tat
	return true, 0, false, 0
}

// mcp-go's SessionIdManager, for sessions opened without a reservation. That
// cannot happen through keyward's handler; answering "" makes such a request
// sessionless, so it cannot slip past the session cap.
func (t *sessionTable) Generate() string { return "" }

// Validate refuses session ids keyward did not issue, has already closed, or
// issued to an SSE client: this manager is streamable HTTP's.
func (t *sessionTable) Validate(id string) (bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, err := t.lookupLocked(id, transportHTTP); err != nil {
		return false, fmt.Errorf("unknown or expired streamable HTTP session %q", id)
	}
	return false, nil
}

// Terminate ends a streamable HTTP session (the client's DELETE, or shutdown).
func (t *sessionTable) Terminate(id string) (bool, error) {
	t.remove(id, transportHTTP)
	return false, nil
}

// ResolveSessionIdManager hands mcp-go a manager bound to the request's
// reservation, so the id it generates for initialize fills that slot.
func (t *sessionTable) ResolveSessionIdManager(r *http.Request) server.SessionIdManager {
	if r != nil {
		if res, ok := r.Context().Value(reservationKey{}).(*reservation); ok {
			return claimingManager{t: t, res: res}
		}
	}
	return t
}

type reservationKey struct{}

// claimingManager is the session id manager of one initialize request.
type claimingManager struct {
	t   *sessionTable
	res *reservation
}

func (m claimingManager) Generate() string {
	id := newSessionID()
	m.t.claim(m.res, id, transportHTTP)
	return id
}

func (m claimingManager) Validate(id string) (bool, error)  { return m.t.Validate(id) }
func (m claimingManager) Terminate(id string) (bool, error) { return m.t.Terminate(id) }

// limitToolCalls is the tool middleware of the HTTP front (App.limitToolCalls
// hands it the calls that came over HTTP): it counts calls in flight
// (shutdown waits for them), then applies admit. Every call it refuses is
// audited as refused, with the caller's identity.
func (h *HTTP) limitToolCalls(ctx context.Context, req mcp.CallToolRequest, next server.ToolHandlerFunc) (*mcp.CallToolResult, error) {
	refuse := func(reason string) (*mcp.CallToolResult, error) {
		tools.AuditRefused(ctx, h.app.Manager, req, reason)
		return mcp.NewToolResultError(reason), nil
	}
	if !h.calls.begin() {
		return refuse("keyward is shutting down, so this call was not made; retry once it is back")
	}
	defer h.calls.end()
	if reason, record := h.admit(ctx); reason != "" {
		if !record {
			return mcp.NewToolResultError(reason), nil
		}
		return refuse(reason)
	}
	return next(ctx, req)
}

// admit applies the per-caller checks to an HTTP tool call, whether or not
// its arguments pass the tool's schema (tools.Refusals runs it for those
// that do not, which never reach limitToolCalls). A session-based call needs
// an initialized session and is rate limited per session; a stateless
// (2026-07-28) call declares its client itself and is rate limited per
// principal and client name. It answers "" when the call may go ahead, and
// whether a refusal is to be audited.
func (h *HTTP) admit(ctx context.Context) (string, bool) {
	var ok, record bool
	var wait time.Duration
	var unrecorded int
	per := "session"
	s := server.ClientSessionFromContext(ctx)
	if server.IsModernRequest(ctx) && (s == nil || s.SessionID() == "") {
		per = "client"
		name := ""
		if info := server.RequestProtocolInfoFromContext(ctx).ClientInfo; info != nil {
			name = info.Name
		}
		ok, wait, record, unrecorded = h.sessions.allowCaller(caller.From(ctx).Principal, name)
	} else {
		// mcp-go runs tools/call on a session that was never initialized (an
		// SSE stream just opened, a session mcp-go has not registered yet),
		// with no client identity for the audit log; keyward does not.
		if s == nil || !s.Initialized() {
			return "this session has not been initialized, so the call was not made: send initialize on the transport that opened the session and wait for its answer before calling tools", true
		}
		ok, wait, record, unrecorded = h.sessions.allow(s.SessionID())
	}
	if ok {
		return "", false
	}
	secs := max(1, int((wait+time.Second-1)/time.Second))
	reason := fmt.Sprintf("rate limit: at most %d tool calls per minute per %s; retry in %d s (the operator sets this with KEYWARD_RATE_LIMIT)", h.sessions.rate, per, secs)
	if unrecorded > 0 {
		return fmt.Sprintf("%s [%d more calls refused for the rate limit since the last record]", reason, unrecorded), record
	}
	return reason, record
}

// inflight counts tool calls running, so shutdown can wait for them.
type inflight struct {
	mu       sync.Mutex
	draining bool
	n        int
	idle     chan struct{} // closed when draining and n reaches 0
}

func (f *inflight) begin() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.draining {
		return false
	}
	f.n++
	return true
}

func (f *inflight) end() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.draining && f.n == 0 {
		close(f.idle)
	}
}

func (f *inflight) isDraining() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.draining
}

// drain refuses new calls and waits until the running ones finish or ctx
// ends; it returns how many were still running.
func (f *inflight) drain(ctx context.Context) int {
	f.mu.Lock()
	if !f.draining {
		f.draining = true
		f.idle = make(chan struct{})
		if f.n == 0 {
			close(f.idle)
		}
	}
	idle := f.idle
	f.mu.Unlock()
	select {
	case <-idle:
		return 0
	case <-ctx.Done():
		f.mu.Lock()
		defer f.mu.Unlock()
		return f.n
	}
}
