package tools_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/secret"
)

func mask(s string) string { return s[:7] + "…" + s[len(s)-4:] }

// validate_key reads a secret file keyward wrote, so the agent never reads
// the secret into the conversation to check it.
func TestValidateKeyFromASecretFile(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_CONFIRM", "false"))
	created := h.ok("create_key", map[string]any{"name": "svc"})
	id, path := created["key_id"].(string), created["secret_file"].(string)
	s0 := readSecret(t, path)

	check := func(file string) map[string]any {
		t.Helper()
		res := h.call("validate_key", map[string]any{"secret_file": file})
		require.False(t, res.IsError, text(res))
		raw, err := json.Marshal(res.StructuredContent)
		require.NoError(t, err)
		for _, s := range h.secrets {
			assert.NotContains(t, text(res), s, "the secret is never in the answer")
			assert.NotContains(t, string(raw), s, "nor in its structured content")
		}
		return h.ok("validate_key", map[string]any{"secret_file": file})
	}
	v := check(path)
	assert.Equal(t, true, v["valid"])
	assert.Equal(t, id, v["key_id"])
	assert.Equal(t, mask(s0), v["masked"], "the mask of the secret in the file")

	// A .previous file is a secret file keyward wrote too.
	rot := h.ok("rotate_key", map[string]any{"key_id": id, "grace": "1h"})
	prev := rot["previous_secret_file"].(string)
	v = check(prev)
	assert.Equal(t, true, v["valid"], "the old secret works during its grace")
	assert.Equal(t, mask(s0), v["masked"])
	assert.NotEqual(t, rot["masked"], v["masked"], "not the mask of the key's current secret")
	v = check(path)
	assert.Equal(t, rot["masked"], v["masked"])

	h.clock.Advance(time.Hour + time.Second)
	v = check(prev)
	assert.Equal(t, false, v["valid"])
	assert.Equal(t, "revoked", v["status"])
}

// Anything but a regular secret file inside KEYWARD_SECRETS_DIR is refused,
// with a sentence that says why and what to do, and never what the file holds.
func TestValidateKeyRefusesFilesItDidNotWrite(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	created := h.ok("create_key", map[string]any{"name": "svc"})
	path := created["secret_file"].(string)
	working := readSecret(t, path)
	dir := h.app.Config.SecretsDir

	// A working secret outside the directory: keyward must not read it.
	outsideDir := t.TempDir()
	outside := filepath.Join(outsideDir, "local-key_elsewhere.key")
	require.NoError(t, os.WriteFile(outside, []byte(working+"\n"), 0o600))
	link := filepath.Join(dir, "local-key_link.key")
	require.NoError(t, os.Symlink(outside, link))
	sub := filepath.Join(dir, "local-key_dir.key")
	require.NoError(t, os.Mkdir(sub, 0o700))
	big := filepath.Join(dir, "local-key_big.key")
	require.NoError(t, os.WriteFile(big, []byte(strings.Repeat(working+"\n", 100)), 0o600))
	empty := filepath.Join(dir, "local-key_empty.key")
	require.NoError(t, os.WriteFile(empty, nil, 0o600))
	notes := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(notes, []byte(working), 0o600))

	for _, tc := range []struct {
		name string
		args map[string]any
		want []string
	}{
		{"outside the directory", map[string]any{"secret_file": outside}, []string{"is not inside KEYWARD_SECRETS_DIR (" + dir + ")", "keyward reads only the secret files it wrote there"}},
		{"a link that leads outside", map[string]any{"secret_file": link}, []string{"is a link to a file outside KEYWARD_SECRETS_DIR"}},
		{"a path with ..", map[string]any{"secret_file": dir + "/../secrets/" + filepath.Base(path)}, []string{`contains ".."`, "exactly as keyward reported it"}},
		{".. out of the directory", map[string]any{"secret_file": dir + "/../../" + filepath.Base(outsideDir) + "/local-key_elsewhere.key"}, []string{`contains ".."`}},
		{"a directory", map[string]any{"secret_file": sub}, []string{"is a directory, not a secret file"}},
		{"an oversized file", map[string]any{"secret_file": big}, []string{"bytes long", "holds one key", "so it was not read"}},
		{"an empty file", map[string]any{"secret_file": empty}, []string{"is empty"}},
		{"no such file", map[string]any{"secret_file": filepath.Join(dir, "local-key_gone.key")}, []string{"there is no file at", "when the key is revoked", "latest create_key, rotate_key or reissue_key answer"}},
		{"a relative path", map[string]any{"secret_file": filepath.Base(path)}, []string{"is not absolute", "full path"}},
		{"not a secret file's name", map[string]any{"secret_file": notes}, []string{"secret_file must be the path of a secret file keyward wrote, inside KEYWARD_SECRETS_DIR"}},
		{"key and secret_file together", map[string]any{"secret_file": path, "key": working}, []string{"give key or secret_file, not both"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg := h.fail("validate_key", tc.args)
			for _, w := range tc.want {
				assert.Contains(t, msg, w)
			}
			assert.NotContains(t, msg, working, "what the file holds is never echoed")
			assert.NotContains(t, msg, secret.Mask(working), "not even masked")
		})
	}
}

// A path is not a secret to the scan that refuses secrets where none belong,
// but a secret passed as a path is.
func TestValidateKeySecretFileIsScannedForSecrets(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_REVEAL", "inline"))
	s := h.ok("create_key", map[string]any{"name": "svc"})["secret"].(string)
	msg := h.fail("validate_key", map[string]any{"secret_file": "/tmp/" + s + ".key"})
	assert.Contains(t, msg, "secret_file holds what looks like a secret")
	assert.NotContains(t, msg, s)
}

// The path keyward gives is the path it takes back, wherever the state is:
// macOS's temporary directory has a random part (found by review, when the
// secret scanner took such paths for Base64 tokens and refused them).
func TestValidateKeySecretFileUnderARandomDirectory(t *testing.T) {
	root, err := os.MkdirTemp("", "") // no test name in it: its letters would make the path read as words
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(root) })
	base := filepath.Join(root, "kl", "9jx6jnm57kz4cf2hgkzd8ww40000gn", "T")
	require.NoError(t, os.MkdirAll(base, 0o700))
	h := newHarness(t, withEnv("KEYWARD_CONFIRM", "false", "KEYWARD_DB", filepath.Join(base, "keyward.db")))
	path := h.ok("create_key", map[string]any{"name": "svc"})["secret_file"].(string)
	res := h.call("validate_key", map[string]any{"secret_file": path})
	require.False(t, res.IsError, "validate_key refused the path keyward itself gave: %s", text(res))
}
