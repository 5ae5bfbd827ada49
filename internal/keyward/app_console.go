package keyward

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/keyward/keyward/internal/approvals"
	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/console"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/reveal"
	"github.com/keyward/keyward/internal/seal"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/store"
)

// operatorSchemas are the tables of the operator's side: approvals and the
// console's sessions. Every keyward has them, so replicas and later starts
// with other settings agree on the schema.
var operatorSchemas = []store.Schema{approvals.Schema, console.Schema, reveal.Schema}

// operatorParts are what the console, approvals and one-time links share.
type operatorParts struct {
	// sealer seals console sessions: KEYWARD_STATE_KEY's, so every replica
	// accepts them, or a random key (one process).
	sealer *seal.Sealer
	// approvals is nil when no operator can approve: keyward serve without
	// KEYWARD_OPERATOR_TOKEN, or stdio unless KEYWARD_CONFIRM=console.
	approvals *approvals.Store
	// reveal is the delivery mode in force: KEYWARD_REVEAL, or the
	// transport's default; links keeps one-time links when it is url.
	reveal secret.Mode
	links  *reveal.Store
}

// Serving builds the App for keyward serve: with KEYWARD_OPERATOR_TOKEN set,
// the console is there, and acts the client cannot confirm wait for it.
func Serving() Option { return func(o *buildOptions) { o.serving = true } }

func (a *App) buildOperator(cfg *config.Config, bo buildOptions) error {
	a.operator.sealer = seal.Random()
	if len(cfg.StateKey) > 0 {
		s, err := seal.New(cfg.StateKey)
		if err != nil {
			return fmt.Errorf("KEYWARD_STATE_KEY: %w", err)
		}
		a.operator.sealer = s
	}
	if cfg.OperatorToken != "" && (bo.serving || cfg.Confirm == policy.ConfirmConsole) {
		a.operator.approvals = approvals.New(a.Store, approvals.Options{TTL: cfg.ApprovalTTL, Now: bo.now})
		if !bo.serving {
			a.Log.Warn("KEYWARD_CONFIRM=console: acts that need confirmation wait for the operator's approval in the console of a keyward serve that shares this state (KEYWARD_DB)")
		}
	}
	mode, err := revealMode(cfg, bo.serving, a.Log)
	if err != nil {
		return err
	}
	a.operator.reveal = mode
	if mode == secret.ModeURL {
		a.operator.links = reveal.New(a.Store, a.operator.sealer, cfg.RevealTTL, bo.now)
		if len(cfg.StateKey) == 0 && bo.serving {
			a.Log.Warn("no KEYWARD_STATE_KEY: one-time links open only in the process that made them, and not after a restart (their keys are then revoked when the links expire); set it, the same on every replica")
		}
	}
	return nil
}

// revealMode is where new secrets go: KEYWARD_REVEAL, or by transport. A
// file on the server's disk is the wrong place for a remote agent's secret,
// so keyward serve uses one-time links when it has a console to open them
// in; stdio (the agent's own machine) keeps files.
func revealMode(cfg *config.Config, serving bool, log *slog.Logger) (secret.Mode, error) {
	mode := cfg.RevealMode
	switch {
	case mode == secret.ModeURL && serving && cfg.OperatorToken == "":
		return "", errors.New("KEYWARD_REVEAL=url in keyward serve needs KEYWARD_OPERATOR_TOKEN: a one-time link opens only for the operator's console login; set it, or choose another KEYWARD_REVEAL")
	case mode == "" && serving && cfg.OperatorToken != "":
		return secret.ModeURL, nil
	case mode == "" && serving:
		log.Warn("new secrets go to files on this server's disk (KEYWARD_REVEAL=file), which a remote agent or its human cannot read; set KEYWARD_OPERATOR_TOKEN to deliver them by one-time link in the console instead, or set KEYWARD_REVEAL to say what you want")
		return secret.ModeFile, nil
	case mode == "":
		return secret.ModeFile, nil
	}
	return mode, nil
}
