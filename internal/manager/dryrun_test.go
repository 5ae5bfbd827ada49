package manager

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/audit"
	"github.com/keyward/keyward/internal/caller"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/provider"
)

// A dry run runs every check of the real call, asks nobody, changes nothing
// upstream or in keyward's state, answers what would be done, and leaves an
// audit record that says it was a dry run.
func TestDryRunsChangeNothingAndSayWhatWouldHappen(t *testing.T) {
	t.Parallel()
	caps := rotateCaps
	caps.Expiry = provider.ExpiryNone
	e := newEnv(t, caps, policy.ConfirmAsk)
	old := e.seed(t, "old")
	h := &decliningHuman{}
	ctx := caller.WithHuman(context.Background(), h)
	before := len(e.audit(t))

	res, err := e.m.CreateKey(ctx, CreateArgs{Provider: "fake", Name: "w", Scopes: []string{"write"}, ExpiresIn: "2d", DryRun: true})
	require.NoError(t, err)
	require.NotNil(t, res.Plan)
	p := res.Plan
	assert.Equal(t, ActionCreate, p.Action)
	assert.Equal(t, "w", p.Name)
	assert.Equal(t, []string{"write"}, p.Scopes)
	require.NotNil(t, p.ExpiresAt)
	assert.Equal(t, e.clock.Now().Add(48*3600e9).UTC(), p.ExpiresAt.UTC())
	assert.Equal(t, WouldAsk, p.Human)
	assert.Contains(t, p.Question, `Create key "w"`)
	assert.Empty(t, res.Key.ID, "nothing was made")

	res, err = e.m.CreateKey(ctx, CreateArgs{Provider: "fake", Name: "r", DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, []string{"read"}, res.Plan.Scopes, "the default scopes that would apply")
	assert.Empty(t, res.Plan.Human, "a read-only key needs no confirmation")
	kinds := []NoteKind{}
	for _, n := range res.Plan.Notes {
		kinds = append(kinds, n.Kind)
	}
	assert.Contains(t, kinds, NoteDefaultScopes)

	res, err = e.m.RotateKey(ctx, RotateArgs{Provider: "fake", KeyID: old, DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, ActionRotate, res.Plan.Action)
	assert.Equal(t, old, res.Plan.KeyID)
	assert.Equal(t, WouldAsk, res.Plan.Human)

	res, err = e.m.RotateKey(ctx, RotateArgs{Provider: "fake", KeyID: old, Grace: "1h", DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, ActionRotateByReplace, res.Plan.Action, "the fake has no rotation with grace")
	assert.Equal(t, 3600e9, float64(res.Plan.Grace))

	res, err = e.m.ReissueKey(ctx, ReissueArgs{UpdateArgs: UpdateArgs{Provider: "fake", KeyID: old, Name: ptr("renamed"), DryRun: true}})
	require.NoError(t, err)
	assert.Equal(t, ActionReplace, res.Plan.Action)
	assert.Equal(t, "renamed", res.Plan.Name)

	rv, err := e.m.RevokeKey(ctx, RevokeArgs{Provider: "fake", KeyID: old, DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, ActionRevoke, rv.Plan.Action)
	assert.Equal(t, "old", rv.Plan.Name)
	assert.Empty(t, rv.KeyID, "a dry revoke reports no revoked key")

	// What the real call would meet, a dry run meets: here a refusal by
	// policy, and a platform that cannot toggle keys.
	_, err = e.m.CreateKey(ctx, CreateArgs{Provider: "fake", Name: "long", ExpiresIn: "1y", DryRun: true})
	var r *policy.Refusal
	require.True(t, errors.As(err, &r), "%v", err)
	assert.Contains(t, r.Setting, "KEYWARD_MAX_TTL")
	_, err = e.m.SetKeyActive(ctx, SetActiveArgs{Provider: "fake", KeyID: old, Active: false, DryRun: true})
	assert.Equal(t, provider.KindUnsupported, provider.KindOf(err))

	assert.Zero(t, h.asked, "a dry run asks nobody")
	assert.Equal(t, []string{"create old"}, e.f.called("create"))
	assert.Empty(t, e.f.called("rotate"))
	assert.Empty(t, e.f.called("revoke"))
	assert.True(t, e.f.live(old))
	assert.Len(t, e.secrets.delivered, 1, "only the seeded key's secret was delivered")
	assert.Empty(t, e.intents(t))
	mk, err := e.m.managed(context.Background(), "fake", old)
	require.NoError(t, err)
	assert.Empty(t, mk.supersededBy)

	recs := e.audit(t)
	dry := recs[:len(recs)-before]
	require.Len(t, dry, 8)
	for _, rec := range dry {
		assert.Equal(t, audit.OutcomeDryRun, rec.Outcome, rec.Tool)
	}
	assert.Contains(t, dry[1].Error, "KEYWARD_MAX_TTL", "a refused dry run's record says why")
	assert.Equal(t, "long", dry[1].KeyName)
	assert.Empty(t, dry[2].Error)
	assert.Equal(t, string(WouldAsk), dry[2].Confirmation)
}

// Without a human to ask, a dry run says what the real call would do: go
// ahead unasked, or be refused where confirmations are required.
func TestDryRunsSayWhetherTheHumanWouldBeAsked(t *testing.T) {
	t.Parallel()
	e := newEnv(t, noExpiryCaps, policy.ConfirmAsk)
	res, err := e.m.CreateKey(context.Background(), CreateArgs{Provider: "fake", Name: "w", Scopes: []string{"write"}, DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, CouldNotAsk, res.Plan.Human)
	for _, n := range res.Plan.Notes {
		assert.NotEqual(t, NoteNotAsked, n.Kind, "the plan says it in Human, not in a past-tense note")
	}

	e = newEnv(t, noExpiryCaps, policy.ConfirmRequired)
	_, err = e.m.CreateKey(context.Background(), CreateArgs{Provider: "fake", Name: "w", Scopes: []string{"write"}, DryRun: true})
	var r *policy.Refusal
	require.True(t, errors.As(err, &r))
	assert.Equal(t, "KEYWARD_CONFIRM", r.Setting)

	e = newEnv(t, noExpiryCaps, policy.ConfirmOff)
	res, err = e.m.CreateKey(caller.WithHuman(context.Background(), &decliningHuman{}), CreateArgs{Provider: "fake", Name: "w", Scopes: []string{"write"}, DryRun: true})
	require.NoError(t, err)
	assert.Equal(t, NotAsked, res.Plan.Human)
}
