package secret

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Shapes of the platforms' secrets and ids, as their contract fakes make them
// (internal/provider/*/…fake) and their SOURCES.md describe them.

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

func fromAlphabet(alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[mrand.IntN(len(alphabet))]
	}
	return string(b)
}

const base36 = "0123456789abcdefghijklmnopqrstuvwxyz"

func vastKey() string   { return hex.EncodeToString(randBytes(32)) }                           // vastfake: 64 hex digits
func lyceumKey() string { return "lk_" + fromAlphabet(base62, 40) }                            // lyceumfake: lk_ + 40 base62
func lurusKey() string  { return "lc_" + base64.RawURLEncoding.EncodeToString(randBytes(32)) } // lurusfake
func liumKey() string   { return "sk_" + base64.RawURLEncoding.EncodeToString(randBytes(32)) } // liumfake, docs: sk_yjujqGP…
func liumSession() string {
	return "eyJ.fake." + base64.RawURLEncoding.EncodeToString(randBytes(24)) // liumfake's session token
}
func localKeyID() string { return "key_" + fromAlphabet(base36, 12) } // local.newKeyID
func uuid() string {
	h := hex.EncodeToString(randBytes(16))
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

const jwt = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"

// secretsIn returns the text of each span Scan found.
// hexToken is 32 random hex digits with a letter among them: a run of
// digits only (about 3 draws in 10 million) is a number, which the scanner
// leaves alone by design (ids and counts are numbers).
func hexToken() string {
	for {
		if s := hex.EncodeToString(randBytes(16)); strings.ContainsAny(s, "abcdef") {
			return s
		}
	}
}

func secretsIn(text string) []string {
	var out []string
	for _, f := range Scan(text) {
		out = append(out, text[f.Start:f.End])
	}
	return out
}

// assertNoPiece fails if text holds 8 consecutive characters of secret.
func assertNoPiece(t *testing.T, text, secret string) {
	t.Helper()
	for i := 0; i+8 <= len(secret); i++ {
		if strings.Contains(text, secret[i:i+8]) {
			t.Fatalf("%q holds %q, 8 characters of the secret", text, secret[i:i+8])
		}
	}
}

func TestScanFindsEachShape(t *testing.T) {
	t.Parallel()
	key := mustGenerate(t)
	typo := key[:10] + string(base62[(strings.IndexByte(base62, key[10])+1)%62]) + key[11:]
	vast, lyceum, lurus, lium, session := vastKey(), lyceumKey(), lurusKey(), liumKey(), liumSession()
	// Fixed: whether a random run is random enough is a judgement, which a
	// few random draws in a thousand fail (TestScanFindsRandomBase64 holds
	// the rate).
	b64 := "Q7x+Vb2/kZ9pLmW4tRy8Nc1/JhG6eDsF0a3U/iKq"
	cases := []struct {
		name, text, secret string
		kind               Kind
	}{
		{"keyward key", "created " + key + ".", key, KindKeyward},
		{"keyward key in JSON", `{"key":"` + key + `"}`, key, KindKeyward},
		{"keyward key glued to a word", "token" + key + " done", key, KindKeyward},
		{"first 20 characters of a keyward key", "begins " + key[:20] + "…", key[:20], KindKeywardPart},
		{"keyward key with a typo", "try " + typo, typo, KindKeywardPart},
		{"keyward key and more", key + "abc", key + "abc", KindKeywardPart},
		{"Vast.ai key", "VAST_API_KEY=" + vast, vast, KindVast},
		{"Vast.ai key in a path", "GET /users/" + vast + "/", vast, KindVast},
		{"Lyceum key", "key: " + lyceum, lyceum, KindLyceum},
		{"Lyceum key, first 20", "bad " + lyceum[:20] + "...", lyceum[:20], KindLyceum},
		{"Lurus key", "X-API-Key: " + lurus, lurus, KindLurus},
		{"Lium key", "lium " + lium + "\n", lium, KindLium},
		{"Stripe-style key", "sk_live_51H8xY2eZvKYlo2C0aBcDeFgHiJ", "sk_live_51H8xY2eZvKYlo2C0aBcDeFgHiJ", KindLium},
		{"bearer token", "Authorization: Bearer abc123def456", "abc123def456", KindBearer},
		{"bearer lower-case, tab", "bearer\tAbCdEfGhIj.kl~mn", "AbCdEfGhIj.kl~mn", KindBearer},
		{"basic credentials", "Authorization: Basic dXNlcjpwYXNzd29yZA==", "dXNlcjpwYXNzd29yZA==", KindBearer},
		{"bearer keyward key", "Bearer " + key, key, KindKeyward},
		{"bearer JWT", "Bearer " + jwt, jwt, KindJWT},
		{"JWT", "session=" + jwt + ";", jwt, KindJWT},
		{"unsigned JWT", "t eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0. x", "eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0.", KindJWT},
		{"Lium session token", "LIUM_SESSION_TOKEN=" + session, session, KindJWT},
		{"base62 token", "token x9Kp2LmQ7vRt4NwYz8HcJd3FbGs6TaUe end", "x9Kp2LmQ7vRt4NwYz8HcJd3FbGs6TaUe", KindToken},
		{"hex token", "sha 0123456789abcdef0123456789abcdef01234567", "0123456789abcdef0123456789abcdef01234567", KindToken},
		{"base64 token with padding", "secret: " + b64 + "==", b64 + "==", KindToken},
		{"base64 token that starts like a path", "secret: /" + b64[1:], "/" + b64[1:], KindToken},
		{"token after a name", "vk_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0", "9f8e7d6c5b4a39281706f5e4d3c2b1a0", KindToken},
		{"GitHub-style token", "ghp_16C7e42F292c6912E7710c838347Ae178B4a", "ghp_16C7e42F292c6912E7710c838347Ae178B4a", KindToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			found := Scan(c.text)
			require.Len(t, found, 1, "in %q: %v", c.text, found)
			f := found[0]
			assert.Equal(t, c.secret, c.text[f.Start:f.End])
			assert.Equal(t, c.kind, f.Kind)
			assert.True(t, Contains(c.text))
			masked := MaskText(c.text)
			assertNoPiece(t, masked, c.secret)
			assert.Equal(t, c.text[:f.Start], masked[:f.Start], "the text around the secret is kept")
			assert.True(t, strings.HasSuffix(masked, c.text[f.End:]), "the text around the secret is kept")
			assert.NotContains(t, fmt.Sprint(f), c.secret, "a Found prints no secret")
		})
	}
}

// Random secrets of every shape, many times: the generic rule must catch the
// kinds of random text platforms issue, not just the examples above.
func TestScanFindsRandomSecrets(t *testing.T) {
	t.Parallel()
	gens := map[string]func() string{
		"keyward":      func() string { return mustGenerate(t) },
		"vast":         vastKey,
		"lyceum":       lyceumKey,
		"lurus":        lurusKey,
		"lium":         liumKey,
		"session":      liumSession,
		"base62 40":    func() string { return fromAlphabet(base62, 40) },
		"base64url 32": func() string { return base64.RawURLEncoding.EncodeToString(randBytes(32)) },
		"hex 32":       hexToken,
	}
	for name, gen := range gens {
		missed := 0
		const n = 2000
		for range n {
			s := gen()
			got := secretsIn("value " + s + " end")
			if len(got) != 1 || got[0] != s {
				missed++
			}
		}
		// Prefixed and hex forms are always found; the generic rule may miss
		// a random string that happens to read like words (about 1 in 200).
		limit := 0
		if strings.HasPrefix(name, "base") {
			limit = n / 50
		}
		assert.LessOrEqual(t, missed, limit, "%s: %d of %d missed", name, missed, n)
	}
}

// Ids, names, paths and prose are never masked: an agent must still be able
// to read which key a message is about.
func TestScanLeavesIDsAndWordsAlone(t *testing.T) {
	t.Parallel()
	texts := []string{
		"key_0a1b2c3d4e5f", "key_0a1b2c3d4e5f6g7h8i9j0k1l",
		"3f2b8c1e-0a9d-4e7f-8b6a-5c4d3e2f1a0b", "/keys/3f2b8c1e-0a9d-4e7f-8b6a-5c4d3e2f1a0b/",
		"412345", "1234567890123456789012345678901234567890", "usr_7Hq2xK",
		"2f1c8a3e-6d4b-4a1f-9c2e-0b7d5e6f8a91,9d8c7b6a-5f4e-4d3c-8b2a-190807060504",
		"/home/alice/.local/share/keyward/secrets/local-key_0a1b2c3d4e5f.key",
		"/var/lib/keyward/secrets/vast-1042.2.key",
		"/home/alice/.local/share/keyward/secrets/local-key_0a1b2c3d4e5f.key.previous",
		"C:\\Users\\alice\\AppData\\Local\\keyward\\secrets\\lium-2f1c8a3e-6d4b-4a1f-9c2e-0b7d5e6f8a91.key",
		"https://console.vast.ai/api/v0/auth/apikeys/1042/",
		"https://api.lyceum.technology/api/v2/external/auth/api-keys/validate",
		"kw_4f9a…x2Qe", "lk_abcd…wxyz", "sk_yjujqGP…", "Bearer abcd…wxyz",
		"production-inference-worker-eu-west-1", "ThisIsMyVeryLongCamelCaseKeyName2024",
		"MyProject_Production_Key_2024_v2", "KEYWARD_ALLOWED_SCOPES_LOCAL_2024_BACKUP",
		"instance_read,instance_write,user_read,billing_read", "TestStdio_SendRequest_DoneWithBufferedResponse",
		"GetKeyResponseWithMetadataAndScopes2", "CreateKeyRequest_ExpiresIn_30d_Scopes_Read",
		"NVIDIA_A100_SXM4_80GB_x8_Instance_Type2", "RTX4090x2-eu-west-datacenter-17-prod",
		"github.com/keyward/keyward/internal/provider/httpapi", "internal/provider/httpapi/message2_test",
		"2026-01-02T15:04:05Z", "2026-01-02T15:04:05.123456789+02:00",
		"the key in VAST_API_KEY was rejected by Vast.ai (invalid, expired or revoked); set a valid key",
		"missing Bearer token", "Bearer authentication is required", "Basic realm=keyward",
		"kw_defaults kw_args", "task_abcdefghijklmnop1234 bulk_ABCDEFGHIJKLMNOP disk_0123456789abcdef",
		"eyJ", "eyJ.a.b", "sk_short1", "lk_", "kw_",
		// macOS's temporary directory has a random part of one case (found by review).
		"/var/folders/kl/9jx6jnm57kz4cf2hgkzd8ww40000gn/T/",
		"/var/folders/qh/8pfr0zx13wx6pmvdj9wgs1740000gn/T/keyward.db",
		"/var/folders/kl/9jx6jnm57kz4cf2hgkzd8ww40000gn/T/secrets/vast-key_g2rxm2m2ykzj.key",
		"/var/folders/zz/zyxvpxvq6csfxvn_n0000000000000/T/keyward",
		"removing a leftover secret file failed; delete it by hand file=/var/folders/kl/9jx6jnm57kz4cf2hgkzd8ww40000gn/T/secrets/vast-key_g2rxm2m2ykzj.key",
		"/v1/organizations/org_2bX9kQzW7vLm/api_keys/key_x9qzk2mwv7pb",
	}
	for range 200 {
		tmp := "/var/folders/" + fromAlphabet("abcdefghijklmnopqrstuvwxyz0123456789_", 2) + "/" + fromAlphabet("abcdefghijklmnopqrstuvwxyz0123456789", 28) + "gn/T/"
		texts = append(texts, tmp, tmp+"keyward", tmp+"secrets/vast-"+localKeyID()+".key")
		texts = append(texts, localKeyID(), uuid(), "/keys/"+uuid(), "local-"+localKeyID()+".key", "local-"+localKeyID()+".key.previous",
			"/var/lib/keyward/secrets/lium-"+uuid()+".key.previous",
			"vast-"+fmt.Sprint(mrand.IntN(1e9))+".key", "lium-"+uuid()+".key")
	}
	for _, text := range texts {
		assert.Empty(t, secretsIn(text), "%q", text)
		assert.False(t, Contains(text), "%q", text)
		assert.Equal(t, text, MaskText(text), "%q", text)
	}
}

func TestMaskTextMasks(t *testing.T) {
	t.Parallel()
	key, vast := mustGenerate(t), vastKey()
	text := "created " + key + " and " + vast + " for Bearer abc123def456ghi"
	want := "created " + Mask(key) + " and " + vast[:4] + "…" + vast[60:] + " for Bearer abc…ghi"
	assert.Equal(t, want, MaskText(text))
	assert.Equal(t, "kw_4f9a…x2Qe", MaskText("kw_4f9a…x2Qe"), "a mask is not masked again")
}

// A secret recognised in one place is masked in every place, even where its
// surroundings alone would not give it away.
func TestMaskTextMasksEveryOccurrence(t *testing.T) {
	t.Parallel()
	text := "Authorization: Bearer tok3n-abcdefgh; echoed as tok3n-abcdefgh and xtok3n-abcdefghx"
	masked := MaskText(text)
	assert.NotContains(t, masked, "tok3n-abcdefgh")
	assert.Equal(t, 3, strings.Count(masked, "…"), masked)

	lk := lyceumKey()
	masked = MaskText("key " + lk + " glued:x" + lk)
	assert.NotContains(t, masked, lk)
}

func TestMaskTextManySecrets(t *testing.T) {
	t.Parallel()
	// More distinct secrets than the per-secret search handles: the one-pass
	// search must still mask every repeat.
	var b strings.Builder
	var keys []string
	for i := range 40 {
		k := fmt.Sprintf("tok%02dABCDEFGH", i)
		keys = append(keys, k)
		fmt.Fprintf(&b, "Bearer %s, ", k)
	}
	for _, k := range keys {
		fmt.Fprintf(&b, "again x%s; ", k)
	}
	masked := MaskText(b.String())
	for _, k := range keys {
		assert.NotContains(t, masked, k)
	}
}

func TestMaskTextKeepsTextWithoutSecrets(t *testing.T) {
	text := strings.Repeat("nothing to see here, key_0a1b2c3d4e5f; ", 100)
	assert.Equal(t, text, MaskText(text))
	allocs := testing.AllocsPerRun(100, func() { _ = MaskText("list_keys provider=local name=agent") })
	assert.Zero(t, allocs, "an ordinary argument costs no allocation")
}

// On 1 MiB of text, even of the most awkward kinds, Scan and MaskText stay
// linear: a quadratic path would take minutes here, not milliseconds.
func TestScanIsBoundedOnHugeInput(t *testing.T) {
	t.Parallel()
	const size = 1 << 20
	fill := func(unit string) string { return strings.Repeat(unit, size/len(unit)) }
	inputs := map[string]string{
		"one token":           fromAlphabet(base62, size),
		"one lower-case word": fill("a"),
		"prefixes":            fill("sk_"),
		"keyward prefixes":    fill("kw_"),
		"underscores":         fill("_"),
		"JWT heads":           fill("eyJ."),
		"Bearer words":        fill("Bearer "),
		"bearer tokens":       fill("Bearer abc123def456 "),
		"distinct secrets":    strings.Repeat("Bearer "+fromAlphabet(base62, 12)+" ", size/20),
		"keys":                fill(mustGenerate(t) + " "),
		"slashes":             fill("/a"),
		"random bytes":        string(randBytes(size)),
	}
	for name, in := range inputs {
		start := time.Now()
		masked := MaskText(in)
		require.Less(t, time.Since(start), 5*time.Second, name)
		require.LessOrEqual(t, len(masked), len(in), name)
	}
}

func TestBound(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "", Bound("", 10))
	assert.Equal(t, "short", Bound("short", 10))
	assert.Equal(t, "exact", Bound("exact", 5))
	assert.Equal(t, "abc…(6 bytes, truncated)", Bound("abcdef", 3))
	assert.Equal(t, "…(6 bytes, truncated)", Bound("abcdef", 0))
	assert.Equal(t, "…(6 bytes, truncated)", Bound("abcdef", -1))
	// Runes, not bytes: nothing is cut inside a character.
	assert.Equal(t, "héllo wörld", Bound("héllo wörld", 11))
	assert.Equal(t, "hé…(6 bytes, truncated)", Bound("héllo", 2))
	assert.Equal(t, "🔑🔑…(12 bytes, truncated)", Bound("🔑🔑🔑", 2))

	huge := strings.Repeat("x", 1<<20)
	got := Bound(huge, 100)
	assert.Equal(t, strings.Repeat("x", 100)+"…(1048576 bytes, truncated)", got)
	for _, n := range []int{0, 1, 5, 100, 1 << 20} {
		out := Bound("é"+huge, n)
		assert.True(t, utf8.ValidString(out))
		assert.LessOrEqual(t, utf8.RuneCountInString(out), n+32)
	}
}

func TestClean(t *testing.T) {
	t.Parallel()
	key := mustGenerate(t)
	assert.Equal(t, "key "+Mask(key), Clean("key "+key, 100))
	assert.Equal(t, "key kw_…(56 bytes, truncated)", Clean("key "+key, 7), "masked, then bounded")

	// A huge value: masked where it is shown, marked with its whole size.
	huge := key + " " + strings.Repeat("filler ", 1<<18)
	got := Clean(huge, 40)
	assert.True(t, strings.HasPrefix(got, Mask(key)+" filler"), got)
	assert.True(t, strings.HasSuffix(got, fmt.Sprintf("…(%d bytes, truncated)", len(huge))), got)
	assertNoPiece(t, got, key)

	// A secret right where a huge value is cut is not left in pieces: the
	// first 29 characters of a 40-character token would not be recognised.
	tok := fromAlphabet(base62, 40)
	limit := 16 * 1000 // Clean's cap for n = 1000
	big := fromAlphabet(base62, limit-30) + " " + tok + strings.Repeat(" ", 1<<17)
	got = Clean(big, 1000)
	assertNoPiece(t, got, tok)
	assert.True(t, strings.HasSuffix(got, fmt.Sprintf("…(%d bytes, truncated)", len(big))), got)
}

// Random Base64 of the lengths secrets have is found, '/' and all (its
// alphabet has it, so one token in 25 starts with one or holds three and
// looked like a path; before that was seen, 95-97% were found). The draws
// are seeded, so the figures are the same on every run.
func TestScanFindsRandomBase64(t *testing.T) {
	t.Parallel()
	r := mrand.New(mrand.NewChaCha8([32]byte{7}))
	for _, c := range []struct {
		bytes int
		min   float64
	}{{24, 0.98}, {30, 0.99}, {32, 0.99}, {48, 0.995}} {
		const n = 5000
		found, pathLike, pathLikeFound := 0, 0, 0
		for range n {
			b := make([]byte, c.bytes)
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			s := base64.StdEncoding.EncodeToString(b)
			ok := Contains("secret: " + s)
			if ok {
				found++
			}
			if s[0] == '/' || strings.Count(s, "/") >= 3 {
				pathLike++
				if ok {
					pathLikeFound++
				}
			}
		}
		t.Logf("%d bytes (%d characters): %d of %d found; of the %d that look like paths, %d", c.bytes, base64.StdEncoding.EncodedLen(c.bytes), found, n, pathLike, pathLikeFound)
		assert.GreaterOrEqual(t, float64(found)/n, c.min)
		assert.GreaterOrEqual(t, float64(pathLikeFound), 0.97*float64(pathLike))
	}
}
