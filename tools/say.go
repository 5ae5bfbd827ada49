package tools

import (
	"errors"

	"github.com/keyward/keyward/internal/manager"
	"github.com/keyward/keyward/internal/provider"
)

// hints say each next step the core names in the tools' words.
var hints = map[provider.Step]string{
	provider.StepFindKey:      "call list_keys to see the ids that exist",
	provider.StepCheckKeys:    "check with list_keys before retrying, and revoke any key you cannot use",
	provider.StepCheckKey:     "check with get_key and try again",
	provider.StepReissue:      "reissue_key replaces the key with a new one that has the new settings and revokes this one",
	provider.StepNewKey:       "create a new key with create_key",
	provider.StepRevokeUnused: "revoke keys that are no longer needed with revoke_key, then retry",
	provider.StepRevoke:       "revoke it with revoke_key",
	provider.StepEnable:       "set_key_active with active=true enables it",
	provider.StepTakeAway:     "to take all access away, use set_key_active with active=false or revoke_key",
	provider.StepListScopes:   "list_scopes shows them",
	provider.StepListProvider: "list_providers shows them",
	provider.StepOmitScopes:   "call create_key without scopes",
	provider.StepStateIPs:     "pass allowed_ips to reissue_key with the addresses the replacement may work from",
}

// say is an error in the tools' words: the core's sentence and its next step.
func say(err error) string {
	if err == nil {
		return ""
	}
	var waiting *manager.AwaitingApproval
	if errors.As(err, &waiting) {
		return awaitingText(waiting)
	}
	return withHint(err.Error(), provider.StepOf(err))
}

func withHint(sentence string, step provider.Step) string {
	if h := hints[step]; h != "" && sentence != "" {
		return sentence + "; " + h
	}
	return sentence
}
