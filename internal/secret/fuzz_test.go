package secret

import (
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

// FuzzScan: Scan never panics and its spans are sorted, disjoint and inside
// the text; MaskText leaves none of the secrets found, leaves nothing Scan
// would find, and is idempotent.
func FuzzScan(f *testing.F) {
	key := keyFrom(make([]byte, 32))
	for _, seed := range []string{
		"", "plain words", key, "x" + key + "y", key[:20], "Bearer " + key, "bearer abc123def456 and abc123def456",
		"Basic dXNlcjpwYXNzd29yZA==", jwt, "eyJ.fake.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "eyJa..b", "eyJa.b.c.d.e.f",
		"9f8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a39281706f5e4d3c2b1a0",
		"lk_AbCdEfGhIjKlMnOpQrStUvWxYz0123456789ABCD", "lc_x9Kp2LmQ7vRt4NwYz8HcJd3FbGs6TaUe",
		"sk_yjujqGPabc123DEF456ghi789JKL", "task_abcdefghijklmnop1234", "sk_kw_ABCDEFG1",
		"vk_live_9f8e7d6c5b4a39281706f5e4d3c2b1a0", "/keys/3f2b8c1e-0a9d-4e7f-8b6a-5c4d3e2f1a0b",
		"key_0a1b2c3d4e5f6g7h8i9j0k1l", "x9Kp2LmQ7vRt4NwYz8HcJd3FbGs6TaUe==", "a/b/c/x9Kp2LmQ7vRt4NwYz8HcJd3FbGs6TaUe",
		"ThisIsMyVeryLongCamelCaseKeyName2024_x9Kp2LmQ7vRt4NwYz8HcJd3FbGs6TaUe", "kw_4f9a…x2Qe",
		"\xff\xfekw_ABCDEFGH1\x00", "Bearer\t\tkw_ABCDEFGH1", strings.Repeat("kw_", 20),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, text string) {
		found := Scan(text)
		last := 0
		for _, fd := range found {
			if fd.Start < last || fd.End <= fd.Start || fd.End > len(text) {
				t.Fatalf("bad span %v after %d in %d bytes: %v", fd, last, len(text), found)
			}
			last = fd.End
		}
		masked := MaskText(text)
		if strings.Contains(masked, "withheld: keyward could not mask") && !strings.Contains(text, "withheld") {
			t.Fatalf("MaskText gave up on %q", text)
		}
		for _, fd := range found {
			if v := text[fd.Start:fd.End]; strings.Contains(masked, v) {
				t.Fatalf("masked text %q still holds the %s secret %q", masked, fd.Kind, v)
			}
		}
		if again := Scan(masked); len(again) > 0 {
			t.Fatalf("masked text %q still has secrets: %v", masked, again)
		}
		if twice := MaskText(masked); twice != masked {
			t.Fatalf("not idempotent: %q then %q", masked, twice)
		}
		if len(found) == 0 && masked != text {
			t.Fatalf("text without secrets changed: %q to %q", text, masked)
		}
	})
}

// FuzzCheckFormat: CheckFormat never panics; every key built from 32 bytes (as
// Generate builds them) passes; any change of one byte of a valid key fails,
// with an error that does not repeat the key.
func FuzzCheckFormat(f *testing.F) {
	f.Add([]byte("seed"), uint(0), byte('A'))
	f.Add([]byte(keyFrom(make([]byte, 32))), uint(51), byte('0'))
	f.Add([]byte("kw_"), uint(3), byte('_'))
	f.Add([]byte{}, uint(2), byte(0xff))
	f.Fuzz(func(t *testing.T, data []byte, pos uint, c byte) {
		if err := CheckFormat(string(data)); err == nil {
			if len(data) != KeyLen || !strings.HasPrefix(string(data), Prefix) {
				t.Fatalf("%q passed but is not a key's shape", data)
			}
		} else if !errors.Is(err, ErrFormat) {
			t.Fatalf("error %v does not wrap ErrFormat", err)
		}

		raw := sha256.Sum256(data)
		key := keyFrom(raw[:])
		if err := CheckFormat(key); err != nil {
			t.Fatalf("built key %q failed: %v", key, err)
		}
		if generated, err := Generate(); err != nil || CheckFormat(generated) != nil {
			t.Fatalf("a generated key failed: %v", err)
		}

		i := int(pos % uint(KeyLen))
		if key[i] == c {
			return
		}
		b := []byte(key)
		b[i] = c
		err := CheckFormat(string(b))
		if err == nil {
			t.Fatalf("changing byte %d of %q to %q was accepted", i, key, c)
		}
		if !errors.Is(err, ErrFormat) {
			t.Fatalf("error %v does not wrap ErrFormat", err)
		}
		if msg := err.Error(); strings.Contains(msg, key[len(Prefix):len(Prefix)+8]) || strings.Contains(msg, key[KeyLen-8:]) {
			t.Fatalf("error %q repeats the key", msg)
		}
	})
}
