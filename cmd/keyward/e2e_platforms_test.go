package main

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider/lyceum/lyceumfake"
	"github.com/keyward/keyward/internal/provider/vast/vastfake"
)

// TestStdioAgainstPlatformFakes drives the built binary over stdio with
// VAST_API_URL and LYCEUM_API_URL pointing at the contract fakes.
func TestStdioAgainstPlatformFakes(t *testing.T) {
	vast, lyceum := vastfake.New(), lyceumfake.New()
	defer vast.Close()
	defer lyceum.Close()
	dir := t.TempDir()
	p := spawn(t,
		"KEYWARD_DB="+filepath.Join(dir, "keyward.db"), "KEYWARD_REVEAL=inline", "HOME="+dir,
		"VAST_API_KEY="+vast.APIKey(), "VAST_API_URL="+vast.URL(),
		"LYCEUM_API_KEY="+lyceum.APIKey(), "LYCEUM_API_URL="+lyceum.URL(),
	)
	p.initialize()

	var names []string
	for _, pr := range p.tool("list_providers", nil, false)["providers"].([]any) {
		m := pr.(map[string]any)
		if m["configured"] == true {
			names = append(names, m["name"].(string))
		}
	}
	assert.Equal(t, []string{"local", "vast", "lyceum"}, names)

	who := p.tool("validate_key", map[string]any{"provider": "vast"}, false)
	assert.Equal(t, vastfake.UserEmail, who["whoami"].(map[string]any)["account"])

	k := p.tool("create_key", map[string]any{"provider": "vast", "name": "agent", "scopes": []string{"instance_read", "instance_write"}, "expires_in": "2h"}, false)
	secret := k["secret"].(string)
	assert.Equal(t, true, k["expiry_enforced_by_keyward"])
	assert.Equal(t, true, p.tool("validate_key", map[string]any{"provider": "vast", "key": secret}, false)["valid"])
	p.tool("update_key", map[string]any{"provider": "vast", "key_id": k["key_id"], "scopes": []string{"instance_read"}}, true)
	re := p.tool("reissue_key", map[string]any{"provider": "vast", "key_id": k["key_id"], "scopes": []string{"instance_read"}}, false)
	assert.Equal(t, []any{"instance_read"}, re["scopes"])
	assert.Equal(t, k["expires_at"], re["expires_at"], "re-issue keeps the deadline")
	assert.Equal(t, false, p.tool("validate_key", map[string]any{"provider": "vast", "key": secret}, false)["valid"])
	p.tool("revoke_key", map[string]any{"provider": "vast", "key_id": re["key_id"]}, false)

	// Lyceum keys have full access: refused unless the operator allows it.
	refused := p.tool("create_key", map[string]any{"provider": "lyceum", "name": "x"}, true)
	assert.Contains(t, refused["error"], "KEYWARD_ALLOW_FULL_ACCESS")
	id, _ := lyceum.AddKey("made-in-dashboard", nil)
	lk := p.tool("list_keys", map[string]any{"provider": "lyceum", "name": "dashboard"}, false)
	require.Len(t, lk["keys"], 1)
	p.tool("set_key_active", map[string]any{"provider": "lyceum", "key_id": id, "active": false}, false)
	assert.Equal(t, false, p.tool("get_key", map[string]any{"provider": "lyceum", "key_id": id}, false)["active"])

	out := p.stdoutText() + p.stderrText()
	assert.NotContains(t, out, vast.APIKey())
	assert.NotContains(t, out, lyceum.APIKey())
}
