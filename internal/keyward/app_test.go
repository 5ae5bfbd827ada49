package keyward

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/testutil"
)

// newApp builds keyward from the given settings on a fresh state file.
func newApp(t *testing.T, env map[string]string) (*App, string, error) {
	t.Helper()
	vars := map[string]string{"KEYWARD_DB": filepath.Join(t.TempDir(), "keyward.db")}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.LoadFrom(vars)
	require.NoError(t, err, "config alone cannot see these contradictions")
	logs := &testutil.SyncBuffer{}
	app, err := New(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, nil)))
	if app != nil {
		t.Cleanup(func() { assert.NoError(t, app.Close()) })
	}
	return app, logs.String(), err
}

// Issue 8: settings that contradict each other, or the providers' scope
// vocabularies, used to start silently and mint keys above the ceiling.
func TestNewRefusesContradictoryScopeSettings(t *testing.T) {
	app, _, err := newApp(t, map[string]string{
		"KEYWARD_DEFAULT_SCOPES_LOCAL":  "write",
		"KEYWARD_ALLOWED_SCOPES_LOCAL":  "read",
		"KEYWARD_DEFAULT_SCOPES_VAST":   "user_read",                // Vast.ai is not configured: checked all the same
		"KEYWARD_ALLOWED_SCOPES_LIUM":   "read,rent,gpu",            // not a Lium scope
		"KEYWARD_ALLOWED_SCOPES_LYCEUM": "read",                     // Lyceum keys have no scopes
		"LYCEUM_API_KEY":                "lyceum-key-not-used-here", // configured
		"LYCEUM_API_URL":                "http://127.0.0.1:1",
	})
	require.Error(t, err)
	assert.Nil(t, app)
	for _, want := range []string{
		"KEYWARD_DEFAULT_SCOPES_LOCAL gives write, which KEYWARD_ALLOWED_SCOPES_LOCAL (read) does not allow",
		"KEYWARD_DEFAULT_SCOPES_VAST gives user_read, which is above the default ceiling on Vast.ai",
		`KEYWARD_ALLOWED_SCOPES_LIUM names "gpu", which is not a scope of Lium`,
		"KEYWARD_ALLOWED_SCOPES_LYCEUM is set, but Lyceum keys have no scopes",
	} {
		assert.Contains(t, err.Error(), want)
	}
	assert.NotContains(t, err.Error(), "lyceum-key-not-used-here")
}

func TestNewAcceptsConsistentScopeSettings(t *testing.T) {
	app, logs, err := newApp(t, map[string]string{
		"KEYWARD_LOCAL_SCOPES":         "deploy,logs.read",
		"KEYWARD_DEFAULT_SCOPES_LOCAL": "logs.read",
		"KEYWARD_ALLOWED_SCOPES_LOCAL": "logs.read,deploy",
		"KEYWARD_DEFAULT_SCOPES_VAST":  "instance_read,machine_read",
		"KEYWARD_ALLOWED_SCOPES_VAST":  "instance_read,machine_read,billing_read",
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"local"}, app.Manager.ProviderNames())
	assert.Contains(t, logs, "KEYWARD_DEFAULT_SCOPES_VAST is set but VAST_API_KEY is not", "a setting waiting for its platform is logged")
}
