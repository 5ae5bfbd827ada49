// Package version holds the build's version: set with
// -ldflags "-X github.com/keyward/keyward/internal/version.Version=v1.2.3",
// or else read from the build information Go records (the module version of
// `go install github.com/keyward/keyward/cmd/keyward@v1.2.3`, or the VCS
// revision of a build from a checkout).
package version

import (
	"runtime/debug"
	"strings"
)

// Version is the build's version; "dev" when nothing says otherwise.
var Version = fromBuild(debug.ReadBuildInfo())

func fromBuild(info *debug.BuildInfo, ok bool) string {
	if !ok || info == nil {
		return "dev"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value
		}
	}
	if rev == "" {
		return "dev"
	}
	v := "dev-" + rev[:min(12, len(rev))]
	if modified == "true" {
		v += "-modified"
	}
	return strings.TrimSpace(v)
}

// UserAgent is what keyward sends to every platform.
func UserAgent() string { return "keyward/" + Version }
