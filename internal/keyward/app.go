// Package keyward is the running keyward: it assembles the state, providers,
// manager and MCP tools, and serves them over stdio or HTTP.
package keyward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/manager"
	"github.com/keyward/keyward/internal/pause"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/local"
	"github.com/keyward/keyward/internal/provider/platforms"
	"github.com/keyward/keyward/internal/records"
	"github.com/keyward/keyward/internal/seal"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/version"
	"github.com/keyward/keyward/tools"
)

// App is a running keyward: everything a transport needs.
type App struct {
	Config  *config.Config
	Store   *store.Store
	Local   *local.Authority
	Manager *manager.Manager
	MCP     *server.MCPServer
	Tools   []string
	Log     *slog.Logger

	stopReaper context.CancelFunc
	reaperDone chan struct{}

	build    buildOptions
	refusals *tools.Refusals
	// opened is closed when Open has finished, well or not (openErr).
	opened   chan struct{}
	openOnce sync.Once
	openErr  error

	clientLog *clientLog           // notifications/message (notify.go)
	front     atomic.Pointer[HTTP] // the HTTP front, once NewHTTP made it
	operator  operatorParts        // the console, approvals and one-time links (app_console.go)
}

const instructions = `keyward manages API keys with least privilege. Call list_providers first. ` +
	`Create keys with the smallest scopes and the shortest expiry that do the job; new secrets are delivered ` +
	`where the operator chose (usually a file), so never ask the user to paste a secret into the chat.`

// Option adjusts how an App is built.
type Option func(*buildOptions)

type buildOptions struct {
	now     func() time.Time
	serving bool // keyward serve (Serving): the console's defaults apply
}

// WithClock replaces the clock (tests move time forward without sleeping).
func WithClock(now func() time.Time) Option { return func(o *buildOptions) { o.now = now } }

// New opens the state and wires every part; Close releases them.
func New(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts ...Option) (*App, error) {
	app := Prepare(cfg, logger, opts...)
	if err := app.Open(ctx); err != nil {
		app.Close()
		return nil, err
	}
	return app, nil
}

// Prepare builds what answering initialize needs, the MCP server without
// its tools, and nothing that touches the state: stdio answers a client's
// first message while Open runs. No tool is reachable before Open succeeds
// (ServeStdio holds every other message until then).
func Prepare(cfg *config.Config, logger *slog.Logger, opts ...Option) *App {
	bo := buildOptions{now: time.Now}
	for _, o := range opts {
		o(&bo)
	}
	app := &App{Config: cfg, Log: logger, build: bo, opened: make(chan struct{})}
	app.refusals = tools.NewRefusals(logger, app.admitCall)
	app.MCP = server.NewMCPServer("keyward", version.Version, append(app.refusals.ServerOptions(),
		server.WithToolCapabilities(false),
		server.WithElicitation(),
		server.WithLogging(),
		// tools/list and server/discover change only when keyward restarts
		// with other settings; "private" because what a principal may call
		// can come to depend on who it is.
		server.WithCacheHints(listCacheTTL.Milliseconds(), mcp.CacheScopePrivate),
		server.WithInstructions(instructions),
		server.WithToolHandlerMiddleware(app.toolMiddleware),
	)...)
	app.clientLog = newClientLog(app.MCP, cfg.Credentials())
	return app
}

// Open opens the state and wires the providers, the manager and the tools,
// once; later calls return the first one's answer. After a failure the App
// holds nothing open, and Close is still safe.
func (a *App) Open(ctx context.Context) error {
	a.openOnce.Do(func() {
		a.openErr = a.open(ctx)
		close(a.opened)
	})
	return a.openErr
}

// errClosed is Open's answer after Close.
var errClosed = errors.New("keyward is shutting down")

func (a *App) open(ctx context.Context) (err error) {
	cfg, bo, logger := a.Config, a.build, a.Log
	st, err := store.Open(ctx, cfg.DB, store.Options{MaxConns: cfg.DBMaxConns, Timeout: cfg.DBTimeout},
		append([]store.Schema{local.Schema, audit.Schema, records.Schema}, operatorSchemas...)...)
	if err != nil {
		return err
	}
	a.Store = st
	defer func() {
		if err != nil {
			a.closeState()
		}
	}()
	// Secret files an older keyward, a copy or a restore left readable are
	// made private before anything else is written there.
	if err := secret.TightenDir(cfg.SecretsDir); err != nil {
		return fmt.Errorf("KEYWARD_SECRETS_DIR: %w", err)
	}
	if a.Local, err = local.New(ctx, st, local.Options{Scopes: cfg.LocalScopes, MaxKeys: cfg.LocalMaxKeys, Now: bo.now}); err != nil {
		return fmt.Errorf("starting the local authority: %w", err)
	}
	providers := []provider.Provider{a.Local}
	remote, unconfigured := remoteProviders(cfg)
	providers = append(providers, remote...)
	if err := checkSettings(cfg, providers, unconfigured, logger); err != nil {
		return err
	}

	if err := a.buildOperator(cfg, bo); err != nil {
		return err
	}
	if a.Manager, err = manager.New(manager.Options{
		Providers: providers, Policy: cfg.Policy(), Store: st, Audit: audit.New(st, bo.now), Now: bo.now,
		Reveal: a.operator.reveal, SecretsDir: cfg.SecretsDir, Confirm: cfg.Confirm,
		Unconfigured: unconfigured, ReadOnly: cfg.ReadOnly, Tools: cfg.Tools, Logger: logger,
		Approvals: a.operator.approvals, Reveals: a.operator.links,
	}); err != nil {
		return err
	}
	sealer := seal.Random() // each process its own key, unless the operator shares one
	if len(cfg.StateKey) > 0 {
		if sealer, err = seal.New(cfg.StateKey); err != nil {
			return fmt.Errorf("KEYWARD_STATE_KEY: %w", err)
		}
	}
	// Answers are spent in the database, so no replica uses one twice.
	rounds := &tools.Rounds{Sealer: sealer, Spent: records.New(st, bo.now), Now: bo.now}
	if a.Tools, err = tools.Register(a.MCP, a.Manager, tools.Options{ReadOnly: cfg.ReadOnly, Allow: cfg.Tools, Logger: logger, Rounds: rounds, Refusals: a.refusals}); err != nil {
		return err
	}

	logger.Info("keyward ready", "version", version.Version, "db", st.String(), "engine", string(st.Engine()), "providers", strings.Join(a.Manager.ProviderNames(), ","), "tools", len(a.Tools))
	return nil
}

// listCacheTTL is how long a 2026-07-28 client may reuse a tools/list or
// server/discover answer.
const listCacheTTL = 5 * time.Minute

// toolMiddleware runs around every tool call: it lets the rules send the
// client notices (caller.Notify), and hands calls that came over HTTP to the
// front's limits (rate limit, shutdown drain).
func (a *App) toolMiddleware(next server.ToolHandlerFunc) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		ctx = caller.WithNotifier(ctx, a.clientLog)
		if h := a.httpFront(ctx); h != nil {
			return h.limitToolCalls(ctx, req, next)
		}
		return next(ctx, req)
	}
}

// admitCall is the gate tools.Refusals applies to calls refused for
// their arguments too (they never reach toolMiddleware): the front's limits
// for calls over HTTP, nothing otherwise.
func (a *App) admitCall(ctx context.Context, _ mcp.CallToolRequest) (string, bool) {
	if h := a.httpFront(ctx); h != nil {
		return h.admit(ctx)
	}
	return "", false
}

// httpFront is the HTTP front when the call came through it.
func (a *App) httpFront(ctx context.Context) *HTTP {
	switch caller.From(ctx).Transport {
	case transportHTTP, transportSSE:
		return a.front.Load()
	}
	return nil
}

// checkSettings refuses scope settings that contradict the providers'
// vocabularies (policy.Check), and logs settings that are accepted but have
// no effect. Platforms without credentials are checked too: their
// vocabularies need none, so they are built bare for the check alone.
func checkSettings(cfg *config.Config, configured []provider.Provider, unconfigured map[string]string, logger *slog.Logger) error {
	all := slices.Clone(configured)
	for _, p := range platforms.All() {
		if cfg.Platform(p.Name).APIKey == "" {
			all = append(all, p.Offline()...)
		}
	}
	for _, w := range cfg.Warnings() {
		logger.Warn(w)
	}
	return cfg.Policy().Check(all)
}

// StartReaper purges records past their retention, settles interrupted
// creates and revokes keys past their keyward-enforced expiry, now and every
// KEYWARD_REAP_INTERVAL until Close, in exactly one of the processes sharing
// the state (store.Lead): the others wait, and one of them takes over when
// the leader stops or dies. Serving commands start it; one-shot ones
// (keyward audit) don't, so reading the audit log never changes it. The
// first answer does not wait for any of it. It may be called before Open
// has finished; it then starts once the state is open.
func (a *App) StartReaper() {
	if a.stopReaper != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	a.stopReaper, a.reaperDone = cancel, make(chan struct{})
	go func() {
		defer close(a.reaperDone)
		select { // the App may still be opening (Prepare, then Open)
		case <-a.opened:
		case <-ctx.Done():
			return
		}
		if a.openErr != nil {
			return
		}
		// What the reaper does is told to every client that asked (caller.Notify).
		ctx := caller.WithNotifier(ctx, broadcast{a.clientLog})
		for ctx.Err() == nil {
			lease, err := a.Store.Lead(ctx, "reaper")
			if err != nil {
				if ctx.Err() == nil {
					a.Log.Warn("cannot take part in choosing the reaper; retrying", "err", err)
					_ = pause.For(ctx, 5*time.Second)
				}
				continue
			}
			a.Log.Info("this process runs the reaper")
			if err := a.Manager.Purge(ctx, a.Config.AuditRetention); err != nil && ctx.Err() == nil {
				a.Log.Warn("purging old records failed; continuing", "err", err)
			}
			lctx, lcancel := context.WithCancel(ctx)
			go func() {
				select {
				case <-lease.Done():
					lcancel()
				case <-lctx.Done():
				}
			}()
			a.Manager.RunReaper(lctx, a.Config.ReapInterval)
			lcancel()
			lease.Release()
			if ctx.Err() == nil {
				a.Log.Warn("this process lost the reaper's lock (its database connection went away); another process runs it now")
			}
		}
	}()
}

// Close stops background work and closes the state. It waits for an Open in
// progress, and stops a later one from opening anything.
func (a *App) Close() error {
	a.openOnce.Do(func() {
		a.openErr = errClosed
		close(a.opened)
	})
	if a.stopReaper != nil {
		a.stopReaper()
		<-a.reaperDone
	}
	return a.closeState()
}

// closeState closes the local authority and the store, if open.
func (a *App) closeState() error {
	var errs []error
	if a.Local != nil {
		errs = append(errs, a.Local.Close())
		a.Local = nil
	}
	if a.Store != nil {
		errs = append(errs, a.Store.Close())
		a.Store = nil
	}
	return errors.Join(errs...)
}

// slogWriter forwards a standard logger's lines to slog.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(p []byte) (int, error) {
	w.l.Warn(strings.TrimSpace(string(p)))
	return len(p), nil
}
