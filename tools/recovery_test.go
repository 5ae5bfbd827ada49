package tools_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/secret"
)

// A create whose process died between creating the key and recording it is
// undone: the key is revoked, its secret file removed, and the audit says so.
func TestReconcileUndoesInterruptedCreates(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	ctx := t.Context()
	db := h.app.Store.DB()
	now := h.clock.Now().UnixMilli()
	dead := "some-other-host/1/deadbeef" // not this host: only the lease decides
	insert := func(id, keyID, file string) {
		_, err := db.ExecContext(ctx, `INSERT INTO create_intents (id, provider, name, tool, holder, started_at, heartbeat_at, key_id, secret_file) VALUES (?, 'local', 'interrupted', 'create_key', ?, ?, ?, ?, ?)`,
			id, dead, now, now, keyID, file)
		require.NoError(t, err)
	}
	// 1: crashed after the key existed, before its id was noted: found by request id.
	c1, err := h.app.Local.Create(ctx, provider.CreateRequest{Name: "interrupted", Scopes: []string{"read"}, RequestID: "req_one"})
	require.NoError(t, err)
	h.secrets = append(h.secrets, c1.Secret)
	f1, err := secret.WriteFile(h.app.Config.SecretsDir, "local", c1.Key.ID, c1.Secret)
	require.NoError(t, err)
	insert("req_one", "", "")
	// 2: crashed after the secret file was written and noted.
	c2, err := h.app.Local.Create(ctx, provider.CreateRequest{Name: "interrupted", Scopes: []string{"read"}, RequestID: "req_two"})
	require.NoError(t, err)
	h.secrets = append(h.secrets, c2.Secret)
	f2, err := secret.WriteFile(h.app.Config.SecretsDir, "local", c2.Key.ID, c2.Secret)
	require.NoError(t, err)
	insert("req_two", c2.Key.ID, f2)
	// 3: crashed before the provider made anything.
	insert("req_three", "", "")
	// 4: a create in flight in a live process elsewhere is left alone until its lease ends.
	_, err = db.ExecContext(ctx, `INSERT INTO create_intents (id, provider, name, tool, holder, started_at, heartbeat_at) VALUES ('req_four', 'local', 'x', 'create_key', ?, ?, ?)`, dead, now, now)
	require.NoError(t, err)

	n, err := h.app.Manager.Reconcile(ctx)
	require.NoError(t, err)
	assert.Zero(t, n, "intents of a process that may be alive wait for their lease")

	h.clock.Advance(3 * 60 * 1e9)
	n, err = h.app.Manager.Reconcile(ctx)
	require.NoError(t, err)
	assert.Equal(t, 4, n, "two keys undone, and two creates that made nothing settled (one of them once its lease ended)")

	for _, s := range []string{c1.Secret, c2.Secret} {
		assert.False(t, h.valid("local", s), "an undelivered key is revoked")
	}
	for _, f := range []string{f1, f2} {
		_, err := os.Stat(f)
		assert.True(t, os.IsNotExist(err), "%s is removed", filepath.Base(f))
	}
	var left int
	require.NoError(t, db.QueryRowContext(ctx, `SELECT count(*) FROM create_intents`).Scan(&left))
	assert.Zero(t, left)
	recs := h.ok("audit_log", map[string]any{"limit": 10})["records"].([]any)
	var recovered []string
	for _, r := range recs {
		rec := r.(map[string]any)
		if rec["tool"] == "recovery" {
			recovered = append(recovered, rec["key_id"].(string))
			assert.Equal(t, "ok", rec["outcome"])
			assert.Contains(t, rec["detail"], "revoked")
		}
	}
	assert.ElementsMatch(t, []string{c1.Key.ID, c2.Key.ID}, recovered)
}
