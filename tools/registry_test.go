package tools_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

// KEYWARD_READ_ONLY=true wins over KEYWARD_TOOLS; write tools named in the
// allowlist are left out, and the log says which.
func TestReadOnlyModeLeavesOutNamedWriteTools(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_READ_ONLY", "true", "KEYWARD_TOOLS", "list_keys,create_key,revoke_key"))
	assert.Equal(t, []string{"list_keys"}, h.app.Tools)
	assert.Contains(t, h.logs.String(), "KEYWARD_TOOLS names create_key, revoke_key, which KEYWARD_READ_ONLY=true leaves out")
}
