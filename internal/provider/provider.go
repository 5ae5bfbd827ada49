// Package provider defines what keyward needs from a platform that holds API
// keys. Providers never know about MCP or policy: the manager owns every rule.
package provider

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Key is a key's metadata as keyward shows it. It never holds a secret.
type Key struct {
	ID         string
	Name       string
	Scopes     []string
	Active     bool
	CreatedAt  time.Time
	ExpiresAt  *time.Time // nil: the platform sets no expiry
	LastUsedAt *time.Time
	Masked     string // e.g. "kw_4f9a…x2Qe"; whatever part the platform shows
	// Constraints narrow Scopes: a scope named here is held only as far as
	// its constraints allow, not whole.
	Constraints []Constraint
	// AllowedIPs, when set, are the only source addresses the key works from.
	// Empty means none were read, which is not proof that there are none:
	// see ConstraintSupport.AllowedIPsListed.
	AllowedIPs []string
}

// Created is a key together with its secret, returned exactly once.
type Created struct {
	Key    Key
	Secret string
	// Notes are sentences for the caller about what the platform made of the
	// request, where it differs from what was asked (say, a setting the
	// platform did not record). They never hold a secret.
	Notes []string
}

// CreateRequest is what the manager asks a provider to create, after policy.
type CreateRequest struct {
	Name      string
	Scopes    []string   // already defaulted and checked against the ceiling
	ExpiresAt *time.Time // nil: no expiry (only when policy allowed it)
	// Constraints narrow Scopes further (CheckConstraints says what is
	// allowed); AllowedIPs limit where the key works from. Providers that
	// support neither refuse them.
	Constraints []Constraint
	AllowedIPs  []string
	// RequestID names this create for recovery: a provider that stores it
	// (CreatedFinder) can say later which key, if any, the create made.
	RequestID string
}

// CreatedFinder is a provider that remembers CreateRequest.RequestID, so a
// create interrupted before its answer was recorded can be found and undone.
type CreatedFinder interface {
	FindCreated(ctx context.Context, requestID string) (Key, bool, error)
}

// Narrowed reports whether the request asks for anything narrower than its
// scopes.
func (r CreateRequest) Narrowed() bool { return len(r.Constraints) > 0 || len(r.AllowedIPs) > 0 }

// UpdateRequest changes only the fields that are set.
type UpdateRequest struct {
	Name      *string
	Scopes    []string // nil: unchanged
	SetExpiry bool     // true: ExpiresAt replaces the expiry (nil clears it)
	ExpiresAt *time.Time
}

// RotateRequest asks for a new secret with the same settings. Grace keeps the
// old secret valid for that long (0: invalid at once).
type RotateRequest struct {
	Grace time.Duration
}

// ValidationStatus values follow Unkey's verify codes, lower-cased.
type ValidationStatus string

const (
	StatusValid         ValidationStatus = "valid"
	StatusNotFound      ValidationStatus = "not_found"
	StatusDisabled      ValidationStatus = "disabled"
	StatusExpired       ValidationStatus = "expired"
	StatusRevoked       ValidationStatus = "revoked"
	StatusInvalidFormat ValidationStatus = "invalid_format"
)

// Validation is the answer to "is this secret a working key?".
type Validation struct {
	Status      ValidationStatus
	Reason      string // a sentence, e.g. why the format is wrong; names no interface
	KeyID       string
	Name        string
	Owner       string // account id or e-mail, where the platform tells
	Scopes      []string
	Constraints []Constraint // narrowing Scopes, as on Key
	ExpiresAt   *time.Time
	Masked      string
	Step        Step // what would make a failing key work, where something would (StepEnable)
}

// Identity answers "who am I" for the credential keyward itself is configured with.
type Identity struct {
	Account     string // account id, user name or e-mail
	Scopes      []string
	Constraints []Constraint // narrowing Scopes, as on Key
	KeyName     string
	Detail      string
}

// Scope is one entry of a provider's permission vocabulary.
type Scope struct {
	Name        string
	Description string
	ReadOnly    bool
	// Sensitive scopes touch money, team membership or key management; the
	// default ceiling leaves them out.
	Sensitive bool
}

// ExpiryMode says how a platform handles key expiry.
type ExpiryMode string

const (
	ExpiryAny     ExpiryMode = "any"     // any deadline
	ExpiryPresets ExpiryMode = "presets" // only the durations in ExpiryPresets
	ExpiryNone    ExpiryMode = "none"    // no expiry upstream: keyward enforces it
)

// Capabilities lists what a provider can do natively. The manager refuses or
// honestly emulates what is missing.
type Capabilities struct {
	Manage bool // false: keys are managed only in the platform's dashboard
	Revoke bool // keys can be revoked through the API (re-issue and emulated rotation need it)
	// KeyShape is the kind of secret the platform's keys are, as the secret
	// scanner names them ("keyward", "vast", "lyceum", "lium", "lurus"): a
	// secret of another platform's shape is never sent here to be checked.
	KeyShape      string
	Scopes        bool // keys carry scopes; false means every key has full account access
	ScopesMutable bool // scopes can change in place; otherwise re-scoping needs reissue
	Rename        bool
	Expiry        ExpiryMode
	ExpiryPresets []time.Duration // with ExpiryPresets; 0 stands for "never"
	ExpiryMutable bool
	Toggle        bool // enable/disable without deleting
	Rotate        bool // native rotation of any key, keeping its id
	RotateGrace   bool // native rotation can keep the old secret valid for a grace period
	Validate      bool // can check an arbitrary secret
	Whoami        bool
	LastUsed      bool
	MaxKeys       int // 0: no documented limit
	// Constraints says what a key can be narrowed to below a whole scope;
	// the zero value: nothing.
	Constraints ConstraintSupport
}

// Provider is a platform that holds API keys. Methods a provider does not
// support return an *Error of kind KindUnsupported.
type Provider interface {
	Name() string  // "local", "vast", ...
	Title() string // "Vast.ai"
	Capabilities() Capabilities
	ScopeVocabulary() []Scope
	DefaultScopes() []string // the minimal read-only default

	List(ctx context.Context) ([]Key, error)
	Get(ctx context.Context, id string) (Key, error)
	Create(ctx context.Context, req CreateRequest) (Created, error)
	Update(ctx context.Context, id string, req UpdateRequest) (Key, error)
	SetActive(ctx context.Context, id string, active bool) (Key, error)
	Rotate(ctx context.Context, id string, req RotateRequest) (Created, error)
	Revoke(ctx context.Context, id string) error
	Validate(ctx context.Context, secret string) (Validation, error)
	Whoami(ctx context.Context) (Identity, error)
}

// FindKey picks one key out of a listing, for platforms that cannot fetch a
// single key's metadata.
func FindKey(keys []Key, providerName, id string) (Key, error) {
	for _, k := range keys {
		if k.ID == id {
			return k, nil
		}
	}
	return Key{}, NotFound(providerName, id)
}

// ConstraintOp is how a constraint bounds a parameter.
type ConstraintOp string

const (
	OpEq  ConstraintOp = "eq"  // the parameter must equal Value
	OpLTE ConstraintOp = "lte" // the parameter must be at most Value
	OpGTE ConstraintOp = "gte" // the parameter must be at least Value
)

// Constraint narrows one scope of a key below the whole scope: to one
// operation (Resource) of that scope, with one of its parameters bounded.
// Several constraints on the same scope add up to "only these operations,
// only with these values".
type Constraint struct {
	Scope    string       // the scope narrowed, e.g. Vast.ai's "instance_write"
	Resource string       // the operation within it, e.g. "api.instance.destroy"
	Param    string       // the bounded parameter, e.g. "id"; "": the operation without a bound
	Op       ConstraintOp // with Param
	Value    string       // with Param: the bound as text, e.g. "1227"
	// Opaque is a restriction read from the platform that the fields above
	// cannot express, as compact JSON: the key is narrower than its scopes
	// say, in a way keyward cannot restate. It is never sent.
	Opaque string
}

// String is the constraint in one line, e.g.
// "instance_write: api.instance.destroy id eq 1227".
func (c Constraint) String() string {
	var b strings.Builder
	b.WriteString(c.Scope + ":")
	if c.Resource != "" {
		b.WriteString(" " + c.Resource)
	}
	switch {
	case c.Opaque != "":
		b.WriteString(" restricted as " + c.Opaque)
	case c.Param != "":
		b.WriteString(" " + c.Param + " " + string(c.Op) + " " + c.Value)
	case c.Resource != "":
		b.WriteString(" only")
	}
	return b.String()
}

// ConstraintTarget is one parameter a provider lets a key be bounded on.
type ConstraintTarget struct {
	Scope       string
	Resource    string
	Param       string
	Integer     bool // values are whole numbers, sent as JSON numbers
	Description string
}

// ConstraintSupport says how far below a whole scope a provider can narrow a
// key. The zero value supports nothing.
type ConstraintSupport struct {
	Targets []ConstraintTarget // what a Constraint may name; empty: no constraints
	Ops     []ConstraintOp
	// AllowedIPs: a key can be limited to source addresses; IPRanges: CIDR
	// ranges too, not only single addresses.
	AllowedIPs bool
	IPRanges   bool
	// AllowedIPsListed: listings show a key's allow-list. When false it can
	// be set but not read back, so a key read from a listing may be narrower
	// than it shows, and a replacement must take the list from elsewhere.
	AllowedIPsListed bool
	Note             string // what the platform documents only in part
}

// CheckConstraints checks what a create asks for below its scopes against
// what the provider supports, and returns it normalized: constraints sorted
// and de-duplicated, addresses in canonical form. The rules: each constraint
// names a target the provider lists, an operator it supports and a value of
// the target's kind; its scope is one of scopes, so a constraint only ever
// narrows a scope the key holds; a parameter has at most one bound per
// operator, eq stands alone, and a range is not empty; opaque constraints
// cannot be restated and are refused; addresses must parse, and ranges only
// where the provider takes them.
func CheckConstraints(p Provider, scopes []string, cs []Constraint, ips []string) ([]Constraint, []string, error) {
	providerName, title, sup := p.Name(), p.Title(), p.Capabilities().Constraints
	invalid := func(format string, args ...any) ([]Constraint, []string, error) {
		return nil, nil, Errorf(KindInvalid, providerName, format, args...)
	}
	if len(cs) > 0 && len(sup.Targets) == 0 {
		return invalid("%s cannot narrow a key below a whole scope; create it without constraints", title)
	}
	if len(ips) > 0 && !sup.AllowedIPs {
		return invalid("%s cannot limit a key to source addresses; create it without an allow-list", title)
	}
	out := make([]Constraint, 0, len(cs))
	for _, c := range cs {
		if c.Opaque != "" {
			return invalid("a constraint keyward could only read as %s cannot be sent again; state the constraints the new key needs", c.Opaque)
		}
		c.Scope, c.Resource, c.Param, c.Value = strings.TrimSpace(c.Scope), strings.TrimSpace(c.Resource), strings.TrimSpace(c.Param), strings.TrimSpace(c.Value)
		if !slices.Contains(scopes, c.Scope) {
			return invalid("the constraint %q narrows scope %q, which the key does not hold; a constraint can only narrow one of the key's scopes", c.String(), c.Scope)
		}
		i := slices.IndexFunc(sup.Targets, func(t ConstraintTarget) bool {
			return t.Scope == c.Scope && t.Resource == c.Resource && t.Param == c.Param
		})
		if i < 0 {
			return invalid("%s cannot bound %q of %q in scope %q; it can bound %s", title, c.Param, c.Resource, c.Scope, describeTargets(sup.Targets))
		}
		if !slices.Contains(sup.Ops, c.Op) {
			return invalid("%q is not an operator %s takes; use %s", c.Op, title, joinOps(sup.Ops))
		}
		if sup.Targets[i].Integer {
			n, err := strconv.ParseInt(c.Value, 10, 64)
			if err != nil {
				return invalid("the bound of %s %s must be a whole number, not %q", c.Resource, c.Param, c.Value)
			}
			c.Value = strconv.FormatInt(n, 10)
		} else if c.Value == "" {
			return invalid("the constraint on %s %s has no value", c.Resource, c.Param)
		}
		if !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, compareConstraints)
	if err := checkBounds(providerName, out); err != nil {
		return nil, nil, err
	}
	addrs, err := checkAddresses(providerName, title, sup, ips)
	if err != nil {
		return nil, nil, err
	}
	return out, addrs, nil
}

// checkBounds refuses two bounds of one operator on a parameter, eq beside a
// range, and a range that admits nothing.
func checkBounds(providerName string, cs []Constraint) error {
	type param struct{ scope, resource, param string }
	bounds := map[param]map[ConstraintOp]string{}
	for _, c := range cs {
		k := param{c.Scope, c.Resource, c.Param}
		if bounds[k] == nil {
			bounds[k] = map[ConstraintOp]string{}
		}
		if _, dup := bounds[k][c.Op]; dup {
			return Errorf(KindInvalid, providerName, "%s %s in %s has two %s bounds; give one", c.Resource, c.Param, c.Scope, c.Op)
		}
		bounds[k][c.Op] = c.Value
	}
	for k, b := range bounds {
		_, eq := b[OpEq]
		if eq && len(b) > 1 {
			return Errorf(KindInvalid, providerName, "%s %s in %s has eq and a range; give one or the other", k.resource, k.param, k.scope)
		}
		lo, okLo := b[OpGTE]
		hi, okHi := b[OpLTE]
		if okLo && okHi {
			l, errL := strconv.ParseInt(lo, 10, 64)
			h, errH := strconv.ParseInt(hi, 10, 64)
			if errL == nil && errH == nil && l > h {
				return Errorf(KindInvalid, providerName, "%s %s in %s is bounded to gte %s and lte %s, which admits nothing", k.resource, k.param, k.scope, lo, hi)
			}
		}
	}
	return nil
}

func checkAddresses(providerName, title string, sup ConstraintSupport, ips []string) ([]string, error) {
	var out []string
	for _, raw := range ips {
		raw = strings.TrimSpace(raw)
		if addr, err := netip.ParseAddr(raw); err == nil {
			out = append(out, addr.Unmap().String())
			continue
		}
		prefix, err := netip.ParsePrefix(raw)
		switch {
		case err != nil:
			return nil, Errorf(KindInvalid, providerName, "%q is not an IP address", raw)
		case !sup.IPRanges:
			return nil, Errorf(KindInvalid, providerName, "%s takes single addresses in a key's allow-list, not ranges such as %q; list the addresses", title, raw)
		}
		out = append(out, prefix.Masked().String())
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func compareConstraints(a, b Constraint) int {
	return cmp.Or(cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Param, b.Param),
		cmp.Compare(a.Op, b.Op), cmp.Compare(a.Value, b.Value), cmp.Compare(a.Opaque, b.Opaque))
}

// SortConstraints orders constraints as CheckConstraints returns them.
func SortConstraints(cs []Constraint) { slices.SortFunc(cs, compareConstraints) }

func describeTargets(ts []ConstraintTarget) string {
	parts := make([]string, 0, len(ts))
	for _, t := range ts {
		parts = append(parts, fmt.Sprintf("%s of %s (%s)", t.Param, t.Resource, t.Scope))
	}
	return strings.Join(parts, ", ")
}

func joinOps(ops []ConstraintOp) string {
	parts := make([]string, 0, len(ops))
	for _, o := range ops {
		parts = append(parts, string(o))
	}
	return strings.Join(parts, ", ")
}
