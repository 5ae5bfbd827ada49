package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/keyward/keyward/internal/version"
	"github.com/keyward/keyward/tools"
)

// Paths served by keyward serve.
const (
	PathMCP     = "/mcp"     // streamable HTTP
	PathSSE     = "/sse"     // legacy SSE: the event stream
	PathMessage = "/message" // legacy SSE: where the client posts
	PathHealth  = "/healthz"
)

// HTTP is keyward's HTTP front: streamable HTTP and SSE on one handler, behind
// the origin check, the bearer token and the limits. Build it with NewHTTP;
// it is an http.Handler, and Serve runs it on a listener.
type HTTP struct {
	app        *App
	streamable *server.StreamableHTTPServer
	sse        *server.SSEServer
	sessions   *sessionTable
	calls      inflight
	origins    map[string]bool
	tokenSum   []byte // SHA-256 of KEYWARD_HTTP_TOKEN, nil when unset
	maxBody    int64
	now        func() time.Time
	mux        *http.ServeMux

	conns           connSet
	shutdownTimeout time.Duration
	draining        chan struct{} // closed when shutdown starts
	drainOnce       sync.Once
}

// ShutdownTimeout bounds how long keyward serve waits for calls in flight
// after SIGINT or SIGTERM.
const ShutdownTimeout = 10 * time.Second

// NewHTTP builds the HTTP front. It fails on settings it cannot serve with,
// such as a malformed KEYWARD_ALLOWED_ORIGINS.
func (a *App) NewHTTP() (*HTTP, error) { return newHTTP(a, time.Now) }

func newHTTP(a *App, now func() time.Time) (*HTTP, error) {
	cfg := a.Config
	origins, err := parseOrigins(cfg.AllowedOrigins)
	if err != nil {
		return nil, err
	}
	h := &HTTP{
		app: a, origins: origins, maxBody: cfg.MaxBodyBytes, now: now,
		sessions:        newSessionTable(cfg.MaxSessions, cfg.SessionIdle, cfg.RateLimit, now),
		shutdownTimeout: ShutdownTimeout,
		draining:        make(chan struct{}),
	}
	if cfg.HTTPToken != "" {
		sum := sha256.Sum256([]byte(cfg.HTTPToken))
		h.tokenSum = sum[:]
	}
	h.streamable = server.NewStreamableHTTPServer(a.MCP,
		server.WithEndpointPath(PathMCP),
		server.WithSessionIdManagerResolver(h.sessions),
		// The 2026-07-28 protocol has no sessions, and keyward's limits and
		// audit trail are per session, so clients are steered to the newest
		// revision that has them (mcp-go clients fall back on their own).
		server.WithStreamableHTTPProtocolVersions(mcp.LegacyProtocolVersions()...),
		server.WithHTTPContextFunc(h.contextFor("http")),
		server.WithStreamableHTTPLogger(a.Log),
	)
	h.sse = server.NewSSEServer(a.MCP,
		server.WithSSEEndpoint(PathSSE),
		server.WithMessageEndpoint(PathMessage),
		server.WithSessionIDGenerator(h.newSSESession),
		server.WithSSEContextFunc(h.contextFor("sse")),
	)
	h.mux = http.NewServeMux()
	h.mux.HandleFunc(PathMCP, h.serveStreamable)
	h.mux.HandleFunc(PathSSE, h.serveSSE)
	h.mux.HandleFunc(PathMessage, h.serveMessage)
	h.mux.HandleFunc(PathHealth, h.serveHealth)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeRPCError(w, http.StatusNotFound, nil, codeBadRequest,
			fmt.Sprintf("nothing at %s; MCP clients connect to %s (streamable HTTP) or %s (SSE)", r.URL.Path, PathMCP, PathSSE))
	})
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *HTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// contextFor tags calls with their transport for the audit log, and gives the
// tool middleware (limitToolCalls) this front.
func (h *HTTP) contextFor(transport string) func(context.Context, *http.Request) context.Context {
	return func(ctx context.Context, _ *http.Request) context.Context {
		return context.WithValue(tools.WithTransport(ctx, transport), frontKey{}, h)
	}
}

func (h *HTTP) serveHealth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		writeRPCError(w, http.StatusMethodNotAllowed, nil, codeBadRequest, "use GET "+PathHealth)
		return
	}
	status, code := "ok", http.StatusOK
	select {
	case <-h.draining:
		// A load balancer should stop sending new sessions here.
		status, code = "shutting down", http.StatusServiceUnavailable
	default:
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(map[string]string{"status": status, "version": version.Version})
}

// serveStreamable fronts mcp-go's streamable HTTP server with keyward's
// session table: initialize takes a slot (or gets 503), other requests must
// name a live session, and a GET stream ends with its session.
func (h *HTTP) serveStreamable(w http.ResponseWriter, r *http.Request) {
	body, ok := h.guard(w, r)
	if !ok {
		return
	}
	sid := r.Header.Get(server.HeaderKeySessionID)
	switch r.Method {
	case http.MethodPost:
		if sid != "" && bytes.Contains(body, []byte(`"initialize"`)) && isInitialize(body) {
			// Re-initializing opens a new session, which takes a slot like any other.
			sid = ""
		}
		if sid != "" {
			s := h.sessions.begin(sid)
			if s == nil {
				h.noSession(w, sid)
				return
			}
			defer h.sessions.end(s)
			h.streamable.ServeHTTP(w, r)
			return
		}
		if isInitialize(body) {
			res, err := h.sessions.reserve()
			if err != nil {
				h.refuseSession(w, requestID(body), err)
				return
			}
			defer h.sessions.release(res)
			r = r.WithContext(context.WithValue(r.Context(), reservationKey{}, res))
		}
		// Anything else without a session (such as a 2026-07-28 client's
		// server/discover probe) is mcp-go's to answer or refuse.
		h.streamable.ServeHTTP(w, r)
	case http.MethodGet:
		if sid == "" {
			writeRPCError(w, http.StatusBadRequest, nil, codeBadRequest,
				"a GET stream needs a session: send initialize first, then GET with the Mcp-Session-Id header it returned")
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		st := &openStream{cancel: cancel}
		if err := h.sessions.attach(sid, st); errors.Is(err, errShuttingDown) {
			h.refuseSession(w, nil, err)
			return
		} else if err != nil {
			h.noSession(w, sid)
			return
		}
		defer h.sessions.detach(sid, st)
		h.streamable.ServeHTTP(w, r.WithContext(ctx))
	default:
		h.streamable.ServeHTTP(w, r)
	}
}

// rpcHead is what keyward reads of a JSON-RPC message.
type rpcHead struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
}

func isInitialize(body []byte) bool {
	var m rpcHead
	return json.Unmarshal(body, &m) == nil && m.Method == string(mcp.MethodInitialize)
}

func requestID(body []byte) json.RawMessage {
	var m rpcHead
	_ = json.Unmarshal(body, &m)
	return m.ID
}

// serveSSE opens a legacy SSE session: it holds a slot for as long as the
// stream is open.
func (h *HTTP) serveSSE(w http.ResponseWriter, r *http.Request) {
	if _, ok := h.guard(w, r); !ok {
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		writeRPCError(w, http.StatusMethodNotAllowed, nil, codeBadRequest, "open the SSE stream with GET "+PathSSE+", then POST messages to the endpoint it names")
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		writeRPCError(w, http.StatusInternalServerError, nil, codeUnavailable, "this connection cannot stream; use streamable HTTP at "+PathMCP)
		return
	}
	res, err := h.sessions.reserve()
	if err != nil {
		h.refuseSession(w, nil, err)
		return
	}
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	res.stream = &openStream{cancel: cancel}
	defer func() {
		if res.id != "" {
			h.sessions.remove(res.id)
		}
		h.sessions.release(res)
	}()
	h.sse.ServeHTTP(&sseStream{ResponseWriter: w, flusher: flusher, h: h, res: res}, r.WithContext(context.WithValue(ctx, reservationKey{}, res)))
}

// newSSESession is mcp-go's SSE session id generator; it fills the slot serveSSE reserved.
func (h *HTTP) newSSESession(ctx context.Context, _ *http.Request) (string, error) {
	res, ok := ctx.Value(reservationKey{}).(*reservation)
	if !ok {
		return "", errors.New("SSE sessions are opened through keyward's handler")
	}
	id := newSessionID()
	h.sessions.claim(res, id, "sse")
	return id, nil
}

// serveMessage takes an SSE client's message. mcp-go answers at once and
// handles the message in the background, so the session counts as used now.
func (h *HTTP) serveMessage(w http.ResponseWriter, r *http.Request) {
	body, ok := h.guard(w, r)
	if !ok {
		return
	}
	sid := r.URL.Query().Get("sessionId")
	if r.Method != http.MethodPost {
		h.sse.ServeHTTP(w, r)
		return
	}
	s := h.sessions.begin(sid)
	if s == nil {
		h.noSession(w, sid)
		return
	}
	defer h.sessions.end(s)
	// The response goes out on the stream later; shutdown keeps the stream
	// open until it has.
	var msg rpcHead
	isRequest := json.Unmarshal(body, &msg) == nil && msg.Method != "" && len(msg.ID) > 0 && string(msg.ID) != "null"
	if !isRequest {
		h.sse.ServeHTTP(w, r)
		return
	}
	h.sessions.await(s)
	sw := &statusWriter{ResponseWriter: w}
	h.sse.ServeHTTP(sw, r)
	if sw.status != http.StatusAccepted {
		h.sessions.answer(sid) // refused at once: nothing will come on the stream
	}
}

// statusWriter remembers the status code written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(p)
}

// sseStream watches the events mcp-go writes on an SSE stream, to count the
// responses delivered (see serveMessage).
type sseStream struct {
	http.ResponseWriter
	flusher http.Flusher
	h       *HTTP
	res     *reservation // its id is set before the first event is written
}

func (w *sseStream) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	if w.res.id != "" && isResponseEvent(p) {
		w.h.sessions.answer(w.res.id)
	}
	return n, err
}

func (w *sseStream) Flush() { w.flusher.Flush() }

// isResponseEvent: is p an SSE event whose data is a JSON-RPC response?
func isResponseEvent(p []byte) bool {
	_, data, ok := bytes.Cut(p, []byte("data:"))
	if !ok {
		return false
	}
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method *string         `json:"method"`
	}
	return json.Unmarshal(bytes.TrimSpace(data), &msg) == nil && msg.Method == nil && len(msg.ID) > 0
}

func (h *HTTP) noSession(w http.ResponseWriter, sid string) {
	// 404 is what the streamable HTTP spec prescribes: the client starts a new session.
	writeRPCError(w, http.StatusNotFound, nil, codeBadRequest,
		fmt.Sprintf("session %q is unknown or has expired (sessions close after KEYWARD_SESSION_IDLE=%s without use); start a new session", sid, h.app.Config.SessionIdleText))
}

func (h *HTTP) refuseSession(w http.ResponseWriter, id json.RawMessage, err error) {
	msg := fmt.Sprintf("too many sessions: keyward serves at most %d concurrent sessions (KEYWARD_MAX_SESSIONS); close sessions you no longer use, wait for idle ones to expire, or the operator can raise KEYWARD_MAX_SESSIONS", h.sessions.max)
	if errors.Is(err, errShuttingDown) {
		msg = "keyward is shutting down and opens no new sessions; retry once it is back"
	}
	w.Header().Set("Retry-After", "5")
	writeRPCError(w, http.StatusServiceUnavailable, id, codeUnavailable, msg)
}

// Sweep closes sessions idle for KEYWARD_SESSION_IDLE; Serve calls it
// periodically.
func (h *HTTP) Sweep() int {
	expired := h.sessions.expire()
	for _, s := range expired {
		for _, st := range s.streams {
			st.cancel()
		}
		if s.transport == "http" {
			// mcp-go keeps per-session state (client info, log level) until the
			// session is deleted; this is the DELETE the client never sent.
			req, _ := http.NewRequest(http.MethodDelete, PathMCP, nil)
			req.Header.Set(server.HeaderKeySessionID, s.id)
			h.streamable.ServeHTTP(discard{}, req)
		}
		h.app.Log.Debug("closed an idle session", "transport", s.transport, "idle", h.now().Sub(s.lastUsed).Round(time.Second))
	}
	if len(expired) > 0 {
		h.app.Log.Info("closed idle sessions", "count", len(expired), "after", h.app.Config.SessionIdleText)
	}
	return len(expired)
}

// ListenHTTP opens the listener for keyward serve, after refusing an address
// that would be unsafe with the current settings.
func (a *App) ListenHTTP(addr string) (net.Listener, error) {
	if err := checkBind(addr, a.Config.HTTPToken); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on %s: %w; choose another address with --addr or KEYWARD_ADDR", addr, err)
	}
	return ln, nil
}

// CheckHTTPBind reports, before anything is opened, whether serving on addr is
// refused (a non-loopback address without KEYWARD_HTTP_TOKEN).
func CheckHTTPBind(addr, token string) error { return checkBind(addr, token) }

// ServeHTTP serves streamable HTTP (/mcp), SSE (/sse, /message) and /healthz
// on ln until ctx ends, then shuts down gracefully.
func (a *App) ServeHTTP(ctx context.Context, ln net.Listener) error {
	h, err := a.NewHTTP()
	if err != nil {
		return err
	}
	return h.Serve(ctx, ln)
}

// Serve runs the front on ln until ctx ends. Then it stops accepting, lets
// calls in flight finish (at most ShutdownTimeout), and closes the sessions.
// The caller closes the App afterwards.
func (h *HTTP) Serve(ctx context.Context, ln net.Listener) error {
	cfg, logger := h.app.Config, h.app.Log
	if err := checkBind(ln.Addr().String(), cfg.HTTPToken); err != nil {
		return err
	}
	switch {
	case cfg.HTTPToken == "":
		logger.Warn("no KEYWARD_HTTP_TOKEN: any program on this machine can use keyward over HTTP; set one to require a bearer token")
	case len(cfg.HTTPToken) < 16:
		logger.Warn("KEYWARD_HTTP_TOKEN is shorter than 16 characters; use a long random value such as the output of `openssl rand -hex 32`")
	}
	srv := &http.Server{
		Handler: h,
		// No read or write timeout: SSE streams stay open for as long as the session.
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(slogWriter{logger}, "", 0),
		ConnState:         h.conns.track,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	logger.Info("keyward serving HTTP", "addr", ln.Addr().String(), "streamable_http", base+PathMCP, "sse", base+PathSSE, "health", base+PathHealth, "auth", cfg.HTTPToken != "")

	sweepDone := make(chan struct{})
	sweepCtx, stopSweep := context.WithCancel(context.Background())
	go func() {
		defer close(sweepDone)
		t := time.NewTicker(min(max(cfg.SessionIdle/10, time.Second), time.Minute))
		defer t.Stop()
		for {
			select {
			case <-sweepCtx.Done():
				return
			case <-t.C:
				h.Sweep()
			}
		}
	}()
	defer func() { stopSweep(); <-sweepDone }()

	select {
	case err := <-served:
		return fmt.Errorf("the HTTP server stopped: %w", err)
	case <-ctx.Done():
	}
	return h.shutdown(srv, served)
}

// shutdown: refuse new sessions and calls, stop accepting connections, wait
// for calls in flight (their responses still reach open streams), then end
// the streams, all within shutdownTimeout.
func (h *HTTP) shutdown(srv *http.Server, served <-chan error) error {
	logger := h.app.Log
	logger.Info("keyward shutting down; finishing calls in flight", "timeout", h.shutdownTimeout)
	h.drainOnce.Do(func() { close(h.draining) })
	ctx, cancel := context.WithTimeout(context.Background(), h.shutdownTimeout)
	defer cancel()

	streams := h.sessions.close()
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Shutdown(ctx) }()
	left := h.calls.drain(ctx)
	h.sessions.awaitAnswers(ctx)
	for _, st := range streams {
		st.cancel()
	}
	h.sse.CloseSessions()
	h.streamable.CloseSessions(ctx)
	// http.Server.Shutdown leaves a connection that never sent a request
	// alone for 5 s; nothing is lost by closing those now.
	h.conns.closeNew()

	err := <-stopped
	<-served
	if left > 0 || err != nil {
		// Past the deadline: cut what is left so keyward can still close its state file.
		_ = srv.Close()
		logger.Warn("shutdown timed out; some calls may not have finished", "still_running", left, "timeout", h.shutdownTimeout)
		return nil
	}
	logger.Info("keyward stopped serving HTTP")
	return nil
}

// discard is a ResponseWriter for requests keyward makes to mcp-go itself.
type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) WriteHeader(int)             {}

// connSet knows the connections that have not sent a request yet.
type connSet struct {
	mu    sync.Mutex
	fresh map[net.Conn]struct{}
}

func (c *connSet) track(conn net.Conn, state http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if state == http.StateNew {
		if c.fresh == nil {
			c.fresh = map[net.Conn]struct{}{}
		}
		c.fresh[conn] = struct{}{}
	} else {
		delete(c.fresh, conn)
	}
}

func (c *connSet) closeNew() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for conn := range c.fresh {
		conn.Close()
	}
}
