package policy

import (
	"fmt"
	"strconv"
	"strings"
)

// ConfirmMode is the operator's KEYWARD_CONFIRM: whether a revoke, a rotation,
// a re-issue or a grant of write access waits for the human.
type ConfirmMode string

const (
	// ConfirmOff never asks (KEYWARD_CONFIRM=false).
	ConfirmOff ConfirmMode = "false"
	// ConfirmAsk asks when the client can, and otherwise proceeds and records
	// that nobody could be asked (KEYWARD_CONFIRM=true, the default).
	ConfirmAsk ConfirmMode = "true"
	// ConfirmRequired refuses such acts when the human cannot be asked
	// (KEYWARD_CONFIRM=required).
	ConfirmRequired ConfirmMode = "required"
	// ConfirmConsole makes every such act wait for the operator's approval
	// in the console of keyward serve (KEYWARD_CONFIRM=console).
	ConfirmConsole ConfirmMode = "console"
)

// ParseConfirmMode reads KEYWARD_CONFIRM.
func ParseConfirmMode(s string) (ConfirmMode, error) {
	v := strings.TrimSpace(s)
	if v == "" {
		return ConfirmAsk, nil
	}
	if strings.EqualFold(v, "required") {
		return ConfirmRequired, nil
	}
	if strings.EqualFold(v, "console") {
		return ConfirmConsole, nil
	}
	if b, err := strconv.ParseBool(v); err == nil { // the spellings every boolean setting accepts
		if b {
			return ConfirmAsk, nil
		}
		return ConfirmOff, nil
	}
	return "", fmt.Errorf("KEYWARD_CONFIRM=%q is not a confirmation mode; use true (ask when the client can), required (refuse when it cannot), console (wait for the operator's approval in the console) or false (never ask)", s)
}
