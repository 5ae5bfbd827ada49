package keyward

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/keyward/keyward/internal/echo"
	"github.com/keyward/keyward/tools"
)

// MaxStdioLine bounds one message on stdin. A longer line is dropped (the
// client gets a parse error) instead of being held in memory whole.
const MaxStdioLine = 4 << 20

// ServeStdio speaks MCP on in/out until in closes or ctx ends. Only protocol
// goes to out; mcp-go's own complaints go to the logger (stderr).
//
// An App from Prepare is opened here, while the client's first messages are
// answered: initialize (or server/discover) and ping need only the MCP
// server, so a client's first answer never waits for the state file; every
// other message waits until the state is open, and if it cannot be opened,
// ServeStdio ends with a StartError and nothing else is answered.
func (a *App) ServeStdio(ctx context.Context, in io.Reader, out io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ready := make(chan struct{})
	var readyErr error
	stopLinks := func() {}
	var once sync.Once
	// The state opens once the first answer is out (so the two do not
	// compete for the CPU), when a message needs it, or after openAfter
	// at the latest (a client that sends nothing still hears of a state
	// that cannot be opened).
	startOpen := func() {
		once.Do(func() {
			go func() {
				defer close(ready)
				if readyErr = a.Open(ctx); readyErr == nil {
					stopLinks, readyErr = a.serveLinkPage(ctx) // links_stdio.go; nothing unless KEYWARD_REVEAL=url
				}
			}()
		})
	}
	fallback := time.AfterFunc(openAfter, startOpen)
	defer fallback.Stop()
	s := server.NewStdioServer(a.MCP)
	s.SetErrorLogger(log.New(slogWriter{a.Log}, "", 0))
	s.SetContextFunc(func(ctx context.Context) context.Context { return tools.WithTransport(ctx, "stdio") })
	// The gate answers messages it refuses itself; one lock keeps its answers
	// and mcp-go's whole.
	w := &lockedWriter{w: out}
	gate := &openGate{r: &lineLimiter{r: in, max: MaxStdioLine, log: a.Log}, start: startOpen, ready: ready, err: func() error { return readyErr }, ctx: ctx,
		refuse: func(msg string, parseError bool) { _, _ = w.Write(rpcError(nil, refusalCode(parseError), msg)) }}
	err := s.Listen(ctx, gate, afterFirstWrite{w: echo.Lines{W: w}, then: startOpen})
	// A client that leaves at once still learns, on stderr, that the state
	// could not be opened: Open runs to its end (bounded by KEYWARD_DB_TIMEOUT).
	startOpen()
	<-ready
	defer stopLinks()
	if readyErr != nil && ctx.Err() == nil {
		return &StartError{Err: readyErr}
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// openAfter is when the stdio mode opens the state at the latest.
const openAfter = 100 * time.Millisecond

// afterFirstWrite calls then after its first write: the first answer is out.
type afterFirstWrite struct {
	w    io.Writer
	then func()
}

func (a afterFirstWrite) Write(p []byte) (int, error) {
	n, err := a.w.Write(p)
	a.then()
	return n, err
}

// StartError is ServeStdio's answer when keyward could not start: the state
// could not be opened, or the settings contradict each other.
type StartError struct{ Err error }

func (e *StartError) Error() string { return e.Err.Error() }
func (e *StartError) Unwrap() error { return e.Err }

// beforeOpen are the methods answered before the state is open: none of
// them reaches a tool or the state.
var beforeOpen = map[string]bool{
	"initialize": true, "notifications/initialized": true, "ping": true, "server/discover": true,
}

// openGate passes whole lines through; until ready is closed, a line that
// is not one of beforeOpen waits (and with it every later one, so order is
// kept). Once ready, it passes each line as it comes, or ends with err().
// A line whose id, method or tool name is long or holds a secret (echo.Head,
// as keyward serve refuses it) is not passed: refuse answers it, so mcp-go
// never repeats it. Lines are bounded by the lineLimiter beneath it.
type openGate struct {
	r      io.Reader
	start  func() // opens the state, if not yet begun
	ready  <-chan struct{}
	err    func() error // the open's error, read after ready
	ctx    context.Context
	refuse func(msg string, parseError bool)
	open   bool   // the state is open: lines need no method check
	buf    []byte // what r.Read fills while lines are read
	held   []byte // read, not yet passed
	out    []byte // passed, not yet read
	rerr   error  // r's error, returned once held and out are empty
}

func (g *openGate) Read(p []byte) (int, error) {
	if !g.open {
		select { // opened since the last line: methods need no check any more
		case <-g.ready:
			g.open = g.err() == nil
		default:
		}
	}
	for {
		if len(g.out) > 0 {
			n := copy(p, g.out)
			g.out = g.out[n:]
			return n, nil
		}
		line := g.held
		if i := bytes.IndexByte(g.held, '\n'); i >= 0 {
			line = g.held[:i+1]
		} else if g.rerr == nil {
			if g.buf == nil {
				g.buf = make([]byte, 32<<10)
			}
			n, err := g.r.Read(g.buf)
			g.held, g.rerr = append(g.held, g.buf[:n]...), err
			continue
		} else if len(line) == 0 {
			return 0, g.rerr
		}
		if msg, parseError := echo.Head(line); msg != "" {
			g.refuse(msg, parseError)
			g.held = g.held[len(line):]
			continue
		}
		if !g.open && !answeredBeforeOpen(line) {
			if err := g.wait(); err != nil {
				return 0, err
			}
		}
		g.out = append(g.out[:0], line...)
		g.held = g.held[len(line):]
	}
}

// lockedWriter makes each Write whole among concurrent writers.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// wait blocks until the state is open, or says why it never will be.
func (g *openGate) wait() error {
	g.start()
	select {
	case <-g.ready:
	case <-g.ctx.Done():
		return g.ctx.Err()
	}
	if err := g.err(); err != nil {
		return err
	}
	g.open = true
	return nil
}

// answeredBeforeOpen reports whether line is a message that needs no state.
func answeredBeforeOpen(line []byte) bool {
	var m struct {
		Method string `json:"method"`
	}
	return json.Unmarshal(line, &m) == nil && beforeOpen[m.Method]
}

// lineLimiter passes lines through, but replaces the rest of a line longer
// than max with a newline: mcp-go then answers a parse error, and nothing
// past max bytes of it is ever buffered.
type lineLimiter struct {
	r        io.Reader
	max      int
	log      *slog.Logger
	run      int  // bytes since the last newline
	skipping bool // dropping the rest of an oversized line
}

func (l *lineLimiter) Read(p []byte) (int, error) {
	for {
		n, err := l.r.Read(p)
		out := p[:0]
		for _, b := range p[:n] {
			switch {
			case l.skipping && b == '\n':
				l.skipping, l.run = false, 0
			case l.skipping:
			case b == '\n':
				out = append(out, b)
				l.run = 0
			case l.run >= l.max:
				l.skipping = true
				l.log.Warn("dropped a message longer than the stdio limit; the client gets a parse error", "limit_bytes", l.max)
				out = append(out, '\n')
			default:
				out = append(out, b)
				l.run++
			}
		}
		if len(out) > 0 || err != nil {
			return len(out), err
		}
	}
}
