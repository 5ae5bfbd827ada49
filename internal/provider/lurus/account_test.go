package lurus_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/lurus/lurusfake"
	"github.com/keyward/keyward/internal/provider/providertest"
)

// A key is valid only when the answer names an account; any other 2xx on the
// guessed route is "could not confirm", neither valid nor invalid.
func TestAnAnswerWithoutAnAccountConfirmsNothing(t *testing.T) {
	for _, body := range lurusfake.AccountlessAnswers {
		t.Run(body, func(t *testing.T) {
			f, p := start(t)
			f.AnswerWithoutAccount(body)
			v, err := p.Validate(context.Background(), f.APIKey())
			pe := requireKind(t, err, provider.KindUpstream)
			assert.Equal(t, provider.Validation{}, v, "no verdict")
			assert.Contains(t, pe.Message, "could not confirm")
			assert.Contains(t, pe.Message, "neither valid nor invalid")
			assert.Contains(t, pe.Message, "LURUS_API_URL")
			assert.Equal(t, provider.ChangedNo, pe.Changed)

			_, err = p.Whoami(context.Background())
			pe = requireKind(t, err, provider.KindUpstream)
			assert.Contains(t, pe.Message, "could not confirm")
			providertest.NoSecret(t, []string{f.APIKey()}, err)
		})
	}
}
