package main

import (
	"testing"

	"github.com/keyward/keyward/examples/internal/agenttest"
)

// The agent runs against a real keyward, with the secret delivered either way.
func TestAgent(t *testing.T) { agenttest.Check(t, "/mcp", run) }
