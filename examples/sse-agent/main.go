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
	"errors"
	"fmt"
	"io"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/examples/agent"
)

func main() { agent.Main("sse-agent", "/sse", "keyward's SSE endpoint", run) }

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
	return agent.ManageKey(ctx, c, keyName, out)
}
