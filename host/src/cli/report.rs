//! The failure report channel of `backstop run`: each attempt gets a file path
//! in `BACKSTOP_FAILURE_FILE`, and a step that writes its failure there in the
//! canonical JSON form (tests/README.md) is classified on exactly that. The
//! language hosts' one-liners (Python `report_failure`, Node `reportFailure`,
//! Go `ReportFailure`) write it from a native error.
//!
//! A report is untrusted input: anything wrong with it is a warning naming the
//! file and the field, and backstop falls back to reading the logs.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use backstop::Failure;
use serde_json::Value;

/// The environment variable naming the attempt's report file.
pub const ENV: &str = "BACKSTOP_FAILURE_FILE";

/// Larger reports are refused: a failure description is small, and the
/// classifier reads only the last 64 KiB of a message.
pub const MAX_BYTES: u64 = 1024 * 1024;

/// The canonical failure's fields, for the warning about an unknown one.
const FIELDS: &[&str] = &[
    "http_status",
    "grpc_code",
    "exit_code",
    "signal",
    "error_types",
    "error_bases",
    "error_code",
    "message",
    "pushback_ms",
];

/// A directory private to one `backstop run` (mode 0700, under `$TMPDIR`,
/// removed when it ends) that holds each attempt's report file.
pub struct Reports {
    dir: PathBuf,
}

impl Reports {
    pub fn new() -> io::Result<Reports> {
        let base = std::env::temp_dir();
        let mut last = None;
        for n in 0..16u64 {
            let dir = base.join(format!("backstop-{}-{:x}", std::process::id(), nonce(n)));
            // Created, never reused: a directory of that name already there
            // (someone else's) is not ours to write reports into.
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(Reports { dir }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::Error::other("no free directory name")))
    }

    /// The report path of an attempt.
    pub fn path(&self, attempt: u32) -> PathBuf {
        self.dir.join(format!("attempt-{attempt}.json"))
    }

    /// The report path of an attempt about to start, with nothing at it yet: a
    /// report left by an earlier attempt of the same number must not count.
    pub fn fresh(&self, attempt: u32) -> io::Result<PathBuf> {
        let path = self.path(attempt);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(path),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(path),
            Err(e) => Err(e),
        }
    }
}

impl Drop for Reports {
    fn drop(&mut self) {
        // Usually empty (no attempt wrote a report): one rmdir(2), not a walk.
        if std::fs::remove_dir(&self.dir).is_err() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// Distinct directory names for one process: the clock's nanoseconds, mixed.
fn nonce(n: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (nanos ^ n.rotate_left(48)).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// What a step reported.
#[derive(Debug, Default, PartialEq)]
pub struct Report {
    pub failure: Failure,
    pub pushback_ms: Option<u64>,
    /// Keys that are not fields of the form (ignored, and warned about).
    pub unknown: Vec<String>,
}

/// The report at `path`: `Ok(None)` when the step wrote none, `Err` with the
/// problem (naming the field where there is one) when it is unusable.
pub fn read(path: &Path) -> Result<Option<Report>, String> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read it: {e}")),
    };
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(format!(
            "it is larger than {} KiB; a report is one failure description",
            MAX_BYTES / 1024
        ));
    }
    parse(&bytes).map(Some)
}

/// Parse a report. `null` is the same as an absent key.
pub fn parse(bytes: &[u8]) -> Result<Report, String> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err("it is empty".into());
    }
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| format!("it is not valid JSON: {e}"))?;
    let Value::Object(fields) = value else {
        return Err(format!(
            "expected a JSON object (the canonical failure form), found {}",
            kind(&value)
        ));
    };
    let mut report = Report::default();
    let failure = &mut report.failure;
    for (key, value) in &fields {
        if value.is_null() {
            continue;
        }
        let field = Field { key, value };
        match key.as_str() {
            "http_status" => failure.http_status = Some(field.integer(100, 599)? as u16),
            "grpc_code" => failure.grpc_code = Some(field.name_or_number(0, 16)?),
            "exit_code" => {
                failure.exit_code = Some(field.integer(i32::MIN.into(), i32::MAX.into())? as i32)
            }
            "signal" => failure.signal = Some(field.name_or_number(1, 64)?),
            "error_types" => failure.error_types = field.strings()?,
            "error_bases" => set_error_bases(failure, &field)?,
            "error_code" => failure.error_code = Some(field.string()?),
            "message" => failure.message = Some(field.string()?),
            "pushback_ms" => report.pushback_ms = Some(field.integer(0, i64::MAX)? as u64),
            _ => report.unknown.push(key.clone()),
        }
    }
    Ok(report)
}

/// The base classes of the reported error types, for rules that name a base class.
fn set_error_bases(failure: &mut Failure, field: &Field) -> Result<(), String> {
    failure.error_bases = field.strings()?;
    Ok(())
}

/// The report merged with what backstop saw of the process: the report's
/// own fields win (a wrapper reporting its child's signal knows more than its
/// own exit status), the exit status and signal fill what it leaves out.
pub fn merge(mut reported: Failure, status: &Failure) -> Failure {
    if reported.exit_code.is_none() {
        reported.exit_code = status.exit_code;
    }
    if reported.signal.is_none() {
        reported.signal.clone_from(&status.signal);
    }
    reported
}

/// The warning about unknown keys, when there are any.
pub fn unknown_warning(report: &Report) -> Option<String> {
    if report.unknown.is_empty() {
        return None;
    }
    let names: Vec<String> = report.unknown.iter().map(|k| format!("{k:?}")).collect();
    Some(format!(
        "ignoring unknown field{} {} (the fields are {})",
        if names.len() == 1 { "" } else { "s" },
        names.join(", "),
        FIELDS.join(", ")
    ))
}

/// A short description of a reported failure, for the line `backstop run`
/// prints: `botocore.exceptions.ClientError SlowDown (HTTP 503)`.
pub fn summary(failure: &Failure) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(first) = failure.error_types.first() {
        parts.push(first.clone());
    }
    if let Some(code) = &failure.error_code {
        parts.push(code.clone());
    }
    let mut extra: Vec<String> = Vec::new();
    if let Some(status) = failure.http_status {
        extra.push(format!("HTTP {status}"));
    }
    if let Some(code) = &failure.grpc_code {
        extra.push(format!("gRPC {code}"));
    }
    if let Some(signal) = &failure.signal {
        extra.push(signal.clone());
    }
    if !extra.is_empty() {
        parts.push(format!("({})", extra.join(", ")));
    }
    if parts.is_empty()
        && let Some(message) = &failure.message
    {
        parts.push(first_line(message));
    }
    parts.join(" ")
}

fn first_line(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    let line = line.unwrap_or_default();
    match line.char_indices().nth(80) {
        Some((cut, _)) => format!("{}...", &line[..cut]),
        None => line.to_string(),
    }
}

struct Field<'a> {
    key: &'a str,
    value: &'a Value,
}

impl Field<'_> {
    fn wrong(&self, expected: &str) -> String {
        format!(
            "field {:?}: expected {expected}, found {}",
            self.key,
            kind(self.value)
        )
    }

    fn integer(&self, min: i64, max: i64) -> Result<i64, String> {
        let expected = format!("an integer from {min} to {max}");
        // Fractions and integers beyond i64 have no `as_i64` either.
        match self.value.as_i64() {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(self.wrong(&expected)),
        }
    }

    fn string(&self) -> Result<String, String> {
        match self.value {
            Value::String(s) => Ok(s.clone()),
            _ => Err(self.wrong("a string")),
        }
    }

    /// A gRPC code or signal: its name, or its number (as the classifier takes it, in text).
    fn name_or_number(&self, min: i64, max: i64) -> Result<String, String> {
        match self.value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(_) => self.integer(min, max).map(|n| n.to_string()),
            _ => Err(self.wrong("a string (a name) or a number")),
        }
    }

    fn strings(&self) -> Result<Vec<String>, String> {
        let Value::Array(items) = self.value else {
            return Err(self.wrong("an array of strings"));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.clone()),
                other => Err(format!(
                    "field {:?}[{i}]: expected a string, found {}",
                    self.key,
                    kind(other)
                )),
            })
            .collect()
    }
}

/// `"503" (a string)`, `true (a boolean)`: enough to spot the mistake.
fn kind(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("{b} (a boolean)"),
        Value::Number(n) => format!("{n} (a number)"),
        Value::String(s) => {
            let shown: String = s.chars().take(40).collect();
            let more = if shown.len() < s.len() { "..." } else { "" };
            format!("{shown:?}{more} (a string)")
        }
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str) -> Result<Report, String> {
        parse(text.as_bytes())
    }

    #[test]
    fn the_report_directory_goes_with_the_run_empty_or_not() {
        for written in [false, true] {
            let reports = Reports::new().unwrap();
            let dir = reports.dir.clone();
            let path = reports.fresh(1).unwrap();
            if written {
                std::fs::write(&path, "{}").unwrap();
            }
            assert!(dir.is_dir());
            drop(reports);
            assert!(
                !dir.exists(),
                "{} is left (a report written: {written})",
                dir.display()
            );
        }
    }

    #[test]
    fn the_canonical_form_is_read_field_by_field() {
        let report = parse_str(
            r#"{"http_status": 503, "grpc_code": "UNAVAILABLE", "exit_code": -2,
                "signal": "SIGKILL", "error_types": ["botocore.exceptions.ClientError", "ConnectionResetError"],
                "error_code": "SlowDown", "message": "slow down", "pushback_ms": 1500}"#,
        )
        .unwrap();
        let f = &report.failure;
        assert_eq!(f.http_status, Some(503));
        assert_eq!(f.grpc_code.as_deref(), Some("UNAVAILABLE"));
        assert_eq!(f.exit_code, Some(-2));
        assert_eq!(f.signal.as_deref(), Some("SIGKILL"));
        assert_eq!(f.error_types.len(), 2);
        assert_eq!(f.error_code.as_deref(), Some("SlowDown"));
        assert_eq!(f.message.as_deref(), Some("slow down"));
        assert_eq!(report.pushback_ms, Some(1500));
        assert!(report.unknown.is_empty());
    }

    #[test]
    fn null_is_absent_and_numbers_stand_for_names() {
        let report = parse_str(r#"{"http_status": null, "grpc_code": 14, "signal": 9}"#).unwrap();
        assert_eq!(report.failure.http_status, None);
        assert_eq!(report.failure.grpc_code.as_deref(), Some("14"));
        assert_eq!(report.failure.signal.as_deref(), Some("9"));
    }

    #[test]
    fn a_wrong_type_names_the_field_and_what_was_found() {
        let cases = [
            (
                r#"{"http_status": "503"}"#,
                r#"field "http_status": expected an integer from 100 to 599, found "503" (a string)"#,
            ),
            (
                r#"{"http_status": 70000}"#,
                r#"field "http_status": expected an integer from 100 to 599, found 70000 (a number)"#,
            ),
            (
                r#"{"exit_code": 1.5}"#,
                r#"field "exit_code": expected an integer from -2147483648 to 2147483647, found 1.5 (a number)"#,
            ),
            (
                r#"{"error_types": "ValueError"}"#,
                r#"field "error_types": expected an array of strings, found "ValueError" (a string)"#,
            ),
            (
                r#"{"error_types": ["ValueError", 3]}"#,
                r#"field "error_types"[1]: expected a string, found 3 (a number)"#,
            ),
            (
                r#"{"message": {"text": "x"}}"#,
                r#"field "message": expected a string, found an object"#,
            ),
            (
                r#"{"pushback_ms": -1}"#,
                r#"field "pushback_ms": expected an integer from 0 to 9223372036854775807, found -1 (a number)"#,
            ),
            (
                r#"{"grpc_code": true}"#,
                r#"field "grpc_code": expected a string (a name) or a number, found true (a boolean)"#,
            ),
            (
                r#"{"error_bases": [["OSError"]]}"#,
                r#"field "error_bases"[0]: expected a string, found an array"#,
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_str(input).unwrap_err(), expected, "{input}");
        }
    }

    #[test]
    fn malformed_and_empty_reports_say_so() {
        assert!(
            parse_str(r#"{"http_status": 503"#)
                .unwrap_err()
                .starts_with("it is not valid JSON: EOF while parsing")
        );
        assert_eq!(parse_str(" \n").unwrap_err(), "it is empty");
        assert_eq!(
            parse_str("[503]").unwrap_err(),
            "expected a JSON object (the canonical failure form), found an array"
        );
        assert!(
            parse(b"\xff\xfe{}")
                .unwrap_err()
                .starts_with("it is not valid JSON")
        );
    }

    #[test]
    fn unknown_keys_are_ignored_with_a_warning() {
        let report = parse_str(r#"{"http_stauts": 503, "error_code": "SlowDown"}"#).unwrap();
        assert_eq!(report.failure.error_code.as_deref(), Some("SlowDown"));
        assert_eq!(report.unknown, ["http_stauts"]);
        let warning = unknown_warning(&report).unwrap();
        assert!(
            warning.starts_with(
                r#"ignoring unknown field "http_stauts" (the fields are http_status,"#
            )
        );
    }

    #[test]
    fn reading_a_missing_a_huge_and_a_good_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read(&dir.path().join("none.json")), Ok(None));
        let huge = dir.path().join("huge.json");
        std::fs::write(&huge, vec![b' '; MAX_BYTES as usize + 1]).unwrap();
        assert_eq!(
            read(&huge).unwrap_err(),
            "it is larger than 1024 KiB; a report is one failure description"
        );
        let good = dir.path().join("good.json");
        std::fs::write(&good, r#"{"error_code": "NoSuchKey"}"#).unwrap();
        let report = read(&good).unwrap().unwrap();
        assert_eq!(report.failure.error_code.as_deref(), Some("NoSuchKey"));
    }

    #[test]
    fn each_attempt_starts_without_a_report() {
        let reports = Reports::new().unwrap();
        let path = reports.fresh(1).unwrap();
        std::fs::write(&path, "{}").unwrap();
        assert_eq!(reports.fresh(1).unwrap(), path);
        assert!(!path.exists());
        assert_ne!(reports.fresh(2).unwrap(), path);
        let dir = path.parent().unwrap().to_path_buf();
        let mode = std::fs::metadata(&dir).unwrap().permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o700
        );
        drop(reports);
        assert!(!dir.exists());
    }

    #[test]
    fn the_report_wins_and_the_status_fills_in() {
        let status = Failure {
            exit_code: Some(1),
            ..Failure::default()
        };
        let child_killed = Failure {
            signal: Some("9".into()),
            ..Failure::default()
        };
        let merged = merge(child_killed, &status);
        assert_eq!(merged.signal.as_deref(), Some("9"));
        assert_eq!(merged.exit_code, Some(1));
        let own = Failure {
            exit_code: Some(3),
            ..Failure::default()
        };
        assert_eq!(merge(own, &status).exit_code, Some(3));
    }

    #[test]
    fn summaries_name_the_type_and_the_code() {
        let f = Failure {
            error_types: vec!["botocore.exceptions.ClientError".into()],
            error_code: Some("SlowDown".into()),
            http_status: Some(503),
            ..Failure::default()
        };
        assert_eq!(
            summary(&f),
            "botocore.exceptions.ClientError SlowDown (HTTP 503)"
        );
        let only_message = Failure {
            message: Some("\n  disk quota exceeded\nmore".into()),
            ..Failure::default()
        };
        assert_eq!(summary(&only_message), "disk quota exceeded");
    }
}
