//go:build unix || js || wasip1

package backstop

import "syscall"

// errnoNames maps errnos to their POSIX names. Where two names share a
// value (EWOULDBLOCK = EAGAIN, EOPNOTSUPP = ENOTSUP on Linux), the first
// listed wins.
var errnoNames = []errnoEntry{
	{syscall.EPERM, "EPERM"},
	{syscall.ENOENT, "ENOENT"},
	{syscall.ESRCH, "ESRCH"},
	{syscall.EINTR, "EINTR"},
	{syscall.EIO, "EIO"},
	{syscall.ENXIO, "ENXIO"},
	{syscall.E2BIG, "E2BIG"},
	{syscall.ENOEXEC, "ENOEXEC"},
	{syscall.EBADF, "EBADF"},
	{syscall.ECHILD, "ECHILD"},
	{syscall.EAGAIN, "EAGAIN"},
	{syscall.ENOMEM, "ENOMEM"},
	{syscall.EACCES, "EACCES"},
	{syscall.EFAULT, "EFAULT"},
	{syscall.EBUSY, "EBUSY"},
	{syscall.EEXIST, "EEXIST"},
	{syscall.EXDEV, "EXDEV"},
	{syscall.ENODEV, "ENODEV"},
	{syscall.ENOTDIR, "ENOTDIR"},
	{syscall.EISDIR, "EISDIR"},
	{syscall.EINVAL, "EINVAL"},
	{syscall.ENFILE, "ENFILE"},
	{syscall.EMFILE, "EMFILE"},
	{syscall.ENOTTY, "ENOTTY"},
	{syscall.EFBIG, "EFBIG"},
	{syscall.ENOSPC, "ENOSPC"},
	{syscall.ESPIPE, "ESPIPE"},
	{syscall.EROFS, "EROFS"},
	{syscall.EMLINK, "EMLINK"},
	{syscall.EPIPE, "EPIPE"},
	{syscall.EDOM, "EDOM"},
	{syscall.ERANGE, "ERANGE"},
	{syscall.EDEADLK, "EDEADLK"},
	{syscall.ENAMETOOLONG, "ENAMETOOLONG"},
	{syscall.ENOLCK, "ENOLCK"},
	{syscall.ENOSYS, "ENOSYS"},
	{syscall.ENOTEMPTY, "ENOTEMPTY"},
	{syscall.ELOOP, "ELOOP"},
	{syscall.ENOMSG, "ENOMSG"},
	{syscall.EIDRM, "EIDRM"},
	{syscall.EPROTO, "EPROTO"},
	{syscall.EBADMSG, "EBADMSG"},
	{syscall.EOVERFLOW, "EOVERFLOW"},
	{syscall.EILSEQ, "EILSEQ"},
	{syscall.ENOTSOCK, "ENOTSOCK"},
	{syscall.EDESTADDRREQ, "EDESTADDRREQ"},
	{syscall.EMSGSIZE, "EMSGSIZE"},
	{syscall.EPROTOTYPE, "EPROTOTYPE"},
	{syscall.ENOPROTOOPT, "ENOPROTOOPT"},
	{syscall.EPROTONOSUPPORT, "EPROTONOSUPPORT"},
	{syscall.ENOTSUP, "ENOTSUP"},
	{syscall.EAFNOSUPPORT, "EAFNOSUPPORT"},
	{syscall.EADDRINUSE, "EADDRINUSE"},
	{syscall.EADDRNOTAVAIL, "EADDRNOTAVAIL"},
	{syscall.ENETDOWN, "ENETDOWN"},
	{syscall.ENETUNREACH, "ENETUNREACH"},
	{syscall.ENETRESET, "ENETRESET"},
	{syscall.ECONNABORTED, "ECONNABORTED"},
	{syscall.ECONNRESET, "ECONNRESET"},
	{syscall.ENOBUFS, "ENOBUFS"},
	{syscall.EISCONN, "EISCONN"},
	{syscall.ENOTCONN, "ENOTCONN"},
	{syscall.ETIMEDOUT, "ETIMEDOUT"},
	{syscall.ECONNREFUSED, "ECONNREFUSED"},
	{syscall.EHOSTUNREACH, "EHOSTUNREACH"},
	{syscall.EALREADY, "EALREADY"},
	{syscall.EINPROGRESS, "EINPROGRESS"},
	{syscall.ESTALE, "ESTALE"},
	{syscall.EDQUOT, "EDQUOT"},
	{syscall.ECANCELED, "ECANCELED"},
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
