package lyceum

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/jsonvalue"
	"github.com/keyward/keyward/internal/provider"
)

// wireKey is one entry of GET /auth/api-keys/ or GET /orgs/{slug}/api-keys.
// Lyceum documents the organisation list ({id, org_id, name, prefix,
// is_active, created_at, expires_at, last_used_at}); the personal list is
// assumed to use the personal create answer's names (key_name, key_prefix)
// plus is_active and last_used_at (see SOURCES.md), so both are read.
type wireKey struct {
	ID         jsonvalue.StringOrNumber `json:"id"`
	KeyName    string                   `json:"key_name"`
	Name       string                   `json:"name"`
	KeyPrefix  string                   `json:"key_prefix"`
	Prefix     string                   `json:"prefix"`
	IsActive   activeFlag               `json:"is_active"`
	CreatedAt  wireTime                 `json:"created_at"`
	ExpiresAt  *wireTime                `json:"expires_at"`
	LastUsedAt *wireTime                `json:"last_used_at"`
}

func (w wireKey) key() provider.Key {
	return provider.Key{
		ID:         string(w.ID),
		Name:       cmp.Or(w.KeyName, w.Name),
		Active:     w.IsActive.active(),
		CreatedAt:  w.CreatedAt.time(),
		ExpiresAt:  w.ExpiresAt.ptr(),
		LastUsedAt: w.LastUsedAt.ptr(),
		Masked:     maskPrefix(cmp.Or(w.KeyPrefix, w.Prefix)),
	}
}

// activeFlag is is_active as sent: true, false, null or missing. Lyceum's own
// CLI shows a key as active only when it is true; null and missing are
// inactive. Whether the field was there at all is kept, because a toggle
// flips whatever the state is and must not be sent blind.
type activeFlag struct {
	sent  bool // the field was present (null included)
	value *bool
}

func (a *activeFlag) UnmarshalJSON(b []byte) error {
	a.sent = true
	return json.Unmarshal(b, &a.value)
}

func (a activeFlag) active() bool { return a.value != nil && *a.value }

// keyList reads the list as a bare array or wrapped in an object, since the
// exact shape is not documented. An answer with no list in it (null, {}, an
// object without one of those fields) is not read as "no keys": a listing
// is what proves a revoked key gone.
type keyList []wireKey

func (l *keyList) UnmarshalJSON(b []byte) error {
	var items []wireKey
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("[")) {
		if err := json.Unmarshal(b, &items); err != nil {
			return err
		}
		*l = items
		return nil
	}
	var wrapped struct {
		APIKeys []wireKey `json:"api_keys"`
		Keys    []wireKey `json:"keys"`
		Data    []wireKey `json:"data"`
	}
	if err := json.Unmarshal(b, &wrapped); err != nil {
		return err
	}
	switch {
	case wrapped.APIKeys != nil:
		*l = wrapped.APIKeys
	case wrapped.Keys != nil:
		*l = wrapped.Keys
	case wrapped.Data != nil:
		*l = wrapped.Data
	default:
		return errors.New("the answer holds no list of keys")
	}
	return nil
}

// createRequest is POST /auth/api-keys/.
type createRequest struct {
	KeyName   string     `json:"key_name"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// orgCreateRequest is POST /orgs/{slug}/api-keys.
type orgCreateRequest struct {
	Name      string     `json:"name"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// createResponse holds the only copy of the secret there will ever be: the
// personal create answers {api_key, id, key_name, key_prefix, created_at,
// expires_at}; the organisation create and regenerate answer {id, org_id,
// name, prefix, plaintext_key, created_at, expires_at}.
type createResponse struct {
	APIKey       string                   `json:"api_key"`
	PlaintextKey string                   `json:"plaintext_key"`
	ID           jsonvalue.StringOrNumber `json:"id"`
	KeyName      string                   `json:"key_name"`
	Name         string                   `json:"name"`
	KeyPrefix    string                   `json:"key_prefix"`
	Prefix       string                   `json:"prefix"`
	CreatedAt    wireTime                 `json:"created_at"`
	ExpiresAt    *wireTime                `json:"expires_at"`
}

func (c createResponse) secret() string { return cmp.Or(c.APIKey, c.PlaintextKey) }

type validateRequest struct {
	APIKey string `json:"api_key"`
}

// validateResponse is POST /auth/api-keys/validate. Valid is nil when the
// answer lacks it: such an answer says nothing either way.
type validateResponse struct {
	Valid      *bool     `json:"valid"`
	UserID     *string   `json:"user_id"`
	Email      *string   `json:"email"`
	KeyName    *string   `json:"key_name"`
	CreatedAt  *wireTime `json:"created_at"`
	ExpiresAt  *wireTime `json:"expires_at"`
	LastUsedAt *wireTime `json:"last_used_at"`
}

func (v validateResponse) valid() bool { return v.Valid != nil && *v.Valid }

func (v validateResponse) owner() string {
	switch {
	case v.Email != nil && *v.Email != "":
		return *v.Email
	case v.UserID != nil:
		return *v.UserID
	}
	return ""
}

// wireTime reads ISO 8601 with or without a zone; Python's naive times are UTC.
type wireTime time.Time

var naiveLayouts = []string{"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999"}

func (t *wireTime) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil || s == "" {
		return nil // null or unreadable: left zero rather than failing the answer
	}
	if at, err := time.Parse(time.RFC3339Nano, s); err == nil {
		*t = wireTime(at.UTC())
		return nil
	}
	for _, layout := range naiveLayouts {
		if at, err := time.Parse(layout, s); err == nil {
			*t = wireTime(at.UTC())
			return nil
		}
	}
	if secs, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil {
		*t = wireTime(time.Unix(secs, 0).UTC())
	}
	return nil
}

func (t wireTime) time() time.Time { return time.Time(t) }

func (t *wireTime) ptr() *time.Time {
	if t == nil || time.Time(*t).IsZero() {
		return nil
	}
	at := time.Time(*t)
	return &at
}
