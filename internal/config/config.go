// Package config reads keyward's settings from the environment (the only
// place an operator sets policy) and checks them with messages that name the
// variable and the accepted forms.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/provider/platforms"
	"github.com/keyward/keyward/internal/seal"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/store"
)

// PlatformSettings are one remote platform's variables (see package platforms).
type PlatformSettings struct {
	APIKey string
	APIURL string
	Extra  map[string]string // the platform's other variables, by name (LIUM_SESSION_TOKEN, LYCEUM_ORG)
}

// Config is every setting. Durations take keyward's units (30d, 1y), like
// expires_in does; Options.FuncMap (parsers) reads them and the numbers and
// booleans, so that a bad value is quoted in the message with its variable.
type Config struct {
	DB         string        `env:"KEYWARD_DB"`
	DBMaxConns int           `env:"KEYWARD_DB_MAX_CONNS" envDefault:"8"`
	DBTimeout  time.Duration `env:"KEYWARD_DB_TIMEOUT" envDefault:"10s"`
	SecretsDir string        `env:"KEYWARD_SECRETS_DIR"`
	// Reveal is KEYWARD_REVEAL; unset, RevealMode is "" and the transport
	// picks (stdio: file; keyward serve: url with a console, else file).
	Reveal string     `env:"KEYWARD_REVEAL"`
	Level  slog.Level `env:"KEYWARD_LOG_LEVEL" envDefault:"info"`

	LocalScopes  []string `env:"KEYWARD_LOCAL_SCOPES" envDefault:"read,write"`
	LocalMaxKeys int      `env:"KEYWARD_LOCAL_MAX_KEYS" envDefault:"100"`

	DefaultTTL      time.Duration `env:"KEYWARD_DEFAULT_TTL" envDefault:"30d"`
	MaxTTL          time.Duration `env:"KEYWARD_MAX_TTL" envDefault:"90d"`
	AllowNoExpiry   bool          `env:"KEYWARD_ALLOW_NO_EXPIRY" envDefault:"false"`
	AllowFullAccess bool          `env:"KEYWARD_ALLOW_FULL_ACCESS" envDefault:"false"`
	// KEYWARD_DEFAULT_SCOPES_<P> and KEYWARD_ALLOWED_SCOPES_<P>, by provider
	// name; read in LoadFrom for every provider keyward knows.
	DefaultScopes map[string][]string `env:"-"`
	AllowedScopes map[string][]string `env:"-"`

	ReadOnly        bool               `env:"KEYWARD_READ_ONLY" envDefault:"false"`
	Tools           []string           `env:"KEYWARD_TOOLS"`
	Confirm         policy.ConfirmMode `env:"KEYWARD_CONFIRM" envDefault:"true"`
	AuditRetention  time.Duration      `env:"KEYWARD_AUDIT_RETENTION" envDefault:"365d"`
	ReapInterval    time.Duration      `env:"KEYWARD_REAP_INTERVAL" envDefault:"5m"`
	ProviderTimeout time.Duration      `env:"KEYWARD_PROVIDER_TIMEOUT" envDefault:"15s"`
	ProviderRetries int                `env:"KEYWARD_PROVIDER_RETRIES" envDefault:"3"`

	Addr           string        `env:"KEYWARD_ADDR" envDefault:"127.0.0.1:8377"`
	HTTPToken      string        `env:"KEYWARD_HTTP_TOKEN"`
	AllowedOrigins []string      `env:"KEYWARD_ALLOWED_ORIGINS"`
	MaxSessions    int           `env:"KEYWARD_MAX_SESSIONS" envDefault:"1000"`
	SessionIdle    time.Duration `env:"KEYWARD_SESSION_IDLE" envDefault:"30m"`
	RateLimit      int           `env:"KEYWARD_RATE_LIMIT" envDefault:"600"`
	MaxBodyBytes   int64         `env:"KEYWARD_MAX_BODY" envDefault:"1048576"`
	MaxConns       int           `env:"KEYWARD_MAX_CONNS" envDefault:"2048"`

	// OAuth access tokens for keyward serve, from one issuer (internal/oauth).
	OAuthIssuer     string `env:"KEYWARD_OAUTH_ISSUER"`
	OAuthResource   string `env:"KEYWARD_OAUTH_RESOURCE"`
	OAuthJWKSURL    string `env:"KEYWARD_OAUTH_JWKS_URL"`
	OAuthReadScope  string `env:"KEYWARD_OAUTH_READ_SCOPE" envDefault:"keyward:read"`
	OAuthWriteScope string `env:"KEYWARD_OAUTH_WRITE_SCOPE" envDefault:"keyward:write"`

	// StateKeyText seals the state a client echoes back between the rounds
	// of a confirmation (base64, at least 32 bytes); every replica of a
	// deployment must share it. Unset: a random key per process.
	StateKeyText string `env:"KEYWARD_STATE_KEY"`
	StateKey     []byte `env:"-"`

	// OperatorToken is the operator's login to the console of keyward serve
	// (at least 32 characters, never KEYWARD_HTTP_TOKEN); unset: no console.
	OperatorToken string        `env:"KEYWARD_OPERATOR_TOKEN"`
	ApprovalTTL   time.Duration `env:"KEYWARD_APPROVAL_TTL" envDefault:"15m"`
	// PublicURL is where people reach keyward serve (behind a proxy, say):
	// the base of the console and one-time links told to agents.
	PublicURL string        `env:"KEYWARD_PUBLIC_URL"`
	RevealTTL time.Duration `env:"KEYWARD_REVEAL_TTL" envDefault:"10m"`

	// Each registered platform's variables, by platform name.
	platforms map[string]PlatformSettings

	// Parsed forms. RevealMode is "" when KEYWARD_REVEAL is unset.
	RevealMode secret.Mode `env:"-"`
	// SessionIdleText is SessionIdle as keyward writes durations (30m), for messages.
	SessionIdleText string `env:"-"`

	warnings []string
}

// Load reads the process environment.
func Load() (*Config, error) { return LoadFrom(nil) }

// LoadFrom reads the given variables (nil: the process environment); tests use it.
// Every problem is reported, each naming its variable: bad values, lists that
// name nothing or name an entry twice, settings that contradict each other,
// and KEYWARD_* variables keyward does not read (a typo would otherwise be
// ignored, and the setting with it). What needs the providers' scope
// vocabularies is checked later, by policy.Check at start-up.
func LoadFrom(environ map[string]string) (*Config, error) {
	if environ == nil {
		environ = env.ToMap(os.Environ())
	}
	// Spaces around a value are never meant (a token pasted with a newline,
	// " warn "): every variable keyward reads is trimmed before parsing.
	// The checks of lists still see the raw values, to quote them and to tell
	// a value of only spaces (set, naming nothing) from an unset one.
	trimmed := maps.Clone(environ)
	for _, name := range variables() {
		if v, ok := trimmed[name]; ok {
			trimmed[name] = strings.TrimSpace(v)
		}
	}
	var c Config
	parseErr := nameVariables(env.ParseWithOptions(&c, env.Options{Environment: trimmed, FuncMap: parsers()}), environ)
	c.readPlatforms(environ)
	vars := checkVariables(environ)
	c.warnings = vars.warnings
	return &c, errors.Join(parseErr, errors.Join(vars.errs...), c.finish(environ))
}

// Warnings are settings that are accepted but have no effect as set; the
// caller logs them.
func (c *Config) Warnings() []string { return slices.Clone(c.warnings) }

// Credentials are every secret the operator configured (platform keys,
// sessions, the HTTP token): no message keyward writes may show them.
func (c *Config) Credentials() []string {
	out := []string{}
	add := func(v string) {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	for _, p := range platforms.All() {
		ps := c.Platform(p.Name)
		add(ps.APIKey)
		for _, v := range p.Extra {
			if v.Secret {
				add(ps.Extra[v.Name])
			}
		}
	}
	add(c.HTTPToken)
	add(c.StateKeyText)
	add(c.OperatorToken)
	return out
}

// Platform returns the settings of a remote platform by name.
func (c *Config) Platform(name string) PlatformSettings { return c.platforms[name] }

// readPlatforms reads every registered platform's variables, and the
// per-provider scope lists of every provider keyward knows.
func (c *Config) readPlatforms(environ map[string]string) {
	c.platforms = map[string]PlatformSettings{}
	for _, p := range platforms.All() {
		ps := PlatformSettings{APIKey: strings.TrimSpace(environ[p.KeyVar()]), APIURL: strings.TrimSpace(environ[p.URLVar()]), Extra: map[string]string{}}
		for _, v := range p.Extra {
			ps.Extra[v.Name] = strings.TrimSpace(environ[v.Name])
		}
		c.platforms[p.Name] = ps
	}
	c.DefaultScopes, c.AllowedScopes = map[string][]string{}, map[string][]string{}
	for _, name := range providerNames() {
		for prefix, into := range map[string]map[string][]string{defaultScopesPrefix: c.DefaultScopes, allowedScopesPrefix: c.AllowedScopes} {
			if raw, ok := environ[prefix+policy.EnvName(name)]; ok && raw != "" {
				into[name] = trimAll(strings.Split(raw, ","))
			}
		}
	}
}

// providerNames are every provider keyward knows: local, then each platform's.
func providerNames() []string { return append([]string{"local"}, platforms.ProviderNames()...) }

// Policy is the policy the settings describe.
func (c *Config) Policy() *policy.Policy {
	return policy.New(policy.Rules{
		DefaultTTL: c.DefaultTTL, MaxTTL: c.MaxTTL,
		AllowNoExpiry: c.AllowNoExpiry, AllowFullAccess: c.AllowFullAccess,
		DefaultScopes: nonEmpty(c.DefaultScopes), AllowedScopes: nonEmpty(c.AllowedScopes),
	})
}

func (c *Config) finish(environ map[string]string) error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	var err error
	if v := strings.ToLower(strings.TrimSpace(c.Reveal)); v != "" {
		if c.RevealMode, err = secret.ParseMode(v); err != nil {
			errs = append(errs, err)
		}
	}
	c.SessionIdleText = policy.FormatDuration(c.SessionIdle)
	if c.DefaultTTL > 0 && c.MaxTTL > 0 && c.DefaultTTL > c.MaxTTL {
		bad("KEYWARD_DEFAULT_TTL (%s) is longer than KEYWARD_MAX_TTL (%s); lower the default or raise the maximum",
			policy.FormatDuration(c.DefaultTTL), policy.FormatDuration(c.MaxTTL))
	}
	errs = append(errs, c.checkLists(environ)...)
	for _, s := range c.LocalScopes {
		if strings.ContainsAny(s, " \t") {
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
	if c.StateKeyText != "" {
		if c.StateKey, err = seal.ParseKey(c.StateKeyText); err != nil {
			bad("KEYWARD_STATE_KEY is not usable: %v", err)
		}
	}
	errs = append(errs, c.checkConsole()...)
	if c.MaxConns < 1 {
		bad("KEYWARD_MAX_CONNS=%d must be at least 1 (concurrent HTTP connections)", c.MaxConns)
	}
	errs = append(errs, c.checkOAuth()...)
	for _, p := range platforms.All() {
		if u := c.Platform(p.Name).APIURL; u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			bad("%s=%q must start with https:// (or http:// for a local test server)", p.URLVar(), u)
		}
	}
	c.warnIdleScopeSettings()
	if c.DBMaxConns < 1 || c.DBMaxConns > 1000 {
		bad("KEYWARD_DB_MAX_CONNS=%d must be between 1 and 1000 (connections to the database)", c.DBMaxConns)
	}
	if c.DBTimeout < time.Second {
		bad("KEYWARD_DB_TIMEOUT=%s is too short; give at least 1s", policy.FormatDuration(c.DBTimeout))
	}
	c.DB = strings.TrimSpace(c.DB)
	isURL := store.IsURL(c.DB)
	if isURL && !store.IsPostgres(c.DB) {
		bad("KEYWARD_DB=%q is a URL keyward cannot use; give a file path (SQLite) or a postgres:// URL (PostgreSQL)", store.Redact(c.DB))
	}
	if c.DB == "" || (isURL && c.SecretsDir == "") {
		base, err := DataDir()
		switch {
		case err != nil && c.DB == "":
			bad("cannot find a data directory (%v); set KEYWARD_DB", err)
		case err != nil:
			bad("cannot find a data directory for secret files (%v); set KEYWARD_SECRETS_DIR", err)
		case c.DB == "":
			c.DB = filepath.Join(base, "keyward.db")
		default:
			c.SecretsDir = filepath.Join(base, "secrets")
		}
	}
	if c.SecretsDir == "" && c.DB != "" {
		// Beside the state file, so one setting moves all of keyward's data.
		c.SecretsDir = filepath.Join(filepath.Dir(c.DB), "secrets")
	}
	return errors.Join(errs...)
}

// checkOAuth: an issuer needs the resource URL tokens are bound to, and the
// OAuth settings mean nothing without an issuer. The verifier checks the
// URLs themselves (oauth.New) when keyward serve starts.
func (c *Config) checkOAuth() []error {
	var errs []error
	if c.OAuthIssuer == "" {
		for name, v := range map[string]string{"KEYWARD_OAUTH_RESOURCE": c.OAuthResource, "KEYWARD_OAUTH_JWKS_URL": c.OAuthJWKSURL} {
			if v != "" {
				errs = append(errs, fmt.Errorf("%s is set but KEYWARD_OAUTH_ISSUER is not; set the issuer whose tokens keyward accepts, or unset %s", name, name))
			}
		}
		return errs
	}
	if c.OAuthResource == "" && c.PublicURL != "" {
		c.OAuthResource = c.PublicURL + "/mcp" // checkConsole has checked and trimmed it
	}
	if c.OAuthResource == "" {
		errs = append(errs, errors.New("KEYWARD_OAUTH_ISSUER is set but neither KEYWARD_OAUTH_RESOURCE nor KEYWARD_PUBLIC_URL is; set KEYWARD_OAUTH_RESOURCE to the URL clients reach keyward's MCP endpoint at, such as https://keys.example.com/mcp (tokens must name it as their audience)"))
	}
	if strings.ContainsAny(c.OAuthReadScope+c.OAuthWriteScope, " \t\"") || c.OAuthReadScope == "" || c.OAuthWriteScope == "" {
		errs = append(errs, errors.New("KEYWARD_OAUTH_READ_SCOPE and KEYWARD_OAUTH_WRITE_SCOPE must each be one scope name, without spaces or quotes"))
	} else if c.OAuthReadScope == c.OAuthWriteScope {
		errs = append(errs, fmt.Errorf("KEYWARD_OAUTH_READ_SCOPE and KEYWARD_OAUTH_WRITE_SCOPE are both %q; the write scope must be another name, or every read-only token could call every tool", c.OAuthReadScope))
	}
	return errs
}

// MinOperatorToken is the shortest KEYWARD_OPERATOR_TOKEN accepted.
const MinOperatorToken = 32

// checkConsole checks the console's settings: the operator's token is long,
// and never the agents' credential (an agent holding it could approve its
// own requests); the console's address is a plain base URL.
func (c *Config) checkConsole() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch t := c.OperatorToken; {
	case t == "":
		if c.Confirm == policy.ConfirmConsole {
			bad("KEYWARD_CONFIRM=console needs KEYWARD_OPERATOR_TOKEN: approvals are given in the console, which the operator logs into with it; set it to a long random value (e.g. the output of `openssl rand -hex 32`)")
		}
	case len(t) < MinOperatorToken:
		bad("KEYWARD_OPERATOR_TOKEN is %d characters long; use at least %d random characters, e.g. the output of `openssl rand -hex 32`", len(t), MinOperatorToken)
	case t == c.HTTPToken:
		bad("KEYWARD_OPERATOR_TOKEN is the same as KEYWARD_HTTP_TOKEN: agents hold that token, and could approve their own requests with it; give the operator a token of their own")
	}
	if c.ApprovalTTL < time.Minute || c.ApprovalTTL > 24*time.Hour {
		bad("KEYWARD_APPROVAL_TTL=%s must be between 1m and 24h (how long an act waits for the operator's decision)", policy.FormatDuration(c.ApprovalTTL))
	}
	if c.RevealTTL < time.Minute || c.RevealTTL > 24*time.Hour {
		bad("KEYWARD_REVEAL_TTL=%s must be between 1m and 24h (how long a one-time link to a new secret works)", policy.FormatDuration(c.RevealTTL))
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			bad("KEYWARD_PUBLIC_URL=%q is not a base URL; give the address people open keyward serve at, such as https://keyward.example.com or https://example.com/keyward", c.PublicURL)
		} else {
			c.PublicURL = strings.TrimRight(c.PublicURL, "/")
		}
	}
	return errs
}

// checkLists trims every list and refuses one that is set but names nothing
// (",", " "): left empty, each would quietly mean something else — every
// tool, the default ceiling, loopback origins. An empty value is unset, as
// for every variable. An entry named twice is refused too.
func (c *Config) checkLists(environ map[string]string) []error {
	type list struct {
		name  string
		items *[]string
		empty string // what to say when it names nothing
	}
	lists := []list{
		{"KEYWARD_TOOLS", &c.Tools, "names no tool; list tools separated by commas (such as list_keys,validate_key), or unset it to serve every tool"},
		{"KEYWARD_LOCAL_SCOPES", &c.LocalScopes, "names no scope; list the local authority's scopes separated by commas, or unset it for the default read,write"},
		{"KEYWARD_ALLOWED_ORIGINS", &c.AllowedOrigins, "names no origin; list origins such as https://agents.example.com separated by commas, or unset it to accept loopback origins"},
	}
	for _, name := range providerNames() {
		if items, ok := c.DefaultScopes[name]; ok {
			lists = append(lists, list{defaultScopesPrefix + policy.EnvName(name), &items,
				"names no scope; list the scopes a key created without scopes gets (at least one scope), or unset it for the provider's minimal read-only default"})
		}
		if items, ok := c.AllowedScopes[name]; ok {
			lists = append(lists, list{allowedScopesPrefix + policy.EnvName(name), &items,
				"names no scope; list the scopes agents may grant, or unset it for the default ceiling (to stop agents creating keys, set KEYWARD_READ_ONLY=true or leave create_key out of KEYWARD_TOOLS)"})
		}
	}
	var errs []error
	for _, l := range lists {
		raw, set := environ[l.name]
		*l.items = trimAll(*l.items)
		if set && raw != "" && len(*l.items) == 0 {
			errs = append(errs, fmt.Errorf("%s=%q %s", l.name, raw, l.empty))
		}
		seen := map[string]bool{}
		for _, item := range *l.items {
			if seen[item] {
				errs = append(errs, fmt.Errorf("%s names %q more than once; name each entry once", l.name, item))
			}
			seen[item] = true
		}
	}
	return errs
}

// warnIdleScopeSettings notes scope settings for platforms without an API
// key. They are not errors: they take effect once the key is set, and an
// operator pausing a platform should not have to delete its limits (and
// remember to restore them). policy.Check still checks them at start-up,
// since a platform's scope vocabulary needs no credentials.
func (c *Config) warnIdleScopeSettings() {
	for _, set := range []struct {
		prefix string
		lists  map[string][]string
	}{{defaultScopesPrefix, nonEmpty(c.DefaultScopes)}, {allowedScopesPrefix, nonEmpty(c.AllowedScopes)}} {
		for _, p := range platforms.All() {
			for _, name := range p.Providers {
				if _, ok := set.lists[name]; ok && c.Platform(p.Name).APIKey == "" {
					c.warnings = append(c.warnings, fmt.Sprintf("%s%s is set but %s is not: the setting has no effect until %s is set",
						set.prefix, policy.EnvName(name), p.KeyVar(), p.KeyVar()))
				}
			}
		}
	}
}

// badValue is a value the env library could not read, quoted in the message.
type badValue struct{ value, want string }

func (e *badValue) Error() string { return fmt.Sprintf("%q is not %s", e.value, e.want) }

// parsers read durations in keyward's units, and numbers and booleans with
// surrounding spaces allowed; their errors keep the value for nameVariables.
func parsers() map[reflect.Type]env.ParserFunc {
	return map[reflect.Type]env.ParserFunc{
		reflect.TypeFor[time.Duration](): func(v string) (any, error) {
			d, err := policy.ParseDuration(v)
			if err != nil || d <= 0 {
				return nil, &badValue{v, "a positive duration; use a number and a unit (s, m, h, d, w, y) such as 90s, 15m, 12h, 30d or 1y, at most 100y"}
			}
			return d, nil
		},
		reflect.TypeFor[policy.ConfirmMode](): func(v string) (any, error) {
			m, err := policy.ParseConfirmMode(v)
			if err != nil {
				return nil, &badValue{v, "a confirmation mode; use true (ask the human when the client can), required (refuse what cannot be confirmed), console (wait for the operator's approval in the console) or false (never ask)"}
			}
			return m, nil
		},
		reflect.TypeFor[bool](): func(v string) (any, error) {
			b, err := strconv.ParseBool(strings.TrimSpace(v))
			if err != nil {
				return nil, &badValue{v, "true or false"}
			}
			return b, nil
		},
		reflect.TypeFor[int](): func(v string) (any, error) {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				return nil, &badValue{v, "a whole number"}
			}
			return n, nil
		},
		reflect.TypeFor[int64](): func(v string) (any, error) {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return nil, &badValue{v, "a whole number"}
			}
			return n, nil
		},
	}
}

// nameVariables rewrites the env library's parse errors, which name Go
// fields, into sentences that name the variable, quote the value and give
// the accepted form.
func nameVariables(err error, environ map[string]string) error {
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
		f, _ := reflect.TypeFor[Config]().FieldByName(pe.Name)
		name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
		var bv *badValue
		switch {
		case name == "":
			out = append(out, e)
		case errors.As(pe.Err, &bv):
			out = append(out, fmt.Errorf("%s=%w", name, bv))
		case pe.Type == reflect.TypeFor[slog.Level]():
			// slog.Level reads itself (encoding.TextUnmarshaler), before any FuncMap.
			out = append(out, fmt.Errorf("%s=%w", name, &badValue{environ[name], "a log level; use debug, info, warn or error"}))
		default:
			out = append(out, e)
		}
	}
	return errors.Join(out...)
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

// nonEmpty leaves out lists that name nothing.
func nonEmpty(in map[string][]string) map[string][]string {
	out := map[string][]string{}
	for name, v := range in {
		if v = trimAll(v); len(v) > 0 {
			out[name] = v
		}
	}
	return out
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
