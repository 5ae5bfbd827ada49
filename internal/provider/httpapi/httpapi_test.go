package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/fakeserver"
	"github.com/keyward/keyward/internal/version"
)

const testKey = "vk_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0"

var testPlatform = Platform{
	Name:       "vast",
	Title:      "Vast.ai",
	EnvKey:     "VAST_API_KEY",
	DefaultURL: "https://console.vast.ai/api/v0",
	AuthHeader: "Authorization",
	AuthPrefix: "Bearer ",
}

// sleeps records the waits a client asked for instead of waiting.
type sleeps struct {
	mu    sync.Mutex
	waits []time.Duration
}

func (s *sleeps) sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, d)
	return ctx.Err()
}

func (s *sleeps) all() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]time.Duration(nil), s.waits...)
}

func testClient(url string, tweak ...func(*Settings)) (*Client, *sleeps) {
	s := Settings{APIKey: testKey, BaseURL: url, Timeout: 2 * time.Second, MaxRetries: 3, RetryWait: time.Millisecond, RetryWaitMax: 10 * time.Second}
	for _, f := range tweak {
		f(&s)
	}
	c := New(testPlatform, s)
	rec := &sleeps{}
	c.sleep = rec.sleep
	return c, rec
}

// serve starts a fake whose only handler is h.
func serve(t *testing.T, h http.HandlerFunc) *fakeserver.Server {
	t.Helper()
	srv := fakeserver.Start(h)
	t.Cleanup(srv.Close)
	return srv
}

func answer(status int, body string, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}
}

func providerError(t *testing.T, err error) *provider.Error {
	t.Helper()
	var pe *provider.Error
	require.True(t, errors.As(err, &pe), "want a *provider.Error, got %v", err)
	assert.Equal(t, "vast", pe.Provider)
	assert.NotContains(t, pe.Message, testKey, "a sentence holds the credential")
	return pe
}

func TestDoSendsHeadersBodyAndDecodes(t *testing.T) {
	var got *http.Request
	var gotBody string
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.Clone(context.Background())
		var in map[string]string
		require.NoError(t, fakeserver.ReadJSON(r, &in))
		gotBody = in["name"]
		fakeserver.WriteJSON(w, http.StatusCreated, map[string]any{"id": 7, "key": "secret"})
	})
	c, _ := testClient(srv.URL + "/api/v0/")

	var out struct {
		ID int `json:"id"`
	}
	err := c.Do(context.Background(), http.MethodPost, "/auth/apikeys/", map[string]string{"name": "agent"}, &out, false)
	require.NoError(t, err)

	assert.Equal(t, 7, out.ID)
	assert.Equal(t, "agent", gotBody)
	assert.Equal(t, "/api/v0/auth/apikeys/", got.URL.Path, "the trailing slash is kept and the base's is not doubled")
	assert.Equal(t, "Bearer "+testKey, got.Header.Get("Authorization"))
	assert.Equal(t, version.UserAgent(), got.Header.Get("User-Agent"))
	assert.Equal(t, "application/json", got.Header.Get("Content-Type"))
	assert.Equal(t, testPlatform, c.Platform())
}

func TestDoWithoutBodyOrOut(t *testing.T) {
	var contentType string
	var length int64
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		contentType, length = r.Header.Get("Content-Type"), r.ContentLength
		_, _ = w.Write([]byte("not json, and nobody reads it"))
	})
	c, _ := testClient(srv.URL)
	require.NoError(t, c.Do(context.Background(), http.MethodDelete, "/auth/apikeys/3/", nil, nil, true))
	assert.Empty(t, contentType)
	assert.Zero(t, length)
}

func TestPostWithoutBodySendsAZeroLength(t *testing.T) {
	var length int64
	var chunked []string
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		length, chunked = r.ContentLength, r.TransferEncoding
		w.WriteHeader(http.StatusNoContent)
	})
	c, _ := testClient(srv.URL)
	require.NoError(t, c.Do(context.Background(), http.MethodPost, "/commands/x/", nil, nil, false))
	assert.Zero(t, length)
	assert.Empty(t, chunked, "some platforms refuse chunked uploads")
}

func TestCustomAuthHeaderWithoutPrefix(t *testing.T) {
	var got string
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("X-API-Key") + "|" + r.Header.Get("Authorization")
		w.WriteHeader(http.StatusNoContent)
	})
	p := testPlatform
	p.AuthHeader, p.AuthPrefix = "X-API-Key", ""
	c := New(p, Settings{APIKey: testKey, BaseURL: srv.URL})
	var out map[string]any
	require.NoError(t, c.Do(context.Background(), http.MethodGet, "/me", nil, &out, true), "204 with out is fine")
	assert.Equal(t, testKey+"|", got)
}

func TestEmptyKeyIsRefusedWithoutARequest(t *testing.T) {
	srv := serve(t, answer(http.StatusOK, "{}"))
	c, _ := testClient(srv.URL, func(s *Settings) { s.APIKey = "" })
	err := c.Do(context.Background(), http.MethodGet, "/users/current/", nil, nil, true)
	pe := providerError(t, err)
	assert.Equal(t, provider.KindUnauthorized, pe.Kind)
	assert.Contains(t, pe.Message, "VAST_API_KEY is empty")
	assert.Empty(t, srv.Requests())
}

func TestStatusMapping(t *testing.T) {
	cases := []struct {
		name     string
		status   int
		body     string
		kind     provider.Kind
		contains []string
		perm     string
	}{
		{"401", 401, `{"detail":"bad key ` + testKey + `"}`, provider.KindUnauthorized,
			[]string{"the key in VAST_API_KEY was rejected by Vast.ai (invalid, expired or revoked); set a valid key"}, ""},
		{"403 naming a permission field", 403, `{"error":"forbidden","permission":"billing_write"}`, provider.KindForbidden,
			[]string{`permission "billing_write"`, "VAST_API_KEY"}, "billing_write"},
		{"403 naming a permission in prose", 403, `{"msg":"API key lacks required permission: instance_write"}`, provider.KindForbidden,
			[]string{`"instance_write"`}, "instance_write"},
		{"403 quoting a permission", 403, `{"detail":"missing permission 'misc'"}`, provider.KindForbidden,
			[]string{`"misc"`}, "misc"},
		{"403 without a permission", 403, `{"detail":"Permission denied"}`, provider.KindForbidden,
			[]string{"403 Forbidden", `"Permission denied"`, "lacks a permission"}, ""},
		{"404", 404, `{"detail":"Not Found"}`, provider.KindNotFound, []string{"GET /auth/apikeys/9/"}, ""},
		{"409", 409, `{"message":"name taken"}`, provider.KindConflict, []string{`"name taken"`}, ""},
		{"400 Vast style", 400, `{"success":false,"error":"invalid_args","msg":"name is required"}`, provider.KindInvalid,
			[]string{`"name is required"`, "(400)"}, ""},
		{"422 FastAPI style", 422, `{"detail":[{"loc":["body","key_name"],"msg":"Field required","type":"missing","input":"` + testKey + `"}]}`,
			provider.KindInvalid, []string{`"key_name: Field required"`}, ""},
		{"500 with html", 500, `<html>` + testKey + `</html>`, provider.KindUpstream, []string{"500 Internal Server Error", "try again later"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, answer(tc.status, tc.body))
			c, _ := testClient(srv.URL)
			err := c.Do(context.Background(), http.MethodGet, "/auth/apikeys/9/", nil, &struct{}{}, true)
			pe := providerError(t, err)
			assert.Equal(t, tc.kind, pe.Kind)
			assert.Equal(t, tc.status, pe.Status)
			assert.Equal(t, provider.ChangedNo, pe.Changed)
			assert.Equal(t, tc.perm, pe.Permission)
			for _, s := range tc.contains {
				assert.Contains(t, pe.Message, s)
			}
			assert.Len(t, srv.Requests(), 1, "this status is not retried")
		})
	}
}

func TestRateLimitedCarriesTheWait(t *testing.T) {
	srv := serve(t, answer(http.StatusTooManyRequests, `{"detail":"slow down"}`, "Retry-After", "7"))
	c, rec := testClient(srv.URL)
	err := c.Do(context.Background(), http.MethodPost, "/auth/apikeys/", struct{}{}, nil, false)
	pe := providerError(t, err)
	assert.Equal(t, provider.KindRateLimited, pe.Kind)
	assert.Equal(t, 7*time.Second, pe.RetryAfter)
	assert.Contains(t, pe.Message, "retry after 7 s")
	assert.Len(t, srv.Requests(), 1, "a create is not retried")
	assert.Empty(t, rec.all())
}

func TestRetryAfterIsHonoured(t *testing.T) {
	var n atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", "2")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		fakeserver.WriteJSON(w, http.StatusOK, map[string]any{"apikeys": []any{}})
	})
	c, rec := testClient(srv.URL)
	require.NoError(t, c.Do(context.Background(), http.MethodGet, "/auth/apikeys/", nil, &map[string]any{}, true))
	assert.Equal(t, []time.Duration{2 * time.Second}, rec.all())
	assert.Len(t, srv.Requests(), 2)
}

func TestRetryAfterAsHTTPDate(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	var n atomic.Int32
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			w.Header().Set("Retry-After", now.Add(3*time.Second).Format(http.TimeFormat))
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	c, rec := testClient(srv.URL)
	c.now = func() time.Time { return now }
	require.NoError(t, c.Do(context.Background(), http.MethodGet, "/x", nil, nil, true))
	assert.Equal(t, []time.Duration{3 * time.Second}, rec.all())
}

func TestRetryAfterBeyondTheCapIsReturnedNotWaited(t *testing.T) {
	srv := serve(t, answer(http.StatusTooManyRequests, "", "Retry-After", "120"))
	c, rec := testClient(srv.URL)
	err := c.Do(context.Background(), http.MethodGet, "/x", nil, nil, true)
	pe := providerError(t, err)
	assert.Equal(t, 120*time.Second, pe.RetryAfter)
	assert.Contains(t, pe.Message, "retry after 120 s")
	assert.Len(t, srv.Requests(), 1)
	assert.Empty(t, rec.all())
}

func TestRateLimitedWithoutRetryAfter(t *testing.T) {
	srv := serve(t, answer(http.StatusTooManyRequests, ""))
	c, _ := testClient(srv.URL, func(s *Settings) { s.MaxRetries = -1 })
	pe := providerError(t, c.Do(context.Background(), http.MethodGet, "/x", nil, nil, true))
	assert.Equal(t, provider.KindRateLimited, pe.Kind)
	assert.Zero(t, pe.RetryAfter)
	assert.Contains(t, pe.Message, "wait a few seconds")
	assert.Len(t, srv.Requests(), 1, "negative MaxRetries means no retry")
}

func TestRetries(t *testing.T) {
	cases := []struct {
		name       string
		fault      fakeserver.Fault
		method     string
		idempotent bool
		requests   int
		changed    provider.Changed
	}{
		{"idempotent read on 503", fakeserver.Fault{Status: 503}, http.MethodGet, true, 4, provider.ChangedNo},
		{"idempotent read on 502", fakeserver.Fault{Status: 502}, http.MethodGet, true, 4, provider.ChangedNo},
		{"idempotent read on 504", fakeserver.Fault{Status: 504}, http.MethodGet, true, 4, provider.ChangedNo},
		{"idempotent read on 500 is not retried", fakeserver.Fault{Status: 500}, http.MethodGet, true, 1, provider.ChangedNo},
		{"create on 503", fakeserver.Fault{Status: 503}, http.MethodPost, false, 1, provider.ChangedNo},
		{"idempotent read on a closed connection", fakeserver.Fault{CloseConn: true}, http.MethodGet, true, 4, provider.ChangedNo},
		{"create on a closed connection", fakeserver.Fault{CloseConn: true}, http.MethodPost, false, 1, provider.ChangedUnknown},
		{"idempotent delete on a closed connection", fakeserver.Fault{CloseConn: true}, http.MethodDelete, true, 4, provider.ChangedUnknown},
		{"idempotent read of a truncated body", fakeserver.Fault{Truncate: true}, http.MethodGet, true, 4, provider.ChangedNo},
		{"create with a truncated answer", fakeserver.Fault{Truncate: true}, http.MethodPost, false, 1, provider.ChangedUnknown},
		{"idempotent read answered with HTML", fakeserver.Fault{NonJSON: true}, http.MethodGet, true, 1, provider.ChangedNo},
		{"create answered with HTML", fakeserver.Fault{NonJSON: true}, http.MethodPost, false, 1, provider.ChangedUnknown},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				fakeserver.WriteJSON(w, http.StatusOK, map[string]any{"id": 1, "key": "abc"})
			})
			srv.Faults.Set(tc.fault)
			c, rec := testClient(srv.URL)
			var out map[string]any
			err := c.Do(context.Background(), tc.method, "/auth/apikeys/", map[string]string{"name": "n"}, &out, tc.idempotent)
			pe := providerError(t, err)
			assert.Equal(t, provider.KindUpstream, pe.Kind)
			assert.Equal(t, tc.changed, pe.Changed)
			assert.Len(t, srv.Requests(), tc.requests)
			assert.Len(t, rec.all(), tc.requests-1, "one wait before each retry")
			if tc.changed == provider.ChangedUnknown {
				assert.Contains(t, pe.Message, "may have changed something on Vast.ai, so look before retrying")
				assert.Equal(t, provider.StepCheckKeys, pe.Step)
			} else {
				assert.NotContains(t, pe.Message, "may have changed")
			}
			if tc.requests > 1 {
				assert.Contains(t, pe.Message, "after 4 attempts")
			}
		})
	}
}

func TestDoSafeIsRetriedAndChangesNothing(t *testing.T) {
	srv := serve(t, answer(http.StatusOK, "{}"))
	srv.Faults.Set(fakeserver.Fault{CloseConn: true})
	c, _ := testClient(srv.URL)
	var out map[string]any
	pe := providerError(t, c.DoSafe(context.Background(), http.MethodPost, "/auth/api-keys/validate", map[string]string{"api_key": "x"}, &out))
	assert.Equal(t, provider.KindUpstream, pe.Kind)
	assert.Equal(t, provider.ChangedNo, pe.Changed)
	assert.NotContains(t, pe.Message, "may have changed")
	assert.Len(t, srv.Requests(), 4)

	srv.Faults.Clear()
	require.NoError(t, c.DoSafe(context.Background(), http.MethodPost, "/auth/api-keys/validate", map[string]string{"api_key": "x"}, &out))
}

func TestRetrySucceedsAfterATransientFailure(t *testing.T) {
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		fakeserver.WriteJSON(w, http.StatusOK, map[string]int{"id": 5})
	})
	srv.Faults.Set(fakeserver.Fault{Status: http.StatusBadGateway, Times: 2})
	c, _ := testClient(srv.URL)
	var out struct{ ID int }
	require.NoError(t, c.Do(context.Background(), http.MethodGet, "/k", nil, &out, true))
	assert.Equal(t, 5, out.ID)
	assert.Len(t, srv.Requests(), 3)
}

func TestBackoffGrowsWithJitterAndIsCapped(t *testing.T) {
	c := New(testPlatform, Settings{APIKey: testKey, RetryWait: 100 * time.Millisecond, RetryWaitMax: time.Second})
	for attempt, full := range map[int]time.Duration{1: 100 * time.Millisecond, 2: 200 * time.Millisecond, 3: 400 * time.Millisecond, 5: time.Second, 60: time.Second} {
		for range 50 {
			d := c.backoff(attempt)
			assert.GreaterOrEqual(t, d, full/2, "attempt %d", attempt)
			assert.LessOrEqual(t, d, full, "attempt %d", attempt)
		}
	}
}

func TestTimeout(t *testing.T) {
	for _, tc := range []struct {
		method     string
		idempotent bool
		requests   int
		changed    provider.Changed
	}{
		{http.MethodGet, true, 2, provider.ChangedNo},
		{http.MethodPost, false, 1, provider.ChangedUnknown},
	} {
		t.Run(tc.method, func(t *testing.T) {
			srv := serve(t, answer(http.StatusOK, "{}"))
			srv.Faults.Set(fakeserver.Fault{Delay: time.Minute})
			c, _ := testClient(srv.URL, func(s *Settings) { s.Timeout = 20 * time.Millisecond; s.MaxRetries = 1 })
			err := c.Do(context.Background(), tc.method, "/auth/apikeys/", nil, nil, tc.idempotent)
			pe := providerError(t, err)
			assert.Equal(t, provider.KindUpstream, pe.Kind)
			assert.Equal(t, tc.changed, pe.Changed)
			assert.Contains(t, pe.Message, "did not answer "+tc.method+" /auth/apikeys/ within 20ms")
			assert.Len(t, srv.Requests(), tc.requests)
		})
	}
}

func TestCancelledContext(t *testing.T) {
	srv := serve(t, answer(http.StatusOK, "{}"))
	c, _ := testClient(srv.URL)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	pe := providerError(t, c.Do(ctx, http.MethodGet, "/x", nil, nil, true))
	assert.Equal(t, provider.KindUpstream, pe.Kind)
	assert.Contains(t, pe.Message, "was cancelled")
}

func TestUnreachableServerChangedNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	c, rec := testClient(url)
	pe := providerError(t, c.Do(context.Background(), http.MethodPost, "/auth/apikeys/", struct{}{}, nil, false))
	assert.Equal(t, provider.KindUpstream, pe.Kind)
	assert.Equal(t, provider.ChangedNo, pe.Changed, "nothing was sent")
	assert.Contains(t, pe.Message, "could not connect to Vast.ai")
	assert.Len(t, rec.all(), 3, "a request that never left is safe to send again")
}

func TestBodyLimit(t *testing.T) {
	big := `{"pad":"` + strings.Repeat("a", maxBody) + `"}`
	srv := serve(t, answer(http.StatusOK, big))
	c, _ := testClient(srv.URL)
	var out map[string]any
	pe := providerError(t, c.Do(context.Background(), http.MethodGet, "/auth/apikeys/", nil, &out, true))
	assert.Equal(t, provider.KindUpstream, pe.Kind)
	assert.Contains(t, pe.Message, "more than 1 MiB")
	assert.Len(t, srv.Requests(), 1)

	fits := `{"pad":"` + strings.Repeat("a", maxBody-10) + `"}`
	srv2 := serve(t, answer(http.StatusOK, fits))
	c2, _ := testClient(srv2.URL)
	require.NoError(t, c2.Do(context.Background(), http.MethodGet, "/", nil, &out, true))
}

func TestEmptyBodyWhereJSONWasExpected(t *testing.T) {
	srv := serve(t, answer(http.StatusOK, ""))
	c, _ := testClient(srv.URL)
	pe := providerError(t, c.Do(context.Background(), http.MethodGet, "/x", nil, &map[string]any{}, true))
	assert.Equal(t, provider.KindUpstream, pe.Kind)
	assert.Contains(t, pe.Message, "empty body")
}

func TestNoCredentialInAnyQuotedMessage(t *testing.T) {
	other := "lk_1234567890abcdefghijklmnopqrstuv" // a secret the platform echoes back
	bodies := []string{
		`{"detail":"key ` + testKey + ` is invalid"}`,
		`{"msg":"cannot validate ` + other + `"}`,
		`{"error":{"message":"token=` + testKey[:20] + `... and ` + testKey + `"}}`,
		`{"message":"` + strings.Repeat("x ", 400) + testKey + `"}`,
	}
	for _, status := range []int{400, 403, 404, 409, 422, 500} {
		for _, body := range bodies {
			srv := serve(t, answer(status, body))
			c, _ := testClient(srv.URL)
			err := c.Do(context.Background(), http.MethodGet, "/keys/"+testKey, nil, nil, false)
			pe := providerError(t, err)
			assert.NotContains(t, pe.Message, other)
			assert.LessOrEqual(t, len([]rune(pe.Message)), 600)
		}
	}
}

func TestSanitizeKeepsIDsAndRedactsTokens(t *testing.T) {
	c, _ := testClient("http://unused")
	k := &call{c: c}
	assert.Equal(t, "key 3f2b8c1e-0a9d-4e7f-8b6a-5c4d3e2f1a0b not found", k.sanitize("key 3f2b8c1e-0a9d-4e7f-8b6a-5c4d3e2f1a0b not found"))
	assert.Equal(t, "id 123456789012345678901234567 gone", k.sanitize("id 123456789012345678901234567 gone"))
	assert.Equal(t, "bad sk_AbCd…MnOp here", k.sanitize("bad\n\tsk_AbCdEfGh1234567890IjKlMnOp here"), "masked as a key")
	assert.Equal(t, "bad [redacted] here", k.sanitize("bad abcdefghijklmnopqrstuvw1 here"), "any other token-shaped word")
	assert.Equal(t, "[redacted]", k.sanitize(testKey))
}

func TestPermissionIn(t *testing.T) {
	cases := map[string]string{
		`{"required_scope":"keys:write"}`:                        "keys:write",
		`{"detail":"requires the billing_read permission"}`:      "billing_read",
		`{"detail":"Permission \"team_write\" is required"}`:     "team_write",
		`{"detail":"scope required: instance.read"}`:             "instance.read",
		`{"detail":"Permission denied"}`:                         "",
		`{"detail":"You do not have permission to do this"}`:     "",
		`not json at all, permission "x_y"`:                      "",
		`{"msg":"Forbidden: API key does not have permission."}`: "",
	}
	for body, want := range cases {
		assert.Equal(t, want, permissionIn([]byte(body)), body)
	}
}

func TestConnectionsAreReused(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(answer(http.StatusOK, "{}"))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c, _ := testClient(srv.URL)
	for range 5 {
		require.NoError(t, c.Do(context.Background(), http.MethodGet, "/x", nil, &map[string]any{}, true))
	}
	assert.Equal(t, int32(1), conns.Load())
}

func TestWithKeySendsTheOtherKeyOverTheSameConnections(t *testing.T) {
	var conns atomic.Int32
	var keys []string
	var mu sync.Mutex
	var refuse atomic.Bool
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if refuse.Load() {
			answer(http.StatusBadRequest, `{"detail":"bad other-key"}`)(w, r)
			return
		}
		mu.Lock()
		keys = append(keys, r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	c, _ := testClient(srv.URL)
	other := c.WithKey("other-key")
	require.NoError(t, c.Do(context.Background(), http.MethodGet, "/x", nil, nil, true))
	require.NoError(t, other.Do(context.Background(), http.MethodGet, "/x", nil, nil, true))
	require.NoError(t, c.Do(context.Background(), http.MethodGet, "/x", nil, nil, true))
	assert.Equal(t, []string{"Bearer " + testKey, "Bearer other-key", "Bearer " + testKey}, keys)
	assert.Equal(t, int32(1), conns.Load())

	refuse.Store(true)
	pe := providerError(t, other.Do(context.Background(), http.MethodGet, "/x", nil, nil, true))
	assert.NotContains(t, pe.Message, "other-key", "the other key is redacted like the configured one")
}

func TestPrintingNeverShowsTheKey(t *testing.T) {
	s := Settings{APIKey: testKey, BaseURL: "https://example.test"}
	c := New(testPlatform, s)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		assert.NotContains(t, fmt.Sprintf(format, s), testKey, format)
		assert.NotContains(t, fmt.Sprintf(format, c), testKey, format)
	}
	assert.Contains(t, fmt.Sprint(s), "https://example.test")
}

func TestDefaults(t *testing.T) {
	c := New(testPlatform, Settings{APIKey: testKey})
	assert.Equal(t, "https://console.vast.ai/api/v0", c.baseURL)
	assert.Equal(t, 15*time.Second, c.settings.Timeout)
	assert.Equal(t, 3, c.settings.MaxRetries)
	assert.Equal(t, 500*time.Millisecond, c.settings.RetryWait)
	assert.Equal(t, 10*time.Second, c.settings.RetryWaitMax)
}
