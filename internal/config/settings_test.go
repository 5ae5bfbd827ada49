package config

import (
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A list that is set but names nothing must not fall back to a default that
// means something else (all tools, the default ceiling, loopback origins).
func TestListsThatNameNothingStopStartUp(t *testing.T) {
	cases := []struct {
		name, value string
		want        []string
	}{
		{"KEYWARD_TOOLS", ",", []string{`KEYWARD_TOOLS=","`, "names no tool", "unset it to serve every tool"}},
		{"KEYWARD_TOOLS", " , ", []string{`KEYWARD_TOOLS=" , "`, "names no tool"}},
		{"KEYWARD_TOOLS", " ", []string{`KEYWARD_TOOLS=" "`, "names no tool"}},
		{"KEYWARD_LOCAL_SCOPES", ",", []string{`KEYWARD_LOCAL_SCOPES=","`, "names no scope", "read,write"}},
		{"KEYWARD_ALLOWED_SCOPES_LOCAL", ",", []string{`KEYWARD_ALLOWED_SCOPES_LOCAL=","`, "names no scope", "KEYWARD_READ_ONLY"}},
		{"KEYWARD_ALLOWED_SCOPES_VAST", " , ", []string{`KEYWARD_ALLOWED_SCOPES_VAST=" , "`, "names no scope"}},
		{"KEYWARD_DEFAULT_SCOPES_LOCAL", ",", []string{`KEYWARD_DEFAULT_SCOPES_LOCAL=","`, "names no scope", "at least one scope"}},
		{"KEYWARD_DEFAULT_SCOPES_LIUM", ",,", []string{"KEYWARD_DEFAULT_SCOPES_LIUM"}},
		{"KEYWARD_ALLOWED_ORIGINS", ",", []string{`KEYWARD_ALLOWED_ORIGINS=","`, "names no origin", "loopback"}},
	}
	for _, c := range cases {
		t.Run(c.name+"="+c.value, func(t *testing.T) {
			_, err := load(t, map[string]string{c.name: c.value})
			require.Error(t, err)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// An empty value is how shells and client configs leave a variable unset.
func TestEmptyValueIsUnset(t *testing.T) {
	c, err := load(t, map[string]string{
		"KEYWARD_TOOLS": "", "KEYWARD_LOCAL_SCOPES": "", "KEYWARD_ALLOWED_SCOPES_LOCAL": "",
		"KEYWARD_DEFAULT_SCOPES_VAST": "", "KEYWARD_ALLOWED_ORIGINS": "", "KEYWARD_READ_ONLY": "", "KEYWARD_MAX_TTL": "",
		"KEYWARD_MAX_TLL": "", // unknown, but unset all the same
	})
	require.NoError(t, err)
	assert.Empty(t, c.Tools)
	assert.Equal(t, []string{"read", "write"}, c.LocalScopes)
	assert.Empty(t, c.AllowedOrigins)
	assert.Empty(t, c.Policy().Rules().AllowedScopes)
	assert.Empty(t, c.Policy().Rules().DefaultScopes)
	assert.False(t, c.ReadOnly)
	assert.Equal(t, 90*day, c.MaxTTL)
	assert.Empty(t, c.Warnings())
}

func TestDuplicateEntriesStopStartUp(t *testing.T) {
	for name, value := range map[string]string{
		"KEYWARD_TOOLS":                "list_keys, get_key,list_keys",
		"KEYWARD_LOCAL_SCOPES":         "read,write, read",
		"KEYWARD_DEFAULT_SCOPES_LOCAL": "read,read",
		"KEYWARD_ALLOWED_SCOPES_VAST":  "instance_read,machine_read,instance_read",
		"KEYWARD_ALLOWED_ORIGINS":      "https://a.example,https://a.example",
	} {
		t.Run(name, func(t *testing.T) {
			_, err := load(t, map[string]string{name: value})
			require.Error(t, err)
			assert.Contains(t, err.Error(), name)
			assert.Contains(t, err.Error(), "more than once")
		})
	}
}

// A misspelt variable is otherwise silently ignored, and its setting with it.
func TestUnknownVariablesStopStartUp(t *testing.T) {
	cases := []struct {
		name string
		want []string
	}{
		{"KEYWARD_MAX_TLL", []string{"KEYWARD_MAX_TLL is not a keyward setting", "did you mean KEYWARD_MAX_TTL?"}},
		{"KEYWARD_DEFAULT_SCOPES_LOACL", []string{"KEYWARD_DEFAULT_SCOPES_LOACL", "no provider LOACL", "did you mean KEYWARD_DEFAULT_SCOPES_LOCAL?"}},
		{"KEYWARD_ALLOWED_SCOPES_AWS", []string{"KEYWARD_ALLOWED_SCOPES_AWS", "no provider AWS", "LOCAL, VAST, LYCEUM, LYCEUM_ORG, LIUM, LURUS"}},
		{"KEYWARD_DEFAULT_SCOPE_VAST", []string{"did you mean KEYWARD_DEFAULT_SCOPES_VAST?"}},
		{"KEYWARD_READONLY", []string{"did you mean KEYWARD_READ_ONLY?"}},
		{"keyward_tools", []string{"keyward_tools", "did you mean KEYWARD_TOOLS?"}},
		{"KEYWARD_VAST_API_KEY", []string{"did you mean VAST_API_KEY?"}},
		{"KEYWARD_FROBNICATE", []string{"KEYWARD_FROBNICATE is not a keyward setting", "KEYWARD_MAX_TTL", "KEYWARD_DEFAULT_SCOPES_<PROVIDER>"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := load(t, map[string]string{c.name: "read"})
			require.Error(t, err)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "did you mean "+c.name+"?")
		})
	}

	// Load scans the process environment the same way.
	t.Setenv("KEYWARD_MAX_TLL", "7d")
	t.Setenv("XDG_DATA_HOME", t.TempDir())
	_, err := Load()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "did you mean KEYWARD_MAX_TTL?")
}

func TestOtherVariablesAreLeftAlone(t *testing.T) {
	c, err := load(t, map[string]string{
		"PATH": "/bin", "HOME": "/home/x", "KEYWARDEN": "x", "VASTLY": "x", "LIUM_OTHER_TOOL_SETTING": "x",
		"KEYWARD_URL": "http://127.0.0.1:8377/mcp", // the example agents' variable
	})
	require.NoError(t, err)
	assert.Empty(t, c.Warnings())
}

func TestValuesAreQuotedAndTrimmed(t *testing.T) {
	cases := []struct {
		name, value string
		want        string
	}{
		{"KEYWARD_READ_ONLY", "yes", `KEYWARD_READ_ONLY="yes" is not true or false`},
		{"KEYWARD_CONFIRM", "on", `KEYWARD_CONFIRM="on" is not a confirmation mode; use true`},
		{"KEYWARD_ALLOW_NO_EXPIRY", "", ""},
		{"KEYWARD_LOCAL_MAX_KEYS", "ten", `KEYWARD_LOCAL_MAX_KEYS="ten" is not a whole number`},
		{"KEYWARD_MAX_BODY", "1e6", `KEYWARD_MAX_BODY="1e6" is not a whole number`},
		{"KEYWARD_MAX_TTL", "90", `KEYWARD_MAX_TTL="90" is not a positive duration`},
		{"KEYWARD_REAP_INTERVAL", "0s", `KEYWARD_REAP_INTERVAL="0s" is not a positive duration`},
		{"KEYWARD_SESSION_IDLE", "-5m", `KEYWARD_SESSION_IDLE="-5m"`},
	}
	for _, c := range cases {
		t.Run(c.name+"="+c.value, func(t *testing.T) {
			_, err := load(t, map[string]string{c.name: c.value})
			if c.want == "" {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.Contains(t, err.Error(), c.want)
		})
	}

	c, err := load(t, map[string]string{
		"KEYWARD_READ_ONLY": " true ", "KEYWARD_LOCAL_MAX_KEYS": " 7 ", "KEYWARD_MAX_TTL": " 40d ", "KEYWARD_LOG_LEVEL": " warn ",
	})
	require.NoError(t, err)
	assert.True(t, c.ReadOnly)
	assert.Equal(t, 7, c.LocalMaxKeys)
	assert.Equal(t, 40*day, c.MaxTTL)
	assert.Equal(t, slog.LevelWarn, c.Level)
}

func TestWarnings(t *testing.T) {
	c, err := load(t, map[string]string{
		"KEYWARD_DEFAULT_SCOPES_VAST": "instance_read",
		"KEYWARD_ALLOWED_SCOPES_LIUM": "read",
		"LIUM_API_KEY":                "lk",
		"VAST_APIKEY":                 "vk",
		"LYCEUM_API_KY":               "yk",
	})
	require.NoError(t, err)
	w := strings.Join(c.Warnings(), "\n")
	assert.Contains(t, w, "KEYWARD_DEFAULT_SCOPES_VAST is set but VAST_API_KEY is not")
	assert.NotContains(t, w, "KEYWARD_ALLOWED_SCOPES_LIUM", "Lium is configured")
	assert.Contains(t, w, "VAST_APIKEY is not read by keyward; did you mean VAST_API_KEY?")
	assert.Contains(t, w, "LYCEUM_API_KY is not read by keyward; did you mean LYCEUM_API_KEY?")
	assert.NotContains(t, w, "vk")
}

// TestVariablesAreDocumented keeps the README's Configuration table and the
// variables keyward reads (the ones it refuses to guess at) the same.
func TestVariablesAreDocumented(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	_, section, ok := strings.Cut(string(readme), "\n## Configuration\n")
	require.True(t, ok, "the README has a Configuration section")
	section, _, _ = strings.Cut(section, "\n## ")

	documented := map[string]bool{}
	name := regexp.MustCompile("`([A-Z][A-Z0-9_]*(<P>)?)`")
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		first, _, _ := strings.Cut(line[1:], "|")
		for _, m := range name.FindAllStringSubmatch(first, -1) {
			documented[m[1]] = true
		}
	}
	read := map[string]bool{}
	for _, v := range variables() {
		for _, prefix := range perProviderPrefixes {
			if strings.HasPrefix(v, prefix) {
				v = prefix + "<P>"
			}
		}
		read[v] = true
	}
	assert.Equal(t, read, documented)
}

func TestNearest(t *testing.T) {
	known := []string{"KEYWARD_MAX_TTL", "KEYWARD_DEFAULT_TTL", "KEYWARD_TOOLS", "KEYWARD_READ_ONLY"}
	for in, want := range map[string]string{
		"KEYWARD_MAX_TLL":   "KEYWARD_MAX_TTL",   // one substitution
		"KEYWARD_MAX_TTTL":  "KEYWARD_MAX_TTL",   // one insertion
		"KEYWARD_MAXTTL":    "KEYWARD_MAX_TTL",   // one deletion
		"KEYWARD_MAX_TLT":   "KEYWARD_MAX_TTL",   // one swap
		"KEYWARD_TOLOS":     "KEYWARD_TOOLS",     // one swap
		"KEYWARD_RAED_ONLY": "KEYWARD_READ_ONLY", // one swap
		"KEYWARD_MIN_TTL":   "KEYWARD_MAX_TTL",   // two edits are still a likely typo
		"KEYWARD_TIMEOUT":   "",                  // nothing close
	} {
		assert.Equal(t, want, nearest(in, known, 2), in)
	}
	assert.Empty(t, nearest("AWS", []string{"LOCAL", "VAST", "LYCEUM", "LIUM", "LURUS"}, 1))
	assert.Equal(t, "LOCAL", nearest("LOACL", []string{"LOCAL", "VAST"}, 1))
}
