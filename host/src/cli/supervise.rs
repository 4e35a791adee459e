//! Running one attempt: the command in its own process group, stderr (and on
//! request stdout) teed to ours while its last lines are kept for the log
//! readers, and a stop (attempt
//! timeout, a signal to backstop, a lost lease) that ends the whole group:
//! SIGTERM, then SIGKILL after a grace period.

use std::ffi::OsString;
use std::io::{self, IsTerminal, Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
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
    tail: Arc<Mutex<RawTail>>,
    stdout_tail: Option<Arc<Mutex<RawTail>>>,
}

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

    /// Wait for the attempt to end. `timeout` counts from the spawn; `poll_stop`
    /// is asked every few milliseconds whether backstop must stop it.
    pub fn wait(
        mut self,
        timeout: Option<Duration>,
        grace: Duration,
        mut poll_stop: impl FnMut() -> Option<Stop>,
    ) -> io::Result<Finished> {
        let mut stopping: Option<(Ended, Instant)> = None;
        let mut killed_at: Option<Instant> = None;
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
            std::thread::sleep(poll_interval(now - self.started));
        };
        let duration = self.started.elapsed();
        // The leader is gone. A stopped attempt's group goes with it: members
        // that ignored SIGTERM get SIGKILL when the grace period ends.
        if let Some((_, since)) = stopping {
            while group_exists(self.pid) {
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
            Some((ended, _)) => ended,
            None => match (status.code(), status.signal()) {
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
            while !tail.lock().expect("tail lock").closed && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let stderr_tail = self.tail.lock().expect("tail lock").text();
        let stdout_tail = self
            .stdout_tail
            .as_ref()
            .map(|tail| tail.lock().expect("tail lock").text());
        Ok(Finished {
            ended,
            timeout,
            duration,
            stderr_tail,
            stdout_tail,
        })
    }
}

/// Quick reaction for short commands, few wake-ups for long ones.
fn poll_interval(elapsed: Duration) -> Duration {
    if elapsed < Duration::from_secs(2) {
        Duration::from_millis(5)
    } else {
        Duration::from_millis(50)
    }
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
fn tee<R, W>(from: R, to: fn() -> W) -> Arc<Mutex<RawTail>>
where
    R: Read + Send + 'static,
    W: Write + 'static,
{
    let tail = Arc::new(Mutex::new(RawTail::default()));
    let pump_tail = Arc::clone(&tail);
    std::thread::spawn(move || pump(from, to(), &pump_tail));
    tail
}

/// Copy one of the command's streams to ours unchanged, remembering its end.
fn pump(mut from: impl Read, mut out: impl Write, tail: &Mutex<RawTail>) {
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
}

/// The termination signals backstop handles: it forwards them to the running
/// command's group and exits 128 + N once the attempt has ended.
pub struct Signals {
    last: Arc<AtomicUsize>,
}

impl Signals {
    pub fn install() -> io::Result<Signals> {
        let last = Arc::new(AtomicUsize::new(0));
        for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            signal_hook::flag::register_usize(signal, Arc::clone(&last), signal as usize)?;
        }
        Ok(Signals { last })
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
    fn the_own_process_start_is_readable_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(process_start(std::process::id() as i32).is_some());
        }
    }
}
