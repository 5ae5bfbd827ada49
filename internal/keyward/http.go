package keyward

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
	"net/url"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/echo"
	"github.com/keyward/keyward/internal/oauth"
	"github.com/keyward/keyward/internal/sanitize"
	"github.com/keyward/keyward/internal/version"
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
	// oauth checks access tokens from KEYWARD_OAUTH_ISSUER (nil: none are
	// accepted); metadataURL is where this resource's RFC 9728 metadata is.
	oauth       *oauth.Verifier
	metadataURL string
	maxBody     int64
	now         func() time.Time
	mux         *http.ServeMux
	handler     http.Handler // mux inside the per-request time bounds

	conns *connTable // KEYWARD_MAX_CONNS
	// Time bounds on a connection (http_conns.go); tests shorten them.
	headerTimeout, idleTimeout, bodyTimeout, refusedTimeout, writeTimeout time.Duration

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
		conns:           newConnTable(cfg.MaxConns, a.Log),
		headerTimeout:   headerReadTimeout,
		idleTimeout:     idleConnTimeout,
		bodyTimeout:     bodyReadTimeout,
		refusedTimeout:  refusedBodyTimeout,
		writeTimeout:    writeTimeout,
		shutdownTimeout: ShutdownTimeout,
		draining:        make(chan struct{}),
	}
	if cfg.HTTPToken != "" {
		sum := sha256.Sum256([]byte(cfg.HTTPToken))
		h.tokenSum = sum[:]
	}
	metadata, err := h.setUpOAuth()
	if err != nil {
		return nil, err
	}
	h.streamable = server.NewStreamableHTTPServer(a.MCP,
		server.WithEndpointPath(PathMCP),
		// Session-based revisions: keyward's table issues and checks the ids
		// (and counts them against KEYWARD_MAX_SESSIONS); mcp-go closes idle
		// ones and tells the table (Terminate). 2026-07-28 requests carry no
		// session: mcp-go serves each on its own.
		server.WithSessionIdManagerResolver(h.sessions),
		server.WithSessionIdleTTL(cfg.SessionIdle),
		server.WithHTTPContextFunc(h.contextFor(transportHTTP)),
		server.WithStreamableHTTPLogger(a.Log),
	)
	h.sse = server.NewSSEServer(a.MCP,
		server.WithSSEEndpoint(PathSSE),
		server.WithMessageEndpoint(PathMessage),
		server.WithSessionIDGenerator(h.newSSESession),
		server.WithSSEContextFunc(h.contextFor(transportSSE)),
	)
	h.mux = http.NewServeMux()
	h.mux.HandleFunc(PathMCP, h.serveStreamable)
	h.mux.HandleFunc(PathSSE, h.serveSSE)
	h.mux.HandleFunc(PathMessage, h.serveMessage)
	h.mux.HandleFunc(PathHealth, h.serveHealth)
	if metadata != nil {
		// Served without a token: a client reads it to learn where to get one.
		h.mux.Handle(server.WellKnownProtectedResourcePath, metadata)
		if p := server.ProtectedResourceMetadataPath(cfg.OAuthResource); p != server.WellKnownProtectedResourcePath {
			h.mux.Handle(p, metadata)
		}
	}
	notFound := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeRPCError(w, http.StatusNotFound, nil, codeBadRequest,
			fmt.Sprintf("nothing at %s; MCP clients connect to %s (streamable HTTP) or %s (SSE)", sanitize.Echo(r.URL.Path, 200), PathMCP, PathSSE))
	})
	// Everything else is the operator's console (http_console.go), which
	// answers paths it does not serve with notFound.
	if err := h.mountConsole(notFound); err != nil {
		return nil, err
	}
	h.handler = h.bounded(h.mux)
	if !a.front.CompareAndSwap(nil, h) {
		_ = h.streamable.Shutdown(context.Background()) // stops its idle sweeper; nothing else was started
		return nil, errors.New("this keyward already has an HTTP front; serve it once")
	}
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *HTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.handler.ServeHTTP(w, r) }

// contextFor tells the rules and the audit log who is calling, as far as the
// transport knows: its name and the principal guard authenticated. The
// client's own name comes from the MCP session or the request (tools).
func (h *HTTP) contextFor(transport string) func(context.Context, *http.Request) context.Context {
	return func(ctx context.Context, _ *http.Request) context.Context {
		who := senderOf(ctx)
		return caller.With(ctx, caller.Identity{Transport: transport, Principal: who.principal, ReadOnly: who.readOnly})
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

// serveStreamable fronts mcp-go's streamable HTTP server. A 2026-07-28
// request (its Mcp-Protocol-Version header says so) has no session: mcp-go
// checks its headers and _meta and serves it alone, so any replica can. For
// the session-based revisions, keyward's session table applies: initialize
// takes a slot (or gets 503), other requests must name a live session, and
// a GET stream ends with its session.
func (h *HTTP) serveStreamable(w http.ResponseWriter, r *http.Request) {
	r, body, ok := h.guard(w, r)
	if !ok {
		return
	}
	if mcp.IsModernProtocol(r.Header.Get(mcp.HeaderProtocolVersion)) {
		h.streamable.ServeHTTP(echo.Writer{ResponseWriter: w}, r)
		return
	}
	sid := r.Header.Get(server.HeaderKeySessionID)
	principal := senderOf(r.Context()).principal
	switch r.Method {
	case http.MethodPost:
		// Re-initializing opens a new session, which takes a slot like any other.
		if sid != "" && !(bytes.Contains(body, []byte(`"initialize"`)) && isInitialize(body)) {
			h.serveInSession(w, r, sid, principal)
			return
		}
		if isInitialize(body) {
			res, err := h.sessions.reserve()
			if err != nil {
				h.refuseSession(w, requestID(body), err)
				return
			}
			res.principal = principal
			defer h.sessions.release(res)
			r = r.WithContext(context.WithValue(r.Context(), reservationKey{}, res))
		}
		// Anything else without a session is mcp-go's to answer or refuse.
		h.streamable.ServeHTTP(echo.Writer{ResponseWriter: w}, r)
	case http.MethodGet:
		if sid == "" {
			writeRPCError(w, http.StatusBadRequest, nil, codeBadRequest,
				"a GET stream needs a session: send initialize first, then GET with the Mcp-Session-Id header it returned")
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		st := &openStream{cancel: cancel}
		if err := h.sessions.attach(sid, transportHTTP, principal, st); errors.Is(err, errShuttingDown) {
			h.refuseSession(w, nil, err)
			return
		} else if err != nil {
			h.sessionError(w, sid, transportHTTP, err)
			return
		}
		defer h.sessions.detach(sid, st)
		h.streamable.ServeHTTP(echo.Writer{ResponseWriter: w}, r.WithContext(ctx))
	case http.MethodDelete:
		// Only a streamable HTTP session of keyward's can be ended here; an
		// SSE session ends when its stream closes.
		if sid == "" {
			writeRPCError(w, http.StatusBadRequest, nil, codeBadRequest,
				"DELETE ends a session: send it with the Mcp-Session-Id header of the session to end")
			return
		}
		h.serveInSession(w, r, sid, principal)
	default:
		h.streamable.ServeHTTP(echo.Writer{ResponseWriter: w}, r)
	}
}

// serveInSession hands mcp-go a request on principal's streamable HTTP
// session sid, counted as busy while it is served.
func (h *HTTP) serveInSession(w http.ResponseWriter, r *http.Request, sid, principal string) {
	s, err := h.sessions.begin(sid, transportHTTP, principal)
	if err != nil {
		h.sessionError(w, sid, transportHTTP, err)
		return
	}
	defer h.sessions.end(s)
	h.streamable.ServeHTTP(echo.Writer{ResponseWriter: w}, r)
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
	r, _, ok := h.guard(w, r)
	if !ok {
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
	res.principal = senderOf(r.Context()).principal
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	res.stream = &openStream{cancel: cancel}
	defer func() {
		if res.id != "" {
			h.sessions.remove(res.id, transportSSE)
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
	h.sessions.claim(res, id, transportSSE)
	return id, nil
}

// serveMessage takes an SSE client's message. mcp-go answers at once and
// handles the message in the background, so the session counts as used now.
func (h *HTTP) serveMessage(w http.ResponseWriter, r *http.Request) {
	r, body, ok := h.guard(w, r)
	if !ok {
		return
	}
	sid := r.URL.Query().Get("sessionId")
	if r.Method != http.MethodPost {
		h.sse.ServeHTTP(echo.Writer{ResponseWriter: w}, r)
		return
	}
	s, err := h.sessions.begin(sid, transportSSE, senderOf(r.Context()).principal)
	if err != nil {
		h.sessionError(w, sid, transportSSE, err)
		return
	}
	defer h.sessions.end(s)
	// The response goes out on the stream later; shutdown keeps the stream
	// open until it has.
	var msg rpcHead
	isRequest := json.Unmarshal(body, &msg) == nil && msg.Method != "" && len(msg.ID) > 0 && string(msg.ID) != "null"
	if !isRequest {
		h.sse.ServeHTTP(echo.Writer{ResponseWriter: w}, r)
		return
	}
	h.sessions.await(s)
	sw := &statusWriter{ResponseWriter: echo.Writer{ResponseWriter: w}}
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
	n, err := echo.Writer{ResponseWriter: w.ResponseWriter}.Write(p)
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

// sessionError answers a request naming a session that transport cannot use.
func (h *HTTP) sessionError(w http.ResponseWriter, sid, transport string, err error) {
	if !errors.Is(err, errOtherTransport) {
		h.noSession(w, sid)
		return
	}
	// A session belongs to the transport that opened it: that is where it
	// was initialized, and where its client's name is known.
	msg := fmt.Sprintf("session %s was opened on the SSE transport (GET %s) and can only be used there, by posting to the endpoint its stream named; to use streamable HTTP, send initialize to %s and use the Mcp-Session-Id it returns", shownSession(sid), PathSSE, PathMCP)
	if transport == transportSSE {
		msg = fmt.Sprintf("session %s was opened on streamable HTTP (%s) and can only be used there, with the Mcp-Session-Id header; to use SSE, open GET %s and post to the endpoint it names", shownSession(sid), PathMCP, PathSSE)
	}
	writeRPCError(w, http.StatusNotFound, nil, codeBadRequest, msg)
}

func (h *HTTP) noSession(w http.ResponseWriter, sid string) {
	// 404 is what the streamable HTTP spec prescribes: the client starts a new session.
	writeRPCError(w, http.StatusNotFound, nil, codeBadRequest,
		fmt.Sprintf("session %s is unknown or has expired (sessions close after KEYWARD_SESSION_IDLE=%s without use); start a new session", shownSession(sid), h.app.Config.SessionIdleText))
}

func (h *HTTP) refuseSession(w http.ResponseWriter, id json.RawMessage, err error) {
	msg := fmt.Sprintf("too many sessions: keyward serves at most %d concurrent sessions (KEYWARD_MAX_SESSIONS); close sessions you no longer use, wait for idle ones to expire, or the operator can raise KEYWARD_MAX_SESSIONS", h.sessions.max)
	if errors.Is(err, errShuttingDown) {
		msg = "keyward is shutting down and opens no new sessions; retry once it is back"
	}
	w.Header().Set("Retry-After", "5")
	writeRPCError(w, http.StatusServiceUnavailable, id, codeUnavailable, msg)
}

// Sweep closes SSE sessions idle for KEYWARD_SESSION_IDLE (mcp-go closes
// idle streamable HTTP sessions itself) and forgets stateless callers whose
// rate limit has refilled; Serve calls it periodically.
func (h *HTTP) Sweep() int {
	expired := h.sessions.expire()
	for _, s := range expired {
		for _, st := range s.streams {
			st.cancel()
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
	if err := checkBind(addr, a.Config.HTTPToken != "" || a.Config.OAuthIssuer != ""); err != nil {
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
func CheckHTTPBind(addr string, authenticated bool) error { return checkBind(addr, authenticated) }

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
	if err := checkBind(ln.Addr().String(), cfg.HTTPToken != "" || cfg.OAuthIssuer != ""); err != nil {
		return err
	}
	switch {
	case cfg.HTTPToken == "":
		logger.Warn("no KEYWARD_HTTP_TOKEN: any program on this machine can use keyward over HTTP; set one to require a bearer token")
	case len(cfg.HTTPToken) < 16:
		logger.Warn("KEYWARD_HTTP_TOKEN is shorter than 16 characters; use a long random value such as the output of `openssl rand -hex 32`")
	}
	maxConns, lowered := connCap(cfg.MaxConns, fdLimit())
	if lowered {
		logger.Warn("KEYWARD_MAX_CONNS is more than this process's open-file limit leaves room for; serving fewer connections. Raise the limit (ulimit -n) or lower KEYWARD_MAX_CONNS",
			"KEYWARD_MAX_CONNS", cfg.MaxConns, "open_file_limit", fdLimit(), "max_conns", maxConns)
		h.conns.setMax(maxConns)
	}
	srv := &http.Server{
		Handler: h,
		// No server-wide read or write timeout: SSE streams stay open for as
		// long as the session. Bodies and each write are bounded per request
		// instead (bounded, http_conns.go).
		ReadHeaderTimeout: h.headerTimeout,
		IdleTimeout:       h.idleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(slogWriter{logger}, "", 0),
		ConnState:         h.conns.track,
		ConnContext:       connContext,
	}
	base := "http://" + ln.Addr().String()
	// Before the first request: a create in url mode needs the links' address.
	h.announceConsole(base)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(h.conns.listener(ln)) }()
	logger.Info("keyward serving HTTP", "addr", ln.Addr().String(), "streamable_http", base+PathMCP, "sse", base+PathSSE, "health", base+PathHealth, "auth", cfg.HTTPToken != "", "max_conns", maxConns)

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
	_ = h.streamable.Shutdown(ctx) // closes its sessions and stops its idle sweeper
	// http.Server.Shutdown leaves a connection that never sent a request
	// alone for 5 s, and waits for a refused request's body; nothing is lost
	// by closing those now.
	h.conns.closeUnauthorized()

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

// setUpOAuth builds the access-token verifier and this resource's RFC 9728
// metadata when the operator named an issuer; nil, nil when not.
func (h *HTTP) setUpOAuth() (http.Handler, error) {
	cfg := h.app.Config
	if cfg.OAuthIssuer == "" {
		return nil, nil
	}
	v, err := oauth.New(oauth.Settings{Issuer: cfg.OAuthIssuer, Audience: cfg.OAuthResource, JWKSURL: cfg.OAuthJWKSURL,
		ReadScope: cfg.OAuthReadScope, WriteScope: cfg.OAuthWriteScope, Now: h.now})
	if err != nil {
		return nil, fmt.Errorf("KEYWARD_OAUTH_*: %w", err)
	}
	u, err := url.Parse(cfg.OAuthResource)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, fmt.Errorf("KEYWARD_OAUTH_RESOURCE (%q) is not an absolute URL such as https://keys.example.com/mcp", cfg.OAuthResource)
	}
	h.oauth = v
	h.metadataURL = u.Scheme + "://" + u.Host + server.ProtectedResourceMetadataPath(cfg.OAuthResource)
	return server.NewProtectedResourceMetadataHandler(server.ProtectedResourceMetadataConfig{
		Resource:               cfg.OAuthResource,
		AuthorizationServers:   []string{cfg.OAuthIssuer},
		ScopesSupported:        []string{cfg.OAuthReadScope, cfg.OAuthWriteScope},
		BearerMethodsSupported: []string{"header"},
		ResourceName:           "keyward",
	}), nil
}
