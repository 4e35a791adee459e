//! What failed, from what a command left behind: the guest's log readers over
//! the ends of its output, plus its exit status and signal. Shared by
//! `backstop run` (after its failure report, see `report.rs`) and
//! `backstop classify --log`, so both read a log identically.

use anyhow::Result;
use backstop::{Failure, LogInput, LogStream, Session};

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
        if let Some((failure, reader, summary, pushback_ms)) =
            read_log(session, stream, tail, status)?
        {
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

/// What a reader recognised: the failure, the reader, its summary, any pushback.
type Recognised = (Failure, String, String, Option<u64>);

/// One tail through the guest's log readers: the failure they recognised
/// (merged with the exit status and signal), the reader's name, its summary
/// and any pushback; `None` when no reader recognised anything.
fn read_log(
    session: &mut Session,
    stream: &str,
    tail: &str,
    status: &Failure,
) -> Result<Option<Recognised>> {
    let input = LogInput {
        text: tail.to_string(),
        exit_code: status.exit_code,
        signal: status.signal.clone(),
        stream: Some(match stream {
            "stdout" => LogStream::Stdout,
            "stderr" => LogStream::Stderr,
            _ => LogStream::Combined,
        }),
    };
    let report = session.read_log(&input)?;
    let Some(reader) = report.readers.first().cloned() else {
        return Ok(None);
    };
    let mut failure = report.failure;
    // What backstop saw itself (its own timeout type, say) is never lost.
    if failure.exit_code.is_none() {
        failure.exit_code = status.exit_code;
    }
    if failure.signal.is_none() {
        failure.signal.clone_from(&status.signal);
    }
    Ok(Some((failure, reader, report.summary, report.pushback_ms)))
}
