package version

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestVersionFromBuildInfo(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	for want, info := range map[string]*debug.BuildInfo{
		"v1.4.0":                        {Main: debug.Module{Version: "v1.4.0"}}, // go install …@v1.4.0
		"dev-0123456789ab":              {Main: debug.Module{Version: "(devel)"}, Settings: vcs("0123456789abcdef0123", "false")},
		"dev-0123456789ab-modified":     {Main: debug.Module{Version: "(devel)"}, Settings: vcs("0123456789abcdef0123", "true")},
		"dev":                           {Main: debug.Module{Version: "(devel)"}},
		"v0.0.0-20261123120000-abcdef0": {Main: debug.Module{Version: "v0.0.0-20261123120000-abcdef0"}},
	} {
		assert.Equal(t, want, fromBuild(info, true))
	}
	assert.Equal(t, "dev", fromBuild(nil, false))
	assert.Equal(t, "keyward/"+Version, UserAgent())
}
