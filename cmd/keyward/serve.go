package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/keyward/keyward/internal/config"
)

// runServe is replaced by the HTTP transport (issue: agent frameworks over SSE and streamable HTTP).
func runServe(ctx context.Context, cfg *config.Config, logger *slog.Logger, argv []string, stderr io.Writer) int {
	fmt.Fprintln(stderr, "keyward: serve is not available in this build yet")
	return 1
}
