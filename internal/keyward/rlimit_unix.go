//go:build unix

package keyward

import "syscall"

// fdLimit is the process's open-file limit (Go raises the soft limit to the
// hard one at start-up); 0 when it cannot be read.
func fdLimit() uint64 {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return 0
	}
	return uint64(l.Cur)
}
