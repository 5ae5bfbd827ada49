package keyward

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/store"
	"github.com/keyward/keyward/internal/testutil"
)

// stdioPipes serves app over stdio on pipes: send writes one line, next
// reads the next line keyward wrote (failing the test after a while), and
// served ends with ServeStdio's answer.
func stdioPipes(t *testing.T, app *App) (send func(string), next func() string, served <-chan error) {
	t.Helper()
	inR, inW, err := os.Pipe() // buffered, like a client's pipe: a send does not wait for keyward to read
	require.NoError(t, err)
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := app.ServeStdio(context.Background(), inR, outW)
		outW.Close()
		done <- err
	}()
	t.Cleanup(func() { inW.Close(); inR.Close() })
	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	send = func(l string) {
		_, err := io.WriteString(inW, l+"\n")
		require.NoError(t, err)
	}
	next = func() string {
		select {
		case l, ok := <-lines:
			if !ok {
				return ""
			}
			return l
		case <-time.After(20 * time.Second):
			t.Fatal("no answer from keyward")
			return ""
		}
	}
	return send, next, done
}

const initializeLine = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`

// Issue 10.7: a client's first answer does not wait for the state. While
// another process holds the state's write lock (as a replica migrating it
// does), initialize and ping are answered; tools/list waits until the state
// is open and then lists every tool, never an empty or partial list.
func TestStdioAnswersInitializeWhileTheStateOpens(t *testing.T) {
	ctx := context.Background()
	db := filepath.Join(t.TempDir(), "keyward.db")
	other, err := store.Open(ctx, db, store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { other.Close() })
	lock, err := other.DB().BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock
	require.NoError(t, err)
	t.Cleanup(func() { _ = lock.Rollback() })
	_, err = lock.ExecContext(ctx, `CREATE TABLE held (x INTEGER)`)
	require.NoError(t, err)

	cfg, err := config.LoadFrom(map[string]string{"KEYWARD_DB": db})
	require.NoError(t, err)
	app := Prepare(cfg, slog.New(slog.NewTextHandler(&testutil.SyncBuffer{}, nil)))
	t.Cleanup(func() { assert.NoError(t, app.Close()) })
	send, next, _ := stdioPipes(t, app)

	send(initializeLine)
	assert.Contains(t, next(), `"serverInfo"`, "initialize is answered while the state is locked")
	send(`{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	send(`{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	assert.JSONEq(t, `{"jsonrpc":"2.0","id":2,"result":{}}`, next())

	send(`{"jsonrpc":"2.0","id":3,"method":"tools/list"}`)
	send(`{"jsonrpc":"2.0","id":4,"method":"ping"}`)
	early := make(chan string, 1)
	go func() { early <- next() }()
	select {
	case l := <-early:
		t.Fatalf("answered before the state was open: %s", l)
	case <-time.After(300 * time.Millisecond): // a broken gate would have answered by now
	}
	require.NoError(t, lock.Rollback())
	// mcp-go answers requests concurrently, so the two may come in either order.
	answers := map[int]string{}
	for _, l := range []string{<-early, next()} {
		var m struct {
			ID int `json:"id"`
		}
		require.NoError(t, json.Unmarshal([]byte(l), &m))
		answers[m.ID] = l
	}
	require.Contains(t, answers, 4, "the ping behind tools/list is answered")
	require.Contains(t, answers, 3, "tools/list is answered")
	for _, name := range []string{"list_providers", "create_key", "revoke_key", "audit_log"} {
		assert.True(t, strings.Contains(answers[3], `"name":"`+name+`"`), "tools/list names %s", name)
	}
}

// A state that cannot be opened ends stdio with the reason, after the
// first answer, and nothing that needs the state is answered.
func TestStdioEndsWithTheReasonWhenTheStateCannotOpen(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keyward.db")
	require.NoError(t, os.WriteFile(db, []byte(strings.Repeat("not a database ", 100)), 0o600))
	cfg, err := config.LoadFrom(map[string]string{"KEYWARD_DB": db})
	require.NoError(t, err)
	app := Prepare(cfg, slog.New(slog.NewTextHandler(&testutil.SyncBuffer{}, nil)))
	t.Cleanup(func() { assert.NoError(t, app.Close()) })
	send, next, served := stdioPipes(t, app)

	send(initializeLine)
	assert.Contains(t, next(), `"serverInfo"`)
	send(`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"list_keys","arguments":{}}}`)
	assert.Empty(t, next(), "stdout ends without answering the call")
	select {
	case err = <-served:
	case <-time.After(20 * time.Second):
		t.Fatal("stdio did not end")
	}
	var start *StartError
	require.ErrorAs(t, err, &start)
	assert.Contains(t, err.Error(), "KEYWARD_DB")
	assert.ErrorIs(t, app.Open(context.Background()), start.Err, "Open keeps its one answer")
}

// Close waits for an Open in progress and leaves nothing open; an Open
// after Close opens nothing.
func TestCloseBeforeOpenOpensNothing(t *testing.T) {
	db := filepath.Join(t.TempDir(), "keyward.db")
	cfg, err := config.LoadFrom(map[string]string{"KEYWARD_DB": db})
	require.NoError(t, err)
	app := Prepare(cfg, slog.New(slog.DiscardHandler))
	app.StartReaper() // waits for the open that never comes, and stops with Close
	require.NoError(t, app.Close())
	assert.ErrorIs(t, app.Open(context.Background()), errClosed)
	_, err = os.Stat(db)
	assert.True(t, errors.Is(err, os.ErrNotExist), "no state file was made")
}

// The gate keeps lines whole and in order however the input is split, and
// ends with the input's error once everything before it was passed.
func TestOpenGateKeepsLinesWholeAndInOrder(t *testing.T) {
	in := `{"method":"initialize"}` + "\n" + `{"method":"tools/list"}` + "\n" + `{"method":"ping"}` + "\n" + `{"method":"ping","id":3}`
	ready := make(chan struct{})
	var refused []bool
	g := &openGate{r: iotest.OneByteReader(strings.NewReader(in + "\n" + `partial`)), start: func() { close(ready) }, ready: ready,
		err: func() error { return nil }, ctx: context.Background(), refuse: func(_ string, parseError bool) { refused = append(refused, parseError) }}
	got, err := io.ReadAll(g)
	require.NoError(t, err)
	assert.Equal(t, in+"\n", string(got))
	assert.Equal(t, []bool{true}, refused, "what is not JSON is answered by the gate (a parse error), not passed on")

	failed := errors.New("the state is broken")
	ready = make(chan struct{})
	g = &openGate{r: strings.NewReader(in), start: func() { close(ready) }, ready: ready,
		err: func() error { return failed }, ctx: context.Background()}
	got, err = io.ReadAll(g)
	assert.ErrorIs(t, err, failed)
	assert.Equal(t, `{"method":"initialize"}`+"\n", string(got), "only what needs no state passed")
}
