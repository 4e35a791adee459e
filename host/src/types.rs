//! The host's public types. Their serde form is the canonical JSON of
//! `tests/README.md`, which the CLI prints and the conformance runner compares.

use std::fmt;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Which syntax a policy document is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Toml,
    Json,
}

impl Format {
    /// The format a file name implies: `.json` is JSON, anything else TOML.
    pub fn from_path(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some(ext) if ext.eq_ignore_ascii_case("json") => Format::Json,
            _ => Format::Toml,
        }
    }
}

/// A failed attempt as the host observed it. Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Failure {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// Error type names along the cause chain, outermost first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_types: Vec<String>,
    /// Base classes of those types, most derived first: a rule naming a base
    /// class matches its subclasses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub error_bases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Which output a log tail came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    Stderr,
    Stdout,
    /// Both, interleaved in arrival order.
    Combined,
}

/// A finished process's output tail, for [`Session::read_log`](crate::Session::read_log).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogInput {
    /// The tail of the output (only the last 256 KiB are read). Convert bytes
    /// with [`String::from_utf8_lossy`]; lines need not be split.
    pub text: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// The terminating signal, by name (`SIGKILL`) or number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<LogStream>,
}

/// What the log readers recovered from a tail.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogReport {
    /// The failure to classify (exit code and signal included).
    pub failure: Failure,
    /// The readers that contributed, the one that named the error first
    /// (`python-traceback`, `botocore`, ...); empty when none did.
    pub readers: Vec<String>,
    /// One line for humans: what was read.
    pub summary: String,
    /// Server pushback seen in the log (Retry-After, grpc-retry-pushback-ms).
    pub pushback_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureClass {
    Transient,
    Permanent,
    Unknown,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Transient => "transient",
            FailureClass::Permanent => "permanent",
            FailureClass::Unknown => "unknown",
        }
    }
}

impl fmt::Display for FailureClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The classifier's verdict.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Classification {
    pub class: FailureClass,
    /// Id of the rule that matched; `None` when no rule did.
    pub rule: Option<String>,
    pub reason: String,
}

/// What kind of problem a [`PolicyError`] reports (the WIT's `error-code`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorCode {
    Syntax,
    UnknownField,
    MissingField,
    WrongType,
    InvalidValue,
    OutOfRange,
    DuplicateId,
    InvalidRegex,
    TooLarge,
    UnknownPolicy,
    InvalidFailure,
    InvalidState,
}

/// A diagnostic from the guest, identical in every host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}", self.render())]
pub struct PolicyError {
    pub code: ErrorCode,
    pub message: String,
    /// Field path such as `classify.rules[2].http_status`; empty for the whole document.
    pub path: String,
    pub line: Option<u32>,
    pub column: Option<u32>,
}

impl PolicyError {
    fn render(&self) -> String {
        let mut out = String::new();
        if let (Some(line), Some(column)) = (self.line, self.column) {
            out.push_str(&format!("{line}:{column}: "));
        }
        if !self.path.is_empty() {
            out.push_str(&format!("{}: ", self.path));
        }
        out.push_str(&self.message);
        out
    }
}
