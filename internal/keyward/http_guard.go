package keyward

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"

	"github.com/keyward/keyward/internal/echo"
	"github.com/keyward/keyward/internal/oauth"
	"github.com/keyward/keyward/internal/sanitize"
)

// checkBind refuses to serve a non-loopback address without a bearer token:
// anyone who can reach such an address could otherwise manage the keys.
func checkBind(addr string, authenticated bool) error {
	if authenticated {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("the listen address %q is not host:port; use e.g. 127.0.0.1:8377 with --addr or KEYWARD_ADDR", addr)
	}
	if isLoopback(host) {
		return nil
	}
	shown := addr
	if host == "" {
		shown = addr + " (all interfaces)"
	}
	return fmt.Errorf("refusing to serve HTTP on %s without a token: that address can be reached from other machines, "+
		"and anyone who reaches it could manage your keys. Set KEYWARD_HTTP_TOKEN to a long random value "+
		"(e.g. the output of `openssl rand -hex 32`) that clients send as \"Authorization: Bearer <token>\" "+
		"(or KEYWARD_OAUTH_ISSUER and KEYWARD_OAUTH_RESOURCE to accept OAuth access tokens), "+
		"or listen on a loopback address such as 127.0.0.1:8377 with --addr or KEYWARD_ADDR", shown)
}

// isLoopback: localhost, 127.0.0.0/8 or ::1. An empty host means every
// interface, so it is not loopback.
func isLoopback(host string) bool {
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}

// parseOrigins checks KEYWARD_ALLOWED_ORIGINS and returns them normalised.
func parseOrigins(list []string) (map[string]bool, error) {
	out := map[string]bool{}
	for _, o := range list {
		n, ok := normalOrigin(strings.TrimSuffix(strings.TrimSpace(o), "/"))
		if !ok {
			return nil, fmt.Errorf("KEYWARD_ALLOWED_ORIGINS has %q, which is not an origin; give comma-separated scheme://host[:port] values such as https://agents.example.com or http://localhost:3000", o)
		}
		out[n] = true
	}
	return out, nil
}

// normalOrigin lower-cases scheme and host and drops a default port, so
// "HTTPS://Example.com:443" and "https://example.com" compare equal.
func normalOrigin(origin string) (string, bool) {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", false
	}
	scheme, host, port := strings.ToLower(u.Scheme), strings.ToLower(u.Hostname()), u.Port()
	if (scheme == "http" && port == "80") || (scheme == "https" && port == "443") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, true
}

// originAllowed is the DNS-rebinding check: a browser always sends Origin, so
// a page on another site that rebinds its name to this machine is refused.
// Agents that are not browsers send no Origin and pass.
func (h *HTTP) originAllowed(r *http.Request) (string, bool) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return "", true
	}
	n, ok := normalOrigin(origin)
	if !ok {
		return origin, false
	}
	if len(h.origins) > 0 {
		return origin, h.origins[n]
	}
	u, _ := url.Parse(n)
	return origin, isLoopback(u.Hostname())
}

// Principals, as audit records and rate limits name who authenticated.
const (
	principalToken = "token"  // the holder of KEYWARD_HTTP_TOKEN
	principalOAuth = "oauth:" // + the subject of an OAuth access token
)

// sender is who authentication found a request to be from.
type sender struct {
	principal string
	readOnly  bool // its token grants the read-only tools only
}

// authenticate is the one place a request's credentials are checked: the
// static token (constant time; hashing first makes the comparison
// independent of the token's length too), then an OAuth access token from
// the issuer the operator named. ok false: presented says whether
// credentials were sent at all, and refusal, when set, is the OAuth answer
// (invalid, insufficient scope, issuer unreachable).
func (h *HTTP) authenticate(r *http.Request) (who sender, ok, presented bool, refusal *oauth.Error) {
	if h.tokenSum == nil && h.oauth == nil {
		return sender{}, true, false, nil
	}
	auth := r.Header.Get("Authorization")
	scheme, token, found := strings.Cut(auth, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return sender{}, false, auth != "", nil
	}
	token = strings.TrimSpace(token)
	if h.tokenSum != nil {
		sum := sha256.Sum256([]byte(token))
		if subtle.ConstantTimeCompare(sum[:], h.tokenSum) == 1 {
			return sender{principal: principalToken}, true, true, nil
		}
	}
	if h.oauth == nil {
		return sender{}, false, true, nil
	}
	g, err := h.oauth.Verify(r.Context(), token)
	if err != nil {
		var oe *oauth.Error
		if !errors.As(err, &oe) {
			oe = &oauth.Error{Code: "invalid_token", Status: http.StatusUnauthorized, Description: "the token could not be checked"}
		}
		return sender{}, false, true, oe
	}
	return sender{principal: principalOAuth + g.Subject, readOnly: g.Access == oauth.AccessRead}, true, true, nil
}

type senderKey struct{}

// senderOf is who sent the request ctx belongs to (guard put it there).
func senderOf(ctx context.Context) sender {
	s, _ := ctx.Value(senderKey{}).(sender)
	return s
}

// refuseAuth answers a request whose credentials are missing or refused, as
// RFC 6750 and RFC 9728 say: the challenge names the error and, with OAuth,
// where the resource's metadata is, so a client can find the issuer.
func (h *HTTP) refuseAuth(w http.ResponseWriter, presented bool, refusal *oauth.Error) {
	challenge := `Bearer realm="keyward"`
	if h.oauth != nil {
		challenge += fmt.Sprintf(`, resource_metadata=%q`, h.metadataURL)
	}
	status, msg := http.StatusUnauthorized, "unauthorized: send the token from KEYWARD_HTTP_TOKEN as \"Authorization: Bearer <token>\""
	switch {
	case refusal != nil:
		challenge += fmt.Sprintf(`, error=%q, error_description=%q`, refusal.Code, headerSafe(refusal.Description))
		if refusal.Scope != "" {
			challenge += fmt.Sprintf(`, scope=%q`, h.cfgScopes())
		}
		status = refusal.Status
		msg = "unauthorized: " + refusal.Description
		if refusal.Status == http.StatusForbidden {
			msg = "forbidden: " + refusal.Description + "; ask the authorization server for a token with one of them"
		}
	case h.oauth != nil && !presented:
		msg = fmt.Sprintf("unauthorized: send an OAuth access token for %s (scope %s) as \"Authorization: Bearer <token>\"; %s says where to get one", h.app.Config.OAuthResource, h.cfgScopes(), h.metadataURL)
	case presented:
		challenge += `, error="invalid_token"`
		msg = "unauthorized: the bearer token does not match KEYWARD_HTTP_TOKEN; check the token the client sends"
	}
	w.Header().Set("WWW-Authenticate", challenge)
	writeRPCError(w, status, nil, codeUnauthorized, msg)
}

func (h *HTTP) cfgScopes() string {
	return h.app.Config.OAuthReadScope + " " + h.app.Config.OAuthWriteScope
}

// headerSafe keeps a description within what a quoted header value may hold.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' {
			return '\''
		}
		return r
	}, s)
}

// guard applies, in order: the origin check, authentication, and the body
// size limit. It returns the request (its context names the principal) and
// its body (POST), or false when it has answered.
func (h *HTTP) guard(w http.ResponseWriter, r *http.Request) (*http.Request, []byte, bool) {
	if origin, ok := h.originAllowed(r); !ok {
		allowed := "KEYWARD_ALLOWED_ORIGINS is empty, so only http(s)://localhost, 127.0.0.1 and [::1] pages may call keyward"
		if len(h.origins) > 0 {
			allowed = "it is not listed in KEYWARD_ALLOWED_ORIGINS"
		}
		writeRPCError(w, http.StatusForbidden, nil, codeForbidden,
			fmt.Sprintf("forbidden: requests from origin %q are refused because %s; the operator can add the origin to KEYWARD_ALLOWED_ORIGINS", sanitize.Echo(origin, 200), allowed))
		return r, nil, false
	}
	who, ok, presented, refusal := h.authenticate(r)
	if !ok {
		h.refuseAuth(w, presented, refusal)
		return r, nil, false
	}
	if msg := echo.Request(r); msg != "" {
		writeRPCError(w, http.StatusBadRequest, nil, codeBadRequest, msg)
		return r, nil, false
	}
	r = r.WithContext(context.WithValue(r.Context(), senderKey{}, who))
	// This connection belongs to a client with the token: it keeps its slot
	// when KEYWARD_MAX_CONNS is reached.
	h.conns.prove(r)
	if r.Method != http.MethodPost {
		if r.ContentLength != 0 {
			// Nothing reads such a body, so it would only hold the connection.
			writeRPCError(w, http.StatusBadRequest, nil, codeBadRequest,
				fmt.Sprintf("a %s request to %s carries no body; send MCP messages with POST", sanitize.Echo(r.Method, 20), r.URL.Path))
			return r, nil, false
		}
		return r, nil, true
	}
	tooBig := func() (*http.Request, []byte, bool) {
		writeRPCError(w, http.StatusRequestEntityTooLarge, nil, codeTooLarge,
			fmt.Sprintf("request body too large: keyward accepts at most %d bytes per message (KEYWARD_MAX_BODY); send less, or the operator can raise KEYWARD_MAX_BODY", h.maxBody))
		return r, nil, false
	}
	if r.ContentLength > h.maxBody {
		return tooBig()
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	// The body has h.bodyTimeout to arrive (bounded, http_conns.go).
	_, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, h.maxBody))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return tooBig()
	case isTimeout(err):
		writeRPCError(w, http.StatusRequestTimeout, nil, codeBadRequest,
			fmt.Sprintf("request timeout: the request body did not arrive within %s; send each message whole, at once", h.bodyTimeout))
		return r, nil, false
	case err != nil:
		writeRPCError(w, http.StatusBadRequest, nil, mcpParseError, "could not read the request body: "+err.Error())
		return r, nil, false
	}
	if msg, parseError := echo.Head(buf.Bytes()); msg != "" {
		writeRPCError(w, http.StatusBadRequest, nil, refusalCode(parseError), msg)
		return r, nil, false
	}
	r.Body = io.NopCloser(bytes.NewReader(buf.Bytes()))
	return r, buf.Bytes(), true
}

// JSON-RPC error codes for answers keyward gives before mcp-go sees a request.
// They sit in the implementation-defined server error range.
const (
	mcpParseError    = -32700
	codeUnauthorized = -32001
	codeForbidden    = -32002
	codeTooLarge     = -32003
	codeUnavailable  = -32004
	codeBadRequest   = -32005
)

// refusalCode is the JSON-RPC code of a message echo.Head refused.
func refusalCode(parseError bool) int {
	if parseError {
		return mcpParseError
	}
	return codeBadRequest
}

// writeRPCError answers with a JSON-RPC error, which MCP clients show as is
// and people can read.
func writeRPCError(w http.ResponseWriter, status int, id json.RawMessage, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(rpcError(id, code, msg))
}

// rpcError is a JSON-RPC error message, one line; a nil id is null.
func rpcError(id json.RawMessage, code int, msg string) []byte {
	if len(id) == 0 {
		id = json.RawMessage("null")
	}
	body, _ := json.Marshal(struct {
		JSONRPC string          `json:"jsonrpc"`
		ID      json.RawMessage `json:"id"`
		Error   struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}{JSONRPC: "2.0", ID: id, Error: struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{code, msg}})
	return append(body, '\n')
}
