// Package providertest holds what every platform provider's tests share.
package providertest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/fakeserver"
	"github.com/keyward/keyward/internal/provider/httpapi"
)

// Settings point a client at a contract fake with quick retries, so tests of
// retry behaviour do not wait out production backoff.
func Settings(baseURL, key string) httpapi.Settings {
	return httpapi.Settings{
		APIKey:       key,
		BaseURL:      baseURL,
		Timeout:      5 * time.Second,
		MaxRetries:   2,
		RetryWait:    time.Millisecond,
		RetryWaitMax: 5 * time.Millisecond,
	}
}

// RequireKind fails unless err is a *provider.Error of that kind (and, when
// providerName is set, from that provider).
func RequireKind(t testing.TB, err error, kind provider.Kind, providerName string) *provider.Error {
	t.Helper()
	var pe *provider.Error
	if !errors.As(err, &pe) {
		t.Fatalf("want a *provider.Error of kind %s, got %v", kind, err)
	}
	if pe.Kind != kind {
		t.Fatalf("want kind %s, got %s: %s", kind, pe.Kind, pe.Message)
	}
	if providerName != "" && pe.Provider != providerName {
		t.Fatalf("want an error from %s, got one from %s: %s", providerName, pe.Provider, pe.Message)
	}
	return pe
}

// NoSecret fails when the text of any value (an error's message, or %+v
// otherwise) holds any of the secrets.
func NoSecret(t testing.TB, secrets []string, values ...any) {
	t.Helper()
	for _, v := range values {
		if v == nil {
			continue
		}
		text := fmt.Sprintf("%+v", v)
		if err, ok := v.(error); ok {
			text = err.Error()
		}
		for _, s := range secrets {
			if s != "" && strings.Contains(text, s) {
				t.Fatalf("a secret leaked into %q", text)
			}
		}
	}
}

// Count is how many requests a fake saw with that method and exact path.
func Count(requests []fakeserver.Request, method, path string) int {
	n := 0
	for _, r := range requests {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}
