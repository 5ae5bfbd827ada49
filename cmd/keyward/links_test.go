package main

import (
	"html"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// In stdio mode with KEYWARD_REVEAL=url, keyward serves one-time links on a
// loopback page of its own: the human (this user) opens the link, sees the
// secret once, and the model never does.
func TestStdioOneTimeLinkPage(t *testing.T) {
	if runtime.GOOS != "linux" {
		p := spawn(t, "KEYWARD_DB="+filepath.Join(t.TempDir(), "k.db"), "KEYWARD_REVEAL=url")
		p.stdin.Close()
		require.Error(t, p.cmd.Wait())
		assert.Contains(t, p.stderrText(), "only Linux does")
		return
	}
	dir := t.TempDir()
	p := spawn(t, "KEYWARD_DB="+filepath.Join(dir, "k.db"), "KEYWARD_REVEAL=url")
	p.initialize()
	out := p.tool("create_key", map[string]any{"name": "svc"}, false)
	assert.Equal(t, "url", out["delivery"])
	link, _ := out["link"].(string)
	require.Regexp(t, `^http://127\.0\.0\.1:[0-9]+/reveal/[A-Za-z0-9_-]{43}$`, link)

	resp, err := http.Get(link)
	require.NoError(t, err)
	page := readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, page)
	assert.Contains(t, page, "Show the secret")
	m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(page)
	require.NotNil(t, m)

	u, _ := url.Parse(link)
	origin := "http://" + u.Host
	post := func(form url.Values, origin string) (*http.Response, string) {
		req, _ := http.NewRequest("POST", link, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		return resp, readAll(t, resp)
	}
	resp, _ = post(url.Values{"csrf": {m[1]}}, "http://evil.example")
	assert.Equal(t, http.StatusForbidden, resp.StatusCode, "a post from another site is refused")
	resp, page = post(url.Values{"csrf": {m[1]}}, origin)
	require.Equal(t, http.StatusOK, resp.StatusCode, page)
	s := regexp.MustCompile(`<pre id="secret" class="secret">([^<]+)</pre>`).FindStringSubmatch(page)
	require.NotNil(t, s)
	secret := html.UnescapeString(s[1])
	assert.Equal(t, true, p.tool("validate_key", map[string]any{"key": secret}, false)["valid"])
	resp, page = post(url.Values{"csrf": {m[1]}}, origin)
	assert.Equal(t, http.StatusGone, resp.StatusCode)
	assert.Contains(t, page, "already viewed")

	p.stop()
	assert.NotContains(t, p.stderrText(), secret)
	assert.NotContains(t, p.stdoutText(), secret, "the secret never went through the MCP client")
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}
