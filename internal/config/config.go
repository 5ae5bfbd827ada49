// Package config reads keyward's settings from the environment (the only
// place an operator sets policy) and checks them with messages that name the
// variable and the accepted forms.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/secret"
)

// Platforms are the remote providers keyward knows, in display order.
var Platforms = []string{"vast", "lyceum", "lium", "lurus"}

// Platform is one remote platform's credential and base URL.
type Platform struct {
	APIKey string `env:"API_KEY"`
	APIURL string `env:"API_URL"`
	// SessionToken is a browser session for platforms whose API keys cannot
	// manage keys (LIUM_SESSION_TOKEN).
	SessionToken string `env:"SESSION_TOKEN"`
}

// PerProvider holds one list per provider, e.g. KEYWARD_DEFAULT_SCOPES_VAST.
type PerProvider struct {
	Local  []string `env:"LOCAL"`
	Vast   []string `env:"VAST"`
	Lyceum []string `env:"LYCEUM"`
	Lium   []string `env:"LIUM"`
	Lurus  []string `env:"LURUS"`
}

// Map keys the lists by provider name, leaving out unset ones.
func (p PerProvider) Map() map[string][]string {
	out := map[string][]string{}
	for name, v := range map[string][]string{"local": p.Local, "vast": p.Vast, "lyceum": p.Lyceum, "lium": p.Lium, "lurus": p.Lurus} {
		if v = trimAll(v); len(v) > 0 {
			out[name] = v
		}
	}
	return out
}

// Config is every setting. Durations are strings here and parsed in Load, so
// that they accept keyward's units (30d, 1y) like expires_in does.
type Config struct {
	DB         string `env:"KEYWARD_DB"`
	SecretsDir string `env:"KEYWARD_SECRETS_DIR"`
	Reveal     string `env:"KEYWARD_REVEAL" envDefault:"file"`
	LogLevel   string `env:"KEYWARD_LOG_LEVEL" envDefault:"info"`

	LocalScopes  []string `env:"KEYWARD_LOCAL_SCOPES" envDefault:"read,write"`
	LocalMaxKeys int      `env:"KEYWARD_LOCAL_MAX_KEYS" envDefault:"100"`

	DefaultTTLText  string      `env:"KEYWARD_DEFAULT_TTL" envDefault:"30d"`
	MaxTTLText      string      `env:"KEYWARD_MAX_TTL" envDefault:"90d"`
	AllowNoExpiry   bool        `env:"KEYWARD_ALLOW_NO_EXPIRY" envDefault:"false"`
	AllowFullAccess bool        `env:"KEYWARD_ALLOW_FULL_ACCESS" envDefault:"false"`
	DefaultScopes   PerProvider `envPrefix:"KEYWARD_DEFAULT_SCOPES_"`
	AllowedScopes   PerProvider `envPrefix:"KEYWARD_ALLOWED_SCOPES_"`

	ReadOnly            bool     `env:"KEYWARD_READ_ONLY" envDefault:"false"`
	Tools               []string `env:"KEYWARD_TOOLS"`
	Confirm             bool     `env:"KEYWARD_CONFIRM" envDefault:"true"`
	AuditRetentionText  string   `env:"KEYWARD_AUDIT_RETENTION" envDefault:"365d"`
	ReapIntervalText    string   `env:"KEYWARD_REAP_INTERVAL" envDefault:"5m"`
	ProviderTimeoutText string   `env:"KEYWARD_PROVIDER_TIMEOUT" envDefault:"15s"`
	ProviderRetries     int      `env:"KEYWARD_PROVIDER_RETRIES" envDefault:"3"`

	Addr            string   `env:"KEYWARD_ADDR" envDefault:"127.0.0.1:8377"`
	HTTPToken       string   `env:"KEYWARD_HTTP_TOKEN"`
	AllowedOrigins  []string `env:"KEYWARD_ALLOWED_ORIGINS"`
	MaxSessions     int      `env:"KEYWARD_MAX_SESSIONS" envDefault:"1000"`
	SessionIdleText string   `env:"KEYWARD_SESSION_IDLE" envDefault:"30m"`
	RateLimit       int      `env:"KEYWARD_RATE_LIMIT" envDefault:"600"`
	MaxBodyBytes    int64    `env:"KEYWARD_MAX_BODY" envDefault:"1048576"`
	MaxConns        int      `env:"KEYWARD_MAX_CONNS" envDefault:"2048"`

	Vast   Platform `envPrefix:"VAST_"`
	Lyceum Platform `envPrefix:"LYCEUM_"`
	Lium   Platform `envPrefix:"LIUM_"`
	Lurus  Platform `envPrefix:"LURUS_"`

	// Parsed forms.
	RevealMode      secret.Mode   `env:"-"`
	Level           slog.Level    `env:"-"`
	DefaultTTL      time.Duration `env:"-"`
	MaxTTL          time.Duration `env:"-"`
	AuditRetention  time.Duration `env:"-"`
	ReapInterval    time.Duration `env:"-"`
	ProviderTimeout time.Duration `env:"-"`
	SessionIdle     time.Duration `env:"-"`
}

// Load reads the process environment.
func Load() (*Config, error) { return LoadFrom(nil) }

// LoadFrom reads the given variables (nil: the process environment); tests use it.
func LoadFrom(environ map[string]string) (*Config, error) {
	var c Config
	opts := env.Options{}
	if environ != nil {
		opts.Environment = environ
	}
	parseErr := nameVariables(env.ParseWithOptions(&c, opts))
	return &c, errors.Join(parseErr, c.finish())
}

// Platform returns the settings of a remote platform by name.
func (c *Config) Platform(name string) Platform {
	switch name {
	case "vast":
		return c.Vast
	case "lyceum":
		return c.Lyceum
	case "lium":
		return c.Lium
	case "lurus":
		return c.Lurus
	}
	return Platform{}
}

// Policy is the policy the settings describe.
func (c *Config) Policy() *policy.Policy {
	return policy.New(policy.Rules{
		DefaultTTL: c.DefaultTTL, MaxTTL: c.MaxTTL,
		AllowNoExpiry: c.AllowNoExpiry, AllowFullAccess: c.AllowFullAccess,
		DefaultScopes: c.DefaultScopes.Map(), AllowedScopes: c.AllowedScopes.Map(),
	})
}

func (c *Config) finish() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	var err error
	if c.RevealMode, err = secret.ParseMode(strings.ToLower(strings.TrimSpace(c.Reveal))); err != nil {
		errs = append(errs, err)
	}
	if err := c.Level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		bad("KEYWARD_LOG_LEVEL=%q is not a log level; use debug, info, warn or error", c.LogLevel)
	}
	durations := []struct {
		name, text string
		dst        *time.Duration
	}{
		{"KEYWARD_DEFAULT_TTL", c.DefaultTTLText, &c.DefaultTTL},
		{"KEYWARD_MAX_TTL", c.MaxTTLText, &c.MaxTTL},
		{"KEYWARD_AUDIT_RETENTION", c.AuditRetentionText, &c.AuditRetention},
		{"KEYWARD_REAP_INTERVAL", c.ReapIntervalText, &c.ReapInterval},
		{"KEYWARD_PROVIDER_TIMEOUT", c.ProviderTimeoutText, &c.ProviderTimeout},
		{"KEYWARD_SESSION_IDLE", c.SessionIdleText, &c.SessionIdle},
	}
	for _, d := range durations {
		v, err := policy.ParseDuration(d.text)
		if err != nil || v <= 0 {
			bad("%s=%q is not a positive duration; use a number and a unit such as 90s, 15m, 12h, 30d or 1y", d.name, d.text)
			continue
		}
		*d.dst = v
	}
	if c.DefaultTTL > 0 && c.MaxTTL > 0 && c.DefaultTTL > c.MaxTTL {
		bad("KEYWARD_DEFAULT_TTL (%s) is longer than KEYWARD_MAX_TTL (%s); lower the default or raise the maximum", c.DefaultTTLText, c.MaxTTLText)
	}
	c.LocalScopes = trimAll(c.LocalScopes)
	if len(c.LocalScopes) == 0 {
		bad("KEYWARD_LOCAL_SCOPES is empty; give a comma-separated list such as read,write")
	}
	for _, s := range c.LocalScopes {
		if strings.ContainsAny(s, " \t") || s == "" {
			bad("KEYWARD_LOCAL_SCOPES has %q; scope names are single words such as read, write or billing:read", s)
		}
	}
	if c.LocalMaxKeys < 1 {
		bad("KEYWARD_LOCAL_MAX_KEYS=%d must be at least 1", c.LocalMaxKeys)
	}
	if c.ProviderRetries < 0 || c.ProviderRetries > 10 {
		bad("KEYWARD_PROVIDER_RETRIES=%d must be between 0 and 10", c.ProviderRetries)
	}
	if c.MaxSessions < 1 {
		bad("KEYWARD_MAX_SESSIONS=%d must be at least 1", c.MaxSessions)
	}
	if c.RateLimit < 1 {
		bad("KEYWARD_RATE_LIMIT=%d must be at least 1 (tool calls per minute per session)", c.RateLimit)
	}
	if c.MaxBodyBytes < 1024 {
		bad("KEYWARD_MAX_BODY=%d is too small; give bytes, at least 1024", c.MaxBodyBytes)
	}
	if c.MaxConns < 1 {
		bad("KEYWARD_MAX_CONNS=%d must be at least 1 (concurrent HTTP connections)", c.MaxConns)
	}
	c.Tools = trimAll(c.Tools)
	for _, name := range Platforms {
		p := c.Platform(name)
		if p.APIURL != "" && !strings.HasPrefix(p.APIURL, "https://") && !strings.HasPrefix(p.APIURL, "http://") {
			bad("%s_API_URL=%q must start with https:// (or http:// for a local test server)", strings.ToUpper(name), p.APIURL)
		}
	}
	if c.DB == "" {
		base, err := DataDir()
		if err != nil {
			bad("cannot find a data directory (%v); set KEYWARD_DB", err)
		} else {
			c.DB = filepath.Join(base, "keyward.db")
		}
	}
	if c.SecretsDir == "" && c.DB != "" {
		// Beside the state file, so one setting moves all of keyward's data.
		c.SecretsDir = filepath.Join(filepath.Dir(c.DB), "secrets")
	}
	return errors.Join(errs...)
}

// DataDir is the user's data directory for keyward: $XDG_DATA_HOME/keyward,
// ~/.local/share/keyward, ~/Library/Application Support/keyward or %LocalAppData%\keyward.
func DataDir() (string, error) {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "keyward"), nil
	}
	switch runtime.GOOS {
	case "windows", "darwin":
		d, err := os.UserConfigDir()
		if runtime.GOOS == "windows" {
			if l := os.Getenv("LocalAppData"); l != "" {
				d, err = l, nil
			}
		}
		if err != nil {
			return "", err
		}
		return filepath.Join(d, "keyward"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".local", "share", "keyward"), nil
}

// nameVariables rewrites the env library's parse errors, which name Go
// fields, into sentences that name the variable and the accepted form.
func nameVariables(err error) error {
	var agg env.AggregateError
	if err == nil || !errors.As(err, &agg) {
		return err
	}
	out := make([]error, 0, len(agg.Errors))
	for _, e := range agg.Errors {
		var pe env.ParseError
		if !errors.As(e, &pe) {
			out = append(out, e)
			continue
		}
		f, _ := reflect.TypeOf(Config{}).FieldByName(pe.Name)
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		if name == "" {
			out = append(out, e)
			continue
		}
		what := "a whole number"
		if pe.Type.Kind() == reflect.Bool {
			what = "true or false"
		}
		out = append(out, fmt.Errorf("%s is not %s", name, what))
	}
	return errors.Join(out...)
}

func trimAll(in []string) []string {
	var out []string
	for _, s := range in {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}
