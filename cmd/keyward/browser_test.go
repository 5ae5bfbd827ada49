package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyward/keyward/examples/agent"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const browserOperatorToken = "browser-operator-1f2e3d4c5b6a79880a1b2c3d4e5f6a7b"

// browserTools finds what the browser test needs: node, the system's
// Chromium, and playwright-core (installed by .ci/run into
// ~/.cache/keyward-browser, or wherever PLAYWRIGHT_DIR points). Missing ones
// skip the test with a message, except under CI=true, where they fail it.
func browserTools(t *testing.T) (node, chromium, playwright string) {
	t.Helper()
	var missing []string
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node (apt-get install nodejs)")
	}
	chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		missing = append(missing, "/usr/bin/chromium (apt-get install chromium)")
	}
	playwright = os.Getenv("PLAYWRIGHT_DIR")
	if playwright == "" {
		cache, _ := os.UserCacheDir()
		playwright = filepath.Join(cache, "keyward-browser")
	}
	if _, err := os.Stat(filepath.Join(playwright, "node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, "playwright-core in "+playwright+" (.ci/run installs it: npm install --prefix "+playwright+" playwright-core --ignore-scripts)")
	}
	if len(missing) > 0 {
		msg := "the browser test needs " + strings.Join(missing, ", ")
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg + "; skipped outside CI")
	}
	return node, chromium, filepath.Join(playwright, "node_modules")
}

// agentOn connects an agent (streamable HTTP, the agents' token, no
// elicitation: it cannot ask a human, so its destructive acts wait for the
// operator).
func agentOn(t *testing.T, base, name string) *client.Client {
	t.Helper()
	headers := map[string]string{"Authorization": "Bearer " + serveToken}
	c, err := client.NewStreamableHttpClient(base+"/mcp", transport.WithHTTPHeaders(headers),
		transport.WithHTTPBasicClient(&http.Client{Transport: agent.WithHeaders{Headers: headers, Next: http.DefaultTransport}, Timeout: time.Minute}))
	require.NoError(t, err)
	var init mcp.InitializeRequest
	init.Params.ClientInfo = mcp.Implementation{Name: name, Version: "1.0"}
	_, err = c.Initialize(context.Background(), init)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// call runs a tool; it answers the structured result and whether it failed.
func call(t *testing.T, c *client.Client, tool string, args map[string]any) (map[string]any, bool) {
	t.Helper()
	var req mcp.CallToolRequest
	req.Params.Name, req.Params.Arguments = tool, args
	res, err := c.CallTool(context.Background(), req)
	require.NoError(t, err)
	raw, _ := json.Marshal(res.StructuredContent)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return out, res.IsError
}

// TestConsoleInABrowser runs keyward serve (the built binary) and drives its
// console in headless Chromium: the login, the keys and audit pages, an
// approval from the agent's request to the approved act, a denial, a
// one-time link viewed once (a second view refused), and an emergency
// revoke from preview to result. With KEYWARD_SCREENSHOTS=docs/screenshots
// it rewrites the README's screenshots (1280x800).
func TestConsoleInABrowser(t *testing.T) {
	node, chromium, playwright := browserTools(t)
	dir := t.TempDir()
	cmd := exec.Command(binary, "serve", "--addr", "127.0.0.1:0")
	cmd.Env = cleanEnv("KEYWARD_DB="+filepath.Join(dir, "keyward.db"), "KEYWARD_HTTP_TOKEN="+serveToken,
		"KEYWARD_OPERATOR_TOKEN="+browserOperatorToken, "KEYWARD_STATE_KEY=QmFzZTY0LWVuY29kZWQgc3RhdGUga2V5IGZvciB0ZXN0cyEhIQ==")
	p := startServe(t, cmd)

	// The agents: one whose revokes wait for the operator, one gone rogue.
	agent := agentOn(t, p.base, "deploy-bot")
	rogue := agentOn(t, p.base, "rogue-agent")
	created, failed := call(t, agent, "create_key", map[string]any{"name": "report-reader"})
	require.False(t, failed, "%v", created)
	require.Equal(t, "url", created["delivery"], "keyward serve with a console delivers by one-time link")
	link := created["link"].(string)
	var waiting []string
	var keys []string
	for _, name := range []string{"ci-cache", "old-staging"} {
		k, failed := call(t, agent, "create_key", map[string]any{"name": name})
		require.False(t, failed)
		id := k["key_id"].(string)
		keys = append(keys, id)
		res, failed := call(t, agent, "revoke_key", map[string]any{"key_id": id})
		require.True(t, failed, "the revoke waits for the operator")
		e := res["error"].(map[string]any)
		require.Equal(t, "awaiting_approval", e["kind"])
		waiting = append(waiting, e["approval"].(map[string]any)["id"].(string))
	}
	var rogueKeys []string
	for _, name := range []string{"scraper", "<img src=x onerror=alert(1)>", "exfil"} {
		k, failed := call(t, rogue, "create_key", map[string]any{"name": name})
		require.False(t, failed)
		rogueKeys = append(rogueKeys, k["key_id"].(string))
	}

	shots := os.Getenv("KEYWARD_SCREENSHOTS")
	if shots != "" {
		if !filepath.IsAbs(shots) {
			shots = filepath.Join("..", "..", shots) // relative to the repository
		}
		require.NoError(t, os.MkdirAll(shots, 0o755))
	}
	plan := map[string]any{
		"base": p.base, "token": browserOperatorToken, "chromium": chromium, "screenshots": shots,
		"approve": waiting[:1], "deny": waiting[1:], "link": link,
		"emergency": map[string]any{"createdBy": "rogue-agent 1.0 as token", "keys": rogueKeys, "keep": keys},
	}
	planFile, resultFile := filepath.Join(dir, "plan.json"), filepath.Join(dir, "result.json")
	b, _ := json.Marshal(plan)
	require.NoError(t, os.WriteFile(planFile, b, 0o600))
	run := exec.Command(node, filepath.Join("..", "..", ".ci", "browser", "console.mjs"))
	run.Env = append(os.Environ(), "KEYWARD_BROWSER_PLAN="+planFile, "KEYWARD_BROWSER_RESULT="+resultFile, "PLAYWRIGHT_DIR="+filepath.Dir(playwright))
	out, err := run.CombinedOutput()
	var result struct {
		OK            bool     `json:"ok"`
		Error         string   `json:"error"`
		Steps         []string `json:"steps"`
		Secret        string   `json:"secret"`
		Copied        string   `json:"copied"`
		CSPViolations []string `json:"cspViolations"`
		PageErrors    []string `json:"pageErrors"`
	}
	raw, rerr := os.ReadFile(resultFile)
	require.NoError(t, rerr, "the browser script wrote no result: %s", out)
	require.NoError(t, json.Unmarshal(raw, &result))
	require.NoError(t, err, "the browser script failed: %s\n%s", result.Error, out)
	require.True(t, result.OK, result.Error)
	assert.Empty(t, result.CSPViolations, "the pages run under their CSP without violations")
	assert.Empty(t, result.PageErrors)
	assert.Equal(t, result.Secret, result.Copied, "the copy button copies the secret")

	// The approved revoke happens on the agent's identical retry; the denied one does not.
	res, failed := call(t, agent, "revoke_key", map[string]any{"key_id": keys[0]})
	require.False(t, failed, "%v", res)
	assert.Equal(t, "approved_by_operator", res["confirmation"])
	res, failed = call(t, agent, "revoke_key", map[string]any{"key_id": keys[1]})
	require.True(t, failed)
	assert.Equal(t, "declined", res["error"].(map[string]any)["kind"])

	// The secret the browser saw works; the model never saw it.
	v, _ := call(t, agent, "validate_key", map[string]any{"key": result.Secret})
	assert.Equal(t, true, v["valid"])
	assert.NotContains(t, string(b), result.Secret)

	// The emergency revoke took the rogue agent's keys, and only those.
	list, _ := call(t, agent, "list_keys", nil)
	var live []string
	for _, k := range list["keys"].([]any) {
		live = append(live, k.(map[string]any)["key_id"].(string))
	}
	for _, id := range rogueKeys {
		assert.NotContains(t, live, id)
	}
	assert.Contains(t, live, keys[1], "the denied revoke left its key")
	logs := p.stop(t)
	assert.NotContains(t, logs, result.Secret)
	assert.NotContains(t, logs, strings.TrimPrefix(link, p.base+"/reveal/"), "the link's token is in no log")
}
