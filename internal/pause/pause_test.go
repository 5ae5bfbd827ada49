package pause

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestForEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.ErrorIs(t, For(ctx, time.Hour), context.Canceled, "a cancelled wait ends at once with the context's error")
	assert.NoError(t, For(context.Background(), time.Millisecond))
}
