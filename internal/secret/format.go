// Package secret owns the local authority's key format, hashing, masking,
// recognising secrets in any text (Scan, MaskText, Clean) and the delivery of
// new secrets to the place the operator chose.
package secret

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math/big"
	"strings"
)

const (
	// Prefix marks keyward's own keys so secret scanners can match them.
	Prefix = "kw_"
	// randomBytes of entropy, written as bodyLen base62 characters.
	randomBytes = 32
	bodyLen     = 43 // ceil(256 / log2(62))
	checksumLen = 6  // 62^6 > 2^32, so a CRC32 always fits
	// KeyLen is the length of every local key.
	KeyLen = len(Prefix) + bodyLen + checksumLen
)

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Generate returns a new local key: kw_ + 32 random bytes in base62 + a
// base62 CRC32 of everything before it.
func Generate() (string, error) {
	raw := make([]byte, randomBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("reading random bytes for a new key: %w", err)
	}
	return keyFrom(raw), nil
}

// keyFrom writes 32 bytes as a key.
func keyFrom(raw []byte) string {
	head := Prefix + encodeBig(new(big.Int).SetBytes(raw), bodyLen)
	return head + checksum(head)
}

// ErrFormat is wrapped by every format error so callers can tell a malformed
// key from a lookup failure.
var ErrFormat = errors.New("malformed key")

// CheckFormat rejects, offline, anything that cannot be a local key: wrong
// prefix, length, alphabet or checksum. The message never repeats the key.
func CheckFormat(key string) error {
	switch {
	case !strings.HasPrefix(key, Prefix):
		return fmt.Errorf("%w: a keyward key starts with %q", ErrFormat, Prefix)
	case len(key) != KeyLen:
		return fmt.Errorf("%w: a keyward key is %d characters long, this one has %d; check that it was copied whole", ErrFormat, KeyLen, len(key))
	}
	for i := len(Prefix); i < len(key); i++ {
		if strings.IndexByte(base62, key[i]) < 0 {
			return fmt.Errorf("%w: character %d is not a letter or digit", ErrFormat, i+1)
		}
	}
	head := key[:len(key)-checksumLen]
	if checksum(head) != key[len(head):] {
		return fmt.Errorf("%w: its checksum does not match, so it has a typo or was altered", ErrFormat)
	}
	return nil
}

// Hash is how a secret is stored and looked up: hex SHA-256.
func Hash(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// Start is the visible beginning of a key: its prefix and 4 more characters.
func Start(key string) string {
	n := strings.IndexByte(key, '_') + 1 + 4
	if n < 4 || n > len(key)/2 {
		n = min(4, len(key)/4)
	}
	return key[:n]
}

// Last4 is the visible end of a key, or less for very short strings.
func Last4(key string) string {
	n := min(4, len(key)/4)
	return key[len(key)-n:]
}

// Mask shows a key as start…last4, e.g. kw_4f9a…x2Qe.
func Mask(key string) string { return MaskParts(Start(key), Last4(key)) }

// MaskParts joins the stored visible parts of a key.
func MaskParts(start, last4 string) string { return start + "…" + last4 }

func checksum(s string) string {
	return encodeUint(uint64(crc32.ChecksumIEEE([]byte(s))), checksumLen)
}

func encodeUint(v uint64, width int) string {
	out := make([]byte, width)
	for i := width - 1; i >= 0; i-- {
		out[i] = base62[v%62]
		v /= 62
	}
	return string(out)
}

func encodeBig(v *big.Int, width int) string {
	out := make([]byte, width)
	base := big.NewInt(62)
	mod := new(big.Int)
	for i := width - 1; i >= 0; i-- {
		v.DivMod(v, base, mod)
		out[i] = base62[mod.Int64()]
	}
	return string(out)
}
