package keyward

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Time bounds on one connection. Whatever a client does, its connection ends
// within one of these:
//
//   - headers: ReadHeaderTimeout (http.Server) from the first byte;
//   - an idle keep-alive connection: IdleTimeout (http.Server);
//   - a request body: bodyReadTimeout from the end of the headers;
//   - the rest of the body of a request keyward refused without reading it
//     (401, 403, 404, ...): refusedBodyTimeout, then the connection is closed;
//   - each write of a response: writeTimeout (at least 7/8 of it), so a client
//     that stops reading cannot hold a handler. Long-lived streams (SSE, a streamable GET) are not
//     cut: the bound applies to each write, not to the response.
const (
	headerReadTimeout  = 10 * time.Second
	idleConnTimeout    = 2 * time.Minute
	bodyReadTimeout    = 30 * time.Second
	refusedBodyTimeout = 5 * time.Second
	writeTimeout       = 30 * time.Second
)

// connTable enforces KEYWARD_MAX_CONNS. Each accepted connection holds one of
// max slots. When they are all taken, a new connection takes the slot of the
// oldest connection that has not yet sent an authorized request (slow headers,
// a refused request, a health check, nothing at all), or failing that of an
// idle keep-alive connection; if every connection belongs to an authorized
// client that is using it, the new one is answered 503 and closed. So
// connections that never authenticate cannot lock out /healthz or clients with
// the token, and the process never keeps more than max connections (one more
// is open for the instant it takes to refuse it or close the one it replaces).
type connTable struct {
	log *slog.Logger

	mu       sync.Mutex
	max      int
	n        int
	peak     int       // the most connections ever open at once (tests)
	unproven list.List // *trackedConn not yet authorized, oldest first
	idle     list.List // authorized *trackedConn between requests, longest idle first
	all      map[*trackedConn]struct{}
	warned   time.Time // last "cap reached" log line
	evicted  int       // connections closed to make room (tests)
	refused  int       // connections refused because none could be closed (tests)
}

// trackedConn is an accepted connection with its place in the table. Fields
// other than Conn are guarded by connTable.mu.
type trackedConn struct {
	net.Conn
	t      *connTable
	proven bool
	state  http.ConnState
	elem   *list.Element // in t.unproven or t.idle, or nil
	gone   bool          // its slot was given back
}

func newConnTable(max int, log *slog.Logger) *connTable {
	return &connTable{max: max, log: log, all: map[*trackedConn]struct{}{}}
}

// setMax changes the cap; Serve lowers it to fit the open-file limit.
func (t *connTable) setMax(n int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.max = n
}

// listener wraps ln so that every connection it accepts goes through the table.
func (t *connTable) listener(ln net.Listener) net.Listener { return &capListener{Listener: ln, t: t} }

type capListener struct {
	net.Listener
	t *connTable
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if tc := l.t.admit(c); tc != nil {
			return tc, nil
		}
	}
}

// admit gives c a slot, closing another connection to make room when needed;
// it returns nil when c was refused (and closed).
func (t *connTable) admit(c net.Conn) *trackedConn {
	t.mu.Lock()
	var victim *trackedConn
	if t.n >= t.max {
		if e := t.unproven.Front(); e != nil {
			victim = e.Value.(*trackedConn)
		} else if e := t.idle.Front(); e != nil {
			victim = e.Value.(*trackedConn)
		}
		if victim == nil {
			t.refused++
			t.warnLocked("keyward is at KEYWARD_MAX_CONNS and every connection belongs to an authorized client that is using it; refusing new connections with 503 until one ends",
				"max_conns", t.max)
			t.mu.Unlock()
			refuseConn(c, t.max)
			return nil
		}
		t.releaseLocked(victim)
		t.evicted++
		t.warnLocked("keyward is at KEYWARD_MAX_CONNS; closing the oldest connections that have not authenticated (or are idle) to make room for new ones",
			"max_conns", t.max)
	}
	tc := &trackedConn{Conn: c, t: t, state: http.StateNew}
	tc.elem = t.unproven.PushBack(tc)
	t.all[tc] = struct{}{}
	t.n++
	t.peak = max(t.peak, t.n)
	t.mu.Unlock()
	if victim != nil {
		victim.Conn.Close()
	}
	return tc
}

// warnLocked logs at most once a minute while the cap is being hit.
func (t *connTable) warnLocked(msg string, args ...any) {
	if now := time.Now(); now.Sub(t.warned) >= time.Minute {
		t.warned = now
		t.log.Warn(msg, args...)
	}
}

// releaseLocked gives tc's slot back (once).
func (t *connTable) releaseLocked(tc *trackedConn) {
	if tc.gone {
		return
	}
	tc.gone = true
	t.unlistLocked(tc)
	delete(t.all, tc)
	t.n--
}

func (t *connTable) unlistLocked(tc *trackedConn) {
	if tc.elem != nil {
		if tc.proven {
			t.idle.Remove(tc.elem)
		} else {
			t.unproven.Remove(tc.elem)
		}
		tc.elem = nil
	}
}

func (c *trackedConn) Close() error {
	c.t.mu.Lock()
	c.t.releaseLocked(c)
	c.t.mu.Unlock()
	return c.Conn.Close()
}

// CloseWrite keeps net/http's graceful close (FIN, then a short wait) working
// through the wrapper.
func (c *trackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// prove marks the connection of r as belonging to an authorized client.
func (t *connTable) prove(r *http.Request) {
	tc, ok := r.Context().Value(connKey{}).(*trackedConn)
	if !ok || tc.t != t {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if tc.proven || tc.gone {
		return
	}
	t.unlistLocked(tc)
	tc.proven = true
}

// track is the http.Server ConnState hook: authorized connections between
// requests are the next to go when room is needed.
func (t *connTable) track(c net.Conn, state http.ConnState) {
	tc, ok := c.(*trackedConn)
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	tc.state = state
	switch state {
	case http.StateIdle:
		if tc.proven && tc.elem == nil && !tc.gone {
			tc.elem = t.idle.PushBack(tc)
		}
	case http.StateActive:
		if tc.proven {
			t.unlistLocked(tc)
		}
	case http.StateHijacked, http.StateClosed:
		t.releaseLocked(tc)
	}
}

// closeUnauthorized closes, at shutdown, the connections that have not sent
// a request yet (http.Server.Shutdown would leave them alone for 5 s) and
// those of clients that never authenticated, such as a refused request whose
// body is still trickling in.
func (t *connTable) closeUnauthorized() {
	t.mu.Lock()
	var out []*trackedConn
	for tc := range t.all {
		if tc.state == http.StateNew || !tc.proven {
			out = append(out, tc)
		}
	}
	t.mu.Unlock()
	for _, tc := range out {
		tc.Close()
	}
}

// open is how many connections hold a slot.
func (t *connTable) open() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

func (t *connTable) stats() (peak, evicted, refused int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.peak, t.evicted, t.refused
}

// refuseConn answers a connection there is no room for and closes it. The
// socket is new, so the short answer fits in its send buffer; the deadline
// only guards against the impossible.
func refuseConn(c net.Conn, max int) {
	body := fmt.Sprintf(`{"jsonrpc":"2.0","id":null,"error":{"code":%d,"message":"too many connections: keyward serves at most %d at once (KEYWARD_MAX_CONNS) and all are in use by authorized clients; retry in a few seconds, or the operator can raise KEYWARD_MAX_CONNS"}}`+"\n", codeUnavailable, max)
	_ = c.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = fmt.Fprintf(c, "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nCache-Control: no-store\r\nRetry-After: 5\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	_ = c.Close()
}

type connKey struct{}

// connContext is the http.Server ConnContext hook: handlers find their
// connection (to mark it authorized) in the request context.
func connContext(ctx context.Context, c net.Conn) context.Context {
	return context.WithValue(ctx, connKey{}, c)
}

// fdReserve is how many file descriptors keyward keeps for itself (state
// file, platform requests, secret files) when the open-file limit caps
// KEYWARD_MAX_CONNS: a quarter of the limit, at least 64.
func fdReserve(limit uint64) uint64 { return max(64, limit/4) }

// connCap is KEYWARD_MAX_CONNS lowered, when the process's open-file limit is
// known and too low for it, to what the limit leaves room for; lowered tells
// whether it was.
func connCap(setting int, fdLimit uint64) (capped int, lowered bool) {
	if fdLimit == 0 {
		return setting, false
	}
	room := 1
	if r := fdReserve(fdLimit); fdLimit > r {
		room = int(min(fdLimit-r, 1<<30))
	}
	if setting > room {
		return room, true
	}
	return setting, false
}

// bounded applies the per-request time bounds (see the constants above) around
// next: a read deadline while the body arrives, a fresh write deadline before
// each write, and, for a request answered without reading its whole body,
// "Connection: close" and a short deadline for the rest of the body, so
// net/http does not wait for a body nobody will read.
func (h *HTTP) bounded(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		bw := &boundedWriter{ResponseWriter: w, rc: rc, h: h}
		bw.extend()
		if r.Body != nil && r.Body != http.NoBody {
			_ = rc.SetReadDeadline(time.Now().Add(h.bodyTimeout))
			bw.body = &watchedBody{ReadCloser: r.Body, rc: rc}
			r.Body = bw.body
		}
		next.ServeHTTP(bw, r)
		if !bw.wroteHeader.Load() {
			bw.WriteHeader(http.StatusOK) // what net/http would send, with the checks above
		}
		// net/http flushes what is buffered after this returns.
		bw.extend()
	})
}

// watchedBody lifts the body's read deadline once the body has been read, so
// net/http can watch for the client going away during a long response.
type watchedBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done atomic.Bool
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done.Swap(true) {
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// boundedWriter gives every write and flush a write deadline of nearly
// writeTimeout: it moves the deadline on once less than 7/8 of writeTimeout
// is left, not at every write (each move costs a timer update, and an answer
// is a few writes in quick succession).
type boundedWriter struct {
	http.ResponseWriter
	rc          *http.ResponseController
	h           *HTTP
	body        *watchedBody // nil without a body
	wroteHeader atomic.Bool
	deadline    atomic.Int64 // the write deadline set last, in Unix nanoseconds
}

func (w *boundedWriter) extend() {
	now := time.Now()
	if time.Unix(0, w.deadline.Load()).Sub(now) > w.h.writeTimeout-w.h.writeTimeout/8 {
		return
	}
	d := now.Add(w.h.writeTimeout)
	w.deadline.Store(d.UnixNano())
	_ = w.rc.SetWriteDeadline(d)
}

func (w *boundedWriter) WriteHeader(code int) {
	if code >= 200 && !w.wroteHeader.Swap(true) && w.body != nil && !w.body.done.Load() {
		// Answered without reading the whole body: close after this answer,
		// and give what is left of the body little time to arrive (net/http
		// reads some of it before closing).
		w.Header().Set("Connection", "close")
		_ = w.rc.SetReadDeadline(time.Now().Add(w.h.refusedTimeout))
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *boundedWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader.Load() {
		w.WriteHeader(http.StatusOK)
	}
	w.extend()
	return w.ResponseWriter.Write(p)
}

func (w *boundedWriter) Flush() {
	w.extend()
	_ = w.rc.Flush()
}

// Unwrap lets http.ResponseController reach the connection.
func (w *boundedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// isTimeout: did a read fail because its deadline passed?
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
