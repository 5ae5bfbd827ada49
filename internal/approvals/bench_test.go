package approvals

import (
	"context"
	"fmt"
	"testing"

	"github.com/keyward/keyward/internal/store/storetest"
)

// BenchmarkApprovalRoundTrip is one act's whole life through the store:
// the request, the operator's decision, and the retry that uses it.
func BenchmarkApprovalRoundTrip(b *testing.B) {
	for _, eng := range []storetest.Engine{storetest.SQLiteEngine, storetest.PostgresEngine} {
		b.Run(eng.Name, func(b *testing.B) {
			s, _ := openB(b, eng)
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				act := revoke(fmt.Sprint("k", i))
				r, err := s.Resolve(ctx, act)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := s.Decide(ctx, r.Approval.ID, true, "operator"); err != nil {
					b.Fatal(err)
				}
				if u, err := s.Resolve(ctx, act); err != nil || u.Approval.Status != Approved {
					b.Fatal(err, u.Approval.Status)
				}
			}
		})
	}
}
