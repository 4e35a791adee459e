//go:build windows

package backstop

import "syscall"

// errnoNames maps the Winsock and Win32 errors Go's net and os packages
// report on Windows to the POSIX names the classifier's rules use.
var errnoNames = []errnoEntry{
	{10054, "ECONNRESET"},   // WSAECONNRESET
	{10061, "ECONNREFUSED"}, // WSAECONNREFUSED
	{10053, "ECONNABORTED"}, // WSAECONNABORTED
	{10060, "ETIMEDOUT"},    // WSAETIMEDOUT
	{10065, "EHOSTUNREACH"}, // WSAEHOSTUNREACH
	{10051, "ENETUNREACH"},  // WSAENETUNREACH
	{10050, "ENETDOWN"},     // WSAENETDOWN
	{10052, "ENETRESET"},    // WSAENETRESET
	{10048, "EADDRINUSE"},   // WSAEADDRINUSE
	{10049, "EADDRNOTAVAIL"},
	{10013, "EACCES"}, // WSAEACCES
	{109, "EPIPE"},    // ERROR_BROKEN_PIPE
	{232, "EPIPE"},    // ERROR_NO_DATA (pipe being closed)
	{2, "ENOENT"},     // ERROR_FILE_NOT_FOUND
	{3, "ENOENT"},     // ERROR_PATH_NOT_FOUND
	{5, "EACCES"},     // ERROR_ACCESS_DENIED
	{112, "ENOSPC"},   // ERROR_DISK_FULL
	{80, "EEXIST"},    // ERROR_FILE_EXISTS
}

// errnoName is e's POSIX name if e is a syscall.Errno this table knows.
func errnoName(e error) string {
	if errno, ok := e.(syscall.Errno); ok {
		for _, n := range errnoNames {
			if n.errno == errno {
				return n.name
			}
		}
	}
	return ""
}

type errnoEntry struct {
	errno syscall.Errno
	name  string
}

// exitSignal is the signal that ended a process, from the Sys() of its
// os.ProcessState (a syscall.WaitStatus), or 0.
func exitSignal(sys any) int {
	ws, ok := sys.(interface {
		Signaled() bool
		Signal() syscall.Signal
	})
	if !ok || !ws.Signaled() {
		return 0
	}
	return int(ws.Signal())
}
