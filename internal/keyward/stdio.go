package keyward

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"

	"github.com/mark3labs/mcp-go/server"

	"github.com/keyward/keyward/internal/sanitize"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/tools"
)

// MaxStdioLine bounds one message on stdin. A longer line is dropped (the
// client gets a parse error) instead of being held in memory whole.
const MaxStdioLine = 4 << 20

// maxErrorMessage bounds the message of a JSON-RPC error keyward writes.
const maxErrorMessage = 1000

// ServeStdio speaks MCP on in/out until in closes or ctx ends. Only protocol
// goes to out; mcp-go's own complaints go to the logger (stderr).
func (a *App) ServeStdio(ctx context.Context, in io.Reader, out io.Writer) error {
	stopLinks, err := a.serveLinkPage(ctx) // links_stdio.go; nothing unless KEYWARD_REVEAL=url
	if err != nil {
		return err
	}
	defer stopLinks()
	s := server.NewStdioServer(a.MCP)
	s.SetErrorLogger(log.New(slogWriter{a.Log}, "", 0))
	s.SetContextFunc(func(ctx context.Context) context.Context { return tools.WithTransport(ctx, "stdio") })
	err = s.Listen(ctx, &lineLimiter{r: in, max: MaxStdioLine, log: a.Log}, boundedErrors{out})
	if errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) {
		return nil
	}
	return err
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

// boundedErrors writes mcp-go's messages, cutting short and masking the
// message of every JSON-RPC error: mcp-go repeats an unknown method or tool
// name in it, which could be a megabyte long or a secret pasted in the wrong
// place. An id is echoed only when short and not secret-shaped.
// Each Write is one whole message (mcp-go writes a message at a time).
type boundedErrors struct{ w io.Writer }

func (b boundedErrors) Write(p []byte) (int, error) {
	if !bytes.Contains(p, []byte(`"error"`)) {
		return b.w.Write(p)
	}
	var msg map[string]json.RawMessage
	var e struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data,omitempty"`
	}
	if json.Unmarshal(p, &msg) != nil || msg["error"] == nil || json.Unmarshal(msg["error"], &e) != nil {
		return b.w.Write(p)
	}
	e.Message, e.Data = sanitize.Echo(e.Message, maxErrorMessage), nil
	msg["error"], _ = json.Marshal(e)
	if id := msg["id"]; len(id) > maxName || secret.Contains(string(id)) {
		msg["id"] = json.RawMessage("null")
	}
	out, err := json.Marshal(msg)
	if err != nil {
		return b.w.Write(p)
	}
	if _, err := b.w.Write(append(out, '\n')); err != nil {
		return 0, err
	}
	return len(p), nil
}
