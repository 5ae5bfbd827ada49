package keyward

import (
	"context"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/sanitize"
)

// clientLog sends keyward's notices (caller.Notify) to MCP clients as
// notifications/message from logger "keyward". mcp-go applies each client's
// level: the one a session set with logging/setLevel (error until it does),
// or the level a 2026-07-28 request declares for itself (none: nothing).
// Every text passes the same mask as keyward's own logs.
type clientLog struct {
	mcp   *server.MCPServer
	clean func(string) string

	sessions sync.Map // session id → struct{}: the sessions mcp-go registered, for broadcasts
}

func newClientLog(s *server.MCPServer, credentials []string) *clientLog {
	l := &clientLog{mcp: s, clean: sanitize.Clean(credentials)}
	hooks := s.GetHooks()
	hooks.AddOnRegisterSession(func(_ context.Context, cs server.ClientSession) { l.sessions.Store(cs.SessionID(), struct{}{}) })
	hooks.AddOnUnregisterSession(func(_ context.Context, cs server.ClientSession) { l.sessions.Delete(cs.SessionID()) })
	return l
}

func (l *clientLog) message(level caller.Level, text string) mcp.LoggingMessageNotification {
	return mcp.NewLoggingMessageNotification(mcp.LoggingLevel(level), "keyward", l.clean(text))
}

// Notify tells the client of the request ctx carries.
func (l *clientLog) Notify(ctx context.Context, level caller.Level, text string) {
	_ = l.mcp.SendLogMessageToClient(ctx, l.message(level, text))
}

// broadcast is a caller.Notifier for keyward's own work (the reaper): it
// tells every session that asked for the level. Stateless (2026-07-28)
// clients have no session to be told outside their own requests.
type broadcast struct{ *clientLog }

func (b broadcast) Notify(_ context.Context, level caller.Level, text string) {
	msg := b.message(level, text)
	b.sessions.Range(func(id, _ any) bool {
		_ = b.mcp.SendLogMessageToSpecificClient(id.(string), msg)
		return true
	})
}
