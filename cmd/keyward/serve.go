package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keyward"
)

// runServe is `keyward serve`: streamable HTTP and SSE on one listener until
// SIGINT or SIGTERM (ctx), then a graceful shutdown and the state file closed.
func runServe(ctx context.Context, cfg *config.Config, logger *slog.Logger, argv []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("keyward serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", cfg.Addr, "address to listen on, host:port (overrides KEYWARD_ADDR)")
	if err := fs.Parse(argv); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "keyward serve: unexpected arguments %q; the only flag is --addr\n", strings.Join(fs.Args(), " "))
		return 2
	}
	// Refuse an unsafe address before touching the state file.
	if err := keyward.CheckHTTPBind(*addr, cfg.HTTPToken != "" || cfg.OAuthIssuer != ""); err != nil {
		fmt.Fprintln(stderr, "keyward serve:", err)
		return 2
	}
	app, ok := openApp(ctx, cfg, logger, keyward.Serving())
	if !ok {
		return 1
	}
	defer app.Close()
	h, err := app.NewHTTP()
	if err != nil {
		fmt.Fprintln(stderr, "keyward serve:", err)
		return 2
	}
	ln, err := app.ListenHTTP(*addr)
	if err != nil {
		logger.Error("keyward could not listen", "err", err)
		return 1
	}
	app.StartReaper()
	if err := h.Serve(ctx, ln); err != nil {
		logger.Error("HTTP transport stopped", "err", err)
		return 1
	}
	return 0
}
