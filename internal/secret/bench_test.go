package secret

import (
	"strings"
	"testing"
)

// go test -run '^$' -bench 'Scan|MaskText' ./internal/secret/

func BenchmarkScanArgument(b *testing.B) {
	args := []string{"local", "agent-ci-runner", "read,write", "30d", "key_0a1b2c3d4e5f", "3f2b8c1e-0a9d-4e7f-8b6a-5c4d3e2f1a0b"}
	b.ReportAllocs()
	for b.Loop() {
		for _, a := range args {
			_ = MaskText(a)
		}
	}
}

func BenchmarkMaskTextWithKey(b *testing.B) {
	text := "validate " + keyFrom(make([]byte, 32)) + " please"
	b.ReportAllocs()
	for b.Loop() {
		_ = MaskText(text)
	}
}

func BenchmarkMaskText1MiBProse(b *testing.B) {
	text := strings.Repeat("the key in VAST_API_KEY was rejected by Vast.ai; id key_0a1b2c3d4e5f. ", (1<<20)/72)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		_ = MaskText(text)
	}
}

func BenchmarkMaskText1MiBSecrets(b *testing.B) {
	text := strings.Repeat("Bearer "+fromAlphabet(base62, 40)+" ", (1<<20)/48)
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		_ = MaskText(text)
	}
}
