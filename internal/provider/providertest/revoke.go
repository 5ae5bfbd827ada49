package providertest

import (
	"context"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/provider"
	"github.com/keyward/keyward/internal/provider/fakeserver"
)

// RevokeFake is what the revoke suite needs of a platform's contract fake.
// A fake that can also tell whether a secret still works (Works(secret)
// bool) is asked that too.
type RevokeFake interface {
	Exists(id string) bool
	Faults() *fakeserver.Faults
	Requests() []fakeserver.Request
}

// RevokeSubject is one platform under the revoke suite.
type RevokeSubject struct {
	Provider string // the provider's name, as errors carry it
	// Start starts a fake holding one key and a client for it: the key's id
	// and secret, and the credentials that must never appear in an error.
	Start func(t *testing.T) (f RevokeFake, p provider.Provider, id, secret string, credentials []string)
	// DeletePath is the path of the DELETE that revokes key id.
	DeletePath func(id string) string
	// ServerError is the body of the platform's own 500.
	ServerError string
	// Gateway is the status a gateway in front of the platform answers
	// when it loses the platform's answer (502 or 504).
	Gateway int
	// NotDeleted is a 2xx body in which the platform says it did not delete
	// the key; the error then says each of NotDeletedSays.
	NotDeleted     string
	NotDeletedSays []string
}

// RevokeNeedsProof is issue 9's rule, the same for every platform: a revoke
// is reported done only when the platform says so or a fresh listing shows
// the key gone; a DELETE retried after a lost answer is never taken at its
// 404; anything else is an error that says whether the key may still work.
func RevokeNeedsProof(t *testing.T, s RevokeSubject) {
	ctx := context.Background()
	deletes := func(f RevokeFake, id string) int { return Count(f.Requests(), http.MethodDelete, s.DeletePath(id)) }
	works := func(t *testing.T, f RevokeFake, secret string, want bool) {
		t.Helper()
		if w, ok := f.(interface{ Works(string) bool }); ok {
			assert.Equal(t, want, w.Works(secret), "whether the secret still works")
		}
	}

	for name, fault := range map[string]fakeserver.Fault{
		"the connection drops after the platform deleted the key":               {Method: http.MethodDelete, CloseConn: true, After: true, Times: 1},
		"the answer is cut short":                                               {Method: http.MethodDelete, Truncate: true, Times: 1},
		"a 500 after the platform deleted the key":                              {Method: http.MethodDelete, Status: 500, Body: s.ServerError, After: true, Times: 1},
		fmt.Sprintf("a %d from a gateway after the key was deleted", s.Gateway): {Method: http.MethodDelete, Status: s.Gateway, Body: "gateway error", After: true, Times: 1},
	} {
		t.Run(name, func(t *testing.T) {
			f, p, id, secret, _ := s.Start(t)
			f.Faults().Set(fault)
			require.NoError(t, p.Revoke(ctx, id), "the first DELETE deleted the key; only its answer was lost")
			assert.False(t, f.Exists(id))
			works(t, f, secret, false)
			assert.Equal(t, 1, deletes(f, id), "the listing proved it: no second DELETE, no 404 taken at its word")
		})
	}

	t.Run("a dropped connection before the platform acted: the key is listed, so the DELETE is sent again", func(t *testing.T) {
		f, p, id, _, _ := s.Start(t)
		f.Faults().Set(fakeserver.Fault{Method: http.MethodDelete, CloseConn: true, Times: 1})
		require.NoError(t, p.Revoke(ctx, id))
		assert.False(t, f.Exists(id))
		assert.Equal(t, 2, deletes(f, id))
	})

	t.Run("a 2xx page that is not the platform's answer is not believed", func(t *testing.T) {
		f, p, id, _, _ := s.Start(t)
		f.Faults().Set(fakeserver.Fault{Method: http.MethodDelete, NonJSON: true, Times: 1})
		require.NoError(t, p.Revoke(ctx, id))
		assert.False(t, f.Exists(id), "reported revoked, so it must be gone upstream")
		assert.Equal(t, 2, deletes(f, id))
	})

	t.Run("a 2xx that says it did not delete is checked, not believed, and not sent again", func(t *testing.T) {
		f, p, id, secret, creds := s.Start(t)
		f.Faults().Set(fakeserver.Fault{Method: http.MethodDelete, Status: 200, Body: s.NotDeleted, Times: 1})
		err := p.Revoke(ctx, id)
		pe := RequireKind(t, err, provider.KindUpstream, s.Provider)
		assert.Equal(t, provider.ChangedNo, pe.Changed, "a fresh listing still shows the key, so nothing changed")
		for _, says := range s.NotDeletedSays {
			assert.Contains(t, pe.Message, says)
		}
		assert.True(t, f.Exists(id), "the key lives on upstream")
		works(t, f, secret, true)
		assert.Equal(t, 1, deletes(f, id), "a refusal is not sent again")
		NoSecret(t, append(creds, secret), err)
	})

	t.Run("no proof either way: the key may still work", func(t *testing.T) {
		f, p, id, secret, creds := s.Start(t)
		// The client has spoken to the platform before (Lium's learns its
		// workspace so), then every answer is lost.
		_, err := p.List(ctx)
		require.NoError(t, err)
		f.Faults().Set(fakeserver.Fault{Truncate: true})
		err = p.Revoke(ctx, id)
		f.Faults().Clear()
		pe := RequireKind(t, err, provider.KindUpstream, s.Provider)
		assert.Equal(t, provider.ChangedUnknown, pe.Changed)
		assert.Contains(t, pe.Message, "may still work")
		assert.Equal(t, provider.StepCheckKeys, pe.Step)
		NoSecret(t, append(creds, secret), err)
	})

	t.Run("a first 404 is still no such key", func(t *testing.T) {
		f, p, id, _, _ := s.Start(t)
		require.NoError(t, p.Revoke(ctx, id))
		pe := RequireKind(t, p.Revoke(ctx, id), provider.KindNotFound, s.Provider)
		assert.Equal(t, provider.StepFindKey, pe.Step)
		assert.Equal(t, 2, deletes(f, id))
	})
}

// Listings is what the listing suite needs beyond a RevokeSubject: the path
// of the key list, answers of the platform's that hold no list, and (if the
// platform has one) its answer for an empty list.
type Listings struct {
	Path      string
	NoList    []string
	EmptyList string
}

// ListingWithoutAListIsNotEmpty: an answer with no list in it is not "no
// keys" (a listing is what proves a revoked key gone), so a revoke whose
// answer was lost then says the key may still work; an empty list is still
// an empty list.
func ListingWithoutAListIsNotEmpty(t *testing.T, s RevokeSubject, l Listings) {
	ctx := context.Background()
	for _, body := range l.NoList {
		t.Run(body, func(t *testing.T) {
			f, p, id, _, _ := s.Start(t)
			f.Faults().Set(fakeserver.Fault{Method: http.MethodGet, Path: l.Path, Status: http.StatusOK, Body: body})
			_, err := p.List(ctx)
			RequireKind(t, err, provider.KindUpstream, s.Provider)

			f.Faults().Add(fakeserver.Fault{Method: http.MethodDelete, CloseConn: true, Times: 1})
			err = p.Revoke(ctx, id)
			pe := RequireKind(t, err, provider.KindUpstream, s.Provider)
			assert.Equal(t, provider.ChangedUnknown, pe.Changed)
			assert.Contains(t, pe.Message, "may still work")
			assert.True(t, f.Exists(id))
		})
	}
	if l.EmptyList == "" {
		return
	}
	t.Run("an empty list", func(t *testing.T) {
		f, p, _, _, _ := s.Start(t)
		f.Faults().Set(fakeserver.Fault{Method: http.MethodGet, Path: l.Path, Status: http.StatusOK, Body: l.EmptyList})
		keys, err := p.List(ctx)
		require.NoError(t, err)
		assert.Empty(t, keys)
	})
}
