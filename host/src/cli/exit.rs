//! Exit statuses `backstop run` (and the other commands) return. Scripts
//! rely on them: change them only with the README's table.

use std::fmt;

/// The circuit breaker refused the first attempt of this invocation
/// (sysexits' EX_UNAVAILABLE: the dependency is marked unavailable).
pub const CIRCUIT_OPEN: u8 = 69;
/// Another `backstop run` holds the lease for this run id and step.
pub const LEASE_HELD: u8 = 73;
/// The state database is corrupted, locked or unwritable (EX_IOERR).
pub const STATE_ERROR: u8 = 74;
/// `--one-attempt`: the default status of a permanent failure
/// (`--permanent-exit-code`; sysexits' EX_DATAERR).
pub const PERMANENT: u8 = 65;
/// `--one-attempt`: backstop gave up after transient failures (attempts,
/// deadline, budget or an open circuit): do not start another attempt.
pub const GAVE_UP: u8 = 66;
/// `--one-attempt`: the planner says retry; start the next attempt (sysexits'
/// EX_TEMPFAIL). Also when another backstop holds the lease.
pub const RETRY_ME: u8 = 75;
/// The last attempt was stopped at its timeout (or at the deadline), as `timeout(1)`.
pub const TIMED_OUT: u8 = 124;
/// `backstop run` could not start: an invalid policy or override, an
/// unreadable file (as `timeout(1)`, `env` and `docker run` use 125).
pub const BACKSTOP_ERROR: u8 = 125;
/// The command was found but could not be executed.
pub const NOT_EXECUTABLE: u8 = 126;
/// The command was not found.
pub const NOT_FOUND: u8 = 127;

/// The exit statuses, in `backstop --help` and `backstop run --help`.
macro_rules! help_body {
    () => {
        "\
Exit status of `backstop run`:
  0        the command succeeded, or this run id + step already succeeded earlier
  1-255    the last attempt's own exit status, when backstop gave up after it
  69       the circuit breaker is open: no attempt was started
  73       another backstop is running this run id + step (its lease is live)
  74       the state database is corrupted, locked or unwritable (nothing is lost)
  124      the last attempt was stopped at its attempt timeout or at the deadline,
           or the deadline had passed before an attempt could start
  125      backstop could not start: invalid policy or override, unreadable file
  126/127  the command could not be executed / was not found
  128+N    the last attempt was killed by signal N, or backstop itself was
           interrupted by signal N (130 for Ctrl-C)
With --one-attempt (one attempt per invocation, as one pod of a Job):
  0        the attempt succeeded, or this run id + step already succeeded earlier
  75       retry me: the attempt failed and the planner says retry (the next
           invocation waits out the planned delay first), or another backstop
           holds the lease
  65       a permanent failure (--permanent-exit-code N chooses another)
  66       backstop gave up after transient failures (attempts, deadline,
           budget, or an open circuit breaker)
  74, 124-127, 128+N as above
Other commands: 0 success, 1 invalid input (check: invalid policy), 2 usage or
I/O error; `stats` returns 74 for a state database error."
    };
}

/// Shown under `backstop run --help`: the environment, then the exit statuses.
pub const RUN_HELP: &str = concat!(
    "\
Environment:
  BACKSTOP_STATE            the state database, as --state
  BACKSTOP_CACHE_DIR        where compiled policy code is cached (BACKSTOP_CACHE=off: nowhere)
  BACKSTOP_LEASE_MS         lease length in milliseconds (default 30000; meant for tests)
  BACKSTOP_BUSY_TIMEOUT_MS  how long to wait for a locked database (default 5000; for tests)

",
    help_body!()
);

/// Shown under `backstop --help`.
pub const HELP: &str = help_body!();

/// An error that ends the process with a specific status.
#[derive(Debug)]
pub struct Exit {
    pub code: u8,
    /// Printed after `backstop: ` on stderr; empty to print nothing.
    pub message: String,
}

impl Exit {
    pub fn new(code: u8, message: impl Into<String>) -> Exit {
        Exit {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (exit status {})", self.message, self.code)
    }
}

impl std::error::Error for Exit {}
