// Command sse-agent is a small agent that uses keyward over the legacy SSE
// transport (for agent frameworks that only speak HTTP+SSE): it lists
// keyward's tools, creates a short-lived read-only key on the local
// authority, checks that the key works, revokes it, and checks again.
//
// Start keyward with a token, then run the agent with the same token:
//
//	export KEYWARD_HTTP_TOKEN=$(openssl rand -hex 32)
//	keyward serve &
//	go run ./examples/sse-agent
//
// Flags (or the environment): -url (KEYWARD_URL, default
// http://127.0.0.1:8377/sse; a bare http://host:port gets /sse added) and
// -token (KEYWARD_HTTP_TOKEN). The agent never prints a secret.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

func main() {
	u := flag.String("url", envOr("KEYWARD_URL", "http://127.0.0.1:8377/sse"), "keyward's SSE endpoint")
	token := flag.String("token", os.Getenv("KEYWARD_HTTP_TOKEN"), "bearer token (KEYWARD_HTTP_TOKEN on the server)")
	name := flag.String("name", "sse-agent-demo", "name of the key to create")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, endpoint(*u, "/sse"), *token, *name, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "sse-agent:", err)
		os.Exit(1)
	}
}

// run does the agent's work against keyward at endpoint, reporting to out.
func run(ctx context.Context, endpoint, token, keyName string, out io.Writer) error {
	// The SSE client sends these headers on the stream and on every message.
	headers := map[string]string{}
	if token != "" {
		headers["Authorization"] = "Bearer " + token
	}
	c, err := client.NewSSEMCPClient(endpoint, client.WithHeaders(headers))
	if err != nil {
		return err
	}
	defer c.Close()

	fmt.Fprintf(out, "connecting to %s\n", endpoint)
	if err := c.Start(ctx); err != nil {
		var authErr *transport.AuthorizationRequiredError
		if errors.As(err, &authErr) {
			return errors.New("keyward refused the token: pass the server's KEYWARD_HTTP_TOKEN with -token or KEYWARD_HTTP_TOKEN")
		}
		return fmt.Errorf("opening the SSE stream: %w", err)
	}
	var init mcp.InitializeRequest
	init.Params.ClientInfo = mcp.Implementation{Name: "sse-agent", Version: "0.1.0"}
	info, err := c.Initialize(ctx, init)
	if err != nil {
		return fmt.Errorf("initializing: %w", err)
	}
	session := client.GetEndpoint(c).Query().Get("sessionId")
	fmt.Fprintf(out, "connected to %s %s (protocol %s, session %s)\n", info.ServerInfo.Name, info.ServerInfo.Version, info.ProtocolVersion, session)
	return manageKey(ctx, c, keyName, out)
}

// manageKey is the agent's task, the same over any transport.
func manageKey(ctx context.Context, c *client.Client, keyName string, out io.Writer) error {
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
	if err := call(ctx, c, "create_key", map[string]any{"provider": "local", "name": keyName, "scopes": []string{"read"}, "expires_in": "1h"}, &created); err != nil {
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
	if err := call(ctx, c, "validate_key", map[string]any{"provider": "local", "key": secret}, &v); err != nil {
		return err
	}
	fmt.Fprintf(out, "validate: valid=%t status=%s scopes=%v\n", v.Valid, v.Status, v.Scopes)

	var revoked struct {
		Revoked bool `json:"revoked"`
	}
	if err := call(ctx, c, "revoke_key", map[string]any{"provider": "local", "key_id": created.KeyID}, &revoked); err != nil {
		return err
	}
	fmt.Fprintf(out, "revoked key %s: %t\n", created.KeyID, revoked.Revoked)

	if err := call(ctx, c, "validate_key", map[string]any{"provider": "local", "key": secret}, &v); err != nil {
		return err
	}
	fmt.Fprintf(out, "validate after revoke: valid=%t status=%s\n", v.Valid, v.Status)
	if v.Valid {
		return errors.New("the revoked key still validates")
	}
	return nil
}

// call runs a tool and decodes its structured result into out; a tool error
// (a refusal, a rate limit) comes back as an error with keyward's sentence.
func call(ctx context.Context, c *client.Client, tool string, args map[string]any, out any) error {
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

// endpoint adds path to a bare server URL such as http://127.0.0.1:8377.
func endpoint(raw, path string) string {
	u, err := url.Parse(raw)
	if err == nil && (u.Path == "" || u.Path == "/") {
		u.Path = path
		return u.String()
	}
	return raw
}

func envOr(name, fallback string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return fallback
}
