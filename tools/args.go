package tools

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
)

// args reads tool arguments strictly: a wrong type or an unknown name is an
// error that says what the tool takes, so a model can correct itself.
type args struct {
	values map[string]any
	errs   []string
}

func newArgs(raw any, allowed []string) (*args, error) {
	a := &args{values: map[string]any{}}
	switch v := raw.(type) {
	case nil:
	case map[string]any:
		a.values = v
	case json.RawMessage:
		if len(v) > 0 && string(v) != "null" {
			if err := json.Unmarshal(v, &a.values); err != nil {
				return nil, fmt.Errorf("arguments must be a JSON object")
			}
		}
	default:
		return nil, fmt.Errorf("arguments must be a JSON object")
	}
	for name := range a.values {
		if !slices.Contains(allowed, name) {
			if len(allowed) == 0 {
				return nil, fmt.Errorf("unknown argument %q; this tool takes no arguments", name)
			}
			return nil, fmt.Errorf("unknown argument %q; this tool takes %s", name, strings.Join(allowed, ", "))
		}
	}
	return a, nil
}

func (a *args) fail(format string, v ...any) { a.errs = append(a.errs, fmt.Sprintf(format, v...)) }

func (a *args) err() error {
	if len(a.errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s", strings.Join(a.errs, "; "))
}

func (a *args) str(name string) string {
	p := a.strPtr(name)
	if p == nil {
		return ""
	}
	return *p
}

func (a *args) strPtr(name string) *string {
	v, ok := a.values[name]
	if !ok || v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		a.fail("%s must be a string", name)
		return nil
	}
	return &s
}

// strings returns nil when absent, so "not given" differs from "empty list".
func (a *args) strings(name string) []string {
	v, ok := a.values[name]
	if !ok || v == nil {
		return nil
	}
	list, ok := v.([]any)
	if !ok {
		if s, isStr := v.(string); isStr {
			// Models sometimes send "read,write"; accept it rather than bounce.
			return splitList(s)
		}
		a.fail("%s must be an array of strings, e.g. [\"read\"]", name)
		return nil
	}
	out := make([]string, 0, len(list))
	for _, item := range list {
		s, ok := item.(string)
		if !ok {
			a.fail("%s must be an array of strings, e.g. [\"read\"]", name)
			return nil
		}
		out = append(out, s)
	}
	return out
}

func splitList(s string) []string {
	out := []string{}
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

func (a *args) boolPtr(name string) *bool {
	v, ok := a.values[name]
	if !ok || v == nil {
		return nil
	}
	b, ok := v.(bool)
	if !ok {
		a.fail("%s must be true or false", name)
		return nil
	}
	return &b
}

func (a *args) integer(name string, lo, hi int) int {
	v, ok := a.values[name]
	if !ok || v == nil {
		return 0
	}
	f, ok := v.(float64)
	if !ok || f != math.Trunc(f) {
		a.fail("%s must be a whole number", name)
		return 0
	}
	if f < float64(lo) || f > float64(hi) {
		a.fail("%s must be between %d and %d", name, lo, hi)
		return 0
	}
	return int(f)
}

// Shared argument definitions: one name, one meaning, across all tools.

func providerArg(providers []string) mcp.ToolOption {
	return mcp.WithString("provider",
		mcp.Description("Where the key lives. Default \"local\", keyward's own key authority. list_providers shows what each provider can do."),
		mcp.Enum(providers...), mcp.DefaultString("local"))
}

func keyIDArg() mcp.ToolOption {
	return mcp.WithString("key_id", mcp.Required(), mcp.MinLength(1), mcp.MaxLength(200),
		mcp.Description("The key's id as list_keys shows it (not the secret)."))
}

func nameArg(required bool, what string) mcp.ToolOption {
	opts := []mcp.PropertyOption{mcp.MinLength(1), mcp.MaxLength(100), mcp.Description(what)}
	if required {
		opts = append(opts, mcp.Required())
	}
	return mcp.WithString("name", opts...)
}

func scopesArg(what string) mcp.ToolOption {
	return mcp.WithArray("scopes", mcp.WithStringItems(mcp.MinLength(1)), mcp.UniqueItems(true), mcp.MaxItems(64), mcp.Description(what))
}

const durationPattern = `^(never|([0-9]+[smhdwy])+)$`

func expiresInArg(what string) mcp.ToolOption {
	return mcp.WithString("expires_in", mcp.Pattern(durationPattern), mcp.Description(what))
}
