//go:build !unix

package manager

// processAlive cannot tell here, so an intent waits for its lease to end.
func processAlive(int) bool { return true }
