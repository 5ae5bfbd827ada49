// Command keyward is an MCP server that lets AI agents manage API keys with
// least privilege. With no arguments it serves MCP over stdio.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/manager"
	"github.com/keyward/keyward/internal/provider/platforms"
	"github.com/keyward/keyward/internal/sanitize"
	"github.com/keyward/keyward/internal/version"
	"github.com/keyward/keyward/tools"
)

const usage = `keyward — an MCP server that lets AI agents manage API keys with least privilege.

Usage:
  keyward                 serve MCP over stdio (what Claude Desktop, Cursor and Claude Code spawn)
  keyward serve [--addr 127.0.0.1:8377]
                          serve MCP over streamable HTTP (/mcp) and SSE (/sse, /message)
  keyward audit [--since 24h] [--provider P] [--key ID] [--outcome O] [--limit N] [--json]
                          print the audit log
  keyward version         print the version
  keyward help            print this help

Tools: %s

Settings come from the environment; the main ones:
  KEYWARD_DB              state file (default %s)
  KEYWARD_SECRETS_DIR     where new secrets are written (default: secrets/ beside the state file)
  KEYWARD_REVEAL          file | inline | elicit | url (default: file; keyward serve with a console: url)
  KEYWARD_OPERATOR_TOKEN  keyward serve: the operator's login to the console at / (approvals, emergency revoke)
  KEYWARD_LOG_LEVEL       debug | info | warn | error (default info; logs go to stderr)
%s
The README lists every setting with its default.
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) int {
	cmd := ""
	if len(argv) > 0 {
		cmd, argv = argv[0], argv[1:]
	}
	switch cmd {
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "keyward", version.Version)
		return 0
	case "help", "--help", "-h":
		printUsage(stdout)
		return 0
	case "", "stdio", "serve", "audit":
	default:
		fmt.Fprintf(stderr, "keyward: unknown command %q\n\n", cmd)
		printUsage(stderr)
		return 2
	}

	cfg, err := config.Load()
	if err != nil {
		fmt.Fprintf(stderr, "keyward: invalid settings:\n  %s\n", strings.ReplaceAll(err.Error(), "\n", "\n  "))
		return 2
	}
	// Every log line passes the same mask: configured credentials and anything
	// shaped like a secret never reach stderr.
	mask := sanitize.LogAttr(cfg.Credentials())
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.Level, ReplaceAttr: mask}))
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()

	switch cmd {
	case "audit":
		// A report for a human: start-up chatter would only get in the way.
		quiet := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: max(cfg.Level, slog.LevelWarn), ReplaceAttr: mask}))
		return runAudit(ctx, cfg, quiet, argv, stdout, stderr)
	case "serve":
		return runServe(ctx, cfg, logger, argv, stderr)
	}
	if len(argv) > 0 {
		fmt.Fprintf(stderr, "keyward: stdio mode takes no arguments (got %q)\n", strings.Join(argv, " "))
		return 2
	}
	if isTerminal(stdin) {
		// Someone ran keyward by hand: say what it is waiting for, on stderr
		// (stdout carries only protocol, even here).
		fmt.Fprint(stderr, firstContact)
	}
	// The state opens while the client's first message is answered
	// (ServeStdio); nothing else is answered before it is open.
	app := keyward.Prepare(cfg, logger)
	defer app.Close()
	app.StartReaper()
	if err := app.ServeStdio(ctx, stdin, stdout); err != nil {
		var start *keyward.StartError
		if errors.As(err, &start) {
			logStartFailure(logger, start.Err)
		} else {
			logger.Error("stdio transport stopped", "err", err)
		}
		return 1
	}
	return 0
}

const firstContact = `keyward speaks MCP on stdin and stdout, for an MCP client to start it — not for typing.
Connect a client instead, for example:
  claude mcp add keyward -- keyward             (Claude Code)
  npx @modelcontextprotocol/inspector keyward   (the MCP inspector; needs Node 22)
or serve it over HTTP with: keyward serve
keyward --help lists the commands. Waiting for MCP messages on stdin; Ctrl-D or Ctrl-C ends.
`

// isTerminal reports whether r is a terminal (a character device), not a
// pipe from a client.
func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// openApp assembles keyward, or logs why it could not.
func openApp(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts ...keyward.Option) (*keyward.App, bool) {
	app, err := keyward.New(ctx, cfg, logger, opts...)
	if err != nil {
		logStartFailure(logger, err)
		return nil, false
	}
	return app, true
}

// logStartFailure logs why keyward could not start, one record per line:
// the settings checks list every problem at once.
func logStartFailure(logger *slog.Logger, err error) {
	for _, line := range strings.Split(err.Error(), "\n") {
		logger.Error("keyward could not start", "err", line)
	}
}

func printUsage(w io.Writer) {
	db := "under the user's data directory"
	if dir, err := config.DataDir(); err == nil {
		db = dir + "/keyward.db"
	}
	var plats strings.Builder
	for _, p := range platforms.All() {
		for _, v := range p.Vars() {
			if v.Name == p.URLVar() {
				continue // an override for tests and staging; the README has it
			}
			fmt.Fprintf(&plats, "  %-23s %s\n", v.Name, v.Meaning)
		}
	}
	fmt.Fprintf(w, usage, strings.Join(tools.Names(), ", "), db, strings.TrimRight(plats.String(), "\n"))
}

func runAudit(ctx context.Context, cfg *config.Config, logger *slog.Logger, argv []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("keyward audit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var a manager.AuditArgs
	fs.StringVar(&a.Since, "since", "", "only records newer than this: a duration (24h, 7d) or an RFC 3339 time")
	fs.StringVar(&a.Provider, "provider", "", "only this provider")
	fs.StringVar(&a.KeyID, "key", "", "only this key id")
	fs.StringVar(&a.Outcome, "outcome", "", "only this outcome: "+strings.Join(manager.Outcomes, ", "))
	fs.IntVar(&a.Limit, "limit", 100, "at most this many records")
	asJSON := fs.Bool("json", false, "print JSON lines, one record each")
	if err := fs.Parse(argv); err != nil {
		return 2
	}
	app, ok := openApp(ctx, cfg, logger)
	if !ok {
		return 1
	}
	defer app.Close()
	res, err := app.Manager.AuditLog(ctx, a)
	if err != nil {
		fmt.Fprintln(stderr, "keyward audit:", err)
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		for _, r := range res.Records {
			if err := enc.Encode(r); err != nil {
				return 1
			}
		}
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tTOOL\tPROVIDER\tKEY\tNAME\tOUTCOME\tCONFIRMATION\tCLIENT\tERROR")
	for _, r := range res.Records {
		// Every field may hold text an agent or a platform chose: escape what
		// could forge a row or drive the terminal.
		client := strings.TrimSpace(r.ClientName + " " + r.ClientVersion)
		if r.Principal != "" {
			client = strings.TrimSpace(client + " as " + r.Principal)
		}
		cells := []string{r.At.Format("2006-01-02 15:04:05Z"), r.Tool, r.Provider, r.KeyID, r.KeyName, r.Outcome,
			r.Confirmation, client, r.Error}
		for i, c := range cells {
			cells[i] = sanitize.Escape(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return boolExit(tw.Flush() == nil)
}

func boolExit(ok bool) int {
	if ok {
		return 0
	}
	return 1
}
