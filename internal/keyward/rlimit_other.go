//go:build !unix

package keyward

// fdLimit: no open-file limit to read on this system, so KEYWARD_MAX_CONNS
// applies as set.
func fdLimit() uint64 { return 0 }
