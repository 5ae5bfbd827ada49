// Package echo keeps out of keyward's answers what a request names its way
// around. The JSON-RPC id comes back in every answer; mcp-go's errors repeat
// an unknown method, tool or resource, a header that does not match the
// body, a protocol version, a logging level, a number it could not read. So
// a secret pasted there, or a megabyte, would be sent back. Two guards, over
// HTTP and stdio alike: before mcp-go reads a message, Head and Request
// refuse one whose id, method, tool name or MCP headers are long or hold
// what looks like a secret, or that is not one JSON value; after it, every
// JSON-RPC error it writes passes through ScrubError (Writer over HTTP, Lines
// over stdio), masked and bounded, which covers whatever else it repeats.
package echo

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/keyward/keyward/internal/sanitize"
	"github.com/keyward/keyward/internal/secret"
)

// MaxName bounds an id, a method, a tool name, an MCP header and a session
// id; real ones are short (tools/call, list_keys, 2026-07-28, a session id
// of 38 characters).
const MaxName = 128

// MaxMessage bounds the message of a JSON-RPC error.
const MaxMessage = 1000

// refuse is the refusal of value, the what of a request, or "".
func refuse(what, value string) string {
	if len(value) > MaxName {
		return fmt.Sprintf("%s is %d bytes long; keyward accepts at most %d (method and tool names are short, e.g. tools/call and list_keys)", what, len(value), MaxName)
	}
	if secret.Contains(value) {
		return what + " holds what looks like a secret, so the request was refused and is not repeated"
	}
	return ""
}

// Request checks the headers of r that mcp-go repeats (the Mcp-Name header
// as sent and as it decodes it from Base64), and bounds the session r
// names; it answers the refusal, or "". A session id is not checked for
// secrets: keyward's own are random tokens, which look like one, so an
// unknown session is not repeated instead.
func Request(r *http.Request) string {
	name := r.Header.Get(mcp.HeaderName)
	decodedName, _ := mcp.DecodeHeaderValue(name)
	for _, f := range []struct{ what, value string }{
		{"the " + mcp.HeaderProtocolVersion + " header", r.Header.Get(mcp.HeaderProtocolVersion)},
		{"the " + mcp.HeaderMethod + " header", r.Header.Get(mcp.HeaderMethod)},
		{"the " + mcp.HeaderName + " header", decodedName},
		{"the " + mcp.HeaderName + " header", name},
	} {
		if msg := refuse(f.what, f.value); msg != "" {
			return msg
		}
	}
	sessionParam := ""
	if r.URL.RawQuery != "" {
		sessionParam = r.URL.Query().Get("sessionId")
	}
	for _, f := range []struct{ what, value string }{
		{"the " + server.HeaderKeySessionID + " header", r.Header.Get(server.HeaderKeySessionID)},
		{"the sessionId parameter", sessionParam},
	} {
		if len(f.value) > MaxName {
			return fmt.Sprintf("%s is %d bytes long; keyward's session ids are far shorter (at most %d accepted)", f.what, len(f.value), MaxName)
		}
	}
	return ""
}

// Head checks the head of a message body: the id (a string or a number, as
// JSON-RPC has it, or null), the method and the tool name. It also refuses
// what is not one JSON value (parseError true): mcp-go's SSE endpoint reads
// the first value of a body and ignores the rest, so "{...} x" would pass
// unchecked. It answers the refusal, or "".
func Head(body []byte) (refusal string, parseError bool) {
	h, ok := scanHead(body)
	if !ok {
		var err error
		if h, err = decodeHead(body); err != nil {
			if len(bytes.TrimSpace(body)) == 0 {
				return "", false // nothing at all: mcp-go answers it as it always has
			}
			return "the message is not one JSON value (" + sanitize.Echo(err.Error(), 200) + "); send one JSON-RPC message", true
		}
	}
	if msg := idRefusal(h.id); msg != "" {
		return msg, false
	}
	for _, f := range []struct {
		what string
		raw  json.RawMessage
	}{{"the method", h.method}, {"the tool name", h.name}} {
		if msg := stringRefusal(f.what, f.raw); msg != "" {
			return msg, false
		}
	}
	return "", false
}

// idRefusal is the refusal of a JSON-RPC id (raw JSON), or "" for one that
// may be repeated: absent, null, a number of at most MaxName digits, or a
// string refuse lets through.
func idRefusal(raw []byte) string {
	switch {
	case len(raw) == 0, raw[0] == 'n', raw[0] == '"':
		return stringRefusal("the JSON-RPC id", raw)
	case raw[0] == '-' || '0' <= raw[0] && raw[0] <= '9':
		if len(raw) > MaxName {
			return fmt.Sprintf("the JSON-RPC id is a number of %d digits; keyward accepts at most %d", len(raw), MaxName)
		}
		return ""
	}
	return "the JSON-RPC id must be a string or a number"
}

// stringRefusal is refuse's answer for raw when it is a JSON string; ""
// for anything else (absent, or not a string: nothing repeated as text).
func stringRefusal(what string, raw []byte) string {
	if len(raw) == 0 || raw[0] != '"' {
		return ""
	}
	s, ok := plainString(raw)
	if !ok && json.Unmarshal(raw, &s) != nil {
		return ""
	}
	return refuse(what, s)
}

// plainString is the JSON string raw when it holds no escape and only
// printable ASCII, which decodes to itself.
func plainString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[len(raw)-1] != '"' || !plainKey(raw[1:len(raw)-1]) {
		return "", false
	}
	return string(raw[1 : len(raw)-1]), true
}

// head is what of a message is repeated, each member as raw JSON (nil when
// absent): the id, the method and, in params, the tool's name.
type head struct{ id, method, name []byte }

// decodeHead reads the head as mcp-go does, with encoding/json: keys match
// without regard to case, the last of equal keys wins, and params of another
// shape than an object (a type error, not a syntax error) carry no name.
// The error says why body is not JSON.
func decodeHead(body []byte) (head, error) {
	var m struct {
		ID     json.RawMessage `json:"id"`
		Method json.RawMessage `json:"method"`
		Params struct {
			Name json.RawMessage `json:"name"`
		} `json:"params"`
	}
	var typeErr *json.UnmarshalTypeError
	if err := json.Unmarshal(body, &m); err != nil && !errors.As(err, &typeErr) {
		return head{}, err
	}
	return head{m.ID, m.Method, m.Params.Name}, nil
}

// scanHead finds the head in one quick pass, for the messages every client
// sends: one JSON object whose keys (at the top and in params) are plain
// ASCII, each of id, method, params and name at most once. Anything else
// (an escaped or non-ASCII key, which encoding/json might fold into one of
// ours; a repeated key; a malformed body) gives ok false, and decodeHead
// decides. FuzzCheckHead holds the two to the same answer.
func scanHead(body []byte) (h head, ok bool) {
	s := jsonScan{b: body}
	s.space()
	if !s.at('{') {
		return h, false
	}
	seenParams := false
	ok = s.members(func(key []byte) bool {
		switch {
		case !plainKey(key):
			return false
		case asciiEqualFold(key, "id"):
			return h.id == nil && s.take(&h.id)
		case asciiEqualFold(key, "method"):
			return h.method == nil && s.take(&h.method)
		case asciiEqualFold(key, "params"):
			if seenParams {
				return false
			}
			seenParams = true
			if !s.at('{') {
				return s.value() // not an object: no name, as decodeHead
			}
			return s.members(func(key []byte) bool {
				switch {
				case !plainKey(key):
					return false
				case asciiEqualFold(key, "name"):
					return h.name == nil && s.take(&h.name)
				}
				return s.value()
			})
		}
		return s.value()
	})
	s.space()
	return h, ok && s.i == len(s.b)
}

// plainKey: printable ASCII without escapes, so the key (or string) is its
// bytes.
func plainKey(key []byte) bool {
	for _, c := range key {
		if c < 0x20 || c > 0x7e || c == '\\' {
			return false
		}
	}
	return true
}

// asciiEqualFold compares an ASCII key with a lower-case ASCII name.
func asciiEqualFold(key []byte, name string) bool {
	if len(key) != len(name) {
		return false
	}
	for i, c := range key {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != name[i] {
			return false
		}
	}
	return true
}

// jsonScan walks JSON text without decoding it. It recognises only what it
// needs to skip values of well-formed JSON exactly; on anything else it
// stops with false.
type jsonScan struct {
	b []byte
	i int
}

func (s *jsonScan) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *jsonScan) at(c byte) bool { return s.i < len(s.b) && s.b[s.i] == c }

// members walks the object at s.i: for each member it reads the key and
// calls f with s.i at the value, which f must pass over.
func (s *jsonScan) members(f func(key []byte) bool) bool {
	s.i++ // {
	s.space()
	if s.at('}') {
		s.i++
		return true
	}
	for {
		s.space()
		if !s.at('"') {
			return false
		}
		start := s.i
		if !s.str() {
			return false
		}
		key := s.b[start+1 : s.i-1]
		s.space()
		if !s.at(':') {
			return false
		}
		s.i++
		s.space()
		if !f(key) {
			return false
		}
		s.space()
		switch {
		case s.at(','):
			s.i++
		case s.at('}'):
			s.i++
			return true
		default:
			return false
		}
	}
}

// str passes over the string at s.i.
func (s *jsonScan) str() bool {
	for j := s.i + 1; j < len(s.b); j++ {
		switch s.b[j] {
		case '\\':
			j++
		case '"':
			s.i = j + 1
			return true
		}
	}
	return false
}

// take passes over the value at s.i and keeps it in *dst.
func (s *jsonScan) take(dst *[]byte) bool {
	start := s.i
	if !s.value() {
		return false
	}
	*dst = s.b[start:s.i]
	return true
}

// value passes over the value at s.i.
func (s *jsonScan) value() bool {
	if s.i >= len(s.b) {
		return false
	}
	switch s.b[s.i] {
	case '"':
		return s.str()
	case '{', '[':
		var open []byte // what closes each level
		for s.i < len(s.b) {
			switch c := s.b[s.i]; c {
			case '"':
				if !s.str() {
					return false
				}
				continue
			case '{':
				open = append(open, '}')
			case '[':
				open = append(open, ']')
			case '}', ']':
				if len(open) == 0 || open[len(open)-1] != c {
					return false
				}
				open = open[:len(open)-1]
				if len(open) == 0 {
					s.i++
					return true
				}
			}
			s.i++
		}
		return false
	default:
		start := s.i
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case ',', '}', ']', ' ', '\t', '\n', '\r':
				return s.i > start
			}
			s.i++
		}
		return s.i > start
	}
}

// ScrubError rewrites one JSON-RPC message that is an error: its message
// masked, cut and bounded (sanitize.Echo), its data kept only when short,
// unescaped and free of secrets, and an id that is long, secret-shaped or
// not a string or number replaced by null. It answers msg unchanged, and
// false, for any other message.
func ScrubError(msg []byte) ([]byte, bool) {
	if !bytes.Contains(msg, []byte(`"error"`)) {
		return msg, false
	}
	var m map[string]json.RawMessage
	var e struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data,omitempty"`
	}
	if json.Unmarshal(msg, &m) != nil || m["error"] == nil || json.Unmarshal(m["error"], &e) != nil {
		return msg, false
	}
	e.Message = sanitize.Echo(e.Message, MaxMessage)
	if len(e.Data) > MaxMessage || bytes.IndexByte(e.Data, '\\') >= 0 || secret.Contains(string(e.Data)) {
		e.Data = nil
	}
	m["error"], _ = json.Marshal(e)
	// The same test as for a request's id, and no longer than its quotes
	// and MaxName bytes as written.
	if id := m["id"]; len(id) > MaxName+2 || idRefusal(id) != "" {
		m["id"] = json.RawMessage("null")
	}
	out, err := json.Marshal(m)
	if err != nil {
		return msg, false
	}
	return out, true
}

// Lines is the writer mcp-go answers through over stdio: each Write is one
// whole message (a line), and the errors among them pass through
// ScrubError.
type Lines struct{ W io.Writer }

func (l Lines) Write(p []byte) (int, error) { return scrubbedWrite(l.W, p) }

// Writer is the ResponseWriter mcp-go answers through over HTTP: each Write
// is one whole message (json.Encoder's line, or one SSE event), and the
// errors among them pass through ScrubError.
type Writer struct{ http.ResponseWriter }

func (w Writer) Write(p []byte) (int, error) { return scrubbedWrite(w.ResponseWriter, p) }

// scrubbedWrite writes the message p to w, scrubbed (scrubWrite); it
// reports p's length as written, whatever the scrub made of it.
func scrubbedWrite(w io.Writer, p []byte) (int, error) {
	out, changed := scrubWrite(p)
	if !changed {
		return w.Write(p)
	}
	if _, err := w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w Writer) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the connection.
func (w Writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// scrubWrite applies ScrubError to a JSON message, or to each data line of
// an SSE event.
func scrubWrite(p []byte) ([]byte, bool) {
	if !bytes.Contains(p, []byte(`"error"`)) {
		return p, false
	}
	if body := bytes.TrimRight(p, "\r\n"); len(body) > 0 && body[0] == '{' {
		out, changed := ScrubError(body)
		if !changed {
			return p, false
		}
		return append(out, p[len(body):]...), true
	}
	lines := bytes.SplitAfter(p, []byte("\n"))
	changed := false
	for i, line := range lines {
		rest, ok := bytes.CutPrefix(line, []byte("data:"))
		if !ok {
			continue
		}
		data := bytes.TrimSpace(rest)
		out, c := ScrubError(data)
		if !c {
			continue
		}
		changed = true
		lines[i] = append(append([]byte("data: "), out...), trailingNewline(line)...)
	}
	if !changed {
		return p, false
	}
	return bytes.Join(lines, nil), true
}

// trailingNewline is the line end of line ("\r\n", "\n" or none).
func trailingNewline(line []byte) []byte {
	return line[len(bytes.TrimRight(line, "\r\n")):]
}
