package tools

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/keyward/keyward/internal/sanitize"
	"github.com/keyward/keyward/internal/secret"
)

// mcp-go validates every call against the tool's input schema before any
// handler runs, but its messages print the validator's Go structs and quote
// the offending values (which may be 1 MiB long, or a secret). explainer
// checks the same arguments against the same schema — compiled from the
// very JSON tools/list shows — only to say in sentences what is wrong,
// without ever repeating a value.
type explainer struct {
	tool mcp.Tool
	// hint may say more about a value an enum refuses (a provider that is
	// known but not configured); "" when it has nothing to add.
	hint func(arg string, value any) string

	// The schema is compiled at the first refusal, not at start-up: twelve
	// compilations cost more than the rest of start-up together, and most
	// runs refuse nothing. TestEveryToolSchemaCompiles holds the guarantee
	// that each compiles.
	once    sync.Once
	schema  *jsonschema.Schema
	compErr error
}

func newExplainer(t mcp.Tool, hint func(arg string, value any) string) *explainer {
	return &explainer{tool: t, hint: hint}
}

// compiled is the tool's input schema, compiled once.
func (e *explainer) compiled() (*jsonschema.Schema, error) {
	e.once.Do(func() { e.schema, e.compErr = compileInput(e.tool) })
	return e.schema, e.compErr
}

// compileInput compiles a tool's input schema from the JSON tools/list shows.
func compileInput(t mcp.Tool) (*jsonschema.Schema, error) {
	raw, err := json.Marshal(t.InputSchema)
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	url := "mem:///keyward/" + t.Name + ".json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, err
	}
	s, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("tool %s: its input schema does not compile: %w", t.Name, err)
	}
	return s, nil
}

// problems lists what is wrong with args, one sentence each; none when they pass.
func (e *explainer) problems(args any) []string {
	raw, err := json.Marshal(args)
	if err != nil {
		return []string{"the arguments are not a JSON object"}
	}
	if bytes.Equal(raw, []byte("null")) {
		raw = []byte("{}")
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return []string{"the arguments are not a JSON object"}
	}
	schema, err := e.compiled()
	if err != nil {
		return nil // said as "they do not match its input schema"
	}
	verr, ok := schema.Validate(v).(*jsonschema.ValidationError)
	if !ok || verr == nil {
		return nil
	}
	values, _ := v.(map[string]any)
	var out []string
	seen := map[string]bool{}
	var walk func(*jsonschema.ValidationError)
	walk = func(ve *jsonschema.ValidationError) {
		if len(ve.Causes) == 0 {
			if s := e.sentence(ve, values); !seen[s] {
				seen[s] = true
				out = append(out, s)
			}
			return
		}
		for _, c := range ve.Causes {
			walk(c)
		}
	}
	walk(verr)
	return out
}

// forms say, per argument, what its pattern accepts.
var forms = map[string]string{
	"key_id":     "must be a key id as list_keys shows it: printable characters, no spaces",
	"name":       "may not contain control, invisible or format characters (such as newlines, escape sequences, zero-width or bidirectional marks); use letters, digits, spaces and punctuation",
	"expires_in": "must be a duration such as 12h, 7d, 30d or 1y (units s, m, h, d, w, y; sums such as 1d12h), or \"never\"",
	"grace":      "must be a duration such as 10m, 1h or 1d (units s, m, h, d, w, y), or 0",
	"cursor":     "must be the next_cursor of the previous answer, unchanged",
	"since":      "must be a duration back from now such as 24h or 7d, or an RFC 3339 time such as 2026-01-02T15:04:05Z",
	"scopes":     "scope names are printable characters without spaces (list_scopes shows them)",
	"secret_file": "must be the path of a secret file keyward wrote, inside KEYWARD_SECRETS_DIR: a name ending in .key or .key.previous " +
		"(secret_file or previous_secret_file of a create_key, rotate_key or reissue_key answer)",
}

func (e *explainer) sentence(ve *jsonschema.ValidationError, values map[string]any) string {
	arg, where := "", "the arguments"
	if len(ve.InstanceLocation) > 0 {
		arg = ve.InstanceLocation[0]
		where = scrub(arg, 48)
		if len(ve.InstanceLocation) > 1 {
			if i, err := strconv.Atoi(ve.InstanceLocation[1]); err == nil {
				where = fmt.Sprintf("%s item %d", where, i+1)
			}
		}
	}
	switch k := ve.ErrorKind.(type) {
	case *kind.Type:
		return fmt.Sprintf("%s must be %s, not %s", where, withArticles(k.Want), withArticle(k.Got))
	case *kind.Enum:
		if e.hint != nil && len(ve.InstanceLocation) == 1 {
			if h := e.hint(arg, values[arg]); h != "" {
				return h
			}
		}
		vals := make([]string, 0, len(k.Want))
		for _, w := range k.Want {
			vals = append(vals, fmt.Sprintf("%q", fmt.Sprint(w)))
		}
		return fmt.Sprintf("%s must be one of %s", where, strings.Join(vals, ", "))
	case *kind.Required:
		return fmt.Sprintf("%s %s required", strings.Join(k.Missing, " and "), plural(len(k.Missing), "is", "are"))
	case *kind.AdditionalProperties:
		names := make([]string, 0, len(k.Properties))
		for _, p := range k.Properties {
			// Masked whole before it is cut: a cut secret is no longer recognisable.
			names = append(names, fmt.Sprintf("%q", sanitize.Cut(secret.MaskText(p), 48)))
		}
		return fmt.Sprintf("unknown %s %s", plural(len(names), "argument", "arguments"), strings.Join(names, ", "))
	case *kind.MaxLength:
		return fmt.Sprintf("%s is %d characters long; at most %d are accepted", where, k.Got, k.Want)
	case *kind.MinLength:
		return fmt.Sprintf("%s is empty; leave it out or give a value", where)
	case *kind.Pattern:
		if f, ok := forms[arg]; ok {
			return where + " " + f
		}
		return where + " is not in the accepted form"
	case *kind.Minimum:
		return fmt.Sprintf("%s must be at least %s", where, k.Want.FloatString(0))
	case *kind.Maximum:
		return fmt.Sprintf("%s must be at most %s", where, k.Want.FloatString(0))
	case *kind.MinItems:
		return fmt.Sprintf("%s must have at least %d %s; leave it out instead of sending an empty list", where, k.Want, plural(k.Want, "item", "items"))
	case *kind.MaxItems:
		return fmt.Sprintf("%s has %d items; at most %d are accepted", where, k.Got, k.Want)
	case *kind.UniqueItems:
		return fmt.Sprintf("%s names the same item twice (items %d and %d)", where, k.Duplicates[0]+1, k.Duplicates[1]+1)
	case *kind.FalseSchema:
		return where + " is not accepted"
	}
	return where + " is not accepted by the input schema"
}

func withArticles(types []string) string {
	out := make([]string, len(types))
	for i, t := range types {
		out[i] = withArticle(t)
	}
	return strings.Join(out, " or ")
}

func withArticle(t string) string {
	switch t {
	case "array", "object", "integer":
		return "an " + t
	case "null":
		return "null"
	case "number":
		return "a number"
	}
	return "a " + t
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
