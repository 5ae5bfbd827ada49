package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A contradiction found at start-up stops keyward before it serves, with one
// log line per problem, each naming its variables.
func TestContradictorySettingsStopStartUp(t *testing.T) {
	t.Setenv("KEYWARD_DB", filepath.Join(t.TempDir(), "keyward.db"))
	t.Setenv("KEYWARD_DEFAULT_SCOPES_LOCAL", "write")
	t.Setenv("KEYWARD_ALLOWED_SCOPES_LOCAL", "read")
	t.Setenv("KEYWARD_ALLOWED_SCOPES_LYCEUM", "read")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), nil, strings.NewReader(""), &stdout, &stderr)
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout.String())
	lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
	var problems []string
	for _, l := range lines {
		if strings.Contains(l, "keyward could not start") {
			problems = append(problems, l)
		}
	}
	if assert.Len(t, problems, 2, stderr.String()) {
		assert.Contains(t, problems[0], "KEYWARD_DEFAULT_SCOPES_LOCAL gives write, which KEYWARD_ALLOWED_SCOPES_LOCAL (read) does not allow")
		assert.Contains(t, problems[1], "KEYWARD_ALLOWED_SCOPES_LYCEUM is set, but Lyceum keys have no scopes")
	}
	assert.Contains(t, stderr.String(), "KEYWARD_ALLOWED_SCOPES_LYCEUM is set but LYCEUM_API_KEY is not", "the warning is logged too")
}
