package tools_test

import (
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/fakeserver"
	"github.com/keyward/keyward/internal/secret"
)

// A program pointed at a key's secret file keeps working across rotations:
// the file keeps its path, its content is replaced, and the old secret stays
// readable beside it (".previous") for as long as it works.

func absent(t *testing.T, path, why string) {
	t.Helper()
	_, err := os.Lstat(path)
	assert.True(t, os.IsNotExist(err), "%s: %s is still there", why, path)
}

// onlyFiles asserts the secrets directory holds exactly these files (no
// staging leftovers, no stale secrets).
func onlyFiles(t *testing.T, h *harness, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(h.app.Config.SecretsDir)
	require.NoError(t, err)
	var got []string
	for _, e := range entries {
		got = append(got, h.app.Config.SecretsDir+"/"+e.Name())
	}
	assert.ElementsMatch(t, want, got)
}

func TestSecretFileKeepsItsPathAcrossNativeRotation(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_CONFIRM", "false"))
	created := h.ok("create_key", map[string]any{"name": "svc"})
	id, path := created["key_id"].(string), created["secret_file"].(string)
	prev := path + ".previous"
	s0 := readSecret(t, path)

	// With a grace: same path, new content, the old secret beside it.
	rot := h.ok("rotate_key", map[string]any{"key_id": id, "grace": "1h"})
	assert.Equal(t, path, rot["secret_file"], "the path does not change")
	assert.Equal(t, prev, rot["previous_secret_file"])
	s1 := readSecret(t, path)
	assert.NotEqual(t, s0, s1)
	assert.Equal(t, s0, readSecret(t, prev), "the old secret stays readable during its grace")
	assert.True(t, h.valid("local", s0), "and it still works")
	onlyFiles(t, h, path, prev)

	// The grace ends: the old secret stops, and its file goes with it.
	h.clock.Advance(time.Hour + time.Second)
	assert.False(t, h.valid("local", s0))
	_, err := h.app.Manager.Reap(t.Context())
	require.NoError(t, err)
	absent(t, prev, "the grace is over")
	assert.Equal(t, s1, readSecret(t, path))

	// Without a grace: same path, and nothing beside it.
	rot = h.ok("rotate_key", map[string]any{"key_id": id})
	assert.Equal(t, path, rot["secret_file"])
	assert.Nil(t, rot["previous_secret_file"])
	s2 := readSecret(t, path)
	assert.NotEqual(t, s1, s2)
	onlyFiles(t, h, path)

	// A rotation without grace ends an earlier grace too, and its file.
	h.ok("rotate_key", map[string]any{"key_id": id, "grace": "1h"})
	require.FileExists(t, prev)
	h.ok("rotate_key", map[string]any{"key_id": id})
	assert.False(t, h.valid("local", s2), "the platform ended the earlier grace")
	onlyFiles(t, h, path)

	// Revoking removes both files.
	h.ok("rotate_key", map[string]any{"key_id": id, "grace": "1h"})
	require.FileExists(t, prev)
	rev := h.ok("revoke_key", map[string]any{"key_id": id})
	assert.Equal(t, path, rev["secret_file_removed"])
	onlyFiles(t, h)
	_, err = h.app.Manager.Reap(t.Context())
	require.NoError(t, err)
	h.clock.Advance(2 * time.Hour)
	_, err = h.app.Manager.Reap(t.Context())
	require.NoError(t, err)
	onlyFiles(t, h)
}

// On a platform without native rotation, a rotation or re-issue makes a new
// key; it takes over the old key's file, whose secret stays beside it until
// keyward revokes the old key.
func TestSecretFileKeepsItsPathAcrossReplacement(t *testing.T) {
	t.Parallel()
	h, _ := vastPlatform(t).harness(t, "KEYWARD_REVEAL", "file", "KEYWARD_CONFIRM", "false")
	created := h.ok("create_key", vastOn("name", "svc", "expires_in", "30d"))
	k1, path := created["key_id"].(string), created["secret_file"].(string)
	prev := path + ".previous"
	s1 := readSecret(t, path)

	// Rotation by replacement with a grace.
	rot := h.ok("rotate_key", vastOn("key_id", k1, "grace", "2h"))
	k2 := rot["key_id"].(string)
	assert.NotEqual(t, k1, k2, "a new key")
	assert.Equal(t, path, rot["secret_file"], "which takes over the old key's file")
	assert.Equal(t, prev, rot["previous_secret_file"])
	s2 := readSecret(t, path)
	assert.NotEqual(t, s1, s2)
	assert.Equal(t, s1, readSecret(t, prev), "the old key's secret stays beside it")
	assert.True(t, h.valid("vast", s1))
	onlyFiles(t, h, path, prev)

	// The reaper revokes the old key when its grace ends, and removes its file.
	h.clock.Advance(2*time.Hour + time.Minute)
	n, err := h.app.Manager.Reap(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.False(t, h.valid("vast", s1))
	absent(t, prev, "the old key is revoked")
	assert.Equal(t, s2, readSecret(t, path))

	// reissue_key (the old key is revoked at once): same path, nothing beside it.
	re := h.ok("reissue_key", vastOn("key_id", k2, "name", "svc-2"))
	k3 := re["key_id"].(string)
	assert.Equal(t, k2, re["replaced_key_id"])
	assert.Equal(t, path, re["secret_file"])
	assert.Nil(t, re["previous_secret_file"])
	s3 := readSecret(t, path)
	assert.NotEqual(t, s2, s3)
	assert.False(t, h.valid("vast", s2))
	onlyFiles(t, h, path)

	// Rotation by replacement without a grace: the same.
	rot = h.ok("rotate_key", vastOn("key_id", k3))
	k4 := rot["key_id"].(string)
	assert.Equal(t, path, rot["secret_file"])
	assert.False(t, h.valid("vast", s3))
	onlyFiles(t, h, path)

	// A replacement with a grace, then the new key revoked: its file goes;
	// the old key's secret stays until the old key goes.
	rot = h.ok("rotate_key", vastOn("key_id", k4, "grace", "1h"))
	k5 := rot["key_id"].(string)
	s4 := readSecret(t, prev)
	assert.True(t, h.valid("vast", s4))
	rev := h.ok("revoke_key", vastOn("key_id", k5))
	assert.Equal(t, path, rev["secret_file_removed"])
	onlyFiles(t, h, prev)
	h.ok("revoke_key", vastOn("key_id", k4))
	onlyFiles(t, h)
}

// In elicit mode the file holds a secret until the human has it. A rotation
// the human acknowledged leaves no current file; the old secret, which was in
// the file, stays beside it until its grace ends.
func TestSecretFileInElicitMode(t *testing.T) {
	t.Parallel()
	hu := &human{action: mcp.ElicitationResponseActionDecline}
	h := newHarness(t, withHuman(hu), withEnv("KEYWARD_REVEAL", "elicit", "KEYWARD_CONFIRM", "false"))
	created := h.ok("create_key", map[string]any{"name": "svc"})
	id, path := created["key_id"].(string), created["secret_file"].(string)
	require.NotEmpty(t, path, "not acknowledged: it stays in its file")
	s0 := readSecret(t, path)

	hu.mu.Lock()
	hu.action, hu.content = mcp.ElicitationResponseActionAccept, map[string]any{"copied": true}
	hu.mu.Unlock()
	rot := h.ok("rotate_key", map[string]any{"key_id": id, "grace": "1h"})
	assert.Equal(t, true, rot["acknowledged"])
	assert.Nil(t, rot["secret_file"], "the human has the new secret")
	assert.Equal(t, path+".previous", rot["previous_secret_file"])
	assert.Equal(t, s0, readSecret(t, path+".previous"))
	onlyFiles(t, h, path+".previous")

	h.clock.Advance(time.Hour + time.Second)
	_, err := h.app.Manager.Reap(t.Context())
	require.NoError(t, err)
	onlyFiles(t, h)

	// With no file left, the next secret starts one of its own at the same name.
	hu.mu.Lock()
	hu.action, hu.content = mcp.ElicitationResponseActionDecline, nil
	hu.mu.Unlock()
	rot = h.ok("rotate_key", map[string]any{"key_id": id})
	assert.Equal(t, path, rot["secret_file"])
	onlyFiles(t, h, path)
}

// Inline mode writes no file; a file an earlier setting left is the old
// secret's, and is kept beside its path only for the grace.
func TestSecretFileInInlineMode(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_REVEAL", "inline", "KEYWARD_CONFIRM", "false"))
	id := h.ok("create_key", map[string]any{"name": "svc"})["key_id"].(string)
	rot := h.ok("rotate_key", map[string]any{"key_id": id, "grace": "1h"})
	assert.NotEmpty(t, rot["secret"])
	assert.Nil(t, rot["secret_file"])
	assert.Nil(t, rot["previous_secret_file"])
	_, err := os.Stat(h.app.Config.SecretsDir)
	assert.True(t, os.IsNotExist(err), "inline mode writes no file")
}

// A replacement that took over the old key's file and then died before it
// was recorded is undone by recovery: the new key is revoked, and the old
// secret goes back into its file, whether or not the new one had reached it.
func TestRecoveryGivesATakenOverFileBack(t *testing.T) {
	t.Parallel()
	for _, switched := range []bool{true, false} {
		t.Run(map[bool]string{true: "after the switch", false: "before the switch"}[switched], func(t *testing.T) {
			h := newHarness(t, withEnv("KEYWARD_CONFIRM", "false"))
			ctx := t.Context()
			created := h.ok("create_key", map[string]any{"name": "svc"})
			id, path := created["key_id"].(string), created["secret_file"].(string)
			s1 := readSecret(t, path)

			// What reissue_key had done when the process died.
			c2, err := h.app.Local.Create(ctx, provider.CreateRequest{Name: "svc", Scopes: []string{"read"}, RequestID: "req_take"})
			require.NoError(t, err)
			h.secrets = append(h.secrets, c2.Secret)
			kept, err := secret.KeepPrevious(path)
			require.NoError(t, err)
			require.True(t, kept)
			now := h.clock.Now().UnixMilli()
			_, err = h.app.Store.DB().ExecContext(ctx, `INSERT INTO create_intents (id, provider, name, tool, holder, started_at, heartbeat_at, key_id, secret_file) VALUES ('req_take', 'local', 'svc', 'reissue_key', 'some-other-host/1/deadbeef', ?, ?, ?, ?)`,
				now, now, c2.Key.ID, path)
			require.NoError(t, err)
			if switched {
				require.NoError(t, secret.ReplaceFile(h.app.Config.SecretsDir, path, c2.Secret))
			} else {
				require.NoError(t, os.WriteFile(path+".new", []byte(c2.Secret+"\n"), 0o600))
			}

			h.clock.Advance(3 * time.Minute)
			n, err := h.app.Manager.Reconcile(ctx)
			require.NoError(t, err)
			assert.Equal(t, 1, n)
			assert.False(t, h.valid("local", c2.Secret), "the unrecorded replacement is revoked")
			assert.Equal(t, s1, readSecret(t, path), "the old key keeps its file and its secret")
			assert.True(t, h.valid("local", s1))
			onlyFiles(t, h, path)
			assert.Equal(t, "ci", h.ok("update_key", map[string]any{"key_id": id, "name": "ci"})["name"], "the old key is live and unchanged")
		})
	}
}

// Files a crash left beside the secret files are settled: the new secret of
// a rotation interrupted before it reached its file is moved into place (the
// platform issued it), and copies and old secrets nothing records are
// removed. Files younger than the journal's lease may belong to a change in
// flight and are left alone.
func TestRecoverySettlesLeftoverFiles(t *testing.T) {
	t.Parallel()
	h := newHarness(t, withEnv("KEYWARD_CONFIRM", "false"))
	ctx := t.Context()
	created := h.ok("create_key", map[string]any{"name": "svc"})
	id, path := created["key_id"].(string), created["secret_file"].(string)
	dir := h.app.Config.SecretsDir

	// The platform rotated the key; keyward died before renaming the new secret into place.
	rotated, err := h.app.Local.Rotate(ctx, id, provider.RotateRequest{})
	require.NoError(t, err)
	h.secrets = append(h.secrets, rotated.Secret)
	staged := path + ".new"
	require.NoError(t, os.WriteFile(staged, []byte(rotated.Secret+"\n"), 0o600))
	copying := path + ".previous.new"
	require.NoError(t, os.WriteFile(copying, []byte("partial"), 0o600))
	orphan := dir + "/local-key_gone.key.previous"
	require.NoError(t, os.WriteFile(orphan, []byte("old"), 0o600))
	orphanStaged := dir + "/local-key_gone.key.new"
	require.NoError(t, os.WriteFile(orphanStaged, []byte("new"), 0o600))
	young := dir + "/local-key_busy.key.previous"
	require.NoError(t, os.WriteFile(young, []byte("in flight"), 0o600))
	notOurs := dir + "/notes.txt"
	require.NoError(t, os.WriteFile(notOurs, []byte("keep"), 0o600))
	old := time.Now().Add(-time.Hour)
	for _, f := range []string{staged, copying, orphan, orphanStaged, notOurs} {
		require.NoError(t, os.Chtimes(f, old, old))
	}

	_, err = h.app.Manager.Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, rotated.Secret, readSecret(t, path), "the interrupted rotation's secret reached its file")
	assert.True(t, h.valid("local", rotated.Secret))
	onlyFiles(t, h, path, young, notOurs)
}

// A replacement whose old key cannot be revoked leaves the old key working:
// its secret stays beside the file (and the answer says where) until the old
// key is revoked.
func TestSecretFileOfAnOldKeyThatCouldNotBeRevoked(t *testing.T) {
	t.Parallel()
	h, fk := vastPlatform(t).harness(t, "KEYWARD_REVEAL", "file", "KEYWARD_CONFIRM", "false")
	created := h.ok("create_key", vastOn("name", "svc", "expires_in", "30d"))
	k1, path := created["key_id"].(string), created["secret_file"].(string)
	s1 := readSecret(t, path)

	fk.Faults().Set(fakeserver.Fault{Method: http.MethodDelete, Status: http.StatusInternalServerError, Body: `{"error": "down"}`})
	re := h.ok("reissue_key", vastOn("key_id", k1, "name", "svc-2"))
	fk.Faults().Clear()
	notes := strings.Join(strs(re["notes"]), "\n")
	assert.Contains(t, notes, "the old key "+k1+" could NOT be revoked")
	assert.Contains(t, notes, "the old secret stays readable in "+path+".previous until the old key is revoked")
	assert.Contains(t, text(h.call("get_key", vastOn("key_id", k1))), k1, "the old key is still there")
	assert.Equal(t, path, re["secret_file"])
	assert.Equal(t, path+".previous", re["previous_secret_file"], "its secret still works, and stays readable")
	assert.Equal(t, s1, readSecret(t, path+".previous"))
	assert.True(t, h.valid("vast", s1))

	rev := h.ok("revoke_key", vastOn("key_id", k1))
	assert.Equal(t, path+".previous", rev["secret_file_removed"])
	onlyFiles(t, h, path)
}
