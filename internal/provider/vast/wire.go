package vast

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/secret"
)

// listResponse is GET /auth/apikeys/.
type listResponse struct {
	APIKeys []wireKey `json:"apikeys"`
}

// wireKey is one list entry. Current answers carry key: null; an older
// reference shows the value and "rights" instead of "permissions", so both
// are read and a value is only ever masked.
type wireKey struct {
	ID          int64           `json:"id"`
	Name        string          `json:"name"`
	Key         *string         `json:"key"`
	Permissions json.RawMessage `json:"permissions"`
	Rights      json.RawMessage `json:"rights"`
	CreatedAt   epoch           `json:"created_at"`
}

func (w wireKey) key() provider.Key {
	k := provider.Key{
		ID:        strconv.FormatInt(w.ID, 10),
		Name:      w.Name,
		Scopes:    scopesOf(w.Permissions),
		Active:    true, // Vast lists only keys that are not deleted
		CreatedAt: time.Time(w.CreatedAt),
	}
	if k.Scopes == nil {
		k.Scopes = scopesOf(w.Rights)
	}
	if w.Key != nil && *w.Key != "" {
		k.Masked = secret.Mask(*w.Key)
	}
	return k
}

// createRequest is POST /auth/apikeys/. key_params is sent as null, as
// Vast's own CLI does.
type createRequest struct {
	Name        string      `json:"name"`
	Permissions permissions `json:"permissions"`
	KeyParams   *string     `json:"key_params"`
}

// permissions is Vast's {"api": {"<category>": {}}}.
type permissions struct {
	API map[string]struct{} `json:"api"`
}

func permissionsFor(scopes []string) permissions {
	p := permissions{API: make(map[string]struct{}, len(scopes))}
	for _, s := range scopes {
		p.API[s] = struct{}{}
	}
	return p
}

// scopesOf reads the categories of a permissions value, which may arrive as
// an object, as a JSON string holding one, or as false/null for a key with
// full access (nil scopes).
func scopesOf(raw json.RawMessage) []string {
	raw = bytes.TrimSpace(raw)
	var inner string
	if json.Unmarshal(raw, &inner) == nil {
		raw = []byte(inner)
	}
	var p struct {
		API map[string]json.RawMessage `json:"api"`
	}
	if json.Unmarshal(raw, &p) != nil || len(p.API) == 0 {
		return nil
	}
	out := make([]string, 0, len(p.API))
	for name := range p.API {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// createResponse is the answer to a create; "key" is the only copy of the
// secret there will ever be.
type createResponse struct {
	ID  int64  `json:"id"`
	Key string `json:"key"`
}

// currentUser is GET /users/current/. The answer also carries "api_key",
// which is deliberately not decoded.
type currentUser struct {
	ID       int64  `json:"id"`
	KeyID    *int64 `json:"key_id"`
	Email    string `json:"email"`
	Username string `json:"username"`
}

func (u currentUser) owner() string {
	switch {
	case u.Email != "":
		return u.Email
	case u.Username != "":
		return u.Username
	}
	return strconv.FormatInt(u.ID, 10)
}

// epoch is a Vast timestamp: seconds since 1970 as a number, or as a string.
type epoch time.Time

func (e *epoch) UnmarshalJSON(b []byte) error {
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	var secs float64
	switch t := v.(type) {
	case float64:
		secs = t
	case string:
		if at, err := time.Parse(time.RFC3339Nano, t); err == nil {
			*e = epoch(at.UTC())
			return nil
		}
		f, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return nil // an unreadable time is left zero rather than failing the list
		}
		secs = f
	default:
		return nil
	}
	whole, frac := math.Modf(secs)
	*e = epoch(time.Unix(int64(whole), int64(frac*1e9)).UTC())
	return nil
}
