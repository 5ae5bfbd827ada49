package tools

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/keyward/keyward/internal/sanitize"
	"github.com/keyward/keyward/internal/secret"
)

// maxErrorEcho bounds an error text sent back to the model.
const maxErrorEcho = 2000

// scrub makes text safe to echo to a model, a log or a terminal.
func scrub(s string, max int) string { return sanitize.Echo(s, max) }

// secretArgs are the only arguments that may hold a secret.
var secretArgs = map[string]map[string]bool{"validate_key": {"key": true}}

// secretWhereNoneBelongs refuses a call that passes a secret where an id, a
// name or a filter belongs: the secret would otherwise be echoed, logged and
// stored. It answers "" when the arguments hold none.
func secretWhereNoneBelongs(d definition, req mcp.CallToolRequest) string {
	var found []string
	args := req.GetArguments()
	names := make([]string, 0, len(args))
	for n := range args {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if secretArgs[d.tool.Name][n] {
			continue
		}
		if containsSecret(args[n]) {
			found = append(found, n)
		}
	}
	if len(found) == 0 {
		return ""
	}
	return fmt.Sprintf("%s holds what looks like a secret, so nothing was done and it was not recorded. Pass a key's id (list_keys shows ids; validate_key tells which key a secret belongs to), never the secret itself",
		strings.Join(found, " and "))
}

func containsSecret(v any) bool {
	switch x := v.(type) {
	case string:
		return secret.Contains(x)
	case []any:
		for _, item := range x {
			if containsSecret(item) {
				return true
			}
		}
	case map[string]any:
		for k, item := range x {
			if secret.Contains(k) || containsSecret(item) {
				return true
			}
		}
	}
	return false
}

// boundedArg reads a string argument for an audit record of a refused call:
// masked and cut short, "" when it is not a string.
func boundedArg(args map[string]any, name string) string {
	s, _ := args[name].(string)
	return scrub(s, maxKeyIDLen)
}
