package tools

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/manager"
)

func TestPanicBecomesErrorResultWithoutThePanicValue(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	d := definition{
		tool: mcp.NewTool("explode"),
		run: func(ctx context.Context, m *manager.Manager, _ mcp.CallToolRequest) (any, string, error) {
			panic("kw_this-would-be-a-secret")
		},
	}
	h := wrap(d, nil, nil, slog.New(slog.NewTextHandler(&logs, nil)))
	res, err := h(context.Background(), mcp.CallToolRequest{})
	require.NoError(t, err)
	require.True(t, res.IsError)
	assert.Contains(t, res.Content[0].(mcp.TextContent).Text, "internal error in explode")
	assert.Contains(t, logs.String(), "tool handler panicked")
	assert.NotContains(t, logs.String(), "kw_this-would-be-a-secret")
	assert.NotContains(t, res.Content[0].(mcp.TextContent).Text, "kw_this-would-be-a-secret")
}
