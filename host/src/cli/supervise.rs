//! Running one attempt: the command in its own process group, stderr (and on
//! request stdout) teed to ours while its last lines are kept for the log
//! readers, and a stop (attempt
//! timeout, a signal to backstop, a lost lease) that ends the whole group:
//! SIGTERM, then SIGKILL after a grace period.

use std::ffi::OsString;
use std::io::{self, IsTerminal, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use super::tail::RawTail;

/// Why backstop stops a running attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Backstop received this signal; it is forwarded to the group.
    Signal(i32),
    LeaseLost,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    Exited(i32),
    Signaled(i32),
    TimedOut,
    Stopped(Stop),
}

#[derive(Debug)]
pub struct Finished {
    pub ended: Ended,
    /// The attempt timeout it ran under.
    pub timeout: Option<Duration>,
    pub duration: Duration,
    pub stderr_tail: String,
    /// The end of stdout, when it was captured.
    pub stdout_tail: Option<String>,
}

pub struct Running {
    child: Child,
    /// The child's pid, which is also its process group id.
    pub pid: i32,
    started: Instant,
    tail: Tail,
    stdout_tail: Option<Tail>,
}

/// A stream's end as its pump keeps it; the condvar says when it closed.
type Tail = Arc<(Mutex<RawTail>, Condvar)>;

/// How often a running attempt is checked for a lost lease (the lease
/// thread flags it; signals and the command's exit wake the wait at once).
const LEASE_CHECK: Duration = Duration::from_millis(100);

/// Start `argv` with `env` added, as the leader of a new process group. With
/// `capture_stdout`, its stdout is teed like stderr and its end kept too.
pub fn spawn(
    argv: &[OsString],
    env: &[(&str, String)],
    capture_stdout: bool,
) -> io::Result<Running> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no command given"))?;
    // The command runs in a background process group, where reading the
    // terminal would stop it (SIGTTIN): from a terminal it reads end-of-file
    // instead. Redirected input is passed on.
    let stdin = if io::stdin().is_terminal() {
        Stdio::null()
    } else {
        Stdio::inherit()
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(stdin)
        .stdout(if capture_stdout {
            Stdio::piped()
        } else {
            Stdio::inherit()
        })
        .stderr(Stdio::piped())
        .process_group(0);
    #[cfg(target_os = "linux")]
    {
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: only async-signal-safe calls (prctl, getppid, raise) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                // If backstop dies (even by SIGKILL), the command dies with it
                // rather than running on unsupervised; a takeover ends the rest of its group.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                if libc::getppid() != parent {
                    libc::raise(libc::SIGKILL);
                }
                Ok(())
            });
        }
    }
    let mut child = command.spawn()?;
    let pid = child.id() as i32;
    let stderr = child.stderr.take().expect("stderr is piped");
    let tail = tee(stderr, io::stderr);
    let stdout_tail = child.stdout.take().map(|stdout| tee(stdout, io::stdout));
    Ok(Running {
        child,
        pid,
        started: Instant::now(),
        tail,
        stdout_tail,
    })
}

impl Running {
    /// End the attempt at once (backstop cannot supervise it).
    pub fn kill(mut self) {
        signal_group(self.pid, libc::SIGKILL);
        let _ = self.child.wait();
    }

    /// Wait for the attempt to end. `timeout` counts from the spawn;
    /// `poll_stop` is asked whether backstop must stop it whenever the wait
    /// wakes: at once on the command's exit or a signal (`signals`' wake-up
    /// pipe), at the timeout and grace deadlines, and every [`LEASE_CHECK`].
    pub fn wait(
        mut self,
        timeout: Option<Duration>,
        grace: Duration,
        signals: &Signals,
        mut poll_stop: impl FnMut() -> Option<Stop>,
    ) -> io::Result<Finished> {
        let mut stopping: Option<(Ended, Instant)> = None;
        let mut killed_at: Option<Instant> = None;
        let mut left_behind = false;
        // The exit wakes the wait below directly through a pidfd; without
        // one (a kernel before 5.3), a thread blocked in waitid(2) writes to
        // the signals' wake-up pipe.
        let exited = exit_descriptor(self.pid);
        if exited.is_none() {
            notify_exit(self.pid, signals.waker()?);
        }
        let exited_fd = exited.as_ref().map(AsRawFd::as_raw_fd);
        let status = loop {
            if let Some(status) = self.child.try_wait()? {
                break status;
            }
            let now = Instant::now();
            match (stopping, poll_stop()) {
                (None, Some(stop)) => {
                    let signal = match stop {
                        Stop::Signal(signal) => signal,
                        Stop::LeaseLost => libc::SIGTERM,
                    };
                    signal_group(self.pid, signal);
                    stopping = Some((Ended::Stopped(stop), now));
                }
                // A second signal to backstop: no more grace.
                (Some(_), Some(Stop::Signal(_))) if killed_at.is_none() => {
                    signal_group(self.pid, libc::SIGKILL);
                    killed_at = Some(now);
                }
                (None, None) if timeout.is_some_and(|t| now - self.started >= t) => {
                    signal_group(self.pid, libc::SIGTERM);
                    stopping = Some((Ended::TimedOut, now));
                }
                _ => {}
            }
            if let Some((_, since)) = stopping
                && killed_at.is_none()
                && now - since >= grace
            {
                signal_group(self.pid, libc::SIGKILL);
                killed_at = Some(now);
            }
            // Until something happens: the exit or a signal wakes this at
            // once; the deadlines and the lease check bound it.
            let mut wait = LEASE_CHECK;
            if let (Some(t), None) = (timeout, stopping) {
                wait = wait.min(t.saturating_sub(now - self.started));
            }
            if let (Some((_, since)), None) = (stopping, killed_at) {
                wait = wait.min(grace.saturating_sub(now - since));
            }
            signals.wait_or(exited_fd, wait.max(Duration::from_millis(1)));
        };
        let duration = self.started.elapsed();
        // The leader exited by itself, but what it started in the background
        // (still in its group) must not outlive the attempt: a retry would
        // run beside it, a takeover could not tell it from a live attempt.
        // SIGTERM now, SIGKILL after the grace period, as for a timeout. (A
        // process meant to outlive the command detaches with setsid.)
        if stopping.is_none() && group_alive(self.pid) {
            signal_group(self.pid, libc::SIGTERM);
            stopping = Some((Ended::Exited(0), Instant::now()));
            left_behind = true;
        }
        // The leader is gone. A stopped attempt's group goes with it: members
        // that ignored SIGTERM get SIGKILL when the grace period ends.
        if let Some((_, since)) = stopping {
            while group_alive(self.pid) {
                match killed_at {
                    None if since.elapsed() >= grace => {
                        signal_group(self.pid, libc::SIGKILL);
                        killed_at = Some(Instant::now());
                    }
                    // Killed members linger only as zombies an init that does not
                    // reap keeps around; they run nothing.
                    Some(at) if at.elapsed() >= Duration::from_secs(2) => break,
                    _ => {}
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let ended = match stopping {
            Some((ended, _)) if !left_behind => ended,
            _ => match (status.code(), status.signal()) {
                (Some(code), _) => Ended::Exited(code),
                (None, Some(signal)) => Ended::Signaled(signal),
                (None, None) => Ended::Exited(1),
            },
        };
        // Let the pump drain what the command wrote last; a background process
        // still holding the pipe must not hold up the decision.
        let deadline = Instant::now() + Duration::from_millis(250);
        let tails = std::iter::once(&self.tail).chain(self.stdout_tail.as_ref());
        for tail in tails {
            let (lock, closed) = &**tail;
            let left = deadline.saturating_duration_since(Instant::now());
            let guard = lock.lock().expect("tail lock");
            let _ = closed
                .wait_timeout_while(guard, left, |t| !t.closed)
                .expect("tail lock");
        }
        let stderr_tail = self.tail.0.lock().expect("tail lock").text();
        let stdout_tail = self
            .stdout_tail
            .as_ref()
            .map(|tail| tail.0.lock().expect("tail lock").text());
        Ok(Finished {
            ended,
            timeout,
            duration,
            stderr_tail,
            stdout_tail,
        })
    }
}

/// A descriptor that becomes readable when the process `pid` (our child,
/// not yet reaped, so the pid cannot be reused) exits: a pidfd.
#[cfg(target_os = "linux")]
fn exit_descriptor(pid: i32) -> Option<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: pidfd_open(2) takes a pid and flags and returns a new
    // descriptor or -1; nothing else is read or written.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    let fd = i32::try_from(fd).ok().filter(|&fd| fd >= 0)?;
    // SAFETY: `fd` was just opened for us and is owned by nothing else.
    Some(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

#[cfg(not(target_os = "linux"))]
fn exit_descriptor(_pid: i32) -> Option<std::os::fd::OwnedFd> {
    None
}

/// Write to `waker` when the process `pid` (our child) exits, from a thread
/// blocked in waitid(2) with WNOWAIT: the exit is noticed at once, and the
/// child is left for `Child::try_wait` to reap, so its status is read in one
/// place.
fn notify_exit(pid: i32, mut waker: UnixStream) {
    std::thread::spawn(move || {
        loop {
            // SAFETY: waitid fills `info`; it does not reap (WNOWAIT).
            let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
            let rc = unsafe {
                libc::waitid(
                    libc::P_PID,
                    pid as libc::id_t,
                    &mut info,
                    libc::WEXITED | libc::WNOWAIT,
                )
            };
            if rc == 0 || io::Error::last_os_error().kind() != io::ErrorKind::Interrupted {
                break;
            }
        }
        let _ = waker.write_all(b"x");
    });
}

fn signal_group(pgid: i32, signal: i32) {
    // SAFETY: kill(2) with a negative pid signals the process group; no memory is involved.
    unsafe {
        libc::kill(-pgid, signal);
    }
}

fn group_exists(pgid: i32) -> bool {
    // SAFETY: signal 0 only checks that the group exists.
    let rc = unsafe { libc::kill(-pgid, 0) };
    rc == 0 || io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// The group has a member that still runs: zombies (whose parent died and
/// an init that does not reap keeps) run nothing and are not waited for.
fn group_alive(pgid: i32) -> bool {
    if !group_exists(pgid) {
        return false;
    }
    #[cfg(target_os = "linux")]
    {
        let Ok(entries) = std::fs::read_dir("/proc") else {
            return true;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.parse::<i32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // After "pid (comm) ": state, ppid, pgrp.
            let Some(close) = stat.rfind(')') else {
                continue;
            };
            let mut fields = stat[close + 1..].split_whitespace();
            let (state, _ppid, pgrp) = (fields.next(), fields.next(), fields.next());
            if pgrp.and_then(|g| g.parse::<i32>().ok()) == Some(pgid)
                && !matches!(state, Some("Z" | "X"))
            {
                return true;
            }
        }
        false
    }
    #[cfg(not(target_os = "linux"))]
    {
        true
    }
}

/// When the process started (clock ticks since boot, Linux), to tell it from
/// a later process that reuses its pid.
pub fn process_start(pid: i32) -> Option<u64> {
    #[cfg(target_os = "linux")]
    {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // Fields after the command name (which may hold spaces) in parentheses;
        // starttime is field 22, the 20th after it.
        let rest = &stat[stat.rfind(')')? + 1..];
        rest.split_whitespace().nth(19)?.parse().ok()
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = pid;
        None
    }
}

/// SIGKILL what is left of an attempt whose backstop died. Only when it is
/// certainly that attempt's group: Linux never gives a new process the id of
/// a live process group, so either the leader is the same process (same start
/// time) or, with no process of that id, the group's survivors are ours.
/// Returns whether anything was signalled.
pub fn kill_orphaned_group(pgid: i32, recorded_start: Option<u64>) -> bool {
    if pgid <= 1 || recorded_start.is_none() {
        return false;
    }
    let alive = match process_start(pgid) {
        Some(start) => Some(start) == recorded_start,
        None => group_exists(pgid),
    };
    if alive {
        signal_group(pgid, libc::SIGKILL);
    }
    alive
}

/// The raw tail `backstop run` would keep of everything `from` yields (still
/// to be redacted and clipped with `tail::redacted`), so a saved log
/// (`backstop classify --log`) is read exactly as a live attempt's output.
pub fn tail_of(mut from: impl Read) -> io::Result<String> {
    let mut tail = RawTail::default();
    let mut buf = [0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) => return Ok(tail.text()),
            Ok(n) => tail.push(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// A thread copying `from` to `to()` while keeping its end.
fn tee<R, W>(from: R, to: fn() -> W) -> Tail
where
    R: Read + Send + 'static,
    W: Write + 'static,
{
    let tail = Arc::new((Mutex::new(RawTail::default()), Condvar::new()));
    let pump_tail = Arc::clone(&tail);
    std::thread::spawn(move || pump(from, to(), &pump_tail));
    tail
}

/// Copy one of the command's streams to ours unchanged, remembering its end.
fn pump(mut from: impl Read, mut out: impl Write, tail: &(Mutex<RawTail>, Condvar)) {
    let (tail, closed) = tail;
    let mut buf = [0u8; 8192];
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                // Keep draining even if our stream is gone, so the command never
                // blocks; flushed at once (stdout is line-buffered) to pass it through as written.
                let _ = out.write_all(&buf[..n]).and_then(|()| out.flush());
                tail.lock().expect("tail lock").push(&buf[..n]);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
    tail.lock().expect("tail lock").closed = true;
    closed.notify_all();
}

/// The termination signals backstop handles: it forwards them to the running
/// command's group and exits 128 + N once the attempt has ended. Each also
/// writes to a wake-up pipe, so a wait ([`Signals::wait`]) ends at once.
pub struct Signals {
    last: Arc<AtomicUsize>,
    /// The wake-up pipe's read end (non-blocking) and write end.
    wake: UnixStream,
    waker: UnixStream,
}

impl Signals {
    pub fn install() -> io::Result<Signals> {
        let last = Arc::new(AtomicUsize::new(0));
        let (wake, waker) = UnixStream::pair()?;
        wake.set_nonblocking(true)?;
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            // The flag first: the wake-up must find it set.
            signal_hook::flag::register_usize(signal, Arc::clone(&last), signal as usize)?;
            signal_hook::low_level::pipe::register(signal, waker.try_clone()?)?;
        }
        Ok(Signals { last, wake, waker })
    }

    /// The flag the handlers set (non-zero: a signal is waiting), for
    /// another thread to watch.
    pub fn flag(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.last)
    }

    /// Another write end of the wake-up pipe (for a thread to wake [`Signals::wait`]).
    pub fn waker(&self) -> io::Result<UnixStream> {
        self.waker.try_clone()
    }

    /// Sleep until a signal arrives, a waker writes, or `timeout` passes.
    /// Wake-ups may be spurious: callers check what they wait for.
    pub fn wait(&self, timeout: Duration) {
        self.wait_or(None, timeout);
    }

    /// [`Signals::wait`] that also ends when `also` becomes readable.
    pub fn wait_or(&self, also: Option<std::os::fd::RawFd>, timeout: Duration) {
        let poll_fd = |fd| libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let mut fds = [poll_fd(self.wake.as_raw_fd()), poll_fd(also.unwrap_or(-1))];
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: poll(2) on descriptors we own (a negative one is skipped).
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) };
        if ready > 0 && fds[0].revents != 0 {
            let mut buf = [0u8; 64];
            while matches!((&self.wake).read(&mut buf), Ok(n) if n > 0) {}
        }
    }

    /// Whether a signal is waiting to be taken (without taking it).
    pub fn pending(&self) -> bool {
        self.last.load(Ordering::SeqCst) != 0
    }

    /// The signal received since the last call, if any.
    pub fn take(&self) -> Option<i32> {
        match self.last.swap(0, Ordering::SeqCst) {
            0 => None,
            n => Some(n as i32),
        }
    }
}

/// `SIGTERM` for 15, and so on; the number for signals without a common name.
pub fn signal_name(signal: i32) -> String {
    let names = [
        (libc::SIGHUP, "SIGHUP"),
        (libc::SIGINT, "SIGINT"),
        (libc::SIGQUIT, "SIGQUIT"),
        (libc::SIGILL, "SIGILL"),
        (libc::SIGTRAP, "SIGTRAP"),
        (libc::SIGABRT, "SIGABRT"),
        (libc::SIGBUS, "SIGBUS"),
        (libc::SIGFPE, "SIGFPE"),
        (libc::SIGKILL, "SIGKILL"),
        (libc::SIGUSR1, "SIGUSR1"),
        (libc::SIGSEGV, "SIGSEGV"),
        (libc::SIGUSR2, "SIGUSR2"),
        (libc::SIGPIPE, "SIGPIPE"),
        (libc::SIGALRM, "SIGALRM"),
        (libc::SIGTERM, "SIGTERM"),
        (libc::SIGXCPU, "SIGXCPU"),
        (libc::SIGXFSZ, "SIGXFSZ"),
        (libc::SIGSYS, "SIGSYS"),
    ];
    names
        .iter()
        .find(|(n, _)| *n == signal)
        .map_or_else(|| signal.to_string(), |(_, name)| (*name).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_saved_log_is_kept_raw_for_redaction_before_clipping() {
        let log = "line 1\nAuthorization: Bearer abc\nTraceback: CUDA out of memory";
        let text = tail_of(log.as_bytes()).unwrap();
        // Nothing is split or clipped here: tail::redacted does that after redaction.
        assert_eq!(text, log);
    }

    #[test]
    fn signals_have_their_names() {
        assert_eq!(signal_name(libc::SIGKILL), "SIGKILL");
        assert_eq!(signal_name(libc::SIGTERM), "SIGTERM");
        assert_eq!(signal_name(64), "64");
    }

    #[test]
    fn a_child_exit_ends_the_wait_through_its_pidfd_or_the_waitid_thread() {
        let signals = Signals::install().unwrap();
        for through_pidfd in [true, false] {
            let mut child = Command::new("sh")
                .args(["-c", "sleep 0.2; exit 7"])
                .spawn()
                .unwrap();
            let pid = child.id() as i32;
            let exited = if through_pidfd {
                exit_descriptor(pid)
            } else {
                None
            };
            assert_eq!(exited.is_some(), through_pidfd && cfg!(target_os = "linux"));
            if exited.is_none() {
                notify_exit(pid, signals.waker().unwrap());
            }
            let fd = exited.as_ref().map(AsRawFd::as_raw_fd);
            let started = Instant::now();
            // Each wait is far longer than the child lives: the exit ends it.
            let status = loop {
                if let Some(status) = child.try_wait().unwrap() {
                    break status;
                }
                signals.wait_or(fd, Duration::from_secs(30));
                assert!(
                    started.elapsed() < Duration::from_secs(15),
                    "the exit did not end the wait (pidfd: {through_pidfd})"
                );
            };
            assert_eq!(status.code(), Some(7));
        }
    }

    #[test]
    fn the_own_process_start_is_readable_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(process_start(std::process::id() as i32).is_some());
        }
    }
}
