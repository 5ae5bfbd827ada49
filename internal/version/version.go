// Package version holds the build's version, set with
// -ldflags "-X github.com/keyward/keyward/internal/version.Version=v1.2.3".
package version

// Version is "dev" for builds without ldflags.
var Version = "dev"

// UserAgent is what keyward sends to every platform.
func UserAgent() string { return "keyward/" + Version }
