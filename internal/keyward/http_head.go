package keyward

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/keyward/keyward/internal/secret"
)

// What a request names its way around (its JSON-RPC id, method and tool
// name, its MCP headers, the session it uses) comes back in answers: mcp-go
// repeats an unknown method or tool, a header that does not match the body,
// an unsupported protocol version; keyward names an unknown session. So the
// front refuses such a value that is long or holds what looks like a secret
// before anything repeats it: a secret pasted there is not sent back.

// maxName bounds each of them; real ones are short (tools/call, list_keys,
// 2026-07-28, a session id of 38 characters).
const maxName = 128

// refuseEchoed is the refusal of value, the what of a request, or "".
func refuseEchoed(what, value string) string {
	if len(value) > maxName {
		return fmt.Sprintf("%s is %d bytes long; keyward accepts at most %d (method and tool names are short, e.g. tools/call and list_keys)", what, len(value), maxName)
	}
	if secret.Contains(value) {
		return what + " holds what looks like a secret, so the request was refused and is not repeated"
	}
	return ""
}

// checkEchoed checks the headers of r that mcp-go repeats (the Mcp-Name
// header as sent and as it decodes it from Base64), and bounds the session
// r names. A session id is not checked for secrets: keyward's own are random
// tokens, which look like one; an unknown session is not repeated instead
// (shownSession).
func checkEchoed(r *http.Request) string {
	name := r.Header.Get(mcp.HeaderName)
	decodedName, _ := mcp.DecodeHeaderValue(name)
	for _, f := range []struct{ what, value string }{
		{"the " + mcp.HeaderProtocolVersion + " header", r.Header.Get(mcp.HeaderProtocolVersion)},
		{"the " + mcp.HeaderMethod + " header", r.Header.Get(mcp.HeaderMethod)},
		{"the " + mcp.HeaderName + " header", decodedName},
		{"the " + mcp.HeaderName + " header", name},
	} {
		if msg := refuseEchoed(f.what, f.value); msg != "" {
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
		if len(f.value) > maxName {
			return fmt.Sprintf("%s is %d bytes long; keyward's session ids are %d", f.what, len(f.value), len(sessionPrefix)+26)
		}
	}
	return ""
}

// shownSession is how an answer names the session sid: quoted when it has
// the shape of the ids keyward gives, otherwise not at all.
func shownSession(sid string) string {
	rest, ok := strings.CutPrefix(sid, sessionPrefix)
	if !ok || len(rest) != 26 || strings.Trim(rest, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") != "" {
		return "named in the request"
	}
	return strconv.Quote(sid)
}

// checkHead checks the id, the method and the tool name of a message body.
func checkHead(body []byte) string {
	h, ok := scanHead(body)
	if !ok {
		h, ok = decodeHead(body)
	}
	if !ok {
		return "" // not JSON: mcp-go answers it without repeating it
	}
	for _, f := range []struct {
		what string
		raw  json.RawMessage
	}{{"the JSON-RPC id", h.id}, {"the method", h.method}, {"the tool name", h.name}} {
		if len(f.raw) == 0 || f.raw[0] != '"' {
			continue // absent, or not a string: nothing that mcp-go repeats as text
		}
		s, ok := plainString(f.raw)
		if !ok && json.Unmarshal(f.raw, &s) != nil {
			continue
		}
		if msg := refuseEchoed(f.what, s); msg != "" {
			return msg
		}
	}
	return ""
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
// ok is false when body is not JSON.
func decodeHead(body []byte) (head, bool) {
	var m struct {
		ID     json.RawMessage `json:"id"`
		Method json.RawMessage `json:"method"`
		Params struct {
			Name json.RawMessage `json:"name"`
		} `json:"params"`
	}
	var typeErr *json.UnmarshalTypeError
	if err := json.Unmarshal(body, &m); err != nil && !errors.As(err, &typeErr) {
		return head{}, false
	}
	return head{m.ID, m.Method, m.Params.Name}, true
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
	var seenID, seenMethod, seenParams bool
	ok = s.members(func(key []byte) bool {
		var dst *[]byte
		switch {
		case !plainKey(key):
			return false
		case asciiEqualFold(key, "id"):
			if seenID {
				return false
			}
			seenID, dst = true, &h.id
		case asciiEqualFold(key, "method"):
			if seenMethod {
				return false
			}
			seenMethod, dst = true, &h.method
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
					if h.name != nil {
						return false
					}
					dst = &h.name
				default:
					return s.value()
				}
				start := s.i
				if !s.value() {
					return false
				}
				*dst = s.b[start:s.i]
				return true
			})
		default:
			return s.value()
		}
		start := s.i
		if !s.value() {
			return false
		}
		*dst = s.b[start:s.i]
		return true
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
