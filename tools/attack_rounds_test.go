package tools_test

// Attacks on the newest security-critical code (console, approvals, one-time
// links, OAuth, spent answers), by a hostile agent. Each test failed because
// of the hole it demonstrates, and passes now that the hole is closed.

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Was a hole: a request state expires at a whole second (Exp, unix seconds)
// and open accepted it until that second ended, but the spent answer was
// forgotten as soon as the clock passed Exp, so in the last second of a
// state's life its answer, already used, was fresh again: one confirmation,
// two write-scoped keys.
func TestAttackSpentAnswerReplayedInItsLastSecond(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_CONFIRM", "true"))
	args := map[string]any{"name": "deployer", "scopes": []any{"write"}}
	state, _ := question(t, callModern(t, h, "create_key", args, nil, ""))
	exp := h.clock.Now().Add(10 * time.Minute).Unix() // the state's expiry, as roundtrip.go seals it
	res := callModern(t, h, "create_key", args, answer("accept", "confirm", true), state)
	require.False(t, isError(res), resultText(res))
	require.Len(t, h.ok("list_keys", nil)["keys"], 1)

	h.clock.Advance(time.Unix(exp, 0).Add(500 * time.Millisecond).Sub(h.clock.Now()))
	res = callModern(t, h, "create_key", args, answer("accept", "confirm", true), state)
	assert.True(t, isError(res), "a spent answer replayed in its state's last second must do nothing: %v", res)
	assert.Len(t, h.ok("list_keys", nil)["keys"], 1, "one confirmation, one key")
}
