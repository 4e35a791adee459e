//! Diagnostics: what went wrong, at which field, and where in the document.

use std::fmt;

/// What kind of problem a [`PolicyError`] reports. Mirrors `error-code` in the WIT.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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

impl ErrorCode {
    /// The kebab-case name used in the WIT and in canonical JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Syntax => "syntax",
            ErrorCode::UnknownField => "unknown-field",
            ErrorCode::MissingField => "missing-field",
            ErrorCode::WrongType => "wrong-type",
            ErrorCode::InvalidValue => "invalid-value",
            ErrorCode::OutOfRange => "out-of-range",
            ErrorCode::DuplicateId => "duplicate-id",
            ErrorCode::InvalidRegex => "invalid-regex",
            ErrorCode::TooLarge => "too-large",
            ErrorCode::UnknownPolicy => "unknown-policy",
            ErrorCode::InvalidFailure => "invalid-failure",
            ErrorCode::InvalidState => "invalid-state",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One-based line and column (counted in Unicode scalar values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: u32,
    pub column: u32,
}

impl Location {
    /// Locate a byte offset in `source`. Offsets past the end clamp to the end.
    pub fn of_offset(source: &str, offset: usize) -> Location {
        let mut offset = offset.min(source.len());
        while !source.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &source[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let line = before.bytes().filter(|&b| b == b'\n').count() + 1;
        let column = before[line_start..].chars().count() + 1;
        Location {
            line: saturate(line),
            column: saturate(column),
        }
    }
}

fn saturate(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A diagnostic about a policy document or a decision input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub code: ErrorCode,
    pub message: String,
    /// Field path such as `classify.rules[2].http_status`; empty for the whole document.
    pub path: String,
    pub location: Option<Location>,
}

impl PolicyError {
    pub fn new(code: ErrorCode, path: impl Into<String>, message: impl Into<String>) -> Self {
        PolicyError {
            code,
            message: message.into(),
            path: path.into(),
            location: None,
        }
    }

    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(loc) = self.location {
            write!(f, "{}:{}: ", loc.line, loc.column)?;
        }
        if !self.path.is_empty() {
            write!(f, "{}: ", self.path)?;
        }
        write!(f, "{} [{}]", self.message, self.code)
    }
}

impl std::error::Error for PolicyError {}
