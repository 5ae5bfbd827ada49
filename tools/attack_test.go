package tools_test

// Attacks on keyward by a hostile agent (an attack review of the hardening
// work). Each test failed because of the hole it demonstrates, and passes now
// that the hole is closed.

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/keyward"
	"github.com/keyward/keyward/internal/manager"
	"github.com/keyward/keyward/internal/provider/fakeserver"
	"github.com/keyward/keyward/internal/provider/lyceum/lyceumfake"
	"github.com/keyward/keyward/internal/provider/vast/vastfake"
	"github.com/keyward/keyward/internal/testutil"
)

func vastOn(kv ...any) map[string]any {
	m := map[string]any{"provider": "vast"}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// Was a hole (attack review), now closed: reissue_key with allowed_ips: [] (an empty list, which the schema
// accepts: no minItems) "restates" the allow-list as nothing, and policy.Carry
// accepts it as a narrowing (no item is off the old list), so the replacement
// of an IP-restricted Vast key works from anywhere. Breaks "a replacement ...
// carries the old key's constraints and allow-list and never holds more".
func TestAttackEmptyAllowListWidensReissue(t *testing.T) {
	t.Parallel()
	h, fk := vastPlatform(t).harness(t, "KEYWARD_CONFIRM", "false")
	f := fk.(*vastfake.Fake)
	k := h.ok("create_key", vastOn("name", "pinned", "scopes", []any{"instance_read"}, "allowed_ips", []any{"203.0.113.7"}))
	id := k["key_id"].(string)
	assert.Contains(t, string(f.KeyParams(id)), "203.0.113.7")

	res := h.call("reissue_key", vastOn("key_id", id, "allowed_ips", []any{}))
	if res.IsError {
		return // refused: held
	}
	nid := h.ok("list_keys", vastOn())["keys"].([]any)
	var newID string
	for _, x := range nid {
		if kid := x.(map[string]any)["key_id"].(string); kid != id {
			newID = kid
		}
	}
	assert.Contains(t, string(f.KeyParams(newID)), "203.0.113.7",
		"the replacement of an allow-listed key must keep its allow-list; got key_params %s", f.KeyParams(newID))
}

// Was a hole (attack review), now closed: rotate_key with a grace on a platform without native rotation (Vast.ai)
// schedules the old key's revocation by giving it a keyward-enforced deadline
// (now + grace). That deadline is just the key's expiry, so update_key
// (expires_in, no confirmation needed) pushes it back to the key's full life:
// the rotated-out key keeps working for weeks beside its replacement, and the
// reaper never revokes it. Breaks "rotate_key: ... optional grace (≤ 7d) for
// the old one" and the human's confirmation ("the old one stops working after
// a grace of 1h").
func TestAttackRotationGraceExtendedByUpdate(t *testing.T) {
	t.Parallel()
	h, _ := vastPlatform(t).harness(t, "KEYWARD_CONFIRM", "false")
	old := h.ok("create_key", vastOn("name", "rot", "expires_in", "30d"))
	oldID, oldSecret := old["key_id"].(string), old["secret"].(string)
	rot := h.ok("rotate_key", vastOn("key_id", oldID, "grace", "1h"))
	assert.Equal(t, "2026-11-23T13:00:00Z", rot["old_secret_valid_until"])

	// The agent un-schedules the revocation of the rotated-out key.
	res := h.call("update_key", vastOn("key_id", oldID, "expires_in", "29d"))
	t.Logf("update_key on the rotated-out key: error=%v %s", res.IsError, text(res))

	h.clock.Advance(2 * time.Hour) // the grace is long over
	_, err := h.app.Manager.Reap(t.Context())
	require.NoError(t, err)
	assert.False(t, h.valid("vast", oldSecret), "the rotated-out key must stop working when its grace ends")
}

func withClientName(n string) harnessOption { return func(c *harnessConfig) { c.name = n } }

// Was a hole (attack review), now closed: the MCP client's name and version (clientInfo, sent by whoever
// connects: any stdio client, any HTTP client with the token) go into every
// audit record and into managed_keys.created_by unmasked: audit.write only
// bounds them. A secret pasted there (or an agent framework that puts its
// credential in clientInfo) is stored in the state file and returned by
// audit_log. Breaks "No secret is ever recorded" / "what an agent passed is
// masked".
func TestAttackClientNameSecretIsRecorded(t *testing.T) {
	t.Parallel()
	// A Vast.ai-shaped key (64 hex) and a keyward key shape.
	leak := "4f3a9c0d1e2b3a4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4"
	h := newHarness(t, withClientName("agent "+leak))
	h.secrets = append(h.secrets, leak) // scanForLeaks checks audit log and state file at cleanup
	h.ok("create_key", map[string]any{"name": "ci-read"})
	rec := lastAudit(t, h)
	assert.NotContains(t, rec["client_name"], leak, "the audit record holds the secret the client put in clientInfo")
}

// Was a hole (attack review), now closed: the reaper (and the revocation of a re-issued key's predecessor)
// takes a first 404 to DELETE as proof that the key is gone, and forgets the
// keyward-enforced deadline. One 404 from Vast.ai (a proxy, a deploy, a
// hostile network) is enough for a key past its deadline to live on with no
// deadline at all: it is never reaped again and list_keys shows no expiry.
// Breaks "A revoke is reported only on proof — Vast's "deleted" or a fresh
// listing without the key; otherwise ... keyward keeps its record" and
// "keyward records the deadline and revokes the key when it passes".
func TestAttackReaperForgetsDeadlineOnA404(t *testing.T) {
	t.Parallel()
	h, fk := vastPlatform(t).harness(t, "KEYWARD_CONFIRM", "false")
	f := fk.(*vastfake.Fake)
	k := h.ok("create_key", vastOn("name", "one-hour", "expires_in", "1h"))
	id, sec := k["key_id"].(string), k["secret"].(string)

	h.clock.Advance(2 * time.Hour)
	f.Faults().Set(fakeserver.Fault{Method: http.MethodDelete, Status: http.StatusNotFound, Body: `{"detail": "Not Found"}`, Times: 1})
	_, err := h.app.Manager.Reap(t.Context())
	require.NoError(t, err)
	rec := lastAudit(t, h)
	assert.Equal(t, "error", rec["outcome"], "a 404 while the key is still listed is no revocation")
	assert.Contains(t, rec["error"], "still lists it")
	assert.True(t, f.Exists(id))
	got := h.ok("get_key", vastOn("key_id", id))
	assert.NotNil(t, got["expires_at"], "keyward keeps the deadline")

	// The next reap revokes it.
	h.clock.Advance(time.Minute)
	n, err := h.app.Manager.Reap(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.False(t, f.Exists(id))
	assert.False(t, h.valid("vast", sec), "a key past its deadline does not work")
}

// Was a hole (attack review), now closed: rotate_key with a grace on a platform without native rotation keeps
// the rotated-out key alive (until its grace ends) and leaves it "live", so
// reissue_key can replace it — with a new expires_in up to the original's
// full life — before the reaper revokes it. Each rotate+reissue turns one key
// into two long-lived keys with the same access. On Lyceum, whose keys all
// have full account access, this mints any number of full-access keys while
// KEYWARD_ALLOW_FULL_ACCESS=false refuses create_key. Breaks "creation is
// refused unless KEYWARD_ALLOW_FULL_ACCESS=true" and "a replacement ...
// never holds more".
func TestAttackRotateThenReissueMultipliesFullAccessKeys(t *testing.T) {
	t.Parallel()
	h, fk := byName(t, "lyceum").harness(t, "KEYWARD_ALLOW_FULL_ACCESS", "false", "KEYWARD_CONFIRM", "false")
	f := fk.(*lyceumfake.Fake)
	on := func(kv ...any) map[string]any {
		m := map[string]any{"provider": "lyceum"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	assert.Contains(t, h.fail("create_key", on("name", "new")), "KEYWARD_ALLOW_FULL_ACCESS", "the operator forbids new full-access keys")

	exp := h.clock.Now().Add(30 * 24 * time.Hour)
	a, sec := f.AddKey("operator-key", &exp) // the one full-access key the operator made
	h.secrets = append(h.secrets, sec)

	// A new secret for a full-access key is a new full-access key: refused
	// like create_key, by rotation and by replacement alike.
	assert.Contains(t, h.fail("rotate_key", on("key_id", a, "grace", "1h")), "KEYWARD_ALLOW_FULL_ACCESS")
	assert.Contains(t, h.fail("reissue_key", on("key_id", a, "expires_in", "20d")), "KEYWARD_ALLOW_FULL_ACCESS")
	h.clock.Advance(2 * time.Hour)
	_, err := h.app.Manager.Reap(t.Context())
	require.NoError(t, err)
	var keys []string // the configured credential is listed too; count the operator key's copies
	for _, k := range h.ok("list_keys", on())["keys"].([]any) {
		if k := k.(map[string]any); k["name"] == "operator-key" {
			keys = append(keys, fmt.Sprintf("%v (expires %v)", k["key_id"], k["expires_at"]))
		}
	}
	t.Logf("one operator key became %d live full-access keys: %v", len(keys), keys)
	assert.LessOrEqual(t, len(keys), 1, "replacing a key must not multiply it")
}

// Was a hole (attack review), now closed: with KEYWARD_ALLOW_NO_EXPIRY=false (the default) and
// KEYWARD_MAX_TTL=90d, rotating a key the operator made without an expiry
// (by re-issue, with a grace) yields a brand-new key that never expires, and
// the rotated-out key can then be re-issued too: new keys that "live for
// ever" are minted by agents although neither setting allows one. Breaks
// "never 'forever' unless the operator allows it" and "KEYWARD_MAX_TTL
// bounds a key's whole life from its creation, across renewals and
// replacements".
func TestAttackReplacementOfNeverExpiringKeyNeverExpires(t *testing.T) {
	t.Parallel()
	h, fk := byName(t, "lyceum").harness(t, "KEYWARD_CONFIRM", "false")
	f := fk.(*lyceumfake.Fake)
	a, sec := f.AddKey("operator-key", nil) // made in the dashboard, no expiry
	h.secrets = append(h.secrets, sec)
	assert.Contains(t, h.fail("create_key", map[string]any{"provider": "lyceum", "name": "x", "expires_in": "never"}), "KEYWARD_ALLOW_NO_EXPIRY")

	rot := h.ok("rotate_key", map[string]any{"provider": "lyceum", "key_id": a, "grace": "1h"})
	t.Logf("new key %v made by rotation expires %v", rot["key_id"], rot["expires_at"])
	assert.NotNil(t, rot["expires_at"], "an agent-made key must expire (KEYWARD_ALLOW_NO_EXPIRY=false)")
}

// Was a hole (attack review), now closed: reissue_key (and rotate_key, where the allow-list is known) works on
// any key the platform lists, including keys the operator made in the
// dashboard with scopes far above the agents' ceiling. The agent states an
// allow-list of its own choosing and receives a fresh secret holding the
// operator key's sensitive scopes (user_write mints keys, billing_write moves
// credit); with rotate_key's grace the operator's key even keeps working, so
// nothing breaks that would make the operator notice. Breaks "an agent cannot
// get a key broader ... than the operator allowed" / "a key gets at most the
// operator's ceiling (sensitive scopes are out of the default one)".
func TestAttackReissueStealsAboveCeilingOperatorKey(t *testing.T) {
	t.Parallel()
	h, fk := vastPlatform(t).harness(t) // KEYWARD_CONFIRM=true (default); this client cannot ask
	f := fk.(*vastfake.Fake)
	assert.Contains(t, h.fail("create_key", vastOn("name", "want", "scopes", []any{"user_write"})), "KEYWARD_ALLOWED_SCOPES_VAST")

	opID, opSecret := f.AddKey("ops-admin", []string{"user_read", "user_write", "billing_write"})
	h.secrets = append(h.secrets, opSecret)
	// A replacement or a new secret is a new key for the caller: at most the ceiling.
	for _, c := range []struct {
		tool string
		args map[string]any
	}{
		{"reissue_key", vastOn("key_id", opID, "allowed_ips", []any{"203.0.113.9"})},
		{"reissue_key", vastOn("key_id", opID, "allowed_ips", []any{"203.0.113.9"}, "scopes", []any{"user_write"})},
		{"rotate_key", vastOn("key_id", opID, "grace", "7d")},
	} {
		msg := h.fail(c.tool, c.args)
		assert.Contains(t, msg, "above what agents may grant", c.tool)
		assert.Contains(t, msg, "KEYWARD_ALLOWED_SCOPES_VAST", c.tool)
	}
	keys := keyIDs(h.ok("list_keys", vastOn()))
	assert.Contains(t, keys, opID, "the operator's key is untouched")
	assert.Len(t, keys, 2, "no new key was made (the other is keyward's own credential)")
	// A replacement narrowed to the ceiling is a key the agent could create anyway.
	got := h.ok("reissue_key", vastOn("key_id", opID, "allowed_ips", []any{"203.0.113.9"}, "scopes", []any{"instance_read"}))
	assert.Equal(t, []string{"instance_read"}, strs(got["scopes"]))
}

// Was a hole (attack review), now closed: (partial secret) an unknown argument's name is cut to 48 bytes
// (sanitize.Cut) before the refusal is masked, so a token-shaped secret after
// a short prefix is cut below the scanner's 32-character minimum and its
// first characters are echoed in the answer and stored in the audit record
// of the refused call. Breaks "a secret ... is never echoed, logged or stored".
func TestAttackUnknownArgumentNameLeaksPartOfASecret(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	vastKey := "4f3a9c0d1e2b3a4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4"
	msg := h.fail("revoke_key", map[string]any{"key_id": "key_x", "the vast.ai key is: " + vastKey: true})
	part := vastKey[:24]
	t.Logf("answer: %s", msg)
	assert.NotContains(t, msg, part, "the first characters of the secret are echoed")
	assert.NotContains(t, lastAudit(t, h)["error"], part, "and stored in the audit log")
}

// Was a hole (attack review), now closed: (secret sent to a third party) validate_key on vast (or lium)
// sends whatever it is given to that platform as a bearer credential, with
// no check of its shape: a keyward kw_ key, a Lyceum lk_ key or a JWT passed
// with the wrong provider goes to vast.ai. keyward recognises these shapes
// everywhere else (secret.Scan) but not here.
func TestAttackValidateSendsForeignSecretsUpstream(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"detail":"bad key"}`))
	}))
	defer srv.Close()
	vastKey := strings.Repeat("ab", 32)
	h := newHarness(t, withEnv("KEYWARD_REVEAL", "inline", "VAST_API_KEY", vastKey, "VAST_API_URL", srv.URL, "KEYWARD_PROVIDER_RETRIES", "0"))
	local := h.ok("create_key", map[string]any{"name": "local"})["secret"].(string)
	assert.Contains(t, h.fail("validate_key", map[string]any{"provider": "vast", "key": local}), "looks like a keyward key")
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyMTIzIiwiaWF0IjoxNzAwMDAwMDAwfQ.c2lnbmF0dXJlc2lnbmF0dXJlc2ln"
	assert.Contains(t, h.fail("validate_key", map[string]any{"provider": "vast", "key": jwt}), "session or bearer token")
	h.ok("validate_key", map[string]any{"provider": "vast", "key": strings.Repeat("cd", 32)}) // its own shape is sent
	mu.Lock()
	assert.Len(t, seen, 1, "only the Vast.ai-shaped key reached vast.ai")
	defer mu.Unlock()
	for _, a := range seen {
		assert.NotContains(t, a, local, "a keyward secret was sent to vast.ai")
	}
}

// racingHuman narrows the key through another keyward call while the agent's
// question is on screen (an operator acting in another session), then accepts.
type racingHuman struct {
	human
	during func()
}

func (r *racingHuman) Elicit(ctx context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	if r.during != nil {
		r.during()
		r.during = nil
	}
	return r.human.Elicit(ctx, req)
}

// newHarnessWithElicitor is newHarness with any elicitation handler.
func newHarnessWithElicitor(t *testing.T, e client.ElicitationHandler, env ...string) *harness {
	t.Helper()
	dir := t.TempDir()
	vars := map[string]string{"KEYWARD_DB": filepath.Join(dir, "keyward.db")}
	for i := 0; i+1 < len(env); i += 2 {
		vars[env[i]] = env[i+1]
	}
	cfg, err := config.LoadFrom(vars)
	require.NoError(t, err)
	clk := testutil.NewClock(time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC))
	logs := &testutil.SyncBuffer{}
	app, err := keyward.New(context.Background(), cfg, slog.New(slog.NewTextHandler(logs, nil)), keyward.WithClock(clk.Now))
	require.NoError(t, err)
	t.Cleanup(func() { app.Close() })
	c, err := client.NewInProcessClientWithOptions(app.MCP, client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION), client.WithElicitationHandler(e))
	require.NoError(t, err)
	require.NoError(t, c.Start(context.Background()))
	t.Cleanup(func() { c.Close() })
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "racing", Version: "1"}
	_, err = c.Initialize(context.Background(), init)
	require.NoError(t, err)
	return &harness{t: t, app: app, client: c, clock: clk, dir: dir, logs: logs}
}

// Was a hole (attack review), now closed: (TOCTOU) update_key plans the new scope set against the key as read
// before the human is asked, then writes it whole afterwards. A scope removed
// from the key while the question is on screen (by the operator, in another
// session) is silently granted again, though the question named only the
// scope being added and nobody confirmed the other. The same holds for the
// ceiling check, which lets a key keep scopes above the ceiling because it
// "already holds" them.
func TestAttackUpdateRestoresScopeRemovedDuringConfirmation(t *testing.T) {
	t.Parallel()
	rh := &racingHuman{human: human{action: mcp.ElicitationResponseActionAccept, content: map[string]any{"confirm": true}}}
	h := newHarnessWithElicitor(t, rh, "KEYWARD_LOCAL_SCOPES", "read,write,deploy", "KEYWARD_CONFIRM", "true")
	id := h.ok("create_key", map[string]any{"name": "k", "scopes": []any{"read", "write"}})["key_id"].(string)
	rh.during = func() {
		s := []string{"read"}
		_, err := h.app.Manager.UpdateKey(context.Background(), manager.UpdateArgs{KeyID: id, Scopes: s})
		require.NoError(t, err, "the operator takes write away")
	}
	res := h.call("update_key", map[string]any{"key_id": id, "scopes": []any{"read", "write", "deploy"}})
	got := h.ok("get_key", map[string]any{"key_id": id})
	if res.IsError {
		assert.Contains(t, text(res), "changed while the human was deciding")
		assert.Equal(t, []string{"read"}, strs(got["scopes"]), "nothing was changed")
		return
	}
	// Or the question was put again: an answer counts only for the very
	// question it answers, and this time it names write too.
	qs := rh.seen()
	require.GreaterOrEqual(t, len(qs), 2, "the human was asked again after the key changed")
	assert.Contains(t, qs[len(qs)-1], "write", "the question the human answered last names write")
	assert.Contains(t, strs(got["scopes"]), "write")
}

// Was a hole (attack review), now closed: concurrent reissue_key calls on one key each mint a replacement and
// then each "revoke" the old key (the second revocation's not-found counts as
// success), so N calls turn one key into N. Nothing serialises changes to a
// key. Same effect as rotate+reissue, in one round trip: on Lyceum it mints
// full-access keys with KEYWARD_ALLOW_FULL_ACCESS=false.
func TestAttackConcurrentReissueMultipliesKey(t *testing.T) {
	t.Parallel()
	h, fk := byName(t, "lyceum").harness(t, "KEYWARD_ALLOW_FULL_ACCESS", "false", "KEYWARD_CONFIRM", "false")
	f := fk.(*lyceumfake.Fake)
	exp := h.clock.Now().Add(30 * 24 * time.Hour)
	a, sec := f.AddKey("operator-key", &exp)
	h.secrets = append(h.secrets, sec)

	var wg sync.WaitGroup
	var mu sync.Mutex
	made := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := h.call("reissue_key", map[string]any{"provider": "lyceum", "key_id": a})
			if !res.IsError {
				mu.Lock()
				made++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	copies := 0
	for _, k := range h.ok("list_keys", map[string]any{"provider": "lyceum"})["keys"].([]any) {
		if k.(map[string]any)["name"] == "operator-key" {
			copies++
		}
	}
	t.Logf("8 concurrent re-issues of one key: %d succeeded, %d live copies", made, copies)
	assert.LessOrEqual(t, copies, 1, "re-issuing a key must leave one key")
}

// Was a hole (attack review), now closed: (partial credential) upstream error messages are redacted of any
// 8-character run of a configured credential only as spelled: the same run
// in another case (or dot-separated) passes the redactor, and a piece shorter
// than the scanner's 32-character token length passes MaskText and the
// 24-character secretLike filter too. A platform (or anything between) that
// echoes part of VAST_API_KEY upper-cased gets it quoted to the model.
// Breaks "upstream errors are redacted of any 8-character run of a configured
// credential, however it is split or encoded".
func TestAttackUpstreamErrorEchoesCredentialInOtherCase(t *testing.T) {
	t.Parallel()
	h, fk := vastPlatform(t).harness(t)
	f := fk.(*vastfake.Fake)
	piece := strings.ToUpper(f.APIKey()[:20])
	f.Faults().Set(fakeserver.Fault{Method: http.MethodGet, Status: http.StatusInternalServerError, Times: 1,
		Body: `{"detail": "malformed api key ` + piece + `"}`})
	msg := h.fail("list_keys", vastOn())
	t.Logf("answer: %s", msg)
	for i := 0; i+8 <= len(piece); i++ {
		assert.NotContains(t, msg, piece[i:i+8], "an 8-character run of VAST_API_KEY (upper-cased) reached the model")
	}
}
