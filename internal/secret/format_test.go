package secret

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func mustGenerate(t testing.TB) string {
	t.Helper()
	k, err := Generate()
	require.NoError(t, err)
	return k
}

// assertNoLeak checks that an error message repeats neither the key nor a
// recognisable piece of it.
func assertNoLeak(t *testing.T, key string, err error) {
	t.Helper()
	require.Error(t, err)
	msg := err.Error()
	assert.NotContains(t, msg, key)
	if len(key) > len(Prefix)+8 {
		body := strings.TrimPrefix(key, Prefix)
		for i := 0; i+8 <= len(body); i++ {
			if strings.Contains(msg, body[i:i+8]) {
				t.Fatalf("error %q contains 8 characters of the key (%q)", msg, body[i:i+8])
			}
		}
	}
}

func TestGenerateIsWellFormed(t *testing.T) {
	t.Parallel()
	for range 200 {
		k := mustGenerate(t)
		require.Len(t, k, KeyLen)
		require.True(t, strings.HasPrefix(k, Prefix))
		for i := len(Prefix); i < len(k); i++ {
			require.Contains(t, base62, string(k[i]), "character %d of a generated key", i)
		}
		require.NoError(t, CheckFormat(k))
	}
	assert.Equal(t, 52, KeyLen, "kw_ + 43 body + 6 checksum")
}

func TestGenerateUnique(t *testing.T) {
	t.Parallel()
	const n = 20000
	seen := make(map[string]bool, n)
	bodies := make(map[string]bool, n)
	for range n {
		k := mustGenerate(t)
		require.False(t, seen[k], "duplicate key generated")
		seen[k] = true
		// The random part alone must be unique too (not just the checksum).
		body := k[len(Prefix) : len(k)-checksumLen]
		require.False(t, bodies[body], "duplicate key body generated")
		bodies[body] = true
	}
}

func TestGenerateUsesWholeAlphabet(t *testing.T) {
	t.Parallel()
	// 256 random bits in 43 base62 digits: the first digit is small (62^43 is
	// far above 2^256), the others should cover the alphabet.
	counts := map[byte]int{}
	for range 500 {
		k := mustGenerate(t)
		for i := len(Prefix) + 1; i < len(k); i++ {
			counts[k[i]]++
		}
	}
	assert.Len(t, counts, len(base62))
}

// Every single-character substitution, at every position, by every other
// base62 character, is caught offline.
func TestCheckFormatRejectsEverySingleSubstitution(t *testing.T) {
	t.Parallel()
	for range 8 {
		key := mustGenerate(t)
		for pos := 0; pos < len(key); pos++ {
			for j := 0; j < len(base62); j++ {
				c := base62[j]
				if c == key[pos] {
					continue
				}
				bad := key[:pos] + string(c) + key[pos+1:]
				err := CheckFormat(bad)
				if err == nil {
					t.Fatalf("substituting %q at position %d was accepted", c, pos)
				}
				if !errors.Is(err, ErrFormat) {
					t.Fatalf("position %d: error %v does not wrap ErrFormat", pos, err)
				}
				if pos < len(Prefix) {
					if !strings.Contains(err.Error(), "starts with") {
						t.Fatalf("position %d (prefix): want a prefix error, got %v", pos, err)
					}
				} else if !strings.Contains(err.Error(), "checksum") {
					t.Fatalf("position %d: want a checksum error, got %v", pos, err)
				}
				if strings.Contains(err.Error(), bad) || strings.Contains(err.Error(), key) {
					t.Fatalf("error repeats the key: %v", err)
				}
			}
		}
	}
}

func TestCheckFormatRejectsNonAlphabetSubstitutions(t *testing.T) {
	t.Parallel()
	key := mustGenerate(t)
	for pos := len(Prefix); pos < len(key); pos++ {
		for _, c := range []string{"-", "_", "+", "/", "=", " ", ".", "\x00", "\xff"} {
			bad := key[:pos] + c + key[pos+1:]
			err := CheckFormat(bad)
			require.ErrorIs(t, err, ErrFormat, "pos %d char %q", pos, c)
			assert.Contains(t, err.Error(), "not a letter or digit")
			assertNoLeak(t, key, err)
		}
	}
	// A look-alike multi-byte character changes the length, which is caught too.
	bad := key[:10] + "О" + key[11:] // Cyrillic O
	require.ErrorIs(t, CheckFormat(bad), ErrFormat)
}

func TestCheckFormatTranspositionsAndDeletions(t *testing.T) {
	t.Parallel()
	key := mustGenerate(t)
	for pos := len(Prefix); pos < len(key)-1; pos++ {
		if key[pos] == key[pos+1] {
			continue
		}
		swapped := key[:pos] + string(key[pos+1]) + string(key[pos]) + key[pos+2:]
		require.ErrorIs(t, CheckFormat(swapped), ErrFormat, "transposition at %d", pos)
	}
	for pos := 0; pos < len(key); pos++ {
		require.ErrorIs(t, CheckFormat(key[:pos]+key[pos+1:]), ErrFormat, "deletion at %d", pos)
	}
}

func TestCheckFormatMessages(t *testing.T) {
	t.Parallel()
	key := mustGenerate(t)
	cases := []struct {
		name, in, want string
	}{
		{"empty", "", "starts with \"kw_\""},
		{"other prefix", "sk_" + key[3:], "starts with \"kw_\""},
		{"upper-case prefix", "KW_" + key[3:], "starts with \"kw_\""},
		{"no prefix", key[3:], "starts with \"kw_\""},
		{"leading space", " " + key, "starts with \"kw_\""},
		{"truncated", key[:KeyLen-1], "52 characters long, this one has 51"},
		{"prefix only", "kw_", "this one has 3"},
		{"extra character", key + "A", "this one has 53"},
		{"trailing newline", key + "\n", "this one has 53"},
		{"doubled", key + key, "this one has 104"},
		{"bad alphabet", key[:20] + "!" + key[21:], "character 21 is not a letter or digit"},
		{"bad checksum", key[:KeyLen-6] + "000000", "checksum does not match"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := CheckFormat(c.in)
			require.ErrorIs(t, err, ErrFormat)
			assert.Contains(t, err.Error(), c.want)
			assertNoLeak(t, key, err)
			if len(c.in) > 8 {
				assert.NotContains(t, err.Error(), c.in)
			}
		})
	}
}

func TestHash(t *testing.T) {
	t.Parallel()
	// Known SHA-256 vector.
	assert.Equal(t, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Hash("abc"))
	key := mustGenerate(t)
	h := Hash(key)
	sum := sha256.Sum256([]byte(key))
	assert.Equal(t, hex.EncodeToString(sum[:]), h)
	assert.Len(t, h, 64)
	assert.Equal(t, strings.ToLower(h), h, "lower-case hex")
	assert.Equal(t, h, Hash(key), "stable")
	assert.NotEqual(t, h, Hash(mustGenerate(t)))
	assert.NotContains(t, h, key[3:10])
}

func TestStartLast4Mask(t *testing.T) {
	t.Parallel()
	for range 50 {
		key := mustGenerate(t)
		assert.Equal(t, key[:7], Start(key))
		assert.Equal(t, key[len(key)-4:], Last4(key))
		m := Mask(key)
		assert.Equal(t, key[:7]+"…"+key[len(key)-4:], m)
		assert.True(t, strings.HasPrefix(m, "kw_"))
		assert.Equal(t, 7+len("…")+4, len(m))
		assert.NotContains(t, m, key[7:len(key)-4])
		assert.Equal(t, m, MaskParts(Start(key), Last4(key)))
	}
	// Other platforms' keys: prefix up to the underscore plus 4.
	assert.Equal(t, "lk_abcd…wxyz", Mask("lk_abcdefghijklmnopqrstuvwxyz"))
	assert.Equal(t, "lc_0123…WXYZ", Mask("lc_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
	assert.Equal(t, "abcd…mnop", Mask("abcdefghijklmnop"))
	assert.Equal(t, "…", Mask(""))
	assert.Equal(t, "…", Mask("abc"))
}

// However short or odd the input, the mask shows at most 3/4 of it.
func TestMaskNeverShowsMostOfAString(t *testing.T) {
	t.Parallel()
	inputs := []string{"a", "ab", "a_b", "_abcdefg", "abcdefg_", "abcdefgh", "ab_cdefgh",
		"very_long_prefix_before_the_underscore_x", "x_" + strings.Repeat("z", 40)}
	for n := 1; n <= 60; n++ {
		inputs = append(inputs, strings.Repeat("q", n), "k_"+strings.Repeat("q", n))
	}
	for _, in := range inputs {
		shown := len(Start(in)) + len(Last4(in))
		assert.LessOrEqual(t, shown, 3*len(in)/4, "input %q: Start %q Last4 %q", in, Start(in), Last4(in))
		assert.True(t, strings.HasPrefix(in, Start(in)))
		assert.True(t, strings.HasSuffix(in, Last4(in)))
	}
}

func TestEncodeUintIsInjectiveForCRC32(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "000000", encodeUint(0, checksumLen))
	assert.Equal(t, "4gfFC3", encodeUint(1<<32-1, checksumLen))
	assert.Equal(t, "000010", encodeUint(62, checksumLen))
	seen := map[string]bool{}
	for _, v := range []uint64{0, 1, 61, 62, 63, 3843, 3844, 1 << 31, 1<<32 - 2, 1<<32 - 1} {
		s := encodeUint(v, checksumLen)
		require.Len(t, s, checksumLen)
		require.False(t, seen[s])
		seen[s] = true
	}
}
