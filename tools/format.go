package tools

import (
	"fmt"
	"strings"
	"time"
)

// maxTextLines keeps the text part of long answers short; the structured
// result always has everything.
const maxTextLines = 20

func when(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format(time.RFC3339)
}

// keyLine is the one-line text form of a key, used by every tool that shows keys.
func keyLine(k keyJSON) string {
	state := "active"
	if !k.Active {
		state = "disabled"
	}
	scopes := strings.Join(k.Scopes, ",")
	if k.FullAccess {
		scopes = "full access"
	}
	return fmt.Sprintf("%s %q [%s] %s, %s, expires %s", k.KeyID, k.Name, scopes, k.Masked, state, when(k.ExpiresAt))
}

// secretText describes a new secret's whereabouts without ever printing it,
// except in inline mode where the result itself carries it.
func secretText(verb string, r secretJSON) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s key %s.", verb, r.Provider, keyLine(r.keyJSON))
	switch {
	case r.Secret != "":
		fmt.Fprintf(&b, "\nSecret (shown once): %s", r.Secret)
	case r.SecretFile != "":
		fmt.Fprintf(&b, "\nSecret written to %s.", r.SecretFile)
	case r.Link != "" && r.LinkShown == nil:
		fmt.Fprintf(&b, "\nThe secret waits behind a one-time link for the human (not for you): %s", r.Link)
	}
	if r.ReplacedKeyID != "" {
		fmt.Fprintf(&b, "\nReplaces %s.", r.ReplacedKeyID)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "\nNote: %s.", strings.TrimSuffix(n, "."))
	}
	return b.String()
}
