package tools

import (
	"context"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/manager"
)

// A new secret behind a one-time link (KEYWARD_REVEAL=url) reaches the human
// by URL-mode elicitation where the client declared it: the call ends with
// the link as an input request (mcp-go turns it into elicitation/create for
// older clients), and the next round answers with the key. The secret never
// passes through the client; the link alone opens nothing (its page checks
// who opens it).

// OpenLink implements caller.LinkOpener.
func (rt *roundTrip) OpenLink(ctx context.Context, l caller.Link) (bool, error) {
	state, err := rt.r.seal(roundState{Kind: kindLink, Tool: rt.req.Params.Name, Args: rt.args, Provider: l.Provider, KeyID: l.KeyID, Link: l.URL, Until: l.ExpiresAt})
	if err != nil {
		return false, err
	}
	rt.asked = &question{params: mcp.ElicitationParams{Mode: mcp.ElicitationModeURL, Message: l.Message, ElicitationID: l.ID, URL: l.URL}, state: state}
	return false, caller.ErrInputRequired
}

// finishLink is the round after the link was put to the human.
func finishLink(ctx context.Context, m *manager.Manager, rounds *Rounds, req mcp.CallToolRequest, st *roundState, fail func(error) *mcp.CallToolResult) *mcp.CallToolResult {
	if err := rounds.spend(ctx, st); err != nil {
		return fail(err)
	}
	answer := server.ElicitationResponse(req.Params.InputResponses, answerKey)
	opened := answer != nil && answer.Action == mcp.ElicitationResponseActionAccept
	res, err := m.LinkShown(ctx, st.Provider, st.KeyID, st.Link, time.Unix(st.Until, 0), opened)
	if err != nil {
		return fail(err)
	}
	out := secretOut(res)
	return mcp.NewToolResultStructured(out, secretText("Created", out))
}

// canOpenURL reports whether the client declared URL-mode elicitation (per
// request from 2026-07-28 on, for the session before).
func canOpenURL(ctx context.Context) bool {
	if info := server.RequestProtocolInfoFromContext(ctx); info != nil && info.Modern {
		return info.ClientCapabilities != nil && info.ClientCapabilities.Elicitation != nil && info.ClientCapabilities.Elicitation.URL != nil
	}
	withInfo, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo)
	if !ok {
		return false
	}
	e := withInfo.GetClientCapabilities().Elicitation
	return e != nil && e.URL != nil
}
