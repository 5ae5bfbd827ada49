package manager

import (
	"time"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/secret"
)

// The manager's answers are types, not sentences or JSON: the MCP tools and
// the CLI each turn them into their own words and shapes.

// Key is a key as keyward knows it: the platform's metadata with keyward's
// own record of it. It never holds a secret.
type Key struct {
	Provider   string
	ID         string
	Name       string
	Scopes     []string
	Active     bool
	CreatedAt  *time.Time
	ExpiresAt  *time.Time // the earlier of the platform's expiry and keyward's deadline
	LastUsedAt *time.Time
	Masked     string
	// ExpiryEnforced: keyward itself revokes the key at ExpiresAt.
	ExpiryEnforced bool
	// FullAccess: the platform's keys have no scopes.
	FullAccess bool
	// Constraints narrow Scopes; AllowedIPs limit where the key works from;
	// AllowedIPsAsCreated marks a list keyward recorded at creation because
	// the platform does not show it.
	Constraints         []provider.Constraint
	AllowedIPs          []string
	AllowedIPsAsCreated bool
	// CreatedBy is the client that created the key through keyward; empty
	// for keys made elsewhere (a platform's dashboard, say).
	CreatedBy string
}

// Delivery says where a new secret went. Secret is set only in inline mode.
type Delivery struct {
	Mode         secret.Mode
	File         string
	Secret       string
	Acknowledged *bool // elicit mode: whether the human acknowledged it
	// Pending: the secret was put to the human (it waits in File); the
	// answer comes with the call's next round, and FinishReveal settles it.
	Pending bool
	// Previous is the file beside the key's file where the secret this one
	// replaced stays readable until it stops working.
	Previous string
	// Link is the one-time link the secret waits behind (url mode), until
	// LinkExpiresAt; LinkShown says whether the client showed it to the
	// human (nil: it could not, so the agent must pass it on).
	Link          string
	LinkExpiresAt *time.Time
	LinkShown     *bool
}

// NewSecret answers every call that makes a key or a secret (create, update,
// re-issue, rotate), and enabling or disabling a key. In a dry run only Plan
// is set.
type NewSecret struct {
	Plan          *Plan
	Key           Key
	Delivery      Delivery
	ReplacedKeyID string
	OldValidUntil *time.Time
	Confirmation  Confirmation
	Notes         []Note
}

// Revoked answers a revoke. In a dry run only Plan is set.
type Revoked struct {
	Plan         *Plan
	Provider     string
	KeyID        string
	Name         string
	FileRemoved  string
	Confirmation Confirmation
	Notes        []Note
}

// Action is what a mutating call does, as a dry run describes it.
type Action string

const (
	ActionCreate          Action = "create"            // a new key
	ActionUpdate          Action = "update"            // the key is changed in place
	ActionReplace         Action = "replace"           // a new key with the new settings, then the old one is revoked
	ActionRotate          Action = "rotate"            // the platform issues a new secret for the same key
	ActionRotateByReplace Action = "rotate_by_replace" // a replacement with the same settings, then the old key is revoked
	ActionRevoke          Action = "revoke"            // the key is deleted for good
	ActionEnable          Action = "enable"
	ActionDisable         Action = "disable"
)

// Plan is what a mutating call would do, answered by a dry run: every check
// ran and the policy allowed it, and nothing was changed.
type Plan struct {
	Action       Action
	Provider     string
	KeyID        string // the key acted on; empty for a create
	Name         string // the key's name after the act
	ScopesBefore []string
	Scopes       []string // the scopes after the act
	ExpiresAt    *time.Time
	Narrowing    string // constraints and allowed IPs that would apply, in words
	Grace        time.Duration
	// Human is what would become of the question the rules put to the human:
	// WouldAsk, NotAsked (the operator turned confirmations off) or
	// CouldNotAsk (the client cannot ask; the act would proceed unasked). Empty
	// when the act needs no confirmation.
	Human    Confirmation
	Question string // the question the human would be asked
	Notes    []Note
}

// NoteKind is one kind of thing a caller should know about an outcome.
type NoteKind string

const (
	NoteDefaultScopes         NoteKind = "default_scopes"          // Scopes were applied for want of any
	NoteExpiry                NoteKind = "expiry"                  // Text: how the deadline is kept (policy's sentence)
	NoteFullAccess            NoteKind = "full_access"             // Text: the platform's title
	NoteNotAsked              NoteKind = "not_asked"               // the human could not be asked to confirm
	NoteSecretInline          NoteKind = "secret_inline"           // the secret is in the answer, once
	NoteSecretShown           NoteKind = "secret_shown"            // the human saw the secret; the caller did not
	NoteSecretFile            NoteKind = "secret_file"             // Path holds the secret
	NoteSecretLink            NoteKind = "secret_link"             // Path is a one-time link to the secret, for the human, until At
	NoteLinkShown             NoteKind = "link_shown"              // the client showed the link to the human
	NoteLinkNotOpened         NoteKind = "link_not_opened"         // the client showed the link but the human did not open it (yet)
	NoteElicitUnavailable     NoteKind = "elicit_unavailable"      // the client cannot show it: written to a file
	NoteElicitNotAcknowledged NoteKind = "elicit_not_acknowledged" // not acknowledged: written to a file
	NoteElicitFailed          NoteKind = "elicit_failed"           // showing it failed: written to a file
	NoteOldKeyGrace           NoteKind = "old_key_grace"           // KeyID keeps working until At, then keyward revokes it
	NoteOldKeyRevoked         NoteKind = "old_key_revoked"         // KeyID was revoked
	NoteOldKeyNotRevoked      NoteKind = "old_key_not_revoked"     // KeyID could not be revoked (Err)
	NoteOldKeyNotScheduled    NoteKind = "old_key_not_scheduled"   // KeyID could not be scheduled for revocation (Err)
	NoteFileRemoved           NoteKind = "file_removed"            // the key's secret file Path was removed
	NotePreviousFileRemoved   NoteKind = "previous_file_removed"   // the superseded secret file Path was removed
	NotePreviousSecretKept    NoteKind = "previous_secret_kept"    // the replaced secret stays readable in Path until At (nil: until its key is revoked), then the file goes
	NoteFileNotRemoved        NoteKind = "file_not_removed"        // Path could not be removed (Err): delete it by hand
	NoteOldSecretGrace        NoteKind = "old_secret_grace"        // the old secret works until At
	NoteRotatedByReissue      NoteKind = "rotated_by_reissue"      // Text: the platform's title
	NoteProvider              NoteKind = "provider"                // Text: what the platform made of the request (its words)
)

// Note is one thing a caller should know about an outcome. Which fields are
// set depends on Kind.
type Note struct {
	Kind   NoteKind
	Scopes []string
	KeyID  string
	At     *time.Time
	Path   string
	Err    error
	Text   string
}

// ProviderInfo is one provider as list_providers shows it.
type ProviderInfo struct {
	Name          string
	Title         string
	Configured    bool
	EnableWith    string // the variable that enables a known but unconfigured provider
	Capabilities  provider.Capabilities
	DefaultScopes []string
	AllowedScopes []string
}

// PolicyInfo is the policy in force.
type PolicyInfo struct {
	Rules    policy.Rules
	Reveal   secret.Mode
	Confirm  policy.ConfirmMode
	ReadOnly bool
	Tools    []string
	MaxGrace time.Duration
}

// Providers answers ListProviders.
type Providers struct {
	Providers []ProviderInfo
	Policy    PolicyInfo
}

// ScopeInfo is one scope with the policy on it.
type ScopeInfo struct {
	provider.Scope
	Allowed bool // within the ceiling
	Default bool // given to a key created without scopes
}

// Scopes answers ListScopes.
type Scopes struct {
	Provider          string
	Title             string
	HasScopes         bool
	Scopes            []ScopeInfo
	Default           []string
	Ceiling           []string
	FullAccessAllowed bool // without scopes: whether the operator allows creating full-access keys
}

// Listing answers ListKeys.
type Listing struct {
	Provider   string
	Keys       []Key
	Total      int // matching keys, across all pages
	NextCursor string
}

// Validation answers ValidateKey: a secret's status, or with no secret the
// identity of keyward's own credential.
type Validation struct {
	Provider string
	Valid    bool
	provider.Validation
	Whoami *provider.Identity
}

// AuditPage answers AuditLog.
type AuditPage struct {
	Records    []audit.Record
	NextCursor string
}
