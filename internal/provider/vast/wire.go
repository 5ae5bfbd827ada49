package vast

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/secret"
)

// listResponse is GET /auth/apikeys/.
type listResponse struct {
	APIKeys []wireKey `json:"apikeys"`
}

// wireKey is one list entry. The documented entry is {id, user_id, key: null,
// key_type, name, team_*}; an older reference shows the value and "rights"
// instead of "permissions", so both are read and a value is only ever
// masked. "permissions", "created_at" and "key_params" are read when present;
// no Vast.ai source shows them in the list (see SOURCES.md).
type wireKey struct {
	ID          int64           `json:"id"`
	Name        string          `json:"name"`
	Key         *string         `json:"key"`
	Permissions json.RawMessage `json:"permissions"`
	Rights      json.RawMessage `json:"rights"`
	KeyParams   json.RawMessage `json:"key_params"`
	CreatedAt   epoch           `json:"created_at"`
}

func (w wireKey) key() provider.Key {
	k := provider.Key{
		ID:        strconv.FormatInt(w.ID, 10),
		Name:      w.Name,
		Active:    true, // Vast lists only keys that are not deleted
		CreatedAt: time.Time(w.CreatedAt),
	}
	k.Scopes, k.Constraints = readPermissions(w.Permissions)
	if k.Scopes == nil {
		k.Scopes, k.Constraints = readPermissions(w.Rights)
	}
	k.AllowedIPs = readKeyParams(w.KeyParams)
	if w.Key != nil && *w.Key != "" {
		k.Masked = secret.Mask(*w.Key)
	}
	return k
}

// createRequest is POST /auth/apikeys/. key_params is null, as Vast's own CLI
// sends it, unless the key is limited to addresses.
type createRequest struct {
	Name        string          `json:"name"`
	Permissions json.RawMessage `json:"permissions"`
	KeyParams   *keyParams      `json:"key_params"`
}

// keyParams is the create reference's example object: {"ip_whitelist": [...]}.
type keyParams struct {
	IPWhitelist []string `json:"ip_whitelist"`
}

// Shapes of Vast's permissions: {"api": {<category>: {<operation>:
// {"constraints": {<param>: {<op>: <value>}}}}}}.
type (
	wireBounds    map[string]json.RawMessage // op → value
	wireOperation struct {
		Constraints map[string]wireBounds `json:"constraints"`
	}
)

// permissionsFor builds the permissions of a new key: every category, each
// narrowed to the operations its constraints name. Values that are whole
// numbers go as JSON numbers, as in Vast's examples.
func permissionsFor(scopes []string, cs []provider.Constraint) json.RawMessage {
	api := make(map[string]map[string]*wireOperation, len(scopes))
	for _, s := range scopes {
		api[s] = map[string]*wireOperation{}
	}
	for _, c := range cs {
		op := api[c.Scope][c.Resource]
		if op == nil {
			op = &wireOperation{Constraints: map[string]wireBounds{}}
			api[c.Scope][c.Resource] = op
		}
		if op.Constraints[c.Param] == nil {
			op.Constraints[c.Param] = wireBounds{}
		}
		op.Constraints[c.Param][string(c.Op)] = wireValue(c.Value)
	}
	out, err := json.Marshal(map[string]any{"api": api})
	if err != nil {
		panic("vast: permissions cannot be encoded: " + err.Error()) // maps of strings always can
	}
	return out
}

func wireValue(v string) json.RawMessage {
	if _, err := strconv.ParseInt(v, 10, 64); err == nil {
		return json.RawMessage(v)
	}
	b, _ := json.Marshal(v)
	return b
}

// readPermissions reads the categories of a permissions value, and what
// narrows them, faithfully: an operation bounded on a parameter is a
// constraint; an operation granted without bounds narrows its category to
// that operation; anything keyward cannot express (wildcard params, unknown
// operators) is kept as an opaque constraint rather than dropped, so a
// narrowed category is never shown whole. The value may arrive as an object,
// as a JSON string holding one, or as false/null for a key with full access
// (nil scopes).
func readPermissions(raw json.RawMessage) ([]string, []provider.Constraint) {
	raw = bytes.TrimSpace(raw)
	var inner string
	if json.Unmarshal(raw, &inner) == nil {
		raw = []byte(inner)
	}
	var p struct {
		API map[string]json.RawMessage `json:"api"`
	}
	if json.Unmarshal(raw, &p) != nil || len(p.API) == 0 {
		return nil, nil
	}
	scopes := make([]string, 0, len(p.API))
	var cs []provider.Constraint
	for name, body := range p.API {
		scopes = append(scopes, name)
		cs = append(cs, categoryConstraints(name, body)...)
	}
	slices.Sort(scopes)
	provider.SortConstraints(cs)
	return scopes, cs
}

func categoryConstraints(scope string, body json.RawMessage) []provider.Constraint {
	if wholeGrant(body) {
		return nil
	}
	var operations map[string]json.RawMessage
	if json.Unmarshal(body, &operations) != nil {
		return []provider.Constraint{opaque(scope, "", body)}
	}
	var out []provider.Constraint
	for name, op := range operations {
		out = append(out, operationConstraints(scope, name, op)...)
	}
	return out
}

func operationConstraints(scope, resource string, raw json.RawMessage) []provider.Constraint {
	if wholeGrant(raw) {
		return []provider.Constraint{{Scope: scope, Resource: resource}}
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(raw, &fields) != nil || len(fields) != 1 || fields["constraints"] == nil {
		return []provider.Constraint{opaque(scope, resource, raw)}
	}
	var params map[string]map[string]json.RawMessage
	if json.Unmarshal(fields["constraints"], &params) != nil || len(params) == 0 {
		return []provider.Constraint{opaque(scope, resource, raw)}
	}
	var out []provider.Constraint
	for param, bounds := range params {
		if len(bounds) == 0 {
			return []provider.Constraint{opaque(scope, resource, raw)}
		}
		for op, v := range bounds {
			value, ok := scalar(v)
			if !ok || !slices.Contains(constraintOps, provider.ConstraintOp(op)) {
				return []provider.Constraint{opaque(scope, resource, raw)}
			}
			out = append(out, provider.Constraint{Scope: scope, Resource: resource, Param: param, Op: provider.ConstraintOp(op), Value: value})
		}
	}
	return out
}

// wholeGrant is a category or operation granted without narrowing: {}, null or true.
func wholeGrant(raw json.RawMessage) bool {
	switch t := string(bytes.TrimSpace(raw)); t {
	case "", "null", "true":
		return true
	default:
		var m map[string]json.RawMessage
		return json.Unmarshal(raw, &m) == nil && len(m) == 0
	}
}

func scalar(raw json.RawMessage) (string, bool) {
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), true
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, true
	}
	return "", false
}

// maxOpaque bounds how much of an unreadable restriction is kept.
const maxOpaque = 300

func opaque(scope, resource string, raw json.RawMessage) provider.Constraint {
	var b bytes.Buffer
	if json.Compact(&b, raw) != nil {
		b.Reset()
		b.WriteString(strconv.Quote(string(raw)))
	}
	text := b.String()
	if r := []rune(text); len(r) > maxOpaque {
		text = string(r[:maxOpaque]) + "…"
	}
	return provider.Constraint{Scope: scope, Resource: resource, Opaque: text}
}

// readKeyParams reads an allow-list, should a list entry carry key_params (as
// an object or a JSON string holding one).
func readKeyParams(raw json.RawMessage) []string {
	raw = bytes.TrimSpace(raw)
	var inner string
	if json.Unmarshal(raw, &inner) == nil {
		raw = []byte(inner)
	}
	var kp keyParams
	if json.Unmarshal(raw, &kp) != nil || len(kp.IPWhitelist) == 0 {
		return nil
	}
	return slices.Clone(kp.IPWhitelist)
}

// createResponse is the answer to a create; "key" is the only copy of the
// secret there will ever be. "permissions" are the key's as Vast recorded
// them.
type createResponse struct {
	ID          int64           `json:"id"`
	Key         string          `json:"key"`
	Permissions json.RawMessage `json:"permissions"`
}

// deleteAnswer is what a 2xx to DELETE /auth/apikeys/{id}/ says: the
// documented "Successfully Deleted API Key", Vast's usual {"success": ...},
// or neither.
type deleteAnswer struct {
	deleted bool // the platform says the key is deleted
	refused bool // the platform says it is not ({"success": false})
}

func readDeleteAnswer(raw json.RawMessage) deleteAnswer {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return deleteAnswer{deleted: strings.HasPrefix(strings.ToLower(strings.TrimSpace(s)), "successfully deleted")}
	}
	var o struct {
		Success *bool `json:"success"`
	}
	if json.Unmarshal(raw, &o) == nil && o.Success != nil {
		return deleteAnswer{deleted: *o.Success, refused: !*o.Success}
	}
	return deleteAnswer{}
}

// currentUser is GET /users/current/. The answer also carries "api_key",
// which is deliberately not decoded.
type currentUser struct {
	ID       int64  `json:"id"`
	KeyID    *int64 `json:"key_id"`
	Email    string `json:"email"`
	Username string `json:"username"`
}

// named: the answer names a user, as every answer of Vast.ai's does (D8).
func (u currentUser) named() bool {
	return u.ID > 0 || strings.TrimSpace(u.Email) != "" || strings.TrimSpace(u.Username) != ""
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
