//! Log readers: recover a [`Failure`] from the tail of a process's output, so
//! every host that only has logs (the CLI, Airflow task logs, Kubernetes pod
//! logs) classifies a failure on what it was, not on an opaque message.
//!
//! Layers, one per file:
//! - [`tail`] bounds and cleans the text (size, escapes, JSON records, prefixes);
//! - the *error readers* find the error that ended the process and its cause
//!   chain ([`python`], [`jvm`], [`node`], [`golang`], [`native`], and
//!   [`exception_line`] as the fallback);
//! - the *field readers* find codes in the error's messages ([`provider`],
//!   [`http`], [`grpc`], [`errno`]) and pushback anywhere ([`pushback`]);
//! - [`markers`] picks up well-known lines that are not part of an exception
//!   (the NCCL watchdog, the kernel's OOM killer, NaN loss checks);
//! - [`merge`] runs them in the documented order and builds the report.

pub mod errno;
pub mod exception_line;
pub mod golang;
pub mod grpc;
pub mod hierarchy;
pub mod http;
pub mod jvm;
pub mod markers;
pub mod merge;
pub mod native;
pub mod node;
pub mod provider;
pub mod pushback;
pub mod python;
pub mod tail;

use crate::classify::Failure;
use crate::error::{ErrorCode, PolicyError};
use crate::names;

/// Which output a log tail came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogStream {
    Stderr,
    Stdout,
    Combined,
}

/// What the host read from a finished process.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogInput {
    pub text: String,
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub stream: Option<LogStream>,
}

/// What the readers recovered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogReport {
    pub failure: Failure,
    /// The readers that contributed, the one that named the error first.
    pub readers: Vec<String>,
    /// One line for humans.
    pub summary: String,
    pub pushback_ms: Option<u64>,
}

/// One error an error reader recognised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Raised {
    /// The type name as printed (`botocore.exceptions.ClientError`).
    pub type_name: String,
    /// The message, possibly several lines.
    pub message: String,
}

/// What an error reader found: the error that ended the process and its
/// causes, outermost first.
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub reader: &'static str,
    pub chain: Vec<Raised>,
    /// Index of the last tail line that belongs to it; the latest error wins.
    pub end: usize,
    /// Other text of the error to scan for codes (Node's property block).
    pub extra: Vec<String>,
    /// A code the error reader read directly (Node's `code: 'ECONNRESET'`).
    pub code: Option<String>,
}

/// Read a log tail. Errors only for a signal that is neither a name nor a number.
pub fn read_log(input: &LogInput) -> Result<LogReport, PolicyError> {
    if let Some(signal) = &input.signal
        && names::signal(signal).is_none()
    {
        let shown: String = signal.chars().take(64).collect();
        return Err(PolicyError::new(
            ErrorCode::InvalidFailure,
            "log.signal",
            format!(
                "`{shown}` is not a signal name or number (1-{})",
                names::MAX_SIGNAL
            ),
        ));
    }
    let tail = tail::normalise(&input.text);
    Ok(merge::read(
        &tail.lines,
        input.exit_code,
        input.signal.clone(),
    ))
}
