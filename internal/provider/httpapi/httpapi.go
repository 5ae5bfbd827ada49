// Package httpapi is the one HTTP client every platform provider uses: typed
// JSON over resty, bounded retries, a body limit, and every failure mapped to a
// *provider.Error whose sentence never holds a credential.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-resty/resty/v2"

	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/pause"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/version"
)

// Settings configure one platform client. Zero values take the defaults.
type Settings struct {
	APIKey       string        // the platform credential
	Redact       []string      // other credentials no message may show (say, a session token beside the API key)
	BaseURL      string        // empty: the provider's default
	Timeout      time.Duration // per request; default 15s
	MaxRetries   int           // default 3 (negative: none); for idempotent requests only
	RetryWait    time.Duration // base backoff, default 500ms
	RetryWaitMax time.Duration // default 10s; also caps an honoured Retry-After
}

// String keeps the credentials out of anything that prints Settings.
func (s Settings) String() string {
	return fmt.Sprintf("httpapi.Settings{APIKey: %s, Redact: %d credentials, BaseURL: %q, Timeout: %s, MaxRetries: %d, RetryWait: %s, RetryWaitMax: %s}",
		redacted, len(s.Redact), s.BaseURL, s.Timeout, s.MaxRetries, s.RetryWait, s.RetryWaitMax)
}

func (s Settings) GoString() string { return s.String() }

// Platform describes what the client needs to know about a platform.
type Platform struct {
	Name       string // "vast"
	Title      string // "Vast.ai"
	EnvKey     string // "VAST_API_KEY": named in the 401 sentence
	DefaultURL string
	AuthHeader string // "Authorization" or "X-API-Key"
	AuthPrefix string // "Bearer " or ""
}

const (
	defaultTimeout      = 15 * time.Second
	defaultMaxRetries   = 3
	defaultRetryWait    = 500 * time.Millisecond
	defaultRetryWaitMax = 10 * time.Second

	// maxBody bounds what keyward reads from a platform: key lists are small,
	// so anything larger is a broken or hostile answer.
	maxBody = 1 << 20
)

// Client talks to one platform with one credential.
type Client struct {
	platform Platform
	settings Settings
	baseURL  string
	rc       *resty.Client
	redactor *redactor // the credentials in settings, kept out of every message
	// header is sent with every request besides keyward's own (WithHeader);
	// with badHeader set, one may not be sent and every request is refused.
	header     http.Header
	badHeader  bool
	headerName string // the refused header's name, for the sentence

	// Seams for tests: waiting and the clock.
	sleep func(ctx context.Context, d time.Duration) error
	now   func() time.Time
}

// New builds a client with its own connection pool.
func New(p Platform, s Settings) *Client {
	if s.Timeout <= 0 {
		s.Timeout = defaultTimeout
	}
	switch {
	case s.MaxRetries == 0:
		s.MaxRetries = defaultMaxRetries
	case s.MaxRetries < 0:
		s.MaxRetries = 0
	}
	if s.RetryWait <= 0 {
		s.RetryWait = defaultRetryWait
	}
	if s.RetryWaitMax <= 0 {
		s.RetryWaitMax = defaultRetryWaitMax
	}
	base := s.BaseURL
	if base == "" {
		base = p.DefaultURL
	}

	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConns = 32
	transport.MaxIdleConnsPerHost = 8
	transport.IdleConnTimeout = 90 * time.Second
	// Retries are ours alone, so resty's are off; its logger is silenced
	// because it could print request details.
	rc := resty.NewWithClient(&http.Client{Transport: transport}).
		SetLogger(silentLogger{}).
		SetDisableWarn(true).
		SetRetryCount(0).
		SetContentLength(true).
		SetHeader("User-Agent", version.UserAgent()).
		SetHeader("Accept", "application/json")

	return &Client{
		platform: p,
		settings: s,
		baseURL:  strings.TrimRight(base, "/"),
		rc:       rc,
		redactor: newRedactor(append([]string{s.APIKey}, s.Redact...)...),
		sleep:    pause.For,
		now:      time.Now,
	}
}

// String keeps the credential out of anything that prints a Client.
func (c *Client) String() string { return "httpapi.Client{" + c.platform.Name + " " + c.baseURL + "}" }

func (c *Client) GoString() string { return c.String() }

// Platform is the platform this client talks to.
func (c *Client) Platform() Platform { return c.platform }

// WithKey is a client for another credential on the same platform, sharing
// this client's connections: for checking a key that is not the configured
// one without a connection pool per check. Its messages keep out both that
// key and this client's credentials.
func (c *Client) WithKey(apiKey string) *Client {
	other := *c
	other.settings.APIKey = apiKey
	other.settings.Redact = append(slices.Clone(c.settings.Redact), c.settings.APIKey)
	other.redactor = newRedactor(append([]string{apiKey}, other.settings.Redact...)...)
	return &other
}

// WithHeader is a copy of this client whose requests also carry the header
// name: value, sharing this client's connections and credentials: for a
// platform that wants one more header on some routes (say, the workspace a
// request acts in). The header cannot replace one keyward sets itself (the
// credential, User-Agent, Accept, Content-Type, Content-Length, Host); such a
// name, or a name or value that an HTTP header cannot carry, makes every
// request of the copy fail with KindInvalid before anything is sent.
func (c *Client) WithHeader(name, value string) *Client {
	other := *c
	other.header = c.header.Clone()
	if other.header == nil {
		other.header = http.Header{}
	}
	if !validHeaderName(name) || !validHeaderValue(value) || c.reservedHeader(name) {
		other.badHeader, other.headerName = true, name
		return &other
	}
	other.header.Set(name, value)
	return &other
}

func (c *Client) reservedHeader(name string) bool {
	canon := http.CanonicalHeaderKey(name)
	for _, own := range []string{c.platform.AuthHeader, "User-Agent", "Accept", "Content-Type", "Content-Length", "Host"} {
		if canon == http.CanonicalHeaderKey(own) {
			return true
		}
	}
	return false
}

// validHeaderName: a token of RFC 9110 (letters, digits and !#$%&'*+-.^_`|~).
func validHeaderName(name string) bool {
	if name == "" || len(name) > 128 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// validHeaderValue: visible ASCII and inner spaces, no line breaks or other
// controls, bounded.
func validHeaderValue(value string) bool {
	if len(value) > 1024 || strings.TrimSpace(value) != value {
		return false
	}
	for i := 0; i < len(value); i++ {
		if c := value[i]; c < ' ' || c > '~' {
			return false
		}
	}
	return true
}

// Do sends method+path (path appended to the base URL exactly, trailing
// slashes kept) with body as JSON (nil: none) and decodes a 2xx JSON answer
// into out (nil: the body is ignored). Only idempotent requests are retried
// once they may have reached the server.
func (c *Client) Do(ctx context.Context, method, path string, body, out any, idempotent bool) error {
	return c.do(ctx, &call{c: c, method: method, path: path, idempotent: idempotent, safe: safeMethod(method)}, body, out)
}

// DoSafe is Do for a request that changes nothing upstream whatever its method,
// such as POST /validate: it is retried, and a failure never reports that
// something may have changed.
func (c *Client) DoSafe(ctx context.Context, method, path string, body, out any) error {
	return c.do(ctx, &call{c: c, method: method, path: path, idempotent: true, safe: true}, body, out)
}

func (c *Client) do(ctx context.Context, call *call, body, out any) error {
	if c.settings.APIKey == "" {
		return call.fail(provider.KindUnauthorized, provider.ChangedNo, 0,
			"%s is empty; set it to a %s API key", c.platform.EnvKey, c.platform.Title)
	}
	if c.badHeader {
		return call.fail(provider.KindInvalid, provider.ChangedNo, 0,
			"keyward did not send %s to %s: the extra header %q is not one an HTTP request may carry, or it would replace one keyward sets itself; nothing was sent",
			call.where(), c.platform.Title, call.sanitize(c.headerName))
	}
	for attempt := 1; ; attempt++ {
		call.attempt = attempt
		res := call.send(ctx, body)
		if res.err == nil {
			return call.decode(res, out)
		}
		if attempt > c.settings.MaxRetries || !res.retryable {
			return res.err
		}
		wait := c.backoff(attempt)
		if res.retryAfter > 0 {
			if res.retryAfter > c.settings.RetryWaitMax {
				// Waiting that long would stall the agent; it gets the wait instead.
				return res.err
			}
			wait = res.retryAfter
		}
		// The person behind the call sees why it takes longer (never a
		// credential: the path is sanitized, and the notifier masks again).
		why := "failed"
		if res.status != 0 {
			why = fmt.Sprintf("answered HTTP %d", res.status)
		}
		caller.Notify(ctx, caller.Warning, fmt.Sprintf("%s %s to %s; keyward retries in %s (retry %d of %d)",
			call.where(), why, c.platform.Title, wait.Round(time.Millisecond), attempt, c.settings.MaxRetries))
		if c.sleep(ctx, wait) != nil {
			return res.err
		}
	}
}

// backoff is exponential with equal jitter, capped at RetryWaitMax.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.settings.RetryWait << min(attempt-1, 20)
	if d <= 0 || d > c.settings.RetryWaitMax {
		d = c.settings.RetryWaitMax
	}
	half := d / 2
	return half + rand.N(half+1)
}

// call is one Do invocation across its attempts.
type call struct {
	c          *Client
	method     string
	path       string
	idempotent bool
	safe       bool // changes nothing upstream
	attempt    int
}

// result is one attempt: a readable 2xx body, or an error and whether a retry
// may help.
type result struct {
	status     int
	body       []byte
	err        *provider.Error
	retryable  bool
	retryAfter time.Duration
}

func (k *call) send(ctx context.Context, body any) result {
	actx, cancel := context.WithTimeout(ctx, k.c.settings.Timeout)
	defer cancel()

	s := k.c.settings
	req := k.c.rc.R().
		SetContext(actx).
		SetDoNotParseResponse(true)
	for name, values := range k.c.header {
		for _, v := range values {
			req.Header.Add(name, v)
		}
	}
	req.SetHeader(k.c.platform.AuthHeader, k.c.platform.AuthPrefix+s.APIKey)
	if body != nil {
		req.SetHeader("Content-Type", "application/json").SetBody(body)
	}
	resp, err := req.Execute(k.method, k.c.baseURL+k.path)
	if err != nil {
		return k.transportFailure(ctx, actx, err, false)
	}
	raw := resp.RawBody()
	defer raw.Close()
	data, err := io.ReadAll(io.LimitReader(raw, maxBody+1))
	status := resp.StatusCode()
	if err != nil {
		if status >= 400 {
			// The status alone says what happened; the body was only decoration.
			return k.statusFailure(status, resp.Header(), nil)
		}
		return k.transportFailure(ctx, actx, err, true)
	}
	if len(data) > maxBody {
		return result{status: status, err: k.fail(provider.KindUpstream, k.changedAfterAnswer(status), status,
			"%s answered %s with more than 1 MiB, which keyward does not read%s",
			k.c.platform.Title, k.where(), k.outcome(k.changedAfterAnswer(status)))}
	}
	if status >= 200 && status < 300 {
		return result{status: status, body: data}
	}
	return k.statusFailure(status, resp.Header(), data)
}

// transportFailure maps an error before or while reading the answer.
func (k *call) transportFailure(parent, actx context.Context, err error, answered bool) result {
	changed := k.changedIfReached()
	switch {
	case parent.Err() != nil:
		return result{err: k.fail(provider.KindUpstream, changed, 0,
			"%s to %s was cancelled before it finished%s", k.where(), k.c.platform.Title, k.outcome(changed))}
	case errors.Is(actx.Err(), context.DeadlineExceeded):
		return result{retryable: k.idempotent, err: k.fail(provider.KindUpstream, changed, 0,
			"%s did not answer %s within %s%s", k.c.platform.Title, k.where(), k.c.settings.Timeout, k.outcome(changed))}
	case !answered && isDialError(err):
		// Nothing left this machine, so even a create is safe to send again.
		return result{retryable: true, err: k.fail(provider.KindUpstream, provider.ChangedNo, 0,
			"could not connect to %s for %s; check the network and the base URL%s",
			k.c.platform.Title, k.where(), k.outcome(provider.ChangedNo))}
	default:
		return result{retryable: k.idempotent, err: k.fail(provider.KindUpstream, changed, 0,
			"the connection to %s broke during %s%s", k.c.platform.Title, k.where(), k.outcome(changed))}
	}
}

// statusFailure maps a non-2xx answer. A refusal (4xx) means the platform
// did not carry the request out; a server failure (5xx) to a write may come
// after it did (a crash after the change was stored, a gateway that gave up
// on an upstream that went on), so only a read, or a 501, 503 or 505, which
// are refusals before any work, changed nothing for certain.
func (k *call) statusFailure(status int, header http.Header, body []byte) result {
	p := k.c.platform
	quote := k.quote(body)
	no := provider.ChangedNo
	switch {
	case status == http.StatusUnauthorized:
		return result{status: status, err: k.fail(provider.KindUnauthorized, no, status,
			"the key in %s was rejected by %s (invalid, expired or revoked); set a valid key", p.EnvKey, p.Title)}
	case status == http.StatusForbidden:
		perm := k.sanitize(permissionIn(body))
		if perm != "" {
			e := k.fail(provider.KindForbidden, no, status,
				"the key in %s lacks the %s permission %q that %s needs; use a key that has it",
				p.EnvKey, p.Title, perm, k.where())
			e.Permission = perm
			return result{status: status, err: e}
		}
		return result{status: status, err: k.fail(provider.KindForbidden, no, status,
			"%s refused %s for the key in %s (403 Forbidden)%s; the key lacks a permission this needs",
			p.Title, k.where(), p.EnvKey, quote)}
	case status == http.StatusNotFound || status == http.StatusGone:
		return result{status: status, err: k.fail(provider.KindNotFound, no, status,
			"%s found nothing at %s (%d)%s", p.Title, k.where(), status, quote).Next(provider.StepFindKey)}
	case status == http.StatusConflict:
		return result{status: status, err: k.fail(provider.KindConflict, no, status,
			"%s refused %s because it conflicts with the current state (409)%s; change the request",
			p.Title, k.where(), quote).Next(provider.StepCheckKeys)}
	case status == http.StatusTooManyRequests:
		wait, known := retryAfter(header, k.c.now())
		e := k.fail(provider.KindRateLimited, no, status, "%s is rate limiting requests (429); %s", p.Title, waitSentence(wait, known))
		e.RetryAfter = wait
		return result{status: status, err: e, retryable: k.idempotent, retryAfter: wait}
	case status >= 500:
		retry := k.idempotent && (status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout)
		wait, _ := retryAfter(header, k.c.now())
		changed := no
		switch status {
		case http.StatusNotImplemented, http.StatusServiceUnavailable, http.StatusHTTPVersionNotSupported:
		default:
			changed = k.changedIfReached()
		}
		return result{status: status, retryable: retry, retryAfter: wait, err: k.fail(provider.KindUpstream, changed, status,
			"%s failed on %s with %d %s%s%s",
			p.Title, k.where(), status, http.StatusText(status), quote, k.outcome(changed))}
	default:
		return result{status: status, err: k.fail(provider.KindInvalid, no, status,
			"%s rejected %s as invalid (%d)%s; correct the request and try again", p.Title, k.where(), status, quote)}
	}
}

// decode reads a 2xx answer into out.
func (k *call) decode(res result, out any) error {
	if out == nil {
		return nil
	}
	changed := k.changedAfterAnswer(res.status)
	if len(bytes.TrimSpace(res.body)) == 0 {
		if res.status == http.StatusNoContent {
			return nil
		}
		return k.fail(provider.KindUpstream, changed, res.status,
			"%s answered %s with an empty body where keyward expected JSON%s", k.c.platform.Title, k.where(), k.outcome(changed))
	}
	if err := json.Unmarshal(res.body, out); err != nil {
		return k.fail(provider.KindUpstream, changed, res.status,
			"%s answered %s with a body keyward could not read as the expected JSON; the platform may be having trouble%s",
			k.c.platform.Title, k.where(), k.outcome(changed))
	}
	return nil
}

// changedIfReached is what a write that may have reached the server leaves
// behind: reads change nothing, writes are unknown.
func (k *call) changedIfReached() provider.Changed {
	if k.safe {
		return provider.ChangedNo
	}
	return provider.ChangedUnknown
}

func safeMethod(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// changedAfterAnswer: a 2xx whose body is unusable means a write was carried
// out but its result is lost.
func (k *call) changedAfterAnswer(status int) provider.Changed {
	if status >= 200 && status < 300 {
		return k.changedIfReached()
	}
	return provider.ChangedNo
}

// outcome ends a failure sentence with what the caller should do next.
func (k *call) outcome(changed provider.Changed) string {
	if changed == provider.ChangedUnknown {
		return fmt.Sprintf("%s; the request may have changed something on %s, so look before retrying",
			k.attempts(), k.c.platform.Title)
	}
	return k.attempts() + "; try again later"
}

func (k *call) attempts() string {
	if k.attempt > 1 {
		return fmt.Sprintf(" (after %d attempts)", k.attempt)
	}
	return ""
}

func (k *call) where() string { return k.method + " " + k.sanitize(k.path) }

func (k *call) fail(kind provider.Kind, changed provider.Changed, status int, format string, args ...any) *provider.Error {
	e := provider.Errorf(kind, k.c.platform.Name, format, args...)
	// Belt and braces: no argument above should carry a credential (upstream
	// text went through sanitize), but a sentence must never do so whatever
	// went in.
	e.Message = k.c.redactor.redact(e.Message)
	e.Changed = changed
	e.Status = status
	if changed == provider.ChangedUnknown {
		e.Step = provider.StepCheckKeys
	}
	return e
}

func waitSentence(wait time.Duration, known bool) string {
	if !known {
		return "wait a few seconds before retrying"
	}
	secs := int((wait + time.Second - 1) / time.Second)
	return fmt.Sprintf("retry after %d s", secs)
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

type silentLogger struct{}

func (silentLogger) Errorf(string, ...any) {}
func (silentLogger) Warnf(string, ...any)  {}
func (silentLogger) Debugf(string, ...any) {}
