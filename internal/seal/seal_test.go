package seal

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type state struct {
	Tool  string `json:"t"`
	Nonce string `json:"n"`
}

func TestSealOpensOnlyWhatItSealed(t *testing.T) {
	s := Random()
	tok, err := s.Seal(state{Tool: "revoke_key", Nonce: "abc"})
	require.NoError(t, err)
	var got state
	require.NoError(t, s.Open(tok, &got))
	assert.Equal(t, state{Tool: "revoke_key", Nonce: "abc"}, got)

	payload, sig, _ := strings.Cut(tok, ".")
	body, _ := base64.RawURLEncoding.DecodeString(payload)
	edited := base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(body), "revoke_key", "create_key", 1)))
	for name, bad := range map[string]string{
		"edited payload":  edited + "." + sig,
		"no mac":          payload,
		"empty":           "",
		"other key":       func() string { t2, _ := Random().Seal(state{Tool: "revoke_key", Nonce: "abc"}); return t2 }(),
		"truncated mac":   tok[:len(tok)-3],
		"huge":            strings.Repeat("A", 1<<20) + "." + sig,
		"garbage payload": "!!!." + sig,
	} {
		assert.ErrorIs(t, s.Open(bad, &got), ErrForged, name)
	}
}

func TestParseKey(t *testing.T) {
	k, err := ParseKey(base64.StdEncoding.EncodeToString(make([]byte, 32)))
	require.NoError(t, err)
	assert.Len(t, k, 32)
	_, err = ParseKey(base64.StdEncoding.EncodeToString(make([]byte, 16)))
	assert.ErrorContains(t, err, "16 bytes")
	_, err = ParseKey("not base64 ***")
	assert.ErrorContains(t, err, "not base64")
	_, err = New(make([]byte, 8))
	assert.Error(t, err)
}

func FuzzOpen(f *testing.F) {
	s := Random()
	good, _ := s.Seal(state{Tool: "x"})
	for _, seed := range []string{good, "", ".", "a.b", good + "x"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		var v state
		if err := s.Open(tok, &v); err == nil && tok != good {
			// Only what this sealer sealed opens (one seal per test: good).
			again, _ := s.Seal(v)
			if again != tok {
				t.Fatalf("opened a token it did not seal: %q", tok)
			}
		}
	})
}

func TestEncryptOpensOnlyWithKeyAndContext(t *testing.T) {
	s := Random()
	ct, err := s.Encrypt([]byte("kw_secret"), "reveal/abc")
	require.NoError(t, err)
	assert.NotContains(t, string(ct), "kw_secret")
	pt, err := s.Decrypt(ct, "reveal/abc")
	require.NoError(t, err)
	assert.Equal(t, "kw_secret", string(pt))
	_, err = s.Decrypt(ct, "reveal/abd")
	assert.ErrorIs(t, err, ErrForged, "another context")
	_, err = Random().Decrypt(ct, "reveal/abc")
	assert.ErrorIs(t, err, ErrForged, "another key")
	ct[len(ct)-1] ^= 1
	_, err = s.Decrypt(ct, "reveal/abc")
	assert.ErrorIs(t, err, ErrForged, "altered")
	_, err = s.Decrypt([]byte("x"), "reveal/abc")
	assert.ErrorIs(t, err, ErrForged, "truncated")
}
