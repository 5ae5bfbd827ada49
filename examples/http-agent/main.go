// Command http-agent is a small agent that uses keyward over streamable HTTP:
// it lists keyward's tools, creates a short-lived read-only key on the local
// authority, checks that the key works, revokes it, and checks again.
//
// Start keyward with a token, then run the agent with the same token:
//
//	export KEYWARD_HTTP_TOKEN=$(openssl rand -hex 32)
//	keyward serve &
//	go run ./examples/http-agent
//
// Flags (or the environment): -url (KEYWARD_URL, default
// http://127.0.0.1:8377/mcp; a bare http://host:port gets /mcp added) and
// -token (KEYWARD_HTTP_TOKEN). The agent never prints a secret.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/examples/agent"
)

func main() { agent.Main("http-agent", "/mcp", "keyward's streamable HTTP endpoint", run) }

// run does the agent's work against keyward at endpoint, reporting to out.
func run(ctx context.Context, endpoint, token, keyName string, out io.Writer) error {
	// WithHTTPHeaders puts the token on the agent's requests; the HTTP client
	// below adds it to the one mcp-go sends without those headers: the DELETE
	// that ends the session on Close. Without it keyward keeps the session
	// open until it has been idle for KEYWARD_SESSION_IDLE.
	headers := map[string]string{}
	if token != "" {
		headers["Authorization"] = "Bearer " + token
	}
	c, err := client.NewStreamableHttpClient(endpoint,
		transport.WithHTTPHeaders(headers),
		transport.WithHTTPBasicClient(&http.Client{Transport: agent.WithHeaders{Headers: headers, Next: http.DefaultTransport}}),
	)
	if err != nil {
		return err
	}
	defer c.Close()

	fmt.Fprintf(out, "connecting to %s\n", endpoint)
	var init mcp.InitializeRequest
	init.Params.ClientInfo = mcp.Implementation{Name: "http-agent", Version: "0.1.0"}
	info, err := c.Initialize(ctx, init)
	if err != nil {
		var authErr *transport.AuthorizationRequiredError
		if errors.As(err, &authErr) {
			return errors.New("keyward refused the token: pass the server's KEYWARD_HTTP_TOKEN with -token or KEYWARD_HTTP_TOKEN")
		}
		return fmt.Errorf("connecting: %w", err)
	}
	fmt.Fprintf(out, "connected to %s %s (protocol %s, session %s)\n", info.ServerInfo.Name, info.ServerInfo.Version, info.ProtocolVersion, c.GetSessionId())
	return agent.ManageKey(ctx, c, keyName, out)
}
