// Package provider defines what keyward needs from a platform that holds API
// keys. Providers never know about MCP or policy: the manager owns every rule.
package provider

import (
	"context"
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
}

// Created is a key together with its secret, returned exactly once.
type Created struct {
	Key    Key
	Secret string
}

// CreateRequest is what the manager asks a provider to create, after policy.
type CreateRequest struct {
	Name      string
	Scopes    []string   // already defaulted and checked against the ceiling
	ExpiresAt *time.Time // nil: no expiry (only when policy allowed it)
	// RequestID names this create for recovery: a provider that stores it
	// (CreatedFinder) can say later which key, if any, the create made.
	RequestID string
}

// CreatedFinder is a provider that remembers CreateRequest.RequestID, so a
// create interrupted before its answer was recorded can be found and undone.
type CreatedFinder interface {
	FindCreated(ctx context.Context, requestID string) (Key, bool, error)
}

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
	Status    ValidationStatus
	Reason    string // a sentence for the model, e.g. why the format is wrong
	KeyID     string
	Name      string
	Owner     string // account id or e-mail, where the platform tells
	Scopes    []string
	ExpiresAt *time.Time
	Masked    string
}

// Identity answers "who am I" for the credential keyward itself is configured with.
type Identity struct {
	Account string // account id, user name or e-mail
	Scopes  []string
	KeyName string
	Detail  string
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
	Manage        bool // false: keys are managed only in the platform's dashboard
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
