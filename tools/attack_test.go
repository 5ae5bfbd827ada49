package tools_test

// Attacks on keyward by a hostile agent (branch attack). Every test marked
// HOLE fails because of the hole it demonstrates.

import (
	"time"

	"github.com/stretchr/testify/require"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keyward/keyward/internal/provider/vast/vastfake"
)

func vastOn(kv ...any) map[string]any {
	m := map[string]any{"provider": "vast"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// HOLE: reissue_key with allowed_ips: [] (an empty list, which the schema
// accepts: no minItems) "restates" the allow-list as nothing, and policy.Carry
// accepts it as a narrowing (no item is off the old list), so the replacement
// of an IP-restricted Vast key works from anywhere. Breaks "a replacement ...
// carries the old key's constraints and allow-list and never holds more".
func TestAttackEmptyAllowListWidensReissue(t *testing.T) {
	h, fk := vastPlatform(t).harness(t, "KEYWARD_CONFIRM", "false")
	f := fk.(*vastfake.Fake)
	k := h.ok("create_key", vastOn("name", "pinned", "scopes", []any{"instance_read"}, "allowed_ips", []any{"203.0.113.7"}))
	id := k["key_id"].(string)
	assert.Contains(t, string(f.KeyParams(id)), "203.0.113.7")

	res := h.call("reissue_key", vastOn("key_id", id, "allowed_ips", []any{}))
	if res.IsError {
		return // refused: held
	}
	nid := h.ok("list_keys", vastOn())["keys"].([]any)
	var newID string
	for _, x := range nid {
		if kid := x.(map[string]any)["key_id"].(string); kid != id {
			newID = kid
		}
	}
	assert.Contains(t, string(f.KeyParams(newID)), "203.0.113.7",
		"the replacement of an allow-listed key must keep its allow-list; got key_params %s", f.KeyParams(newID))
}

// HOLE: rotate_key with a grace on a platform without native rotation (Vast.ai)
// schedules the old key's revocation by giving it a keyward-enforced deadline
// (now + grace). That deadline is just the key's expiry, so update_key
// (expires_in, no confirmation needed) pushes it back to the key's full life:
// the rotated-out key keeps working for weeks beside its replacement, and the
// reaper never revokes it. Breaks "rotate_key: ... optional grace (≤ 7d) for
// the old one" and the human's confirmation ("the old one stops working after
// a grace of 1h").
func TestAttackRotationGraceExtendedByUpdate(t *testing.T) {
	h, _ := vastPlatform(t).harness(t, "KEYWARD_CONFIRM", "false")
	old := h.ok("create_key", vastOn("name", "rot", "expires_in", "30d"))
	oldID, oldSecret := old["key_id"].(string), old["secret"].(string)
	rot := h.ok("rotate_key", vastOn("key_id", oldID, "grace", "1h"))
	assert.Equal(t, "2026-11-23T13:00:00Z", rot["old_secret_valid_until"])

	// The agent un-schedules the revocation of the rotated-out key.
	res := h.call("update_key", vastOn("key_id", oldID, "expires_in", "29d"))
	t.Logf("update_key on the rotated-out key: error=%v %s", res.IsError, text(res))

	h.clock.Advance(2 * time.Hour) // the grace is long over
	_, err := h.app.Manager.Reap(t.Context())
	require.NoError(t, err)
	assert.False(t, h.valid("vast", oldSecret), "the rotated-out key must stop working when its grace ends")
}

func withClientName(n string) harnessOption { return func(c *harnessConfig) { c.name = n } }

// HOLE: the MCP client's name and version (clientInfo, sent by whoever
// connects: any stdio client, any HTTP client with the token) go into every
// audit record and into managed_keys.created_by unmasked: audit.write only
// bounds them. A secret pasted there (or an agent framework that puts its
// credential in clientInfo) is stored in the state file and returned by
// audit_log. Breaks "No secret is ever recorded" / "what an agent passed is
// masked".
func TestAttackClientNameSecretIsRecorded(t *testing.T) {
	// A Vast.ai-shaped key (64 hex) and a keyward key shape.
	leak := "4f3a9c0d1e2b3a4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4"
	h := newHarness(t, withClientName("agent "+leak))
	h.secrets = append(h.secrets, leak) // scanForLeaks checks audit log and state file at cleanup
	h.ok("create_key", map[string]any{"name": "ci-read"})
	rec := lastAudit(t, h)
	assert.NotContains(t, rec["client_name"], leak, "the audit record holds the secret the client put in clientInfo")
}
