package local

import (
	"context"
	"fmt"
	"testing"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/secret"
	"github.com/keyward/keyward/internal/store/storetest"
)

// BenchmarkValidate is the hot path of an API that checks keyward keys, on
// each engine: a known, valid secret, and a well-formed secret that was
// never issued (what anyone can forge, since the checksum is public). Both
// are answered from the mirror; unknown keys must not be the cheap way to
// load the database.
//
//	go test -run '^$' -bench Validate -benchtime 2s -cpu 1 ./internal/provider/local/
func BenchmarkValidate(b *testing.B) {
	for _, eng := range []storetest.Engine{storetest.SQLiteEngine, storetest.PostgresEngine} {
		b.Run(eng.Name, func(b *testing.B) {
			e := setup(b, eng, Options{})
			ctx := context.Background()
			const n = 100
			keys := make([]string, n)
			for i := range keys {
				keys[i] = e.create(b, fmt.Sprintf("bench-%d", i), []string{"read"}, nil).Secret
			}
			unknown := make([]string, n)
			for i := range unknown {
				k, err := secret.Generate()
				if err != nil {
					b.Fatal(err)
				}
				unknown[i] = k
			}
			run := func(name string, secrets []string, want provider.ValidationStatus) {
				b.Run(name, func(b *testing.B) {
					for _, k := range secrets { // warm up
						if v, err := e.a.Validate(ctx, k); err != nil || v.Status != want {
							b.Fatalf("warm-up: %v %v", v.Status, err)
						}
					}
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						v, err := e.a.Validate(ctx, secrets[i%n])
						if err != nil || v.Status != want {
							b.Fatalf("validation %d: %v %v", i, v.Status, err)
						}
					}
					b.StopTimer()
					b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "validations/s")
				})
			}
			run("known", keys, provider.StatusValid)
			run("unknown", unknown, provider.StatusNotFound)
		})
	}
}

// BenchmarkValidateFromDatabase is validation without the mirror (as when
// it is not fresh): every call asks the database.
func BenchmarkValidateFromDatabase(b *testing.B) {
	for _, eng := range []storetest.Engine{storetest.SQLiteEngine, storetest.PostgresEngine} {
		b.Run(eng.Name, func(b *testing.B) {
			e := setup(b, eng, Options{})
			ctx := context.Background()
			unknown, err := secret.Generate()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				e.a.freshAt.Store(0)
				v, err := e.a.Validate(ctx, unknown)
				if err != nil || v.Status != provider.StatusNotFound {
					b.Fatalf("%v %v", v.Status, err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "validations/s")
		})
	}
}
