package config

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/provider/platforms"
	"github.com/keyward/keyward/internal/secret"
)

const day = 24 * time.Hour

// load isolates a test from the process environment: LoadFrom reads only the
// map, and the data directory comes from XDG_DATA_HOME.
func load(t *testing.T, env map[string]string) (*Config, error) {
	t.Helper()
	t.Setenv("XDG_DATA_HOME", filepath.Join(t.TempDir(), "xdg"))
	if env == nil {
		env = map[string]string{}
	}
	return LoadFrom(env)
}

func TestDefaults(t *testing.T) {
	xdg := filepath.Join(t.TempDir(), "data")
	t.Setenv("XDG_DATA_HOME", xdg)
	c, err := LoadFrom(map[string]string{})
	require.NoError(t, err)

	assert.Equal(t, filepath.Join(xdg, "keyward", "keyward.db"), c.DB)
	assert.Equal(t, filepath.Join(xdg, "keyward", "secrets"), c.SecretsDir)
	assert.Equal(t, secret.Mode(""), c.RevealMode, "unset: the transport picks (file on stdio)")
	assert.Equal(t, slog.LevelInfo, c.Level)
	assert.Equal(t, 30*day, c.DefaultTTL)
	assert.Equal(t, 90*day, c.MaxTTL)
	assert.Equal(t, 365*day, c.AuditRetention)
	assert.Equal(t, 5*time.Minute, c.ReapInterval)
	assert.Equal(t, 15*time.Second, c.ProviderTimeout)
	assert.Equal(t, 30*time.Minute, c.SessionIdle)
	assert.Equal(t, []string{"read", "write"}, c.LocalScopes)
	assert.Equal(t, 100, c.LocalMaxKeys)
	assert.False(t, c.AllowNoExpiry)
	assert.False(t, c.AllowFullAccess)
	assert.False(t, c.ReadOnly)
	assert.Equal(t, policy.ConfirmAsk, c.Confirm)
	assert.Equal(t, "127.0.0.1:8377", c.Addr)
	assert.Empty(t, c.HTTPToken)
	assert.Equal(t, 1000, c.MaxSessions)
	assert.Equal(t, 600, c.RateLimit)
	assert.Equal(t, int64(1<<20), c.MaxBodyBytes)
	assert.Equal(t, 2048, c.MaxConns)
	assert.Empty(t, c.Tools)
	for _, p := range platforms.All() {
		ps := c.Platform(p.Name)
		assert.Empty(t, ps.APIKey, p.Name)
		assert.Empty(t, ps.APIURL, p.Name)
	}

	r := c.Policy().Rules()
	assert.Equal(t, 30*day, r.DefaultTTL)
	assert.Equal(t, 90*day, r.MaxTTL)
	assert.False(t, r.AllowNoExpiry)
	assert.False(t, r.AllowFullAccess)
	assert.Empty(t, r.DefaultScopes)
	assert.Empty(t, r.AllowedScopes)
}

func TestLoadFromIgnoresProcessEnvironment(t *testing.T) {
	t.Setenv("KEYWARD_MAX_TTL", "forever")
	t.Setenv("KEYWARD_DB", "/nonexistent/elsewhere.db")
	t.Setenv("KEYWARD_ALLOW_NO_EXPIRY", "true")
	c, err := load(t, map[string]string{})
	require.NoError(t, err)
	assert.Equal(t, 90*day, c.MaxTTL)
	assert.NotEqual(t, "/nonexistent/elsewhere.db", c.DB)
	assert.False(t, c.AllowNoExpiry)
}

func TestSecretsDirBesideDB(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "state", "kw.db")
	c, err := load(t, map[string]string{"KEYWARD_DB": db})
	require.NoError(t, err)
	assert.Equal(t, db, c.DB)
	assert.Equal(t, filepath.Join(dir, "state", "secrets"), c.SecretsDir)

	c, err = load(t, map[string]string{"KEYWARD_DB": db, "KEYWARD_SECRETS_DIR": "/srv/keys"})
	require.NoError(t, err)
	assert.Equal(t, "/srv/keys", c.SecretsDir)
}

func TestParsedValues(t *testing.T) {
	c, err := load(t, map[string]string{
		"KEYWARD_REVEAL":            " INLINE ",
		"KEYWARD_LOG_LEVEL":         "debug",
		"KEYWARD_DEFAULT_TTL":       "12h",
		"KEYWARD_MAX_TTL":           "1y",
		"KEYWARD_ALLOW_NO_EXPIRY":   "true",
		"KEYWARD_ALLOW_FULL_ACCESS": "1",
		"KEYWARD_READ_ONLY":         "TRUE",
		"KEYWARD_CONFIRM":           "false",
		"KEYWARD_LOCAL_SCOPES":      " deploy , billing:read ,, logs.read ",
		"KEYWARD_LOCAL_MAX_KEYS":    "5",
		"KEYWARD_TOOLS":             "list_keys, get_key ,",
		"KEYWARD_AUDIT_RETENTION":   "2y",
		"KEYWARD_REAP_INTERVAL":     "90s",
		"KEYWARD_PROVIDER_TIMEOUT":  "1m",
		"KEYWARD_SESSION_IDLE":      "1d12h",
		"VAST_API_KEY":              "vk",
		"VAST_API_URL":              "http://127.0.0.1:9999/api/v0",
		"LURUS_API_URL":             "https://staging.lurus.example",
		"LIUM_SESSION_TOKEN":        "sess",
	})
	require.NoError(t, err)
	assert.Equal(t, secret.ModeInline, c.RevealMode)
	assert.Equal(t, slog.LevelDebug, c.Level)
	assert.Equal(t, 12*time.Hour, c.DefaultTTL)
	assert.Equal(t, 365*day, c.MaxTTL)
	assert.True(t, c.AllowNoExpiry)
	assert.True(t, c.AllowFullAccess)
	assert.True(t, c.ReadOnly)
	assert.Equal(t, policy.ConfirmOff, c.Confirm)
	assert.Equal(t, []string{"deploy", "billing:read", "logs.read"}, c.LocalScopes)
	assert.Equal(t, 5, c.LocalMaxKeys)
	assert.Equal(t, []string{"list_keys", "get_key"}, c.Tools)
	assert.Equal(t, 730*day, c.AuditRetention)
	assert.Equal(t, 90*time.Second, c.ReapInterval)
	assert.Equal(t, time.Minute, c.ProviderTimeout)
	assert.Equal(t, 36*time.Hour, c.SessionIdle)
	assert.Equal(t, "vk", c.Platform("vast").APIKey)
	assert.Equal(t, "http://127.0.0.1:9999/api/v0", c.Platform("vast").APIURL)
	assert.Equal(t, "https://staging.lurus.example", c.Platform("lurus").APIURL)
	assert.Equal(t, "sess", c.Platform("lium").Extra["LIUM_SESSION_TOKEN"])
	assert.Equal(t, PlatformSettings{}, c.Platform("nope"))
	assert.Equal(t, []string{"vk", "sess"}, c.Credentials())

	r := c.Policy().Rules()
	assert.Equal(t, 12*time.Hour, r.DefaultTTL)
	assert.Equal(t, 365*day, r.MaxTTL)
	assert.True(t, r.AllowNoExpiry)
	assert.True(t, r.AllowFullAccess)
}

func TestPerProviderScopes(t *testing.T) {
	c, err := load(t, map[string]string{
		"KEYWARD_DEFAULT_SCOPES_VAST":  "instance_read, machine_read",
		"KEYWARD_ALLOWED_SCOPES_VAST":  " instance_read,machine_read , billing_read,",
		"KEYWARD_DEFAULT_SCOPES_LOCAL": "read",
		"KEYWARD_ALLOWED_SCOPES_LURUS": "",
	})
	require.NoError(t, err)
	r := c.Policy().Rules()
	assert.Equal(t, map[string][]string{
		"vast":  {"instance_read", "machine_read"},
		"local": {"read"},
	}, r.DefaultScopes)
	assert.Equal(t, map[string][]string{
		"vast": {"instance_read", "machine_read", "billing_read"},
	}, r.AllowedScopes, "empty lists are left out")
}

func TestInvalidValuesNameTheVariable(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{"KEYWARD_MAX_TTL": "forever"}, []string{`KEYWARD_MAX_TTL="forever"`, "30d"}},
		{map[string]string{"KEYWARD_DEFAULT_TTL": "0d"}, []string{"KEYWARD_DEFAULT_TTL", "positive"}},
		{map[string]string{"KEYWARD_AUDIT_RETENTION": "-1d"}, []string{"KEYWARD_AUDIT_RETENTION"}},
		{map[string]string{"KEYWARD_REAP_INTERVAL": "5 minutes"}, []string{"KEYWARD_REAP_INTERVAL"}},
		{map[string]string{"KEYWARD_PROVIDER_TIMEOUT": "15"}, []string{"KEYWARD_PROVIDER_TIMEOUT"}},
		{map[string]string{"KEYWARD_SESSION_IDLE": "200y"}, []string{"KEYWARD_SESSION_IDLE"}},
		{map[string]string{"KEYWARD_REVEAL": "screen"}, []string{`KEYWARD_REVEAL="screen"`, "file, inline, elicit or url"}},
		{map[string]string{"KEYWARD_LOG_LEVEL": "loud"}, []string{`KEYWARD_LOG_LEVEL="loud"`, "debug, info, warn or error"}},
		{map[string]string{"KEYWARD_DEFAULT_TTL": "100d"}, []string{"KEYWARD_DEFAULT_TTL (100d) is longer than KEYWARD_MAX_TTL (90d)"}},
		{map[string]string{"KEYWARD_DEFAULT_TTL": "30d", "KEYWARD_MAX_TTL": "7d"}, []string{"KEYWARD_DEFAULT_TTL", "KEYWARD_MAX_TTL (7d)"}},
		{map[string]string{"KEYWARD_LOCAL_MAX_KEYS": "0"}, []string{"KEYWARD_LOCAL_MAX_KEYS=0", "at least 1"}},
		{map[string]string{"KEYWARD_LOCAL_MAX_KEYS": "-4"}, []string{"KEYWARD_LOCAL_MAX_KEYS=-4"}},
		{map[string]string{"KEYWARD_LOCAL_SCOPES": " , "}, []string{`KEYWARD_LOCAL_SCOPES=" , " names no scope`}},
		{map[string]string{"KEYWARD_LOCAL_SCOPES": "read,two words"}, []string{"KEYWARD_LOCAL_SCOPES", `"two words"`}},
		{map[string]string{"KEYWARD_MAX_SESSIONS": "0"}, []string{"KEYWARD_MAX_SESSIONS=0"}},
		{map[string]string{"KEYWARD_RATE_LIMIT": "0"}, []string{"KEYWARD_RATE_LIMIT=0"}},
		{map[string]string{"KEYWARD_MAX_BODY": "100"}, []string{"KEYWARD_MAX_BODY=100"}},
		{map[string]string{"KEYWARD_MAX_CONNS": "0"}, []string{"KEYWARD_MAX_CONNS=0"}},
		{map[string]string{"VAST_API_URL": "ftp://x"}, []string{`VAST_API_URL="ftp://x"`, "https://"}},
		{map[string]string{"LYCEUM_API_URL": "api.lyceum.technology"}, []string{"LYCEUM_API_URL"}},
		{map[string]string{"LIUM_API_URL": "file:///etc/passwd"}, []string{"LIUM_API_URL"}},
		{map[string]string{"LURUS_API_URL": "HTTPS//x"}, []string{"LURUS_API_URL"}},
		// Values the env library itself cannot parse.
		{map[string]string{"KEYWARD_ALLOW_NO_EXPIRY": "maybe"}, []string{"KEYWARD_ALLOW_NO_EXPIRY"}},
		{map[string]string{"KEYWARD_ALLOW_FULL_ACCESS": "yes please"}, []string{"KEYWARD_ALLOW_FULL_ACCESS"}},
		{map[string]string{"KEYWARD_READ_ONLY": "on"}, []string{"KEYWARD_READ_ONLY"}},
		{map[string]string{"KEYWARD_CONFIRM": "nope"}, []string{"KEYWARD_CONFIRM"}},
		{map[string]string{"KEYWARD_LOCAL_MAX_KEYS": "lots"}, []string{"KEYWARD_LOCAL_MAX_KEYS"}},
		{map[string]string{"KEYWARD_MAX_BODY": "1MB"}, []string{"KEYWARD_MAX_BODY"}},
	}
	for _, c := range cases {
		var name string
		for k, v := range c.env {
			name += k + "=" + v + " "
		}
		t.Run(strings.TrimSpace(name), func(t *testing.T) {
			_, err := load(t, c.env)
			require.Error(t, err)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestSeveralErrorsAreAllReported(t *testing.T) {
	_, err := load(t, map[string]string{
		"KEYWARD_MAX_TTL":        "forever",
		"KEYWARD_REVEAL":         "screen",
		"KEYWARD_LOG_LEVEL":      "loud",
		"KEYWARD_LOCAL_MAX_KEYS": "0",
		"VAST_API_URL":           "ftp://x",
	})
	require.Error(t, err)
	for _, v := range []string{"KEYWARD_MAX_TTL", "KEYWARD_REVEAL", "KEYWARD_LOG_LEVEL", "KEYWARD_LOCAL_MAX_KEYS", "VAST_API_URL"} {
		assert.Contains(t, err.Error(), v)
	}
}

func TestErrorsNeverEchoAPIKeys(t *testing.T) {
	const key = "vast-secret-1234567890abcdef"
	_, err := load(t, map[string]string{"VAST_API_KEY": key, "VAST_API_URL": "ftp://x", "KEYWARD_REVEAL": "screen"})
	require.Error(t, err)
	assert.NotContains(t, err.Error(), key)
}

func TestPolicyFromConfigAppliesScopes(t *testing.T) {
	c, err := load(t, map[string]string{
		"KEYWARD_DEFAULT_SCOPES_LOCAL": "write",
		"KEYWARD_ALLOWED_SCOPES_LOCAL": "read",
	})
	require.NoError(t, err)
	p := c.Policy()
	assert.IsType(t, &policy.Policy{}, p)
	assert.Equal(t, []string{"write"}, p.Rules().DefaultScopes["local"])
	assert.Equal(t, []string{"read"}, p.Rules().AllowedScopes["local"])
}

func TestDataDir(t *testing.T) {
	t.Setenv("XDG_DATA_HOME", "/x/y")
	d, err := DataDir()
	require.NoError(t, err)
	assert.Equal(t, filepath.Join("/x/y", "keyward"), d)

	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("HOME", "/home/someone")
	d, err = DataDir()
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(d, "keyward"), d)
}

func TestNonEmpty(t *testing.T) {
	assert.Equal(t, map[string][]string{"vast": {"a", "b"}}, nonEmpty(map[string][]string{"vast": {" a ", "", "b"}, "lium": {" "}}))
	assert.Empty(t, nonEmpty(nil))
}

func TestConfirmModes(t *testing.T) {
	for v, want := range map[string]policy.ConfirmMode{"true": policy.ConfirmAsk, "false": policy.ConfirmOff, "required": policy.ConfirmRequired, "REQUIRED": policy.ConfirmRequired} {
		c, err := LoadFrom(map[string]string{"KEYWARD_DB": "/tmp/x.db", "KEYWARD_CONFIRM": v})
		require.NoError(t, err, v)
		assert.Equal(t, want, c.Confirm, v)
	}
	_, err := LoadFrom(map[string]string{"KEYWARD_DB": "/tmp/x.db", "KEYWARD_CONFIRM": "sometimes"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `KEYWARD_CONFIRM="sometimes"`)
	assert.Contains(t, err.Error(), "required")
}

// A postgres:// URL selects PostgreSQL; secret files then go to the data
// directory (a URL has no directory), and the pool settings are read.
func TestDatabaseURL(t *testing.T) {
	xdg := filepath.Join(t.TempDir(), "data")
	t.Setenv("XDG_DATA_HOME", xdg)
	c, err := LoadFrom(map[string]string{"KEYWARD_DB": " postgres://kw:pw@db.internal/keyward ", "KEYWARD_DB_MAX_CONNS": "20", "KEYWARD_DB_TIMEOUT": "30s"})
	require.NoError(t, err)
	assert.Equal(t, "postgres://kw:pw@db.internal/keyward", c.DB)
	assert.Equal(t, filepath.Join(xdg, "keyward", "secrets"), c.SecretsDir)
	assert.Equal(t, 20, c.DBMaxConns)
	assert.Equal(t, 30*time.Second, c.DBTimeout)

	c, err = load(t, map[string]string{"KEYWARD_DB": "postgresql://h/db", "KEYWARD_SECRETS_DIR": "/srv/secrets"})
	require.NoError(t, err)
	assert.Equal(t, "/srv/secrets", c.SecretsDir)

	c, err = load(t, nil)
	require.NoError(t, err)
	assert.Equal(t, 8, c.DBMaxConns)
	assert.Equal(t, 10*time.Second, c.DBTimeout)

	_, err = load(t, map[string]string{"KEYWARD_DB": "mysql://root:hunter2hunter2@h/db", "KEYWARD_DB_MAX_CONNS": "0", "KEYWARD_DB_TIMEOUT": "10ms"})
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "KEYWARD_DB=")
	assert.Contains(t, msg, "a URL keyward cannot use")
	assert.NotContains(t, msg, "hunter2hunter2", "the password is not repeated")
	assert.Contains(t, msg, "KEYWARD_DB_MAX_CONNS=0")
	assert.Contains(t, msg, "KEYWARD_DB_TIMEOUT")
}
