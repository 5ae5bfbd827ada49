// Package fakeserver is the shared machinery of the providers' contract fakes:
// a loopback server, fault injection and a request log without credentials.
package fakeserver

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

const maxRequestBody = 1 << 20

// Fault replaces or spoils the real handler's answer.
type Fault struct {
	Status    int           // answer this status with Body instead of the real handler
	Body      string        // with Status
	Header    http.Header   // added to the answer, e.g. Retry-After
	Delay     time.Duration // sleep before answering (ends early when the client goes away)
	CloseConn bool          // hijack and close without answering
	Truncate  bool          // run the real handler but cut its body in half
	NonJSON   bool          // answer 200 with "<html>oops</html>"
	// After runs the real handler first, with CloseConn, Status or NonJSON:
	// the request is carried out and only its answer is lost or replaced, as
	// when a connection drops or a server fails after doing the work.
	After  bool
	Times  int    // how many requests it affects; 0 = until Clear
	Method string // when set, only requests with this method are affected
	Path   string // when set, only requests to this exact path are affected
}

func (f *Fault) matches(r *http.Request) bool {
	return (f.Method == "" || f.Method == r.Method) && (f.Path == "" || f.Path == r.URL.Path)
}

// Faults holds the active faults; safe for concurrent use. A request takes
// the first one that matches it.
type Faults struct {
	mu     sync.Mutex
	active []*activeFault
}

type activeFault struct {
	fault Fault
	left  int // with fault.Times
}

// Set makes fault apply to the next requests, replacing any other.
func (f *Faults) Set(fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.active = []*activeFault{{fault: fault, left: fault.Times}}
}

// Add makes fault apply as well, after those already active: for a request
// spoiled one way and another request another way (say, a DELETE whose
// answer is lost and the listing that follows it).
func (f *Faults) Add(fault Fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.active = append(f.active, &activeFault{fault: fault, left: fault.Times})
}

// Clear removes every active fault.
func (f *Faults) Clear() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.active = nil
}

// take returns the fault for one request and counts it against its Times.
func (f *Faults) take(r *http.Request) *Fault {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, a := range f.active {
		if !a.fault.matches(r) {
			continue
		}
		fault := a.fault
		if fault.Times > 0 {
			a.left--
			if a.left <= 0 {
				f.active = append(f.active[:i:i], f.active[i+1:]...)
			}
		}
		return &fault
	}
	return nil
}

// Wrap applies the active fault, if any, before or around h.
func (f *Faults) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fault := f.take(r)
		if fault == nil {
			h.ServeHTTP(w, r)
			return
		}
		if fault.Delay > 0 {
			// The server notices a client that gave up only once the request
			// body is consumed, so read it first and hand a copy on.
			body, _ := io.ReadAll(io.LimitReader(r.Body, maxRequestBody))
			r.Body = io.NopCloser(bytes.NewReader(body))
			t := time.NewTimer(fault.Delay)
			select {
			case <-r.Context().Done():
				t.Stop()
				return
			case <-t.C:
			}
		}
		if fault.After && (fault.CloseConn || fault.Status != 0 || fault.NonJSON) {
			h.ServeHTTP(httptest.NewRecorder(), r)
		}
		for name, values := range fault.Header {
			for _, v := range values {
				w.Header().Add(name, v)
			}
		}
		switch {
		case fault.CloseConn:
			closeConn(w)
		case fault.Status != 0:
			w.Header().Set("Content-Type", contentType(fault.Body))
			w.WriteHeader(fault.Status)
			_, _ = w.Write([]byte(fault.Body))
		case fault.NonJSON:
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte("<html>oops</html>"))
		case fault.Truncate:
			truncate(w, r, h)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

func closeConn(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic("fakeserver: CloseConn needs an HTTP/1 connection")
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		_ = conn.Close()
	}
}

// truncate promises the whole body in Content-Length and sends half, so the
// client sees the connection end mid-body.
func truncate(w http.ResponseWriter, r *http.Request, h http.Handler) {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	for name, values := range rec.Header() {
		w.Header()[name] = values
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rec.Code)
	_, _ = w.Write(body[:len(body)/2])
}

func contentType(body string) string {
	if t := strings.TrimSpace(body); strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		return "application/json"
	}
	return "text/plain; charset=utf-8"
}

// Request is one logged request. Header holds every header except those that
// may carry a credential.
type Request struct {
	Method string
	Path   string // exactly as sent, trailing slash included
	Query  string
	Header http.Header
}

// Server is a contract fake's HTTP server with its faults and request log.
type Server struct {
	*httptest.Server
	Faults *Faults

	mu       sync.Mutex
	requests []Request
	open     map[net.Conn]bool
	accepted int
}

// Start serves h on a loopback port, behind the fault injector and the log.
func Start(h http.Handler) *Server {
	s := &Server{Faults: &Faults{}, open: map[net.Conn]bool{}}
	wrapped := s.Faults.Wrap(h)
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		wrapped.ServeHTTP(w, r)
	}))
	s.Server.Config.ConnState = s.track
	s.Server.Start()
	return s
}

// track counts the connections clients hold open to the fake.
func (s *Server) track(c net.Conn, state http.ConnState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch state {
	case http.StateNew:
		s.open[c] = true
		s.accepted++
	case http.StateClosed, http.StateHijacked:
		delete(s.open, c)
	}
}

// OpenConns is how many connections clients hold open to the fake right now,
// idle ones included: a client that pools its connections keeps few.
func (s *Server) OpenConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.open)
}

// AcceptedConns is how many connections the fake has accepted in all.
func (s *Server) AcceptedConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accepted
}

// Requests returns a copy of the log, oldest first.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	copy(out, s.requests)
	return out
}

func (s *Server) record(r *http.Request) {
	header := http.Header{}
	for name, values := range r.Header {
		if !credentialHeader(name) {
			header[name] = append([]string(nil), values...)
		}
	}
	req := Request{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery, Header: header}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, req)
}

// credentialHeader is conservative: any header that sounds like it carries a
// secret stays out of the log.
func credentialHeader(name string) bool {
	n := strings.ToLower(name)
	for _, word := range []string{"auth", "key", "token", "secret", "cookie", "session"} {
		if strings.Contains(n, word) {
			return true
		}
	}
	return false
}

// WriteJSON answers status with v encoded as JSON.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		http.Error(w, "fakeserver: cannot encode answer", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// ReadJSON decodes a request body of at most 1 MiB into v.
func ReadJSON(r *http.Request, v any) error {
	return json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxRequestBody)).Decode(v)
}
