package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/keyward/keyward/examples/agent"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/store/storetest"
)

// replica starts `keyward serve` on dsn (a SQLite file or a PostgreSQL URL),
// revealing secrets inline so clients can validate them.
func replica(t testing.TB, dsn string, extra ...string) *serveProc {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = cleanEnv(append([]string{"KEYWARD_DB=" + dsn, "KEYWARD_HTTP_TOKEN=" + serveToken, "HOME=" + dir,
		"KEYWARD_SECRETS_DIR=" + filepath.Join(dir, "secrets"), "KEYWARD_REVEAL=inline", "KEYWARD_CONFIRM=false",
		"KEYWARD_RATE_LIMIT=1000000", "KEYWARD_LOG_LEVEL=info"}, extra...)...)
	return startServe(t, cmd)
}

// connect opens an MCP session (streamable HTTP) on a replica.
func connect(t testing.TB, p *serveProc) *client.Client {
	t.Helper()
	headers := map[string]string{"Authorization": "Bearer " + serveToken}
	c, err := client.NewStreamableHttpClient(p.base+"/mcp", transport.WithHTTPHeaders(headers),
		transport.WithHTTPBasicClient(&http.Client{Transport: agent.WithHeaders{Headers: headers, Next: http.DefaultTransport}, Timeout: time.Minute}))
	require.NoError(t, err)
	var init mcp.InitializeRequest
	init.Params.ClientInfo = mcp.Implementation{Name: "replicas-e2e", Version: "0"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = c.Initialize(ctx, init)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

type createdKey struct {
	KeyID  string `json:"key_id"`
	Secret string `json:"secret"`
}

func createKey(ctx context.Context, c *client.Client, name string) (createdKey, error) {
	var k createdKey
	err := agent.Call(ctx, c, "create_key", map[string]any{"name": name, "scopes": []string{"read"}, "expires_in": "1h"}, &k)
	if err == nil && (k.KeyID == "" || k.Secret == "") {
		err = errors.New("create_key answered without a key id or secret")
	}
	return k, err
}

func validateKey(ctx context.Context, c *client.Client, secret string) (string, error) {
	var v struct {
		Status string `json:"status"`
	}
	err := agent.Call(ctx, c, "validate_key", map[string]any{"key": secret}, &v)
	return v.Status, err
}

func liveKeys(t *testing.T, c *client.Client) []string {
	t.Helper()
	var out struct {
		Keys []struct {
			KeyID string `json:"key_id"`
		} `json:"keys"`
	}
	require.NoError(t, agent.Call(context.Background(), c, "list_keys", map[string]any{"limit": 200}, &out))
	var ids []string
	for _, k := range out.Keys {
		ids = append(ids, k.KeyID)
	}
	return ids
}

// Three replicas on one PostgreSQL database: a key created on one
// validates on another at once, and a revoke on the third is seen by the
// others as soon as it returns. How soon a client polling another replica
// sees the revoke is measured and logged.
func TestThreeReplicasAgree(t *testing.T) {
	dsn := storetest.NewPostgres(t)
	rs := []*serveProc{replica(t, dsn), replica(t, dsn), replica(t, dsn)}
	cs := []*client.Client{connect(t, rs[0]), connect(t, rs[1]), connect(t, rs[2])}
	ctx := context.Background()

	var afterReturn, afterStart []time.Duration
	for round := range 5 {
		k, err := createKey(ctx, cs[0], fmt.Sprintf("shared-%d", round))
		require.NoError(t, err)
		status, err := validateKey(ctx, cs[1], k.Secret)
		require.NoError(t, err)
		require.Equal(t, "valid", status, "created on replica 0, validated on replica 1 right after")

		// A client of replica 1 validates without pause while replica 2 revokes.
		seen := make(chan time.Time, 1)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if s, err := validateKey(ctx, cs[1], k.Secret); err == nil && s == "revoked" {
					seen <- time.Now()
					return
				}
			}
		}()
		time.Sleep(20 * time.Millisecond)
		start := time.Now()
		require.NoError(t, agent.Call(ctx, cs[2], "revoke_key", map[string]any{"key_id": k.KeyID}, &struct{}{}))
		returned := time.Now()
		for i, c := range cs[:2] {
			status, err := validateKey(ctx, c, k.Secret)
			require.NoError(t, err)
			require.Equal(t, "revoked", status, "replica %d, right after the revoke on replica 2 returned", i)
		}
		select {
		case at := <-seen:
			afterStart = append(afterStart, at.Sub(start))
			afterReturn = append(afterReturn, at.Sub(returned))
		case <-time.After(10 * time.Second):
			t.Fatal("the polling client never saw the revoke")
		}
		close(stop)
		wg.Wait()
	}
	slices.Sort(afterStart)
	slices.Sort(afterReturn)
	t.Logf("revoke on replica 2 seen by a client polling replica 1: %v after the revoke began (median %v, max %v); relative to its return: median %v, max %v",
		afterStart, afterStart[len(afterStart)/2], afterStart[len(afterStart)-1], afterReturn[len(afterReturn)/2], afterReturn[len(afterReturn)-1])
	assert.Less(t, afterStart[len(afterStart)-1], time.Second, "a generous bound: seen well within a second")
	for _, r := range rs {
		logs := r.stop(t)
		assert.NotContains(t, logs, "panic")
	}
}

// Sixteen clients spread over three replicas create keys at once against
// KEYWARD_LOCAL_MAX_KEYS: exactly that many succeed.
func TestReplicasHoldTheKeyLimit(t *testing.T) {
	dsn := storetest.NewPostgres(t)
	const limit = 10
	env := fmt.Sprintf("KEYWARD_LOCAL_MAX_KEYS=%d", limit)
	rs := []*serveProc{replica(t, dsn, env), replica(t, dsn, env), replica(t, dsn, env)}
	var cs []*client.Client
	for i := range 16 {
		cs = append(cs, connect(t, rs[i%3]))
	}
	var mu sync.Mutex
	var ok, refused int
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for j := range 3 {
				_, err := createKey(context.Background(), c, fmt.Sprintf("c%d-%d", i, j))
				mu.Lock()
				switch {
				case err == nil:
					ok++
				case strings.Contains(err.Error(), "KEYWARD_LOCAL_MAX_KEYS"):
					refused++
				default:
					t.Errorf("unexpected error: %v", err)
				}
				mu.Unlock()
			}
		}()
	}
	close(start)
	wg.Wait()
	assert.Equal(t, limit, ok, "exactly the limit")
	assert.Equal(t, 48-limit, refused)
	for _, c := range cs[:3] {
		assert.Len(t, liveKeys(t, c), limit)
	}
}

// One of three replicas is killed (SIGKILL) while clients create keys on
// all of them: every key a client was told about is there and its secret
// validates on the survivors; the creates the dead replica never finished
// are undone by whichever survivor runs the reaper.
func TestKillOneReplicaDuringCreates(t *testing.T) {
	dsn := storetest.NewPostgres(t)
	env := []string{"KEYWARD_LOCAL_MAX_KEYS=100000", "KEYWARD_REAP_INTERVAL=1s"}
	rs := []*serveProc{replica(t, dsn, env...), replica(t, dsn, env...), replica(t, dsn, env...)}
	var mu sync.Mutex
	acked := map[string]string{} // key id → secret
	ctx := context.Background()
	var stopping atomic.Bool // clients finish the call they are in, then stop
	var wg sync.WaitGroup
	for i := range 12 {
		c := connect(t, rs[i%3])
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; !stopping.Load() && j < 400; j++ {
				cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
				k, err := createKey(cctx, c, fmt.Sprintf("load-%d-%d", i, j))
				ccancel()
				if err != nil {
					if i%3 == 0 {
						return // the killed replica's clients lose their connection
					}
					t.Errorf("a create on a surviving replica failed: %v", err)
					return
				}
				mu.Lock()
				acked[k.KeyID] = k.Secret
				mu.Unlock()
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 60 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, rs[0].cmd.Process.Signal(syscall.SIGKILL))
	time.Sleep(300 * time.Millisecond) // the survivors keep creating
	stopping.Store(true)
	wg.Wait()
	_ = rs[0].cmd.Wait()

	mu.Lock()
	defer mu.Unlock()
	require.NotEmpty(t, acked)
	check := []*client.Client{connect(t, rs[1]), connect(t, rs[2])}
	for id, sec := range acked {
		for i, c := range check {
			status, err := validateKey(context.Background(), c, sec)
			require.NoError(t, err)
			if status != "valid" {
				t.Fatalf("acknowledged key %s is %s on surviving replica %d", id, status, i+1)
			}
		}
	}
	// What the dead replica was doing is settled by the reaper of a
	// survivor: no create is left in the journal. A live key no client was
	// told about is one whose create finished (it has keyward's record)
	// while its answer died with the replica — at most one per client of
	// the dead replica.
	admin := storetest.RequirePostgres(t)
	schema := schemaOf(t, dsn)
	pending := -1
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		require.NoError(t, admin.QueryRow(`SELECT count(*) FROM `+schema+`.create_intents`).Scan(&pending))
		if pending == 0 {
			break
		}
	}
	assert.Zero(t, pending, "creates interrupted by the kill are settled")
	live := allLiveKeys(t, check[0])
	unacked := 0
	for _, id := range live {
		if _, ok := acked[id]; ok {
			continue
		}
		unacked++
		var recorded int
		require.NoError(t, admin.QueryRow(`SELECT count(*) FROM `+schema+`.managed_keys WHERE provider = 'local' AND key_id = $1`, id).Scan(&recorded))
		assert.Equal(t, 1, recorded, "live key %s was never acknowledged and is not recorded", id)
	}
	assert.LessOrEqual(t, unacked, 4, "at most one finished create per client of the killed replica lost its answer")
	liveSet := map[string]bool{}
	for _, id := range live {
		liveSet[id] = true
	}
	missing := 0
	for id := range acked {
		if !liveSet[id] {
			missing++
		}
	}
	assert.Zero(t, missing, "every acknowledged key is live")
	t.Logf("%d keys acknowledged (replica 0 killed mid-load), all valid on both survivors; %d live keys, %d of them finished on the killed replica with their answer lost", len(acked), len(live), unacked)
}

// schemaOf is the schema of a URL made by storetest.NewPostgres.
func schemaOf(t *testing.T, dsn string) string {
	t.Helper()
	i := strings.Index(dsn, "search_path=")
	require.Positive(t, i)
	s := dsn[i+len("search_path="):]
	if j := strings.IndexByte(s, '&'); j >= 0 {
		s = s[:j]
	}
	return s
}

func allLiveKeys(t *testing.T, c *client.Client) []string {
	t.Helper()
	var ids []string
	cursor := ""
	for {
		var out struct {
			Keys []struct {
				KeyID string `json:"key_id"`
			} `json:"keys"`
			NextCursor string `json:"next_cursor"`
		}
		args := map[string]any{"limit": 200}
		if cursor != "" {
			args["cursor"] = cursor
		}
		require.NoError(t, agent.Call(context.Background(), c, "list_keys", args, &out))
		for _, k := range out.Keys {
			ids = append(ids, k.KeyID)
		}
		if cursor = out.NextCursor; cursor == "" {
			return ids
		}
	}
}

// Every connection to PostgreSQL is cut under load (as a database restart
// does): calls fail with errors that name KEYWARD_DB or succeed, and every
// replica serves again afterwards, its reaper lock retaken. The URL's
// password (trust authentication ignores it) is in no log and no record.
func TestReplicasRecoverFromADatabaseRestart(t *testing.T) {
	const pw = "Pg-Passw0rd-never-shown"
	dsn := strings.Replace(storetest.NewPostgres(t), "postgres://root@", "postgres://root:"+pw+"@", 1)
	require.Contains(t, dsn, pw)
	env := []string{"KEYWARD_LOCAL_MAX_KEYS=100000", "KEYWARD_REAP_INTERVAL=1s"}
	rs := []*serveProc{replica(t, dsn, env...), replica(t, dsn, env...), replica(t, dsn, env...)}
	var cs []*client.Client
	for i := range 6 {
		cs = append(cs, connect(t, rs[i%3]))
	}
	var stopping atomic.Bool
	var mu sync.Mutex
	var ok, failed int
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; !stopping.Load(); j++ {
				k, err := createKey(context.Background(), c, fmt.Sprintf("r%d-%d", i, j))
				if err == nil {
					var s string
					if s, err = validateKey(context.Background(), cs[(i+1)%len(cs)], k.Secret); err == nil && s != "valid" {
						t.Errorf("a key whose create returned is %s on another replica", s)
					}
				}
				mu.Lock()
				if err != nil {
					failed++
					// The local authority names KEYWARD_DB; the manager's journal
					// speaks of "the state file".
					msg := err.Error()
					assert.True(t, strings.Contains(msg, "KEYWARD_DB") || strings.Contains(msg, "state file"), "a clear error: %s", msg)
					assert.NotContains(t, err.Error(), pw)
				} else {
					ok++
				}
				mu.Unlock()
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	for range 3 {
		storetest.Terminate(t, dsn)
		time.Sleep(300 * time.Millisecond)
	}
	mu.Lock()
	okBefore := ok
	mu.Unlock()
	deadline := time.Now().Add(15 * time.Second)
	for {
		mu.Lock()
		n := ok
		mu.Unlock()
		if n >= okBefore+30 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the replicas did not recover")
		time.Sleep(50 * time.Millisecond)
	}
	stopping.Store(true)
	wg.Wait()
	t.Logf("%d calls succeeded, %d failed with a clear error while connections were cut", ok, failed)
	for i, c := range cs[:3] {
		_, err := createKey(context.Background(), c, fmt.Sprintf("after-%d", i))
		require.NoError(t, err, "replica %d serves after the restart", i)
	}
	var logs strings.Builder
	for _, r := range rs {
		logs.WriteString(r.stop(t))
	}
	assert.NotContains(t, logs.String(), pw, "the password is never logged")
	assert.Contains(t, logs.String(), "root:xxxxx@", "the URL is logged without it")
	var n int
	admin := storetest.RequirePostgres(t)
	require.NoError(t, admin.QueryRow(`SELECT count(*) FROM `+schemaOf(t, dsn)+`.audit WHERE CAST(audit AS TEXT) LIKE '%' || $1 || '%'`, pw).Scan(&n))
	assert.Zero(t, n, "nor recorded")
}
