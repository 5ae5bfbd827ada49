package approvals

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/store/storetest"
)

// Was a hole: the act's digest was taken after its fields were cut to what
// the table shows (principal 100 bytes, client and key 512), so two callers
// whose principals (an OAuth subject of 94 bytes or more) or client names
// differ only past the cut were the same caller: one's approval was used up
// by the other's identical call.
func TestAttackApprovalBindsWholeCaller(t *testing.T) {
	storetest.Each(t, func(t *testing.T, eng storetest.Engine) {
		ctx := context.Background()
		s, _ := open(t, eng, Options{TTL: 15 * time.Minute})
		prefix := "oauth:" + strings.Repeat("tenant-", 20)
		alice, oscar := revoke("k1"), revoke("k1")
		alice.Principal, oscar.Principal = prefix+"alice", prefix+"oscar"

		r, err := s.Resolve(ctx, alice)
		require.NoError(t, err)
		_, err = s.Decide(ctx, r.Approval.ID, true, "operator")
		require.NoError(t, err)

		got, err := s.Resolve(ctx, oscar)
		require.NoError(t, err)
		assert.Equal(t, Pending, got.Approval.Status, "another principal's identical call must not use alice's approval")
		assert.NotEqual(t, r.Approval.ID, got.Approval.ID)

		long := strings.Repeat("c", 600)
		a2, o2 := revoke("k2"), revoke("k2")
		a2.Client, o2.Client = long+"-alice", long+"-oscar"
		r, err = s.Resolve(ctx, a2)
		require.NoError(t, err)
		_, err = s.Decide(ctx, r.Approval.ID, true, "operator")
		require.NoError(t, err)
		got, err = s.Resolve(ctx, o2)
		require.NoError(t, err)
		assert.Equal(t, Pending, got.Approval.Status, "another client's identical call must not use the approval")

		got, err = s.Resolve(ctx, alice)
		require.NoError(t, err)
		assert.Equal(t, Approved, got.Approval.Status, "alice's own retry still finds it")
	})
}
