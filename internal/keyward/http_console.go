package keyward

import (
	"net/http"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/console"
)

// mountConsole serves the operator's console at / beside the MCP endpoints.
// Without KEYWARD_OPERATOR_TOKEN, / says how to turn it on.
func (h *HTTP) mountConsole(notFound http.Handler) error {
	a := h.app
	c, err := console.New(console.Options{
		Manager: a.Manager, Store: a.Store, Sealer: a.operator.sealer,
		Token: a.Config.OperatorToken, PublicURL: a.Config.PublicURL,
		Reveal: a.operator.links, LinkViewed: a.linkViewed,
		NotFound: notFound, Now: h.now, Log: a.Log,
	})
	if err != nil {
		return err
	}
	h.mux.Handle("/", c)
	return nil
}

// announceConsole says at start-up whether there is a console and where,
// and tells the rules where the operator approves. base is the listener's
// own address, used when KEYWARD_PUBLIC_URL is unset.
func (h *HTTP) announceConsole(base string) {
	a := h.app
	if a.Config.OperatorToken == "" {
		a.Log.Info("no operator console: set KEYWARD_OPERATOR_TOKEN to serve one at / (keys, audit log, approvals, emergency revoke)")
		return
	}
	if a.Config.PublicURL != "" {
		base = a.Config.PublicURL
	}
	a.Manager.SetConsoleURL(base)
	if a.operator.links != nil {
		a.operator.links.SetBase(base)
	}
	a.Log.Info("operator console", "url", base+"/", "login", "KEYWARD_OPERATOR_TOKEN", "approvals", a.operator.approvals != nil, "new_secrets", string(a.operator.reveal))
}

// linkViewed tells the MCP session that made a secret, when this process
// holds it, that the URL-mode elicitation of its one-time link completed.
func (a *App) linkViewed(sessionID, linkID string) {
	_ = a.MCP.SendNotificationToSpecificClient(sessionID, string(mcp.MethodNotificationElicitationComplete), map[string]any{"elicitationId": linkID})
}
