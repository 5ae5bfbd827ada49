package oauth

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/oauth/oauthtest"
)

// Was a hole: a token's subject became the principal cut to 200 bytes (with
// its length) and with control and invisible characters escaped, so two
// subjects that differ past the cut, or one that spells another's escape
// ("a\u202E" and `a\u202E`), were one principal: the same rate limit, the
// same approvals, the same sessions. A subject is now the principal exactly,
// and one that cannot be (too long for OpenID's 255 bytes, or holding
// characters that would be shown escaped) refuses the token.
func TestAttackSubjectsThatCollideAsPrincipals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	pad := strings.Repeat("s", 250)
	a, err := e.v.Verify(ctx, e.is.Token("k1", jose.RS256, "at+jwt", e.with("sub", pad+"alice")))
	require.NoError(t, err)
	b, err := e.v.Verify(ctx, e.is.Token("k1", jose.RS256, "at+jwt", e.with("sub", pad+"oscar")))
	require.NoError(t, err)
	assert.NotEqual(t, a.Subject, b.Subject, "two subjects, two principals")
	assert.Equal(t, pad+"alice", a.Subject)

	escaped, err := e.v.Verify(ctx, e.is.Token("k1", jose.RS256, "at+jwt", e.with("sub", `alice\u202E`)))
	require.NoError(t, err, "a backslash is a plain character")
	_, err = e.v.Verify(ctx, e.is.Token("k1", jose.RS256, "at+jwt", e.with("sub", "alice\u202E")))
	require.Error(t, err, "a subject with an invisible character would be shown as %q, another subject", escaped.Subject)
	assert.Contains(t, err.Error(), "subject")

	_, err = e.v.Verify(ctx, e.is.Token("k1", jose.RS256, "at+jwt", e.with("sub", strings.Repeat("x", 256))))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "255")
}

// Was a hole (attack review of session 4), now closed: a token's type and
// issuer are read before its signature is checked, and the refusal repeated
// them (escaped and bounded, but not masked): anyone could send a "token"
// whose typ is a secret and get it back in the 401. Breaks "secrets never
// appear in errors".
func TestAttackRefusalsRepeatWhatATokenClaims(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	other := oauthtest.RSAKey(t)
	leaked := "kw_" + strings.Repeat("Zq7", 15) // shaped like a secret: the masker judges shapes
	for name, token := range map[string]string{
		"type":   oauthtest.Sign(t, jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: other, KeyID: "k1"}}, leaked, e.claims()),
		"issuer": e.is.Token("k1", jose.RS256, "at+jwt", e.with("iss", leaked)),
	} {
		_, err := e.v.Verify(context.Background(), token)
		var oe *Error
		require.True(t, errors.As(err, &oe), "%s: %v", name, err)
		assert.NotContains(t, oe.Description, leaked, name)
	}
}
