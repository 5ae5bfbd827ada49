package policy_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/provider"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	local := &testProvider{
		name: "local", title: "the local authority",
		caps:     provider.Capabilities{Manage: true, Scopes: true},
		vocab:    []provider.Scope{{Name: "read", ReadOnly: true}, {Name: "write"}},
		defaults: []string{"read"},
	}
	vast := &testProvider{
		name: "vast", title: "Vast.ai",
		caps: provider.Capabilities{Manage: true, Scopes: true},
		vocab: []provider.Scope{
			{Name: "instance_read", ReadOnly: true}, {Name: "instance_write"}, {Name: "machine_read", ReadOnly: true},
			{Name: "billing_read", ReadOnly: true, Sensitive: true}, {Name: "billing_write", Sensitive: true},
		},
		defaults: []string{"instance_read"},
	}
	lyceum := &testProvider{name: "lyceum", title: "Lyceum", caps: provider.Capabilities{Manage: true}}
	all := []provider.Provider{local, vast, lyceum}

	type scopes = map[string][]string
	cases := []struct {
		name              string
		defaults, allowed scopes
		providers         []provider.Provider
		problems          int      // lines in the error, one per problem
		want              []string // substrings of the error; nil: no error
	}{
		{name: "nothing set"},
		{name: "defaults within operator ceilings",
			defaults: scopes{"local": {"read"}, "vast": {"instance_read", "machine_read"}},
			allowed:  scopes{"local": {"read", "write"}, "vast": {"instance_read", "machine_read", "billing_read"}}},
		{name: "default within the built-in ceiling", defaults: scopes{"local": {"write"}, "vast": {"instance_write"}}},
		{name: "ceiling keeps the built-in default", allowed: scopes{"vast": {"instance_read", "billing_write"}}},
		{name: "sensitive default allowed by the operator's ceiling",
			defaults: scopes{"vast": {"billing_read"}}, allowed: scopes{"vast": {"billing_read", "instance_read"}}},
		{name: "empty lists mean the built-in ones", defaults: scopes{"lyceum": {}}, allowed: scopes{"local": {}}},

		{name: "default above the operator's ceiling (issue 8)", problems: 1,
			defaults: scopes{"local": {"write"}}, allowed: scopes{"local": {"read"}},
			want: []string{"KEYWARD_DEFAULT_SCOPES_LOCAL gives write, which KEYWARD_ALLOWED_SCOPES_LOCAL (read) does not allow", "take it out of the default or add it to the ceiling"}},
		{name: "default above the built-in ceiling", problems: 1, defaults: scopes{"vast": {"instance_read", "billing_read", "billing_write"}},
			want: []string{"KEYWARD_DEFAULT_SCOPES_VAST gives billing_read, billing_write, which is above the default ceiling on Vast.ai (instance_read, instance_write, machine_read)", "set KEYWARD_ALLOWED_SCOPES_VAST to allow them"}},
		{name: "ceiling without the built-in default", problems: 1, allowed: scopes{"vast": {"machine_read"}},
			want: []string{"KEYWARD_ALLOWED_SCOPES_VAST (machine_read) leaves out instance_read, which keys created on Vast.ai without scopes get by default", "set KEYWARD_DEFAULT_SCOPES_VAST"}},
		{name: "default not in the vocabulary", problems: 1, defaults: scopes{"vast": {"instance_read", "instance_raed"}},
			want: []string{`KEYWARD_DEFAULT_SCOPES_VAST names "instance_raed", which is not a scope of Vast.ai`, "its scopes are instance_read, instance_write, machine_read, billing_read, billing_write"}},
		{name: "ceiling not in the vocabulary", problems: 1, allowed: scopes{"vast": {"instance_read", "gpu_write"}},
			want: []string{`KEYWARD_ALLOWED_SCOPES_VAST names "gpu_write", which is not a scope of Vast.ai`}},
		{name: "local scope not in KEYWARD_LOCAL_SCOPES", problems: 1, defaults: scopes{"local": {"admin"}},
			want: []string{`KEYWARD_DEFAULT_SCOPES_LOCAL names "admin", which is not a scope of the local authority`, "read, write (KEYWARD_LOCAL_SCOPES)", "add the scope to KEYWARD_LOCAL_SCOPES"}},
		{name: "scopes for a platform without scopes", problems: 2, defaults: scopes{"lyceum": {"read"}}, allowed: scopes{"lyceum": {"read"}},
			want: []string{"KEYWARD_DEFAULT_SCOPES_LYCEUM is set, but Lyceum keys have no scopes", "KEYWARD_ALLOWED_SCOPES_LYCEUM is set, but Lyceum keys have no scopes", "KEYWARD_ALLOW_FULL_ACCESS"}},
		{name: "a provider keyward does not have", problems: 2, defaults: scopes{"aws": {"read"}}, allowed: scopes{"lium": {"read"}},
			want: []string{`KEYWARD_DEFAULT_SCOPES_AWS is set, but keyward has no provider "aws"; the providers are LOCAL, VAST, LYCEUM`, `KEYWARD_ALLOWED_SCOPES_LIUM is set, but keyward has no provider "lium"`}},
		{name: "every problem is reported", problems: 3,
			defaults: scopes{"local": {"write"}, "vast": {"nope"}, "lyceum": {"x"}}, allowed: scopes{"local": {"read"}},
			want: []string{"KEYWARD_DEFAULT_SCOPES_LOCAL gives write", `KEYWARD_DEFAULT_SCOPES_VAST names "nope"`, "KEYWARD_DEFAULT_SCOPES_LYCEUM is set"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			providers := c.providers
			if providers == nil {
				providers = all
			}
			err := policy.New(policy.Rules{DefaultScopes: c.defaults, AllowedScopes: c.allowed}).Check(providers)
			if c.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range c.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Len(t, strings.Split(err.Error(), "\n"), c.problems, "one line per problem")
		})
	}
}
