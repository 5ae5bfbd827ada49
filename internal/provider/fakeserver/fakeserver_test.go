package fakeserver

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const realBody = `{"apikeys":[{"id":1,"name":"first"}]}`

func realHandler(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, realBody)
}

func start(t *testing.T) *Server {
	t.Helper()
	s := Start(http.HandlerFunc(realHandler))
	t.Cleanup(s.Close)
	return s
}

func get(t *testing.T, s *Server, path string) (*http.Response, string, error) {
	t.Helper()
	resp, err := s.Client().Get(s.URL + path)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, string(body), err
}

func TestNoFaultRunsTheRealHandler(t *testing.T) {
	s := start(t)
	resp, body, err := get(t, s, "/x")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, realBody, body)
}

func TestStatusFaultWithHeaderAndTimes(t *testing.T) {
	s := start(t)
	s.Faults.Set(Fault{Status: http.StatusTooManyRequests, Body: `{"detail":"slow"}`, Header: http.Header{"Retry-After": {"3"}}, Times: 2})
	for range 2 {
		resp, body, err := get(t, s, "/x")
		require.NoError(t, err)
		assert.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
		assert.Equal(t, "3", resp.Header.Get("Retry-After"))
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		assert.Equal(t, `{"detail":"slow"}`, body)
	}
	resp, body, err := get(t, s, "/x")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the fault is spent after Times requests")
	assert.Equal(t, realBody, body)
}

func TestFaultStaysUntilClear(t *testing.T) {
	s := start(t)
	s.Faults.Set(Fault{Status: http.StatusInternalServerError, Body: "boom"})
	for range 5 {
		resp, _, err := get(t, s, "/x")
		require.NoError(t, err)
		assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	}
	s.Faults.Clear()
	resp, _, err := get(t, s, "/x")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestNonJSON(t *testing.T) {
	s := start(t)
	s.Faults.Set(Fault{NonJSON: true})
	resp, body, err := get(t, s, "/x")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "<html>oops</html>", body)
}

func TestTruncateCutsTheRealBody(t *testing.T) {
	s := start(t)
	s.Faults.Set(Fault{Truncate: true})
	resp, body, err := get(t, s, "/x")
	require.ErrorIs(t, err, io.ErrUnexpectedEOF)
	assert.Equal(t, int64(len(realBody)), resp.ContentLength)
	assert.Equal(t, realBody[:len(realBody)/2], body)
}

func TestCloseConn(t *testing.T) {
	s := start(t)
	s.Faults.Set(Fault{CloseConn: true})
	_, _, err := get(t, s, "/x")
	require.Error(t, err)
	assert.True(t, errors.Is(err, io.EOF) || strings.Contains(err.Error(), "EOF"), "got %v", err)
}

func TestDelayEndsWhenTheClientGivesUp(t *testing.T) {
	var faults Faults
	faults.Set(Fault{Delay: time.Hour})
	ran := make(chan struct{}, 1)
	entered, done := make(chan struct{}), make(chan struct{})
	inner := faults.Wrap(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran <- struct{}{} }))
	srv := Start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		close(entered)
		inner.ServeHTTP(w, r)
	}))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/slow", strings.NewReader(`{"a":1}`))
	require.NoError(t, err)
	go func() {
		<-entered // cancel once the request is in the handler
		cancel()
	}()
	_, err = srv.Client().Do(req)
	require.ErrorIs(t, err, context.Canceled)

	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the delayed handler kept running after the client left")
	}
	assert.Empty(t, ran, "the real handler must not run for a client that left")
}

func TestDelayThenTheRealHandlerSeesTheBody(t *testing.T) {
	var got string
	s := Start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in map[string]string
		require.NoError(t, ReadJSON(r, &in))
		got = in["name"]
		WriteJSON(w, http.StatusCreated, map[string]int{"id": 9})
	}))
	defer s.Close()
	s.Faults.Set(Fault{Delay: time.Millisecond, Times: 1})
	resp, err := s.Client().Post(s.URL+"/k", "application/json", strings.NewReader(`{"name":"n"}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	assert.JSONEq(t, `{"id":9}`, string(body))
	assert.Equal(t, "n", got)
}

func TestRequestLogLeavesCredentialsOut(t *testing.T) {
	s := start(t)
	req, err := http.NewRequest(http.MethodDelete, s.URL+"/auth/apikeys/7/?force=1", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer secret-1")
	req.Header.Set("X-API-Key", "secret-2")
	req.Header.Set("Cookie", "session=secret-3")
	req.Header.Set("User-Agent", "keyward/test")
	resp, err := s.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()

	log := s.Requests()
	require.Len(t, log, 1)
	assert.Equal(t, http.MethodDelete, log[0].Method)
	assert.Equal(t, "/auth/apikeys/7/", log[0].Path)
	assert.Equal(t, "force=1", log[0].Query)
	assert.Equal(t, "keyward/test", log[0].Header.Get("User-Agent"))
	for name, values := range log[0].Header {
		assert.NotContains(t, strings.Join(values, " "), "secret", "header %s", name)
	}

	log[0].Path = "changed"
	assert.Equal(t, "/auth/apikeys/7/", s.Requests()[0].Path, "Requests returns a copy")
}

func TestFaultForOneMethodAndPath(t *testing.T) {
	s := start(t)
	s.Faults.Set(Fault{Status: http.StatusServiceUnavailable, Method: http.MethodGet, Path: "/keys/1", Times: 1})
	resp, _, err := get(t, s, "/keys/2")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "another path passes")
	post, err := s.Client().Post(s.URL+"/keys/1", "application/json", strings.NewReader("{}"))
	require.NoError(t, err)
	post.Body.Close()
	assert.Equal(t, http.StatusOK, post.StatusCode, "another method passes")
	resp, _, err = get(t, s, "/keys/1")
	require.NoError(t, err)
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	resp, _, err = get(t, s, "/keys/1")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "only matching requests count against Times")
}

func TestOpenConnsCountsWhatClientsKeep(t *testing.T) {
	s := start(t)
	assert.Zero(t, s.OpenConns())
	var transports []*http.Transport
	for range 3 {
		tr := &http.Transport{}
		transports = append(transports, tr)
		resp, err := (&http.Client{Transport: tr}).Get(s.URL + "/")
		require.NoError(t, err)
		_, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	assert.Eventually(t, func() bool { return s.OpenConns() == 3 }, time.Second, 5*time.Millisecond,
		"three clients with their own pools keep three idle connections")
	assert.Equal(t, 3, s.AcceptedConns())
	for _, tr := range transports {
		tr.CloseIdleConnections()
	}
	assert.Eventually(t, func() bool { return s.OpenConns() == 0 }, time.Second, 5*time.Millisecond)
}

// After carries the request out and only then spoils its answer: the
// handler runs once, whatever the client sees.
func TestAfterRunsTheHandlerBeforeSpoilingTheAnswer(t *testing.T) {
	for name, fault := range map[string]Fault{
		"closed":   {CloseConn: true, After: true, Times: 1},
		"500":      {Status: http.StatusInternalServerError, Body: "boom", After: true, Times: 1},
		"non-JSON": {NonJSON: true, After: true, Times: 1},
		"without":  {CloseConn: true, Times: 1},
	} {
		t.Run(name, func(t *testing.T) {
			var ran atomic.Int32
			s := Start(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				ran.Add(1)
				realHandler(w, r)
			}))
			t.Cleanup(s.Close)
			s.Faults.Set(fault)
			resp, body, err := get(t, s, "/x")
			switch {
			case fault.CloseConn:
				require.Error(t, err)
			case fault.Status != 0:
				require.NoError(t, err)
				assert.Equal(t, fault.Status, resp.StatusCode)
				assert.Equal(t, fault.Body, body)
			default:
				require.NoError(t, err)
				assert.Equal(t, "<html>oops</html>", body)
			}
			want := int32(0)
			if fault.After {
				want = 1
			}
			assert.Equal(t, want, ran.Load(), "the real handler ran this often")
		})
	}
}

// Several faults: a request takes the first that matches, each counts its
// own Times, and Set replaces them all.
func TestAddedFaultsApplyEachToItsOwnRequests(t *testing.T) {
	s := start(t)
	s.Faults.Set(Fault{Path: "/a", Status: http.StatusTeapot, Body: "a", Times: 1})
	s.Faults.Add(Fault{Path: "/b", Status: http.StatusConflict, Body: "b"})
	s.Faults.Add(Fault{Status: http.StatusGone, Body: "any", Times: 1})

	resp, body, err := get(t, s, "/b")
	require.NoError(t, err)
	assert.Equal(t, http.StatusConflict, resp.StatusCode, body)
	resp, _, err = get(t, s, "/a")
	require.NoError(t, err)
	assert.Equal(t, http.StatusTeapot, resp.StatusCode)
	resp, _, err = get(t, s, "/a")
	require.NoError(t, err)
	assert.Equal(t, http.StatusGone, resp.StatusCode, "the first fault is used up; the catch-all takes /a")
	resp, body, err = get(t, s, "/a")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, realBody, body)
	resp, _, err = get(t, s, "/b")
	require.NoError(t, err)
	assert.Equal(t, http.StatusConflict, resp.StatusCode, "until cleared")

	s.Faults.Set(Fault{Path: "/c", Status: http.StatusTeapot})
	resp, _, err = get(t, s, "/b")
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "Set replaced the others")
}
