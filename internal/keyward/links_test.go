package keyward

import (
	"context"
	"html"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/config"
	"github.com/keyward/keyward/internal/manager"
	"github.com/keyward/keyward/internal/testutil"
)

var secretOnPage = regexp.MustCompile(`<pre id="secret" class="secret">([^<]+)</pre>`)

// keyward serve with a console delivers new secrets by one-time link: the
// agent gets the link, never the secret; the operator's login opens it,
// once; later visits say it was viewed and offer to revoke the key.
func TestOneTimeLinkInServe(t *testing.T) {
	ts := startConsole(t, map[string]string{"KEYWARD_REVEAL": ""})
	c := ts.connect(t, "http", "agent")
	out := ts.ok(t, c, "create_key", map[string]any{"name": "svc"})
	assert.Equal(t, "url", out["delivery"])
	assert.Nil(t, out["secret"])
	assert.Nil(t, out["secret_file"])
	link, _ := out["link"].(string)
	require.True(t, strings.HasPrefix(link, ts.url+"/reveal/"), link)
	assert.NotEmpty(t, out["link_expires_at"])
	path := strings.TrimPrefix(link, ts.url)

	// Without the operator's login the link opens nothing.
	anon := newBrowser(t, ts)
	resp, _ := anon.get(path)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	assert.True(t, strings.HasPrefix(resp.Header.Get("Location"), "/login?next="))
	resp, _ = anon.do("POST", path, url.Values{}, map[string]string{"Origin": ts.url})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)

	b := newBrowser(t, ts)
	b.login()
	resp, page := b.get(path)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, page, "Show the secret", "a GET (a prefetcher, an unfurler) shows a button, not the secret")
	assert.NotContains(t, page, `id="secret"`)
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.Equal(t, "no-referrer", resp.Header.Get("Referrer-Policy"))

	resp, _ = b.do("POST", path, url.Values{"csrf": {"forged"}}, map[string]string{"Origin": ts.url})
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "the button's POST carries the session's token")

	resp, page = b.post(path, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	m := secretOnPage.FindStringSubmatch(page)
	require.NotNil(t, m, "the secret is on the page once")
	secret := html.UnescapeString(m[1])
	ts.sawSecret(secret)
	assert.Contains(t, page, `src="/static/copy.js"`)
	assert.Equal(t, true, ts.ok(t, c, "validate_key", map[string]any{"key": secret})["valid"])

	resp, page = b.post(path, nil)
	assert.Equal(t, http.StatusGone, resp.StatusCode)
	assert.Contains(t, page, "already viewed")
	assert.NotContains(t, page, secret)
	resp, page = b.get(path)
	assert.Equal(t, http.StatusGone, resp.StatusCode)
	assert.Contains(t, page, "I did not view it — revoke this key now")

	resp, page = b.post(path+"/revoke", nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, page, "was revoked")
	assert.Equal(t, false, ts.ok(t, c, "validate_key", map[string]any{"key": secret})["valid"])
	recs, err := ts.app.Manager.AuditLog(context.Background(), manager.AuditArgs{Limit: 10})
	require.NoError(t, err)
	var sawView, sawRevoke bool
	for _, r := range recs.Records {
		sawView = sawView || (r.Tool == "reveal" && r.Principal == "operator" && strings.Contains(r.Detail, "shown once"))
		sawRevoke = sawRevoke || (r.Tool == "revoke_key" && strings.Contains(r.Detail, "said they did not view"))
	}
	assert.True(t, sawView, "the view is audited")
	assert.True(t, sawRevoke, "the revoke from the link is audited")

	// The secret is in no log, no audit record and not in the state file.
	db, _ := os.ReadFile(ts.app.Config.DB)
	wal, _ := os.ReadFile(ts.app.Config.DB + "-wal")
	assert.NotContains(t, string(db)+string(wal), secret)
	assert.NotContains(t, ts.logs.String(), strings.TrimPrefix(path, "/reveal/"), "the link's token is in no log")
}

// A client that declared URL-mode elicitation shows the link to its human
// itself; the agent's result says so and still names the link.
func TestOneTimeLinkByURLElicitation(t *testing.T) {
	ts := startConsole(t, map[string]string{"KEYWARD_REVEAL": ""})
	var mu sync.Mutex
	var asked []mcp.ElicitationParams
	h := elicitFunc(func(_ context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
		mu.Lock()
		asked = append(asked, req.Params)
		mu.Unlock()
		return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{Action: mcp.ElicitationResponseActionAccept}}, nil
	})
	c, err := client.NewInProcessClientWithOptions(ts.app.MCP, client.WithElicitationHandler(h))
	require.NoError(t, err)
	require.NoError(t, c.Start(context.Background()))
	t.Cleanup(func() { c.Close() })
	init := clientInfo("url-client")
	init.Params.ProtocolVersion = mcp.LATEST_LEGACY_PROTOCOL_VERSION
	init.Params.Capabilities.Elicitation = &mcp.ElicitationCapability{Form: &struct{}{}, URL: &struct{}{}}
	_, err = c.Initialize(context.Background(), init)
	require.NoError(t, err)

	out := ts.ok(t, c, "create_key", map[string]any{"name": "svc"})
	require.Len(t, asked, 1)
	q := asked[0]
	assert.Equal(t, mcp.ElicitationModeURL, q.Mode)
	assert.Equal(t, out["link"], q.URL)
	assert.True(t, strings.HasPrefix(q.ElicitationID, "link_"))
	assert.NotContains(t, q.Message, "kw_", "the elicitation carries no secret")
	assert.Equal(t, "url", out["delivery"])
	assert.Equal(t, true, out["link_shown"])
	assert.Nil(t, out["secret"])
}

type elicitFunc func(context.Context, mcp.ElicitationRequest) (*mcp.ElicitationResult, error)

func (f elicitFunc) Elicit(ctx context.Context, r mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	return f(ctx, r)
}

// A link that expires unviewed ends as an undelivered secret does: the
// reaper revokes the key, the audit log says why, the page says expired.
func TestUnviewedLinkRevokesItsKey(t *testing.T) {
	clk := testutil.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	cfg, err := config.LoadFrom(map[string]string{"KEYWARD_DB": filepath.Join(t.TempDir(), "keyward.db"), "KEYWARD_REVEAL": "url", "KEYWARD_REVEAL_TTL": "10m"})
	require.NoError(t, err)
	app, err := New(context.Background(), cfg, slog.New(slog.DiscardHandler), WithClock(clk.Now))
	require.NoError(t, err)
	t.Cleanup(func() { app.Close() })
	_, err = app.Manager.CreateKey(context.Background(), manager.CreateArgs{Name: "svc"})
	assert.ErrorContains(t, err, "no page to serve them on yet", "no page, no key: nothing is made that nobody could receive")

	app.operator.links.SetBase("http://127.0.0.1:1")
	res, err := app.Manager.CreateKey(context.Background(), manager.CreateArgs{Name: "svc"})
	require.NoError(t, err)
	require.NotEmpty(t, res.Delivery.Link)
	n, err := app.Manager.Reap(context.Background())
	require.NoError(t, err)
	assert.Zero(t, n, "a link still valid is left alone")

	clk.Advance(11 * time.Minute)
	n, err = app.Manager.Reap(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	_, err = app.Manager.GetKey(context.Background(), "", res.Key.ID)
	assert.Error(t, err, "the key is gone")
	recs, err := app.Manager.AuditLog(context.Background(), manager.AuditArgs{Tool: "reaper"})
	require.NoError(t, err)
	require.Len(t, recs.Records, 1)
	assert.Contains(t, recs.Records[0].Detail, "expired unviewed")
	_, st, err := app.operator.links.Look(context.Background(), strings.TrimPrefix(res.Delivery.Link, "http://127.0.0.1:1/reveal/"))
	require.NoError(t, err)
	assert.EqualValues(t, "expired", st)
}

// The stdio page answers only at its own address, and only to the user
// keyward runs as (the kernel says whose socket connected).
func TestLinkPageChecksHostAndUser(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	for name, tc := range map[string]struct {
		uid  int
		host func(string) string
		want int
	}{
		"same user":                 {os.Getuid(), func(h string) string { return h }, http.StatusTeapot},
		"another user":              {os.Getuid() + 1, func(h string) string { return h }, http.StatusForbidden},
		"rebound name (DNS rebind)": {os.Getuid(), func(string) string { return "evil.example" }, http.StatusMisdirectedRequest},
		"localhost by name":         {os.Getuid(), func(h string) string { return strings.Replace(h, "127.0.0.1", "localhost", 1) }, http.StatusMisdirectedRequest},
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp4", "127.0.0.1:0")
			require.NoError(t, err)
			host := ln.Addr().String()
			srv := &http.Server{Handler: sameUser(host, tc.uid, ok, slog.New(slog.DiscardHandler))}
			go srv.Serve(ln)
			defer srv.Close()
			req, _ := http.NewRequest("GET", "http://"+host+"/reveal/x", nil)
			req.Host = tc.host(host)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tc.want, resp.StatusCode)
		})
	}
}
