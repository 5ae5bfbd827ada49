//go:build !linux

package peer

import "net/netip"

// Supported reports whether Owner can work here: not on this system.
func Supported() error { return ErrUnsupported }

// Owner cannot tell on this system.
func Owner(_, _ netip.AddrPort) (int, error) { return 0, ErrUnsupported }
