//! What failed, from what a command left behind: the guest's log readers over
//! the ends of its output, plus its exit status and signal. Shared by
//! `backstop run` (after its failure report, see `report.rs`) and
//! `backstop classify --log`, so both read a log identically.

use anyhow::Result;
use backstop::{Failure, Session};

/// An attempt's failure as the classifier will see it, and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub failure: Failure,
    /// Server pushback found with it (a report's `pushback_ms`, a logged Retry-After).
    pub pushback_ms: Option<u64>,
    pub source: Source,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// The step's failure report.
    Report,
    /// A log reader recognised a failure in one stream's tail.
    Log {
        stream: &'static str,
        reader: String,
        summary: String,
    },
    /// Nothing was recognised: the exit status or signal, and the tail as the message.
    Status,
}

impl Reading {
    /// What was read, for the line `backstop run` prints after the rule
    /// (`botocore ClientError SlowDown`); `None` when nothing was.
    pub fn describe(&self) -> Option<String> {
        match &self.source {
            Source::Report => Some(format!(
                "reported {}",
                super::report::summary(&self.failure)
            )),
            Source::Log { summary, .. } => Some(summary.clone()),
            Source::Status => None,
        }
    }

    /// The canonical JSON of what was read (`classify --log --json`).
    pub fn to_json(&self) -> serde_json::Value {
        let (source, stream, reader, summary) = match &self.source {
            Source::Report => ("report", None, None, Some(self.describe())),
            Source::Log {
                stream,
                reader,
                summary,
            } => (
                "log",
                Some(*stream),
                Some(reader.as_str()),
                Some(Some(summary.clone())),
            ),
            Source::Status => ("status", None, None, None),
        };
        serde_json::json!({
            "source": source,
            "stream": stream,
            "reader": reader,
            "summary": summary.flatten(),
            "pushback_ms": self.pushback_ms,
            "failure": self.failure,
        })
    }
}

/// Read the tails in order (`("stderr", text)` first); the first in which a
/// reader recognises a failure wins. With none recognised, the failure is
/// `status` with the first non-empty tail as its message, as the classifier
/// has always seen a command's failure.
pub fn read_logs(
    session: &mut Session,
    tails: &[(&'static str, &str)],
    status: &Failure,
) -> Result<Reading> {
    for (stream, tail) in tails {
        if tail.trim().is_empty() {
            continue;
        }
        if let Some((failure, reader, summary, pushback_ms)) = read_log(session, tail, status)? {
            return Ok(Reading {
                failure,
                pushback_ms,
                source: Source::Log {
                    stream,
                    reader,
                    summary,
                },
            });
        }
    }
    let mut failure = status.clone();
    if failure.message.is_none() {
        failure.message = tails
            .iter()
            .map(|(_, tail)| *tail)
            .find(|tail| !tail.is_empty())
            .map(str::to_string);
    }
    Ok(Reading {
        failure,
        pushback_ms: None,
        source: Source::Status,
    })
}

/// One tail through the guest's log readers: the failure they recognised
/// (merged with the exit status and signal), the reader's name, its summary
/// and any pushback; `None` when no reader recognised anything.
fn read_log(
    _session: &mut Session,
    _tail: &str,
    _status: &Failure,
) -> Result<Option<(Failure, String, String, Option<u64>)>> {
    // The guest's readers land with the `logs` interface; until then every
    // tail is unrecognised and the failure is the status plus the tail.
    Ok(None)
}
