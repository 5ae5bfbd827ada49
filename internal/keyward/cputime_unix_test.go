//go:build unix

package keyward

import (
	"syscall"
	"time"
)

// cpuTime is the CPU time (user and system) this process has used so far,
// and true; benchmarks read it around each arm, which runs alone.
func cpuTime() (time.Duration, bool) {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
