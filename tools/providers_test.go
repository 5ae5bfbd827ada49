package tools_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider/fakeserver"
	"github.com/keyward/keyward/internal/provider/lium/liumfake"
	"github.com/keyward/keyward/internal/provider/lurus/lurusfake"
	"github.com/keyward/keyward/internal/provider/lyceum/lyceumfake"
	"github.com/keyward/keyward/internal/provider/vast/vastfake"
)

// fake is what every platform's contract fake offers the behaviour suite.
type fake interface {
	URL() string
	APIKey() string
	Faults() *fakeserver.Faults
	Close()
}

// platform is one provider under the shared behaviour suite, with what its
// documentation says it can do.
type platform struct {
	name       string
	envKey     string
	start      func() (fake, []string) // the fake and the settings that point keyward at it
	manage     bool
	toggle     bool
	rename     bool
	fullAccess bool // keys have no scopes
}

func platforms() []platform {
	remote := func(name string, newFake func() fake) func() (fake, []string) {
		return func() (fake, []string) {
			f := newFake()
			p := strings.ToUpper(name)
			return f, []string{p + "_API_KEY", f.APIKey(), p + "_API_URL", f.URL()}
		}
	}
	return []platform{
		{name: "local", start: func() (fake, []string) { return nil, nil }, manage: true, toggle: true, rename: true},
		{name: "vast", envKey: "VAST_API_KEY", start: remote("vast", func() fake { return vastfake.New() }), manage: true},
		{name: "lyceum", envKey: "LYCEUM_API_KEY", start: remote("lyceum", func() fake { return lyceumfake.New() }), manage: true, toggle: true, fullAccess: true},
		{name: "lium", envKey: "LIUM_API_KEY", manage: true, start: func() (fake, []string) {
			f := liumfake.New()
			return f, []string{"LIUM_API_KEY", f.APIKey(), "LIUM_API_URL", f.URL(), "LIUM_SESSION_TOKEN", f.SessionToken()}
		}},
		{name: "lurus", envKey: "LURUS_API_KEY", start: remote("lurus", func() fake { return lurusfake.New() })},
	}
}

func (p platform) harness(t *testing.T, extra ...string) (*harness, fake) {
	f, env := p.start()
	if f != nil {
		t.Cleanup(f.Close)
	}
	env = append(env, "KEYWARD_REVEAL", "inline", "KEYWARD_ALLOW_FULL_ACCESS", "true", "KEYWARD_PROVIDER_RETRIES", "0")
	h := newHarness(t, withEnv(append(env, extra...)...))
	if f != nil {
		h.secrets = append(h.secrets, f.APIKey())
	}
	return h, f
}

func (h *harness) valid(provider, secret string) bool {
	h.t.Helper()
	return h.ok("validate_key", map[string]any{"provider": provider, "key": secret})["valid"].(bool)
}

func keyIDs(list map[string]any) []string {
	var out []string
	for _, k := range list["keys"].([]any) {
		out = append(out, k.(map[string]any)["key_id"].(string))
	}
	return out
}

// TestBehaviourSuiteLifecycle runs one lifecycle against every provider,
// through its contract fake, and checks each answer and the audit trail.
func TestBehaviourSuiteLifecycle(t *testing.T) {
	t.Parallel()
	for _, p := range platforms() {
		t.Run(p.name, func(t *testing.T) {
			h, _ := p.harness(t)
			on := map[string]any{"provider": p.name}
			with := func(kv ...any) map[string]any {
				m := map[string]any{"provider": p.name}
				for i := 0; i+1 < len(kv); i += 2 {
					m[kv[i].(string)] = kv[i+1]
				}
				return m
			}
			if !p.manage {
				msg := h.fail("list_keys", on)
				assert.Contains(t, msg, "dashboard")
				h.fail("create_key", with("name", "x"))
				assert.Equal(t, false, h.valid(p.name, "lc_not-a-real-key-000000000000"))
				who := h.ok("validate_key", on)
				assert.NotEmpty(t, who["whoami"].(map[string]any)["account"])
				return
			}

			created := h.ok("create_key", with("name", "suite"))
			id, secret := created["key_id"].(string), created["secret"].(string)
			require.NotEmpty(t, secret)
			require.NotNil(t, created["expires_at"], "every key gets a deadline, upstream or keyward-enforced")
			deadline, err := time.Parse(time.RFC3339, created["expires_at"].(string))
			require.NoError(t, err)
			if p.fullAccess {
				assert.Equal(t, true, created["full_access"])
				assert.Contains(t, text(h.call("list_scopes", on)), "no scopes")
			} else {
				assert.NotEmpty(t, strs(created["scopes"]), "a scoped platform never gets an unscoped key")
			}
			assert.True(t, h.valid(p.name, secret))
			assert.Contains(t, keyIDs(h.ok("list_keys", on)), id)
			assert.Equal(t, "suite", h.ok("get_key", with("key_id", id))["name"])

			if p.toggle {
				h.ok("set_key_active", with("key_id", id, "active", false))
				assert.False(t, h.valid(p.name, secret), "a disabled key does not validate")
				h.ok("set_key_active", with("key_id", id, "active", true))
				assert.True(t, h.valid(p.name, secret))
			} else {
				assert.Contains(t, h.fail("set_key_active", with("key_id", id, "active", false)), "cannot")
			}

			if p.rename {
				assert.Equal(t, "suite-2", h.ok("update_key", with("key_id", id, "name", "suite-2"))["name"])
			} else {
				assert.Contains(t, h.fail("update_key", with("key_id", id, "name", "suite-2")), "reissue_key")
				re := h.ok("reissue_key", with("key_id", id, "name", "suite-2"))
				assert.Equal(t, id, re["replaced_key_id"])
				assert.NotEqual(t, id, re["key_id"])
				assert.Equal(t, "suite-2", re["name"])
				assert.False(t, h.valid(p.name, secret), "the re-issued key's predecessor is revoked")
				id, secret = re["key_id"].(string), re["secret"].(string)
				assert.True(t, h.valid(p.name, secret))
			}

			rot := h.ok("rotate_key", with("key_id", id))
			newSecret := rot["secret"].(string)
			assert.NotEqual(t, secret, newSecret)
			assert.True(t, h.valid(p.name, newSecret))
			assert.False(t, h.valid(p.name, secret), "without grace the old secret stops at once")
			rotated, err := time.Parse(time.RFC3339, rot["expires_at"].(string))
			require.NoError(t, err)
			assert.False(t, rotated.After(deadline), "a rotated key never outlives its predecessor (%s > %s)", rotated, deadline)
			id = rot["key_id"].(string)

			h.ok("revoke_key", with("key_id", id))
			assert.False(t, h.valid(p.name, newSecret))
			assert.NotContains(t, keyIDs(h.ok("list_keys", on)), id)

			recs := h.ok("audit_log", with())["records"].([]any)
			require.NotEmpty(t, recs)
			for _, r := range recs {
				rec := r.(map[string]any)
				assert.Equal(t, p.name, rec["provider"])
				ok := rec["outcome"] == "ok" || (rec["tool"] != "create_key" && rec["tool"] != "revoke_key" && rec["tool"] != "rotate_key")
				assert.True(t, ok, "unexpected audit record %v", rec)
			}
			assert.Equal(t, "create_key", recs[len(recs)-1].(map[string]any)["tool"])
			assert.Equal(t, "revoke_key", recs[0].(map[string]any)["tool"])
		})
	}
}

func TestBehaviourSuitePolicyRefusals(t *testing.T) {
	t.Parallel()
	byName := map[string]platform{}
	for _, p := range platforms() {
		byName[p.name] = p
	}
	// Lyceum keys have full account access: refused unless the operator allows it.
	f, env := byName["lyceum"].start()
	defer f.Close()
	h := newHarness(t, withEnv(env...))
	msg := h.fail("create_key", map[string]any{"provider": "lyceum", "name": "x"})
	assert.Contains(t, msg, "KEYWARD_ALLOW_FULL_ACCESS=true")
	assert.Equal(t, "refused", lastAudit(t, h)["outcome"])

	h, _ = byName["vast"].harness(t)
	msg = h.fail("create_key", map[string]any{"provider": "vast", "name": "x", "scopes": []any{"billing_write"}})
	assert.Contains(t, msg, `"billing_write"`)
	assert.Contains(t, msg, "KEYWARD_ALLOWED_SCOPES_VAST")
	assert.Equal(t, "refused", lastAudit(t, h)["outcome"])
	created := h.ok("create_key", map[string]any{"provider": "vast", "name": "x"})
	assert.Equal(t, []string{"instance_read"}, strs(created["scopes"]), "the minimal default, never full access")
	assert.Equal(t, true, created["expiry_enforced_by_keyward"], "Vast.ai has no expiry: keyward enforces it")

	h, _ = byName["vast"].harness(t, "KEYWARD_ALLOWED_SCOPES_VAST", "instance_read,billing_write")
	h.ok("create_key", map[string]any{"provider": "vast", "name": "x", "scopes": []any{"billing_write"}})
}

// TestBehaviourSuiteUpstreamFailures: every way a platform can fail ends in a
// clear tool error, no panic, no credential in the text, and an audit record.
func TestBehaviourSuiteUpstreamFailures(t *testing.T) {
	t.Parallel()
	faults := []struct {
		name  string
		fault fakeserver.Fault
		want  string
	}{
		{"401", fakeserver.Fault{Status: 401, Body: `{"detail":"bad key"}`}, "rejected"},
		{"403", fakeserver.Fault{Status: 403, Body: `{"detail":"no"}`}, "permission"},
		{"429", fakeserver.Fault{Status: 429, Body: `{}`, Header: http.Header{"Retry-After": {"120"}}}, "rate limit"},
		{"500", fakeserver.Fault{Status: 500, Body: `{"detail":"boom"}`}, "500"},
		{"timeout", fakeserver.Fault{Delay: 2 * time.Second}, "did not answer"},
		{"truncated", fakeserver.Fault{Truncate: true}, ""},
		{"non-JSON", fakeserver.Fault{NonJSON: true}, ""},
		{"closed", fakeserver.Fault{CloseConn: true}, ""},
	}
	for _, p := range platforms() {
		if p.name == "local" {
			continue
		}
		t.Run(p.name, func(t *testing.T) {
			t.Parallel() // each platform has its own server and fake; the timeouts overlap
			h, f := p.harness(t, "KEYWARD_PROVIDER_TIMEOUT", "1s")
			for _, fc := range faults {
				t.Run(fc.name, func(t *testing.T) {
					f.Faults().Set(fc.fault)
					defer f.Faults().Clear()
					read := h.call("validate_key", map[string]any{"provider": p.name})
					if p.manage {
						read = h.call("list_keys", map[string]any{"provider": p.name})
					}
					require.True(t, read.IsError, "%s", text(read))
					msg := text(read)
					assert.NotContains(t, msg, f.APIKey())
					if fc.want != "" {
						assert.Contains(t, strings.ToLower(msg), fc.want)
					}
					if !p.manage {
						return
					}
					before := len(h.ok("audit_log", map[string]any{"provider": p.name, "limit": 500})["records"].([]any))
					write := h.call("create_key", map[string]any{"provider": p.name, "name": "during-" + fc.name})
					require.True(t, write.IsError, "%s", text(write))
					assert.NotContains(t, text(write), f.APIKey())
					rec := lastAudit(t, h)
					assert.Equal(t, "create_key", rec["tool"])
					assert.Equal(t, "error", rec["outcome"])
					assert.NotContains(t, fmt.Sprint(rec), f.APIKey())
					assert.Len(t, h.ok("audit_log", map[string]any{"provider": p.name, "limit": 500})["records"], before+1)
				})
			}
			// After the faults the platform works again and nothing half-made is left over.
			if p.manage {
				keys := h.ok("list_keys", map[string]any{"provider": p.name})["keys"].([]any)
				for _, k := range keys {
					name := k.(map[string]any)["name"].(string)
					if strings.HasPrefix(name, "during-") && !slices.Contains([]string{"during-timeout", "during-closed", "during-truncated", "during-non-JSON"}, name) {
						t.Errorf("a create that failed with a definite answer left key %q behind", name)
					}
				}
			}
		})
	}
}

func TestBehaviourSuiteNotFound(t *testing.T) {
	t.Parallel()
	for _, p := range platforms() {
		if !p.manage {
			continue
		}
		t.Run(p.name, func(t *testing.T) {
			h, _ := p.harness(t)
			for _, tool := range []string{"get_key", "revoke_key", "rotate_key"} {
				msg := h.fail(tool, map[string]any{"provider": p.name, "key_id": "999999"})
				assert.Contains(t, msg, "list_keys", "%s: %s", tool, msg)
			}
		})
	}
}

// TestKeywardEnforcedExpiryOnVast: Vast.ai keys have no expiry, so keyward
// revokes them when their deadline passes, and an emulated rotation's grace
// ends the same way. Both are audited.
func TestKeywardEnforcedExpiryOnVast(t *testing.T) {
	t.Parallel()
	var vast platform
	for _, p := range platforms() {
		if p.name == "vast" {
			vast = p
		}
	}
	h, _ := vast.harness(t)
	short := h.ok("create_key", map[string]any{"provider": "vast", "name": "short", "expires_in": "1h"})
	long := h.ok("create_key", map[string]any{"provider": "vast", "name": "long", "expires_in": "7d"})
	assert.Equal(t, "2026-11-23T13:00:00Z", short["expires_at"])

	rot := h.ok("rotate_key", map[string]any{"provider": "vast", "key_id": long["key_id"], "grace": "2h"})
	assert.Equal(t, long["expires_at"], rot["expires_at"], "the replacement keeps the deadline")
	assert.Equal(t, "2026-11-23T14:00:00Z", rot["old_secret_valid_until"])
	assert.True(t, h.valid("vast", long["secret"].(string)), "the old key works during the grace")

	n, err := h.app.Manager.Reap(t.Context())
	require.NoError(t, err)
	assert.Zero(t, n, "nothing is due yet")

	h.clock.Advance(time.Hour + time.Minute)
	n, err = h.app.Manager.Reap(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.False(t, h.valid("vast", short["secret"].(string)), "past its deadline the key is revoked upstream")
	assert.True(t, h.valid("vast", long["secret"].(string)), "still in grace")
	rec := lastAudit(t, h)
	assert.Equal(t, "reaper", rec["tool"])
	assert.Equal(t, short["key_id"], rec["key_id"])
	assert.Equal(t, "ok", rec["outcome"])

	h.clock.Advance(time.Hour)
	n, err = h.app.Manager.Reap(t.Context())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	assert.False(t, h.valid("vast", long["secret"].(string)), "the grace is over")
	assert.True(t, h.valid("vast", rot["secret"].(string)))
	assert.Equal(t, []string{rot["key_id"].(string)}, keyIDs(h.ok("list_keys", map[string]any{"provider": "vast"}))[1:])
}

// byName is the suite's platform of that name.
func byName(t *testing.T, name string) platform {
	t.Helper()
	for _, p := range platforms() {
		if p.name == name {
			return p
		}
	}
	t.Fatalf("no platform %q in the suite", name)
	return platform{}
}

// TestBehaviourSuiteVastRevokeNeedsProof: a revoke is reported done only when
// Vast.ai says so or a listing shows the key gone; otherwise keyward keeps
// its record and says the key still works.
func TestBehaviourSuiteVastRevokeNeedsProof(t *testing.T) {
	t.Parallel()
	h, fk := byName(t, "vast").harness(t)
	f := fk.(*vastfake.Fake)
	on := func(kv ...any) map[string]any {
		m := map[string]any{"provider": "vast"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	created := h.ok("create_key", on("name", "kept"))
	id, secret := created["key_id"].(string), created["secret"].(string)

	f.Faults().Set(fakeserver.Fault{Method: http.MethodDelete, Status: 200, Times: 1,
		Body: `{"success": false, "error": "server_error", "msg": "Failed to delete API key."}`})
	msg := h.fail("revoke_key", on("key_id", id))
	assert.Contains(t, msg, "still works")
	assert.Equal(t, "error", lastAudit(t, h)["outcome"])
	assert.Contains(t, keyIDs(h.ok("list_keys", on())), id)
	assert.True(t, h.valid("vast", secret), "the key lives on upstream and keyward says so")

	// The DELETE deletes the key but its answer is cut; the retry gets 404:
	// the listing proves the key gone, so this is a revocation.
	f.Faults().Set(fakeserver.Fault{Method: http.MethodDelete, Truncate: true, Times: 1})
	res := h.ok("revoke_key", on("key_id", id))
	assert.Equal(t, true, res["revoked"])
	assert.Equal(t, "ok", lastAudit(t, h)["outcome"])
	assert.NotContains(t, keyIDs(h.ok("list_keys", on())), id)
	assert.False(t, f.Exists(id))
}

// TestBehaviourSuiteVastCredential400: Vast.ai answers a rejected key with
// 400 on its key list; keyward names VAST_API_KEY, as for a 401.
func TestBehaviourSuiteVastCredential400(t *testing.T) {
	t.Parallel()
	f := vastfake.New()
	defer f.Close()
	h := newHarness(t, withEnv("VAST_API_KEY", strings.Repeat("cd", 32), "VAST_API_URL", f.URL(), "KEYWARD_PROVIDER_RETRIES", "0"))
	msg := h.fail("list_keys", map[string]any{"provider": "vast"})
	assert.Contains(t, msg, "VAST_API_KEY")
	assert.NotContains(t, msg, "correct the request")
}

// TestBehaviourSuiteLyceumNullIsInactive: Lyceum's own CLI shows a key whose
// is_active is null as inactive; so does keyward, and enabling it works.
func TestBehaviourSuiteLyceumNullIsInactive(t *testing.T) {
	t.Parallel()
	h, fk := byName(t, "lyceum").harness(t)
	f := fk.(*lyceumfake.Fake)
	id, secret := f.AddKey("dormant", nil)
	h.secrets = append(h.secrets, secret)
	f.SetActiveNull(id)
	args := map[string]any{"provider": "lyceum", "key_id": id}
	assert.Equal(t, false, h.ok("get_key", args)["active"])
	assert.False(t, h.valid("lyceum", secret))

	res := h.ok("set_key_active", map[string]any{"provider": "lyceum", "key_id": id, "active": true})
	assert.Equal(t, true, res["active"])
	assert.True(t, h.valid("lyceum", secret), "enabled, not toggled off")
}

// TestBehaviourSuiteLyceumOrganisation: with LYCEUM_ORG, an organisation's
// keys are a provider of their own (lyceum-org) with the same tools, and
// Lyceum's regenerate is its native rotation.
func TestBehaviourSuiteLyceumOrganisation(t *testing.T) {
	t.Parallel()
	h, fk := byName(t, "lyceum").harness(t, "LYCEUM_ORG", lyceumfake.OrgSlug)
	f := fk.(*lyceumfake.Fake)
	on := func(kv ...any) map[string]any {
		m := map[string]any{"provider": "lyceum-org"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	var org map[string]any
	for _, p := range h.ok("list_providers", map[string]any{})["providers"].([]any) {
		if p.(map[string]any)["name"] == "lyceum-org" {
			org = p.(map[string]any)
		}
	}
	require.NotNil(t, org, "LYCEUM_ORG adds the organisation's keys as a provider")
	assert.Equal(t, "native", org["capabilities"].(map[string]any)["rotate"])

	dashID, _ := f.AddOrgKey("team-ci")
	assert.Equal(t, []string{dashID}, keyIDs(h.ok("list_keys", on())))
	personal := keyIDs(h.ok("list_keys", map[string]any{"provider": "lyceum"}))
	assert.NotContains(t, personal, dashID, "the user's own keys are listed apart")

	created := h.ok("create_key", on("name", "org-agent", "expires_in", "7d"))
	id, secret := created["key_id"].(string), created["secret"].(string)
	assert.Equal(t, true, created["full_access"])
	assert.True(t, f.Works(secret))
	assert.Contains(t, keyIDs(h.ok("list_keys", on())), id)

	rot := h.ok("rotate_key", on("key_id", id))
	assert.Equal(t, id, rot["key_id"], "regenerate keeps the key")
	assert.NotEqual(t, secret, rot["secret"])
	assert.False(t, f.Works(secret))
	assert.True(t, f.Works(rot["secret"].(string)))

	assert.Contains(t, h.fail("revoke_key", on("key_id", id)), "dashboard")
	assert.Contains(t, h.fail("set_key_active", on("key_id", id, "active", false)), "cannot")
}

// TestBehaviourSuiteLiumNarrowest: Lium keys get only what lium.io accepts
// (no billing scope) and see only the pods they create.
func TestBehaviourSuiteLiumNarrowest(t *testing.T) {
	t.Parallel()
	h, fk := byName(t, "lium").harness(t, "KEYWARD_ALLOWED_SCOPES_LIUM", "read,rent,manage")
	f := fk.(*liumfake.Fake)
	var names []string
	for _, s := range h.ok("list_scopes", map[string]any{"provider": "lium"})["scopes"].([]any) {
		names = append(names, s.(map[string]any)["name"].(string))
	}
	assert.NotContains(t, names, "billing")
	assert.Contains(t, h.fail("create_key", map[string]any{"provider": "lium", "name": "pay", "scopes": []any{"billing"}}), "billing")

	created := h.ok("create_key", map[string]any{"provider": "lium", "name": "renter", "scopes": []any{"read", "rent"}})
	assert.Equal(t, "own", f.PodVisibility(created["key_id"].(string)))
}

// TestBehaviourSuiteLurusUnconfirmed: a 2xx that names no account on Lurus's
// guessed route confirms nothing, and keyward says so instead of "valid".
func TestBehaviourSuiteLurusUnconfirmed(t *testing.T) {
	t.Parallel()
	h, fk := byName(t, "lurus").harness(t)
	f := fk.(*lurusfake.Fake)
	f.AnswerWithoutAccount(`{}`)
	msg := h.fail("validate_key", map[string]any{"provider": "lurus", "key": f.APIKey()})
	assert.Contains(t, msg, "could not confirm")
	assert.Contains(t, msg, "neither valid nor invalid")
	assert.NotContains(t, msg, f.APIKey())
}

// TestBehaviourSuiteRevokeAfterALostAnswer: on Lyceum and Lium a DELETE whose
// answer is lost after the platform deleted the key is a revocation (the
// listing proves it), never "no such key"; a 2xx that says it did not delete
// is an error that keeps keyward's record, and the key still works.
func TestBehaviourSuiteRevokeAfterALostAnswer(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"lyceum", "lium"} {
		t.Run(name, func(t *testing.T) {
			h, f := byName(t, name).harness(t)
			on := func(kv ...any) map[string]any {
				m := map[string]any{"provider": name}
				for i := 0; i+1 < len(kv); i += 2 {
					m[kv[i].(string)] = kv[i+1]
				}
				return m
			}
			created := h.ok("create_key", on("name", "lost-answer"))
			id, secret := created["key_id"].(string), created["secret"].(string)

			f.Faults().Set(fakeserver.Fault{Method: http.MethodDelete, Status: 200, Body: `{"success": false}`, Times: 1})
			msg := h.fail("revoke_key", on("key_id", id))
			assert.Contains(t, msg, "still works")
			assert.Equal(t, "error", lastAudit(t, h)["outcome"])
			assert.Contains(t, keyIDs(h.ok("list_keys", on())), id)
			assert.True(t, h.valid(name, secret), "the key lives on upstream and keyward says so")

			f.Faults().Set(fakeserver.Fault{Method: http.MethodDelete, CloseConn: true, After: true, Times: 1})
			res := h.ok("revoke_key", on("key_id", id))
			assert.Equal(t, true, res["revoked"])
			assert.Equal(t, "ok", lastAudit(t, h)["outcome"])
			assert.NotContains(t, keyIDs(h.ok("list_keys", on())), id)
			assert.False(t, h.valid(name, secret))
		})
	}
}

// TestBehaviourSuiteLiumWorkspace: keyward manages the Lium keys of the
// workspace LIUM_API_KEY acts in, as Lium's CLI does, not those of the
// session's own workspace.
func TestBehaviourSuiteLiumWorkspace(t *testing.T) {
	t.Parallel()
	h, fk := byName(t, "lium").harness(t)
	f := fk.(*liumfake.Fake)
	personal, _ := f.AddKey(liumfake.PersonalWorkspaceID, "the session's own", []string{"read"})
	listed := keyIDs(h.ok("list_keys", map[string]any{"provider": "lium"}))
	assert.NotContains(t, listed, personal)
	assert.Contains(t, listed, f.KeyID(f.APIKey()))

	created := h.ok("create_key", map[string]any{"provider": "lium", "name": "agent"})
	assert.Equal(t, liumfake.WorkspaceID, f.Workspace(created["key_id"].(string)))
	for _, r := range f.Requests() {
		if strings.HasPrefix(r.Path, "/api/keys") {
			assert.Equal(t, liumfake.WorkspaceID, r.Header.Get(liumfake.WorkspaceHeader), "%s %s", r.Method, r.Path)
		}
	}
}

// What a platform says of a new key reaches the caller: a Lium server that
// did not record the narrow pod visibility is named in the result's notes.
func TestBehaviourSuitePlatformNotesReachTheResult(t *testing.T) {
	t.Parallel()
	h, fk := byName(t, "lium").harness(t)
	f := fk.(*liumfake.Fake)
	f.IgnorePodVisibility()
	res := h.ok("create_key", map[string]any{"provider": "lium", "name": "wide", "scopes": []any{"read"}})
	assert.Contains(t, strings.Join(strs(res["notes"]), " "), "did not record pod_visibility")
}
