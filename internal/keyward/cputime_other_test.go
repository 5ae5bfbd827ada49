//go:build !unix

package keyward

import "time"

// cpuTime is not measured here: benchmarks report throughput only.
func cpuTime() (time.Duration, bool) { return 0, false }
