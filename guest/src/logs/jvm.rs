//! JVM stack traces (Java, Scala: Spark, Flink, Kafka clients), as
//! `Throwable.printStackTrace` writes them: `Exception in thread "main"
//! pkg.Type: message`, `\tat pkg.Class.method(File.java:12)` frames, and a
//! `Caused by: pkg.Type: message` line per cause, outermost first. Suppressed
//! exceptions and `... N more` are skipped. A trace inside a Py4J error
//! (`: org.apache.spark.SparkException: ...`) counts too. JVM traces carry
//! no base classes.

use std::sync::LazyLock;

use regex::Regex;

use super::{Found, Raised};

pub const READER: &str = "jvm";

/// Lines of message between an exception line and its first frame.
const MAX_MESSAGE_LINES: usize = 30;
const MAX_CHAIN: usize = 64;

static HEAD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"^(?:Exception in thread "[^"]*" |: )?((?:[a-zA-Z_$][\w$]*\.)+[A-Z][\w$]*)(?:: (.*))?$"#,
    )
    .unwrap()
});
static CAUSED_BY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^Caused by: ((?:[a-zA-Z_$][\w$]*\.)*[A-Z][\w$]*)(?:: (.*))?$").unwrap()
});
static FRAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s+at [\w$./]+\.[\w$<>\-]+\(.*\)\s*$").unwrap());

/// `\s+at ` as FRAME begins, checked before the pattern is compiled or run
/// (`trim_start` and `\s` both mean Unicode White_Space).
fn is_frame(line: &str) -> bool {
    line.starts_with([' ', '\t']) && line.trim_start().starts_with("at ") && FRAME.is_match(line)
}

/// If an exception line at `start` is followed by frames, the index of its
/// first frame (its message continues until then).
fn first_frame(lines: &[String], start: usize) -> Option<usize> {
    (start + 1..lines.len().min(start + 2 + MAX_MESSAGE_LINES)).find(|&j| is_frame(&lines[j]))
}

/// Where a `Caused by:` entry at `start` ends: at its first frame or at the
/// next `Caused by:` (a cause printed without frames), whichever comes first.
fn cause_end(lines: &[String], start: usize) -> usize {
    (start + 1..lines.len().min(start + 2 + MAX_MESSAGE_LINES))
        .find(|&j| is_frame(&lines[j]) || lines[j].starts_with("Caused by: "))
        .unwrap_or(start + 1)
        .min(lines.len())
}

fn raised(name: &str, first: Option<&str>, more: &[String]) -> Raised {
    let mut message = first.unwrap_or("").to_string();
    for line in more {
        message.push('\n');
        message.push_str(line);
    }
    Raised {
        type_name: name.to_string(),
        message,
    }
}

pub fn read(lines: &[String]) -> Option<Found> {
    let mut best: Option<Found> = None;
    let mut i = 0;
    while i < lines.len() {
        let Some(head) = HEAD.captures(&lines[i]) else {
            i += 1;
            continue;
        };
        let Some(frame) = first_frame(lines, i) else {
            i += 1;
            continue;
        };
        let mut chain = vec![raised(
            &head[1],
            head.get(2).map(|m| m.as_str()),
            &lines[i + 1..frame],
        )];
        let mut end = frame;
        let mut j = frame;
        while j < lines.len() {
            let line = &lines[j];
            if line.starts_with([' ', '\t']) {
                // Frames, `... N more`, and suppressed exceptions with their frames.
                end = j;
                j += 1;
                continue;
            }
            if let Some(c) = CAUSED_BY.captures(line) {
                let next = cause_end(lines, j);
                if chain.len() < MAX_CHAIN {
                    chain.push(raised(
                        &c[1],
                        c.get(2).map(|m| m.as_str()),
                        &lines[j + 1..next],
                    ));
                }
                end = next.saturating_sub(1).max(j);
                j = next;
                continue;
            }
            break;
        }
        best = Some(Found {
            reader: READER,
            chain,
            end,
            ..Found::default()
        });
        i = j.max(i + 1);
    }
    best
}
