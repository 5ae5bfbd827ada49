package provider

import "errors"

// Step is what the caller can do next about an outcome, named without the
// words of any interface: the core says "find the key among those listed",
// the MCP tools say "call list_keys", a CLI would say its own command.
type Step string

const (
	StepNone         Step = ""
	StepFindKey      Step = "find_key"      // the id is wrong: look it up among the keys that exist
	StepCheckKeys    Step = "check_keys"    // something may have changed: look at the keys before retrying
	StepCheckKey     Step = "check_key"     // look at this key's state, then try again
	StepReissue      Step = "reissue"       // only a replacement key can make this change
	StepNewKey       Step = "new_key"       // create a new key instead
	StepRevokeUnused Step = "revoke_unused" // make room: revoke keys no longer needed, then retry
	StepRevoke       Step = "revoke"        // revoke the key named in the message by hand
	StepEnable       Step = "enable"        // the key is disabled; enabling it makes it work again
	StepTakeAway     Step = "take_away"     // to take all access away, disable or revoke the key
	StepListScopes   Step = "list_scopes"   // the provider's scopes are listed elsewhere
	StepListProvider Step = "list_providers"
	StepOmitScopes   Step = "omit_scopes"       // create the key without naming scopes
	StepStateIPs     Step = "state_allowed_ips" // state the allow-list a replacement may work from
)

// Stepper is an outcome that names a next step.
type Stepper interface{ NextStep() Step }

// StepOf is the next step err names, or StepNone.
func StepOf(err error) Step {
	var s Stepper
	if errors.As(err, &s) {
		return s.NextStep()
	}
	return StepNone
}

// NextStep implements Stepper.
func (e *Error) NextStep() Step { return e.Step }

// WithStep returns err naming a next step; err's kind and wording are kept.
func WithStep(err error, step Step) error {
	if err == nil {
		return nil
	}
	return &stepped{err: err, step: step}
}

type stepped struct {
	err  error
	step Step
}

func (s *stepped) Error() string  { return s.err.Error() }
func (s *stepped) Unwrap() error  { return s.err }
func (s *stepped) NextStep() Step { return s.step }
