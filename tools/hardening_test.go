package tools_test

// Regression tests for the holes a hostile agent found (issue 8). Each one
// failed before its fix.

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/secret"
)

func vastPlatform(t *testing.T) platform {
	t.Helper()
	for _, p := range platforms() {
		if p.name == "vast" {
			return p
		}
	}
	t.Fatal("no vast platform")
	return platform{}
}

// An expired key is as final as a revoked one: nothing brings it back.
func TestExpiredKeyIsFinal(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_REVEAL", "inline"))
	k := h.ok("create_key", map[string]any{"name": "short", "expires_in": "1h"})
	id, sec := k["key_id"].(string), k["secret"].(string)
	h.clock.Advance(2 * time.Hour)
	require.False(t, h.valid("local", sec))

	for _, c := range []struct {
		tool string
		args map[string]any
	}{
		{"update_key", map[string]any{"key_id": id, "expires_in": "7d"}},
		{"update_key", map[string]any{"key_id": id, "name": "renamed"}},
		{"set_key_active", map[string]any{"key_id": id, "active": true}},
		{"rotate_key", map[string]any{"key_id": id}},
		{"reissue_key", map[string]any{"key_id": id}},
	} {
		msg := h.fail(c.tool, c.args)
		assert.Contains(t, msg, "expired", c.tool)
		assert.Contains(t, msg, "create_key", "%s suggests a new key", c.tool)
	}
	assert.False(t, h.valid("local", sec), "the expired key stays expired")
	v := h.ok("validate_key", map[string]any{"key": sec})
	assert.Equal(t, "expired", v["status"])
	// Revoking it is still allowed: it only makes it more final.
	h.ok("revoke_key", map[string]any{"key_id": id})
}

// A key's whole life is bounded by KEYWARD_MAX_TTL from its creation, so
// renewing it again and again does not keep it alive for ever.
func TestRenewalCannotOutliveMaxTTL(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_MAX_TTL", "30d", "KEYWARD_DEFAULT_TTL", "7d"))
	id := h.ok("create_key", map[string]any{"name": "renewed", "expires_in": "7d"})["key_id"].(string)
	for range 4 { // days 5, 10, 15, 20: each renewal stays within creation + 30d
		h.clock.Advance(5 * policy.Day)
		h.ok("update_key", map[string]any{"key_id": id, "expires_in": "7d"})
	}
	h.clock.Advance(5 * policy.Day) // day 25: 25+7 would end past day 30
	msg := h.fail("update_key", map[string]any{"key_id": id, "expires_in": "7d"})
	assert.Contains(t, msg, "KEYWARD_MAX_TTL")
	assert.Contains(t, msg, "2026-12-23T12:00:00Z", "the refusal names the latest deadline the key may have")
	got := h.ok("update_key", map[string]any{"key_id": id, "expires_in": "5d"})
	assert.Equal(t, "2026-12-23T12:00:00Z", got["expires_at"], "up to creation + max is allowed")
	assert.Equal(t, "update_key", lastAudit(t, h)["tool"])
}

// On a platform where keyward emulates changes by re-issue, the replacement
// inherits the original's life: re-issuing does not restart the clock.
func TestReissueKeepsTheOriginalLifeBound(t *testing.T) {
	t.Parallel()
	h, _ := vastPlatform(t).harness(t, "KEYWARD_MAX_TTL", "30d", "KEYWARD_CONFIRM", "false")
	k := h.ok("create_key", map[string]any{"provider": "vast", "name": "v", "expires_in": "25d"})
	h.clock.Advance(20 * policy.Day)
	r := h.ok("reissue_key", map[string]any{"provider": "vast", "key_id": k["key_id"], "scopes": []any{"instance_read"}})
	assert.Equal(t, k["expires_at"], r["expires_at"], "a re-issue keeps the deadline")
	assert.Equal(t, k["key_id"], r["replaced_key_id"])
	msg := h.fail("update_key", map[string]any{"provider": "vast", "key_id": r["key_id"], "expires_in": "20d"})
	assert.Contains(t, msg, "KEYWARD_MAX_TTL", "the replacement is bound by the original's creation")
	got := h.ok("update_key", map[string]any{"provider": "vast", "key_id": r["key_id"], "expires_in": "9d"})
	assert.Equal(t, "2026-12-22T12:00:00Z", got["expires_at"])
}

// KEYWARD_LOCAL_MAX_KEYS holds: an expired key that no longer counts cannot
// be revived to exceed it.
func TestLiveKeyLimitHoldsAgainstRevival(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_LOCAL_MAX_KEYS", "2", "KEYWARD_REVEAL", "inline"))
	old := h.ok("create_key", map[string]any{"name": "a", "expires_in": "1h"})
	b := h.ok("create_key", map[string]any{"name": "b"})
	h.clock.Advance(2 * time.Hour)
	c := h.ok("create_key", map[string]any{"name": "c"}) // a expired, so there is room
	h.fail("update_key", map[string]any{"key_id": old["key_id"], "expires_in": "7d"})
	h.fail("set_key_active", map[string]any{"key_id": old["key_id"], "active": true})
	assert.Contains(t, h.fail("create_key", map[string]any{"name": "d"}), "KEYWARD_LOCAL_MAX_KEYS")
	valid := 0
	for _, k := range []map[string]any{old, b, c} {
		if h.valid("local", k["secret"].(string)) {
			valid++
		}
	}
	assert.Equal(t, 2, valid, "never more live keys than the limit")
}

// Scopes named like money, team or key management stay above the default
// ceiling of the local authority even when the operator defines them.
func TestSensitiveLocalScopesAreAboveTheDefaultCeiling(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_LOCAL_SCOPES", "read,write,billing,admin,keys:write,billing:read,team_manage,payments.write,deploy"))
	res := h.ok("list_scopes", nil)
	assert.ElementsMatch(t, []string{"read", "write", "deploy"}, strs(res["ceiling"]))
	for _, s := range []string{"billing", "admin", "keys:write", "billing:read", "team_manage", "payments.write"} {
		msg := h.fail("create_key", map[string]any{"name": "x", "scopes": []any{s}})
		assert.Contains(t, msg, "KEYWARD_ALLOWED_SCOPES_LOCAL", s)
	}
	// An operator who names them explicitly may allow them.
	h = newHarness(t, withEnv("KEYWARD_LOCAL_SCOPES", "read,billing", "KEYWARD_ALLOWED_SCOPES_LOCAL", "read,billing", "KEYWARD_CONFIRM", "false"))
	h.ok("create_key", map[string]any{"name": "x", "scopes": []any{"billing"}})
}

// Arguments are checked in full before anything happens.
func TestWrongTypesChangeNothing(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_REVEAL", "inline", "KEYWARD_CONFIRM", "false"))
	k := h.ok("create_key", map[string]any{"name": "victim"})
	id, sec := k["key_id"].(string), k["secret"].(string)

	for _, c := range []struct {
		tool string
		args map[string]any
	}{
		{"revoke_key", map[string]any{"provider": []any{"local"}, "key_id": id}},
		{"set_key_active", map[string]any{"provider": 1, "key_id": id, "active": false}},
		{"set_key_active", map[string]any{"key_id": id, "active": "false"}},
		{"update_key", map[string]any{"key_id": id, "name": "x", "scopes": "read,write"}},
		{"update_key", map[string]any{"key_id": id, "name": 7}},
		{"rotate_key", map[string]any{"key_id": id, "grace": 5}},
		{"rotate_key", map[string]any{"key_id": id, "grace": "1h", "extra": true}},
		{"revoke_key", map[string]any{"key_id": []any{id}}},
		{"create_key", map[string]any{"name": "n", "expires_in": 30}},
		{"list_keys", map[string]any{"limit": 1.5}},
		{"list_keys", map[string]any{"provider": "nope"}},
		{"audit_log", map[string]any{"provider": "nope"}},
		{"audit_log", map[string]any{"cursor": "zzz"}},
		{"list_keys", map[string]any{"cursor": "zzz"}},
	} {
		msg := h.fail(c.tool, c.args)
		assert.NotEmpty(t, msg, c.tool)
		assert.True(t, h.valid("local", sec), "%s %v must change nothing", c.tool, c.args)
	}
	got := h.ok("get_key", map[string]any{"key_id": id})
	assert.Equal(t, "victim", got["name"])
	assert.Equal(t, true, got["active"])
}

// Oversized arguments are refused before any work, and neither echoed nor
// stored whole.
func TestOversizedArgumentsAreBounded(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	huge := strings.Repeat("A", 1<<20)
	before := dbSize(t, h)
	for _, c := range []struct {
		tool string
		args map[string]any
	}{
		{"revoke_key", map[string]any{"key_id": huge}},
		{"get_key", map[string]any{"key_id": huge}},
		{"update_key", map[string]any{"key_id": huge, "name": "x"}},
		{"create_key", map[string]any{"name": huge}},
		{"create_key", map[string]any{"name": "x", "scopes": []any{huge}}},
		{"create_key", map[string]any{"name": "x", "expires_in": huge}},
		{"rotate_key", map[string]any{"key_id": "k", "grace": huge}},
		{"list_keys", map[string]any{"cursor": huge}},
		{"list_keys", map[string]any{"provider": huge}},
		{"audit_log", map[string]any{"since": huge}},
		{"get_key", map[string]any{"key_id": "k", huge: 1}},
	} {
		// Once each: 11 calls of 1 MiB would grow the state file by 11 MiB if
		// any of it were kept. (Each costs a second under the race detector.)
		msg := h.fail(c.tool, c.args)
		assert.Less(t, len(msg), 2000, "%s echoes at most a bounded message", c.tool)
	}
	assert.Less(t, dbSize(t, h)-before, int64(1<<20), "refused calls do not grow the state file by their arguments")
	recs := h.ok("audit_log", map[string]any{"limit": 500})["records"].([]any)
	for _, r := range recs {
		for k, v := range r.(map[string]any) {
			if s, ok := v.(string); ok {
				assert.Less(t, len(s), 2100, "audit field %s is bounded", k)
			}
		}
	}
}

func dbSize(t *testing.T, h *harness) int64 {
	var n int64
	for _, suffix := range []string{"", "-wal"} {
		if fi, err := os.Stat(h.app.Config.DB + suffix); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// update_key never revokes anything; re-issue is its own, destructive tool.
func TestAnnotationsAreTrue(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	res, err := h.client.ListTools(t.Context(), mcp.ListToolsRequest{})
	require.NoError(t, err)
	tools := map[string]mcp.Tool{}
	for _, tl := range res.Tools {
		tools[tl.Name] = tl
	}
	upd := tools["update_key"]
	assert.False(t, *upd.Annotations.DestructiveHint)
	assert.NotContains(t, upd.InputSchema.Properties, "reissue", "update_key cannot revoke")
	re, ok := tools["reissue_key"]
	require.True(t, ok, "reissue_key exists")
	assert.True(t, *re.Annotations.DestructiveHint)
	assert.False(t, *re.Annotations.IdempotentHint)
	for name, tl := range tools {
		assert.Equal(t, false, tl.InputSchema.AdditionalProperties, "%s refuses unknown arguments in its schema", name)
	}
}

// With KEYWARD_CONFIRM=true and a client that cannot ask, the act proceeds,
// and the result and the audit say nobody was asked; with required it is refused.
func TestConfirmationIsRecorded(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_CONFIRM", "true"))
	id := h.ok("create_key", map[string]any{"name": "x"})["key_id"].(string)
	res := h.ok("revoke_key", map[string]any{"key_id": id})
	assert.Equal(t, "could_not_ask", res["confirmation"])
	rec := lastAudit(t, h)
	assert.Equal(t, "could_not_ask", rec["confirmation"])

	h = newHarness(t, withEnv("KEYWARD_CONFIRM", "required"))
	id = h.ok("create_key", map[string]any{"name": "x"})["key_id"].(string)
	msg := h.fail("revoke_key", map[string]any{"key_id": id})
	assert.Contains(t, msg, "KEYWARD_CONFIRM")
	assert.Len(t, keyIDs(h.ok("list_keys", nil)), 1, "nothing was revoked")
	rec = lastAudit(t, h)
	assert.Equal(t, "refused", rec["outcome"])
	assert.Equal(t, "could_not_ask", rec["confirmation"])
	assert.Contains(t, h.fail("create_key", map[string]any{"name": "w", "scopes": []any{"write"}}), "KEYWARD_CONFIRM")

	hu := &human{action: mcp.ElicitationResponseActionAccept, content: map[string]any{"confirm": true}}
	h = newHarness(t, withEnv("KEYWARD_CONFIRM", "required"), withHuman(hu))
	id = h.ok("create_key", map[string]any{"name": "x"})["key_id"].(string)
	res = h.ok("revoke_key", map[string]any{"key_id": id})
	assert.Equal(t, "confirmed", res["confirmation"])
	assert.Equal(t, "confirmed", lastAudit(t, h)["confirmation"])

	h = newHarness(t, withEnv("KEYWARD_CONFIRM", "false"))
	id = h.ok("create_key", map[string]any{"name": "x"})["key_id"].(string)
	assert.Equal(t, "not_asked", h.ok("revoke_key", map[string]any{"key_id": id})["confirmation"])
}

// Names refuse control characters and invisible or bidirectional format characters.
func TestNamesRefuseInvisibleCharacters(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, bad := range []string{"a\nb", "a\x1b[31mb", "evil\u202Egnp.exe", "a\u2066b", "a\u200Bb", "a\u2028b", "\uFEFFa", "a\x7fb", "a\u0085b"} {
		msg := h.fail("create_key", map[string]any{"name": bad})
		assert.Contains(t, msg, "name", "%q", bad)
		assert.NotContains(t, msg, bad, "the bad name is not echoed raw")
	}
	assert.Empty(t, keyIDs(h.ok("list_keys", nil)))
	h.ok("create_key", map[string]any{"name": "déploiement ✓ ci"})
}

// Every tool's schema is enforced: a wrong type for each of its arguments is
// refused with a sentence naming the argument (a schema that failed to
// compile would be skipped by mcp-go without a word).
func TestEveryToolEnforcesItsSchema(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	res, err := h.client.ListTools(t.Context(), mcp.ListToolsRequest{})
	require.NoError(t, err)
	for _, tl := range res.Tools {
		for name, p := range tl.InputSchema.Properties {
			wrong := any("not-a-bool")
			if p.(map[string]any)["type"] == "string" {
				wrong = 12
			}
			args := map[string]any{name: wrong}
			for _, r := range tl.InputSchema.Required {
				if r != name {
					args[r] = map[string]any{"key_id": "key_x", "name": "n", "active": true}[r]
				}
			}
			msg := h.fail(tl.Name, args)
			assert.Contains(t, msg, name+" must be", "%s.%s", tl.Name, name)
			assert.Contains(t, msg, "nothing was done", tl.Name)
		}
		msg := h.fail(tl.Name, map[string]any{"bogus_argument": 1})
		assert.Contains(t, msg, `unknown argument "bogus_argument"`, tl.Name)
	}
}

// A secret passed where an id, a name or a filter belongs is refused before
// anything happens, and is neither echoed, logged nor stored.
func TestSecretsWhereIDsBelongAreNotRecorded(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_REVEAL", "inline", "KEYWARD_CONFIRM", "false"))
	k := h.ok("create_key", map[string]any{"name": "victim"})
	sec := k["secret"].(string)
	vast := strings.Repeat("0123456789abcdef", 4) // a Vast.ai key's shape
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyMTIzIiwiaWF0IjoxNzAwMDAwMDAwfQ.c2lnbmF0dXJlc2lnbmF0dXJlc2ln"
	h.secrets = append(h.secrets, vast, jwt)
	for _, s := range []string{sec, vast, jwt, "Bearer " + jwt} {
		for _, c := range []struct {
			tool string
			args map[string]any
		}{
			{"revoke_key", map[string]any{"key_id": s}},
			{"get_key", map[string]any{"key_id": s}},
			{"update_key", map[string]any{"key_id": s, "name": "x"}},
			{"rotate_key", map[string]any{"key_id": s}},
			{"set_key_active", map[string]any{"key_id": s, "active": false}},
			{"reissue_key", map[string]any{"key_id": s}},
			{"create_key", map[string]any{"name": "for " + s}},
			{"list_keys", map[string]any{"name": s}},
			{"audit_log", map[string]any{"key_id": s}},
		} {
			res := h.call(c.tool, c.args)
			require.True(t, res.IsError, "%s with a secret must be refused", c.tool)
			assert.NotContains(t, text(res), s, c.tool)
			assert.NotContains(t, text(res), strings.TrimPrefix(s, "Bearer ")[:20], "%s echoes no part of it", c.tool)
		}
	}
	assert.True(t, h.valid("local", sec), "nothing was revoked")
	recs := h.ok("audit_log", map[string]any{"limit": 500})["records"].([]any)
	assert.NotEmpty(t, recs, "the refusals are audited (masked)")
	// scanForLeaks (cleanup) checks logs, audit log and state file for every secret.
}

// list_keys and get_key say which client created each key keyward made; a
// validation's mask is the mask of the secret checked.
func TestWhoMadeThisKeyAndWhichSecretWasChecked(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_REVEAL", "inline", "KEYWARD_CONFIRM", "false"))
	k := h.ok("create_key", map[string]any{"name": "made"})
	assert.Equal(t, "test-client 1.2.3", h.ok("get_key", map[string]any{"key_id": k["key_id"]})["created_by"])
	assert.Equal(t, "test-client 1.2.3", h.ok("list_keys", nil)["keys"].([]any)[0].(map[string]any)["created_by"])

	old := k["secret"].(string)
	rot := h.ok("rotate_key", map[string]any{"key_id": k["key_id"], "grace": "1h"})
	v := h.ok("validate_key", map[string]any{"key": old})
	assert.Equal(t, secretMask(old), v["masked"], "the old secret's mask, not the new one's")
	assert.NotEqual(t, rot["masked"], v["masked"])
}

func secretMask(s string) string { return secret.Mask(s) }
