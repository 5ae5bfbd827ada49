// Package agenttest runs an example agent against a real keyward served over
// HTTP in-process, with the secret delivered both ways.
package agenttest

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/examples/agent"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keyward"
)

// Run is an example agent's entry point.
type Run func(ctx context.Context, endpoint, token, keyName string, out io.Writer) error

// Check runs the agent at path (/mcp or /sse): a wrong token is refused, and
// with the right one the agent creates, validates and revokes a key while
// printing no secret.
func Check(t *testing.T, path string, run Run) {
	for _, reveal := range []string{"inline", "file"} {
		t.Run(reveal, func(t *testing.T) {
			cfg, err := config.LoadFrom(map[string]string{
				"KEYWARD_DB": filepath.Join(t.TempDir(), "keyward.db"), "KEYWARD_REVEAL": reveal, "KEYWARD_HTTP_TOKEN": "example-token-0123456789",
			})
			require.NoError(t, err)
			app, err := keyward.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			require.NoError(t, err)
			defer app.Close()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			ctx, stop := context.WithCancel(context.Background())
			served := make(chan error, 1)
			go func() { served <- app.ServeHTTP(ctx, ln) }()
			defer func() { stop(); require.NoError(t, <-served) }()

			var out bytes.Buffer
			endpoint := agent.Endpoint("http://"+ln.Addr().String(), path)
			require.Error(t, run(context.Background(), endpoint, "wrong-token", "demo", &out), "a wrong token is refused")
			out.Reset()
			require.NoError(t, run(context.Background(), endpoint, cfg.HTTPToken, "demo", &out), out.String())
			assert.Contains(t, out.String(), "created key")
			assert.Contains(t, out.String(), "validate: valid=true status=valid")
			assert.Contains(t, out.String(), "validate after revoke: valid=false status=revoked")
			assert.NotRegexp(t, `kw_[0-9A-Za-z]{20,}`, out.String(), "the agent prints no secret, only its masked form")
		})
	}
}
