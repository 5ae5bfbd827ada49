package local

import (
	"context"
	"fmt"
	"testing"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/secret"
)

// BenchmarkValidateKnownKey is the hot path of an API that checks keyward
// keys: a known, valid secret, answered from the cache.
func BenchmarkValidateKnownKey(b *testing.B) {
	e := setup(b, Options{})
	ctx := context.Background()
	const n = 100
	keys := make([]string, n)
	for i := range keys {
		keys[i] = e.create(b, fmt.Sprintf("bench-%d", i), []string{"read"}, nil).Secret
	}
	for _, k := range keys { // warm the cache
		if v, err := e.a.Validate(ctx, k); err != nil || v.Status != provider.StatusValid {
			b.Fatalf("warm-up: %v %v", v.Status, err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, err := e.a.Validate(ctx, keys[i%n])
		if err != nil || v.Status != provider.StatusValid {
			b.Fatalf("validation %d: %v %v", i, v.Status, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "validations/s")
}

// BenchmarkValidateUnknownKey: a well-formed secret that was never issued
// (not cached: every call asks the state file).
func BenchmarkValidateUnknownKey(b *testing.B) {
	e := setup(b, Options{})
	ctx := context.Background()
	unknown, err := secret.Generate()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		v, err := e.a.Validate(ctx, unknown)
		if err != nil || v.Status != provider.StatusNotFound {
			b.Fatalf("%v %v", v.Status, err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "validations/s")
}
