// Package seal makes state handed to a client tamper-proof: a value is
// encoded with an HMAC-SHA256 over it, so the client can carry it but not
// change or forge it. Sealed state is signed, not encrypted: never seal a
// secret. Encrypt is for secrets: AES-256-GCM under a key derived from the
// sealing key and a context (such as a one-time link's token), so the
// ciphertext opens only with both.
package seal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// MinKeyLen is the shortest sealing key accepted, in bytes.
const MinKeyLen = 32

// maxSealed bounds what Open reads, so a huge forged token costs nothing.
const maxSealed = 16 << 10

// ErrForged is every failure to open: altered, forged, truncated or sealed
// with another key. Callers cannot tell these apart, and need not.
var ErrForged = errors.New("the state was altered, forged or sealed by another deployment")

// Sealer seals and opens values with one key.
type Sealer struct{ key []byte }

// New uses key, which all replicas of a deployment must share.
func New(key []byte) (*Sealer, error) {
	if len(key) < MinKeyLen {
		return nil, fmt.Errorf("a sealing key needs at least %d bytes, this one has %d", MinKeyLen, len(key))
	}
	return &Sealer{key: append([]byte(nil), key...)}, nil
}

// Random makes a sealer with a fresh key: state it seals opens only in this
// process.
func Random() *Sealer {
	key := make([]byte, MinKeyLen)
	_, _ = rand.Read(key) // crypto/rand never fails on supported platforms
	return &Sealer{key: key}
}

// ParseKey reads a key given as base64 (standard or URL alphabet, padded or not).
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) < MinKeyLen {
				return nil, fmt.Errorf("it decodes to %d bytes; give at least %d random bytes in base64, e.g. from openssl rand -base64 32", len(b), MinKeyLen)
			}
			return b, nil
		}
	}
	return nil, errors.New("it is not base64; give at least 32 random bytes in base64, e.g. from openssl rand -base64 32")
}

// Seal encodes v and its MAC as one URL-safe token.
func (s *Sealer) Seal(v any) (string, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	payload := base64.RawURLEncoding.EncodeToString(body)
	return payload + "." + base64.RawURLEncoding.EncodeToString(s.mac(payload)), nil
}

// Open checks token's MAC and decodes it into v; ErrForged when it does not verify.
func (s *Sealer) Open(token string, v any) error {
	if len(token) > maxSealed {
		return ErrForged
	}
	payload, sig, ok := strings.Cut(token, ".")
	if !ok {
		return ErrForged
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.mac(payload)) {
		return ErrForged
	}
	body, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil || json.Unmarshal(body, v) != nil {
		return ErrForged
	}
	return nil
}

// Tag is a MAC of parts under purpose, URL-safe: a value only holders of
// the key can compute, such as a CSRF token bound to a login session.
// Purposes keep tags for one use from being valid for another.
func (s *Sealer) Tag(purpose string, parts ...string) string {
	h := hmac.New(sha256.New, s.key)
	fmt.Fprintf(h, "tag/%d:%s", len(purpose), purpose)
	for _, p := range parts {
		fmt.Fprintf(h, "/%d:%s", len(p), p)
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// TagEqual compares a tag in constant time.
func TagEqual(a, b string) bool { return hmac.Equal([]byte(a), []byte(b)) }

func (s *Sealer) mac(payload string) []byte {
	h := hmac.New(sha256.New, s.key)
	h.Write([]byte(payload))
	return h.Sum(nil)
}

// Encrypt seals plaintext for context: only a holder of the sealing key and
// context can decrypt it. context is bound as the AEAD's associated data too.
func (s *Sealer) Encrypt(plaintext []byte, context string) ([]byte, error) {
	aead, err := s.aead(context)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, aead.NonceSize())
	_, _ = rand.Read(nonce)
	return aead.Seal(nonce, nonce, plaintext, []byte(context)), nil
}

// Decrypt opens what Encrypt sealed for context; ErrForged otherwise.
func (s *Sealer) Decrypt(ciphertext []byte, context string) ([]byte, error) {
	aead, err := s.aead(context)
	if err != nil {
		return nil, err
	}
	if len(ciphertext) < aead.NonceSize() {
		return nil, ErrForged
	}
	out, err := aead.Open(nil, ciphertext[:aead.NonceSize()], ciphertext[aead.NonceSize():], []byte(context))
	if err != nil {
		return nil, ErrForged
	}
	return out, nil
}

func (s *Sealer) aead(context string) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, s.key, []byte(context), "keyward seal encrypt v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
