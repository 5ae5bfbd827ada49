// Package agent is what the example agents share: the task they perform
// through keyward and the small helpers around it.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
)

// Main is an example agent's main: flags (or KEYWARD_URL and
// KEYWARD_HTTP_TOKEN), a one-minute bound, and an exit status.
func Main(program, path, what string, run func(ctx context.Context, endpoint, token, keyName string, out io.Writer) error) {
	u := flag.String("url", EnvOr("KEYWARD_URL", "http://127.0.0.1:8377"+path), what)
	token := flag.String("token", os.Getenv("KEYWARD_HTTP_TOKEN"), "bearer token (KEYWARD_HTTP_TOKEN on the server)")
	name := flag.String("name", program+"-demo", "name of the key to create")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, Endpoint(*u, path), *token, *name, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, program+":", err)
		os.Exit(1)
	}
}

// ManageKey is the example agents' task, the same over any transport: list
// the tools, create a short-lived read-only key on local, validate it, revoke
// it, and check that it no longer validates. It prints no secret.
func ManageKey(ctx context.Context, c *client.Client, keyName string, out io.Writer) error {
	tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		return fmt.Errorf("listing tools: %w", err)
	}
	var names []string
	for _, t := range tools.Tools {
		names = append(names, t.Name)
	}
	fmt.Fprintf(out, "tools: %s\n", strings.Join(names, ", "))

	var created struct {
		KeyID      string   `json:"key_id"`
		Masked     string   `json:"masked"`
		Scopes     []string `json:"scopes"`
		ExpiresAt  string   `json:"expires_at"`
		Secret     string   `json:"secret"`
		SecretFile string   `json:"secret_file"`
	}
	if err := Call(ctx, c, "create_key", map[string]any{"provider": "local", "name": keyName, "scopes": []string{"read"}, "expires_in": "1h"}, &created); err != nil {
		return err
	}
	fmt.Fprintf(out, "created key %s (%s), scopes %v, expires %s\n", created.KeyID, created.Masked, created.Scopes, created.ExpiresAt)
	secret := created.Secret // KEYWARD_REVEAL=inline on the server
	if secret == "" {
		// The default: keyward wrote the secret to a 0600 file on its machine.
		b, err := os.ReadFile(created.SecretFile)
		if err != nil {
			return fmt.Errorf("the secret is in %s on keyward's machine and cannot be read here (%v); run the agent there or start keyward with KEYWARD_REVEAL=inline", created.SecretFile, err)
		}
		secret = strings.TrimSpace(string(b))
		fmt.Fprintf(out, "read the secret from %s\n", created.SecretFile)
	}

	var v struct {
		Valid  bool     `json:"valid"`
		Status string   `json:"status"`
		Scopes []string `json:"scopes"`
	}
	if err := Call(ctx, c, "validate_key", map[string]any{"provider": "local", "key": secret}, &v); err != nil {
		return err
	}
	fmt.Fprintf(out, "validate: valid=%t status=%s scopes=%v\n", v.Valid, v.Status, v.Scopes)

	var revoked struct {
		Revoked bool `json:"revoked"`
	}
	if err := Call(ctx, c, "revoke_key", map[string]any{"provider": "local", "key_id": created.KeyID}, &revoked); err != nil {
		return err
	}
	fmt.Fprintf(out, "revoked key %s: %t\n", created.KeyID, revoked.Revoked)

	if err := Call(ctx, c, "validate_key", map[string]any{"provider": "local", "key": secret}, &v); err != nil {
		return err
	}
	fmt.Fprintf(out, "validate after revoke: valid=%t status=%s\n", v.Valid, v.Status)
	if v.Valid {
		return errors.New("the revoked key still validates")
	}
	return nil
}

// Call runs a tool and decodes its structured result into out; a tool error
// (a refusal, a rate limit) comes back as an error with keyward's sentence.
func Call(ctx context.Context, c *client.Client, tool string, args map[string]any, out any) error {
	var req mcp.CallToolRequest
	req.Params.Name = tool
	req.Params.Arguments = args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		return fmt.Errorf("%s: %w", tool, err)
	}
	if res.IsError {
		var text []string
		for _, content := range res.Content {
			if t, ok := content.(mcp.TextContent); ok {
				text = append(text, t.Text)
			}
		}
		return fmt.Errorf("%s: %s", tool, strings.Join(text, " "))
	}
	raw, err := json.Marshal(res.StructuredContent)
	if err != nil {
		return err
	}
	return json.Unmarshal(raw, out)
}

// WithHeaders sets headers on every request the HTTP client sends, the
// DELETE mcp-go sends without custom headers when a session closes included.
type WithHeaders struct {
	Headers map[string]string
	Next    http.RoundTripper
}

func (w WithHeaders) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range w.Headers {
		r.Header.Set(k, v)
	}
	return w.Next.RoundTrip(r)
}

// Endpoint adds path to a bare server URL such as http://127.0.0.1:8377.
func Endpoint(raw, path string) string {
	u, err := url.Parse(raw)
	if err == nil && (u.Path == "" || u.Path == "/") {
		u.Path = path
		return u.String()
	}
	return raw
}

// EnvOr is the variable's value, or fallback when it is unset.
func EnvOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
