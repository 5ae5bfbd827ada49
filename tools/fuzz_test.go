package tools

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/sanitize"
)

// FuzzArgumentBinding: for every tool, arguments its schema accepts always
// bind to its argument struct (so a handler never meets a type it did not
// expect after validation), and arguments it refuses are explained in a
// bounded sentence with nothing invisible in it.
func FuzzArgumentBinding(f *testing.F) {
	for _, s := range []string{
		`{}`, `null`, `{"provider":"local","key_id":"key_1"}`, `{"provider":["local"],"key_id":"k"}`,
		`{"name":"a\nb","scopes":["read"],"expires_in":"30d"}`, `{"scopes":"read,write"}`, `{"limit":1.5}`,
		`{"active":"false","key_id":"k"}`, `{"grace":"0"}`, `{"cursor":"after:key_1"}`, `{"since":"2026-01-02T15:04:05Z"}`,
		`{"key":"kw_x","provider":"local"}`, `{"bogus":1}`, `{"name":{"nested":true}}`, `[1,2]`, `"str"`,
	} {
		for i := range all(Surface{Configured: []string{"local"}, Known: []string{"local"}, DefaultTTL: "30d", MaxTTL: "90d"}) {
			f.Add(i, s)
		}
	}
	defs := all(Surface{Configured: []string{"local", "vast"}, Known: []string{"local", "vast", "lium"}, DefaultTTL: "30d", MaxTTL: "90d"})
	explainers := make([]*explainer, len(defs))
	for i, d := range defs {
		e := newExplainer(d.tool, nil)
		if _, err := e.compiled(); err != nil {
			f.Fatal(err)
		}
		explainers[i] = e
	}
	f.Fuzz(func(t *testing.T, which int, raw string) {
		if which < 0 {
			which = -which
		}
		d, e := defs[which%len(defs)], explainers[which%len(defs)]
		var args any
		if json.Unmarshal([]byte(raw), &args) != nil {
			return
		}
		problems := e.problems(args)
		if len(problems) == 0 {
			req := mcp.CallToolRequest{}
			req.Params.Arguments = args
			v := newOf(d)
			if err := req.BindArguments(v); err != nil {
				t.Fatalf("%s: %s passes the schema but does not bind: %v", d.tool.Name, raw, err)
			}
			return
		}
		msg := scrub(strings.Join(problems, "; "), maxErrorEcho)
		if len(msg) > maxErrorEcho || strings.IndexFunc(msg, sanitize.Invisible) >= 0 {
			t.Fatalf("%s: unbounded or invisible explanation %q", d.tool.Name, msg)
		}
	})
}

// newOf allocates the argument struct of d, to bind by hand.
func newOf(d definition) any { return reflect.New(d.args).Interface() }
