//go:build !unix && !js && !wasip1 && !windows

package backstop

// errnoName knows no names where syscall.Errno has no POSIX meaning.
func errnoName(error) string { return "" }

// exitSignal knows no signals on this platform.
func exitSignal(any) int { return 0 }
