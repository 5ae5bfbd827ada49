package tools_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readSecret(t *testing.T, path string) string {
	t.Helper()
	info, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "secret file mode")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return strings.TrimSpace(string(b))
}

func TestLifecycleOnLocal(t *testing.T) {
	t.Parallel()
	h := newHarness(t)

	created := h.ok("create_key", map[string]any{"name": "ci-read"})
	id := created["key_id"].(string)
	assert.Equal(t, []string{"read"}, strs(created["scopes"]), "no scopes → minimal read-only default")
	assert.Equal(t, "2026-12-23T12:00:00Z", created["expires_at"], "default expiry is 30 days")
	assert.Nil(t, created["secret"], "file mode never puts the secret in the result")
	secretPath := created["secret_file"].(string)
	secret := readSecret(t, secretPath)
	assert.True(t, strings.HasPrefix(secret, "kw_"))
	assert.Equal(t, secret[:7]+"…"+secret[len(secret)-4:], created["masked"])
	assert.NotContains(t, text(h.call("get_key", map[string]any{"key_id": id})), secret)

	list := h.ok("list_keys", map[string]any{})
	require.Len(t, list["keys"], 1)
	assert.Equal(t, id, list["keys"].([]any)[0].(map[string]any)["key_id"])

	got := h.ok("get_key", map[string]any{"key_id": id})
	assert.Equal(t, "ci-read", got["name"])
	assert.Nil(t, got["last_used_at"])

	v := h.ok("validate_key", map[string]any{"key": secret})
	assert.Equal(t, true, v["valid"])
	assert.Equal(t, id, v["key_id"])
	assert.Equal(t, []string{"read"}, strs(v["scopes"]))
	assert.NotNil(t, h.ok("get_key", map[string]any{"key_id": id})["last_used_at"], "validation records last use")

	up := h.ok("update_key", map[string]any{"key_id": id, "name": "ci-rw", "scopes": []any{"read", "write"}, "expires_in": "7d"})
	assert.Equal(t, "ci-rw", up["name"])
	assert.Equal(t, []string{"read", "write"}, strs(up["scopes"]))
	assert.Equal(t, "2026-11-30T12:00:00Z", up["expires_at"])

	off := h.ok("set_key_active", map[string]any{"key_id": id, "active": false})
	assert.Equal(t, false, off["active"])
	v = h.ok("validate_key", map[string]any{"key": secret})
	assert.Equal(t, false, v["valid"])
	assert.Equal(t, "disabled", v["status"])
	h.ok("set_key_active", map[string]any{"key_id": id, "active": true})
	assert.Equal(t, true, h.ok("validate_key", map[string]any{"key": secret})["valid"])

	rot := h.ok("rotate_key", map[string]any{"key_id": id, "grace": "1h"})
	assert.Equal(t, id, rot["key_id"], "local rotation keeps the id")
	assert.Equal(t, up["expires_at"], rot["expires_at"], "rotation keeps the original expiry")
	assert.Equal(t, []string{"read", "write"}, strs(rot["scopes"]), "rotation keeps the scopes")
	newSecret := readSecret(t, rot["secret_file"].(string))
	assert.NotEqual(t, secret, newSecret)
	assert.Equal(t, true, h.ok("validate_key", map[string]any{"key": secret})["valid"], "old secret valid during grace")
	assert.Equal(t, true, h.ok("validate_key", map[string]any{"key": newSecret})["valid"])
	assert.Equal(t, secretPath, rot["secret_file"], "the secret file keeps its path")
	assert.Equal(t, secret, readSecret(t, secretPath+".previous"), "the old secret stays beside it during the grace")

	h.clock.Advance(time.Hour + time.Second)
	v = h.ok("validate_key", map[string]any{"key": secret})
	assert.Equal(t, "revoked", v["status"], "old secret stops after grace")
	assert.Equal(t, true, h.ok("validate_key", map[string]any{"key": newSecret})["valid"])

	rev := h.ok("revoke_key", map[string]any{"key_id": id})
	assert.Equal(t, true, rev["revoked"])
	assert.Equal(t, rot["secret_file"], rev["secret_file_removed"])
	_, err := os.Stat(secretPath + ".previous")
	assert.True(t, os.IsNotExist(err), "revoking removes the previous secret's file too")
	assert.Equal(t, "revoked", h.ok("validate_key", map[string]any{"key": newSecret})["status"])
	assert.Empty(t, h.ok("list_keys", map[string]any{})["keys"])
	assert.Contains(t, h.fail("get_key", map[string]any{"key_id": id}), "revoked")

	log := h.ok("audit_log", map[string]any{})
	var tools []string
	for _, r := range log["records"].([]any) {
		rec := r.(map[string]any)
		tools = append(tools, rec["tool"].(string)+":"+rec["outcome"].(string))
		assert.Equal(t, "test-client", rec["client_name"])
		assert.Equal(t, "1.2.3", rec["client_version"])
		assert.Equal(t, id, rec["key_id"])
	}
	assert.Equal(t, []string{"revoke_key:ok", "rotate_key:ok", "set_key_active:ok", "set_key_active:ok", "update_key:ok", "create_key:ok"}, tools)
	upd := log["records"].([]any)[4].(map[string]any)
	assert.Equal(t, []string{"read"}, strs(upd["scopes_before"]))
	assert.Equal(t, []string{"read", "write"}, strs(upd["scopes_after"]))
}

func TestInlineRevealReturnsSecretOnce(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_REVEAL", "inline"))
	created := h.ok("create_key", map[string]any{"name": "inline"})
	secret := created["secret"].(string)
	assert.Contains(t, text(h.call("create_key", map[string]any{"name": "other"})), "Secret (shown once)")
	assert.Equal(t, true, h.ok("validate_key", map[string]any{"key": secret})["valid"])
	assert.NotContains(t, text(h.call("list_keys", map[string]any{})), secret)
	_, err := os.Stat(h.dir + "/secrets")
	assert.True(t, os.IsNotExist(err), "inline mode writes no file")
}

func TestErrorsSayWhatToDo(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	id := h.ok("create_key", map[string]any{"name": "x"})["key_id"].(string)
	cases := []struct {
		tool string
		args map[string]any
		want []string
	}{
		{"list_keys", map[string]any{"provider": "nope"}, []string{`provider must be one of "local"`, "nothing was done"}},
		{"list_keys", map[string]any{"provider": "vast"}, []string{"VAST_API_KEY"}},
		{"get_key", map[string]any{"key_id": "key_missing"}, []string{`no key with id "key_missing"`, "list_keys"}},
		{"get_key", map[string]any{}, []string{"key_id is required", "get_key takes key_id (required), provider"}},
		{"revoke_key", map[string]any{"key_id": "key_missing"}, []string{"no key with id"}},
		{"create_key", map[string]any{"name": "x", "expires_in": "soon"}, []string{"expires_in must be a duration such as", "30d"}},
		{"create_key", map[string]any{"name": "x", "expires_in": "0d"}, []string{"longer than zero"}},
		{"create_key", map[string]any{"name": "x", "expires_in": "91d"}, []string{"maximum of 90d", "KEYWARD_MAX_TTL"}},
		{"create_key", map[string]any{"name": "x", "expires_in": "never"}, []string{"never expire", "KEYWARD_ALLOW_NO_EXPIRY"}},
		{"create_key", map[string]any{"name": "x", "scopes": []any{"admin"}}, []string{`"admin" is not a scope`, "read, write"}},
		{"create_key", map[string]any{"name": "   "}, []string{"name is empty"}},
		{"create_key", map[string]any{}, []string{"name is required"}},
		{"create_key", map[string]any{"name": 7}, []string{"name must be a string, not a number"}},
		{"create_key", map[string]any{"name": "x", "scope": []any{"read"}}, []string{`unknown argument "scope"`, "scopes"}},
		{"create_key", map[string]any{"name": "x", "scopes": []any{1}}, []string{"scopes item 1 must be a string"}},
		{"validate_key", map[string]any{"key": "kw_short"}, []string{"invalid_format"}},
		{"update_key", map[string]any{"key_id": id}, []string{"nothing to change"}},
		{"update_key", map[string]any{"key_id": id, "scopes": []any{}}, []string{"scopes must have at least 1 item"}},
		{"set_key_active", map[string]any{"key_id": id}, []string{"active is required"}},
		{"update_key", map[string]any{"key_id": id, "reissue": true, "name": "y"}, []string{`unknown argument "reissue"`}},
		{"rotate_key", map[string]any{"key_id": id, "grace": "30d"}, []string{"maximum of 7d"}},
		{"list_keys", map[string]any{"limit": 0.5}, []string{"limit must be an integer, not a number"}},
		{"list_keys", map[string]any{"limit": 1000}, []string{"limit must be at most 200"}},
		{"list_keys", map[string]any{"cursor": "bogus"}, []string{"cursor must be the next_cursor of the previous answer"}},
		{"list_keys", map[string]any{"cursor": "after:key_gone"}, []string{"cursor is not valid", "first page"}},
		{"audit_log", map[string]any{"since": "yesterday"}, []string{"RFC 3339"}},
		{"audit_log", map[string]any{"outcome": "maybe"}, []string{`outcome must be one of "ok", "error", "refused", "declined"`}},
		{"audit_log", map[string]any{"cursor": "a1x"}, []string{"cursor must be the next_cursor"}},
	}
	for _, c := range cases {
		t.Run(c.tool, func(t *testing.T) {
			var msg string
			if c.tool == "validate_key" {
				res := h.ok(c.tool, c.args)
				assert.Equal(t, false, res["valid"])
				msg = res["status"].(string) + " " + res["reason"].(string)
			} else {
				msg = h.fail(c.tool, c.args)
			}
			for _, w := range c.want {
				assert.Contains(t, msg, w)
			}
		})
	}
}

func TestValidateRejectsTypoOffline(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_REVEAL", "inline"))
	secret := h.ok("create_key", map[string]any{"name": "x"})["secret"].(string)
	typo := []byte(secret)
	if typo[10] == 'a' {
		typo[10] = 'b'
	} else {
		typo[10] = 'a'
	}
	v := h.ok("validate_key", map[string]any{"key": string(typo)})
	assert.Equal(t, "invalid_format", v["status"])
	assert.Contains(t, v["reason"], "checksum")
	assert.NotContains(t, text(h.call("validate_key", map[string]any{"key": string(typo)})), string(typo), "the key is never echoed")
}

func TestKeyLimit(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_LOCAL_MAX_KEYS", "2"))
	h.ok("create_key", map[string]any{"name": "a"})
	id := h.ok("create_key", map[string]any{"name": "b"})["key_id"].(string)
	msg := h.fail("create_key", map[string]any{"name": "c"})
	assert.Contains(t, msg, "limit")
	assert.Contains(t, msg, "revoke_key")
	h.ok("revoke_key", map[string]any{"key_id": id})
	h.ok("create_key", map[string]any{"name": "c"})
}

func TestListFiltersAndPages(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	for _, n := range []string{"alpha", "beta", "gamma", "alphabet"} {
		h.ok("create_key", map[string]any{"name": n})
		h.clock.Advance(time.Second)
	}
	first := h.ok("list_keys", map[string]any{"limit": 3})
	require.Len(t, first["keys"], 3)
	assert.Equal(t, float64(4), first["total"])
	second := h.ok("list_keys", map[string]any{"limit": 3, "cursor": first["next_cursor"]})
	require.Len(t, second["keys"], 1)
	assert.Equal(t, "alphabet", second["keys"].([]any)[0].(map[string]any)["name"])
	assert.Nil(t, second["next_cursor"])

	named := h.ok("list_keys", map[string]any{"name": "ALPHA"})
	assert.Equal(t, float64(2), named["total"])
	id := named["keys"].([]any)[0].(map[string]any)["key_id"].(string)
	h.ok("set_key_active", map[string]any{"key_id": id, "active": false})
	assert.Equal(t, float64(1), h.ok("list_keys", map[string]any{"active": false})["total"])
	assert.Equal(t, float64(3), h.ok("list_keys", map[string]any{"active": true})["total"])
}

func TestWhoamiAndProviders(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	who := h.ok("validate_key", map[string]any{})
	assert.Equal(t, "local", who["whoami"].(map[string]any)["account"])
	p := h.ok("list_providers", map[string]any{})
	providers := p["providers"].([]any)
	assert.Equal(t, "local", providers[0].(map[string]any)["name"])
	assert.Equal(t, "30d", p["policy"].(map[string]any)["default_ttl"])
	s := h.ok("list_scopes", map[string]any{})
	assert.Equal(t, []string{"read"}, strs(s["default"]))
	assert.Equal(t, []string{"read", "write"}, strs(s["ceiling"]))
}
