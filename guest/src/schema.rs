//! Helpers for validating a [`Node`] tree against the policy schema: every problem
//! is collected (not just the first), with the field path and its location.

use crate::document::{Entry, Node, Value};
use crate::error::{ErrorCode, Location, PolicyError};

/// Collects diagnostics while a document is validated.
pub struct Validator<'s> {
    source: &'s str,
    pub errors: Vec<PolicyError>,
}

impl<'s> Validator<'s> {
    pub fn new(source: &'s str) -> Self {
        Validator {
            source,
            errors: Vec::new(),
        }
    }

    pub fn report(
        &mut self,
        code: ErrorCode,
        path: &str,
        offset: usize,
        message: impl Into<String>,
    ) {
        let location = Location::of_offset(self.source, offset);
        self.errors
            .push(PolicyError::new(code, path, message).at(location));
    }

    pub fn wrong_type(&mut self, path: &str, node: &Node, expected: &str) {
        self.report(
            ErrorCode::WrongType,
            path,
            node.offset,
            format!("expected {expected}, found {}", node.value.type_name()),
        );
    }

    /// Read `node` as a table whose keys must all be in `known`; unknown keys are
    /// reported (with a suggestion when one is close) and skipped.
    pub fn table<'n>(&mut self, path: &str, node: &'n Node, known: &[&str]) -> Option<Table<'n>> {
        let Value::Table(entries) = &node.value else {
            self.wrong_type(path, node, "a table");
            return None;
        };
        for entry in entries {
            if !known.contains(&entry.key.as_str()) {
                let message = match suggest(&entry.key, known) {
                    Some(close) => {
                        format!("unknown field `{}`; did you mean `{close}`?", entry.key)
                    }
                    None => format!(
                        "unknown field `{}`; expected one of: {}",
                        entry.key,
                        known.join(", ")
                    ),
                };
                let path = join(path, &entry.key);
                self.report(ErrorCode::UnknownField, &path, entry.key_offset, message);
            }
        }
        Some(Table {
            entries,
            offset: node.offset,
        })
    }

    pub fn string<'n>(&mut self, path: &str, node: &'n Node) -> Option<&'n str> {
        match &node.value {
            Value::String(s) => Some(s),
            _ => {
                self.wrong_type(path, node, "a string");
                None
            }
        }
    }

    pub fn bool(&mut self, path: &str, node: &Node) -> Option<bool> {
        match node.value {
            Value::Bool(b) => Some(b),
            _ => {
                self.wrong_type(path, node, "a boolean");
                None
            }
        }
    }

    /// An integer within `min..=max`.
    pub fn integer(&mut self, path: &str, node: &Node, min: i64, max: i64) -> Option<i64> {
        let Value::Integer(n) = node.value else {
            self.wrong_type(path, node, "an integer");
            return None;
        };
        if !(min..=max).contains(&n) {
            self.report(
                ErrorCode::OutOfRange,
                path,
                node.offset,
                format!("{n} is out of range; expected {min} to {max}"),
            );
            return None;
        }
        Some(n)
    }

    /// A number (integer or float) within `min..=max`.
    pub fn number(&mut self, path: &str, node: &Node, min: f64, max: f64) -> Option<f64> {
        let n = match node.value {
            Value::Integer(n) => n as f64,
            Value::Float(f) => f,
            _ => {
                self.wrong_type(path, node, "a number");
                return None;
            }
        };
        if !(min..=max).contains(&n) {
            self.report(
                ErrorCode::OutOfRange,
                path,
                node.offset,
                format!("{n} is out of range; expected {min} to {max}"),
            );
            return None;
        }
        Some(n)
    }

    /// A human duration string (`"250ms"`, `"30s"`, `"1h 30m"`) within
    /// `min_ms..=max_ms`, in milliseconds.
    pub fn duration_ms(
        &mut self,
        path: &str,
        node: &Node,
        min_ms: u64,
        max_ms: u64,
    ) -> Option<u64> {
        let Value::String(text) = &node.value else {
            let hint = if matches!(node.value, Value::Integer(_) | Value::Float(_)) {
                "; durations are strings with a unit, such as \"30s\" or \"250ms\""
            } else {
                ""
            };
            let found = node.value.type_name();
            self.report(
                ErrorCode::WrongType,
                path,
                node.offset,
                format!("expected a duration, found {found}{hint}"),
            );
            return None;
        };
        let parsed = humantime::parse_duration(text.trim());
        let Ok(duration) = parsed else {
            self.report(
                ErrorCode::InvalidValue,
                path,
                node.offset,
                format!("`{text}` is not a duration; use a number with a unit: ms, s, m, h, d (\"250ms\", \"30s\", \"6m\")"),
            );
            return None;
        };
        let ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        if ms < min_ms || ms > max_ms {
            self.report(
                ErrorCode::OutOfRange,
                path,
                node.offset,
                format!(
                    "{text} is out of range; expected {} to {}",
                    format_ms(min_ms),
                    format_ms(max_ms)
                ),
            );
            return None;
        }
        Some(ms)
    }

    /// A single value or an array of values, as a list of nodes with their paths.
    pub fn one_or_many<'n>(&mut self, path: &str, node: &'n Node) -> Vec<(String, &'n Node)> {
        match &node.value {
            Value::Array(items) => {
                if items.is_empty() {
                    self.report(
                        ErrorCode::InvalidValue,
                        path,
                        node.offset,
                        "an empty list matches nothing; remove the field or add a value",
                    );
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| (format!("{path}[{i}]"), item))
                    .collect()
            }
            _ => vec![(path.to_string(), node)],
        }
    }
}

/// A table whose unknown keys were already reported.
pub struct Table<'n> {
    pub entries: &'n [Entry],
    pub offset: usize,
}

impl<'n> Table<'n> {
    pub fn get(&self, key: &str) -> Option<&'n Node> {
        self.entries
            .iter()
            .find(|entry| entry.key == key)
            .map(|entry| &entry.node)
    }
}

/// Milliseconds as the shortest exact human duration (`1500` → `1.5s`).
pub fn format_ms(ms: u64) -> String {
    let mut s = String::new();
    push_ms(&mut s, ms);
    s
}

/// [`format_ms`] appended to `s`.
pub fn push_ms(s: &mut String, ms: u64) {
    const UNITS: [(u64, &str); 4] = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
    ];
    let mut digits = itoa::Buffer::new();
    for (size, unit) in UNITS {
        if ms >= size && ms.is_multiple_of(size) {
            s.push_str(digits.format(ms / size));
            s.push_str(unit);
            return;
        }
    }
    if ms >= 1_000 && ms.is_multiple_of(100) {
        s.push_str(digits.format(ms / 1_000));
        s.push('.');
        s.push_str(digits.format((ms % 1_000) / 100));
        s.push('s');
        return;
    }
    s.push_str(digits.format(ms));
    s.push_str("ms");
}

pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The known name closest to `unknown`, if it is plausibly a typo of it.
pub fn suggest<'k>(unknown: &str, known: &[&'k str]) -> Option<&'k str> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(unknown, k), *k))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let known = ["http_status", "grpc_code", "message"];
        assert_eq!(suggest("http_statu", &known), Some("http_status"));
        assert_eq!(suggest("mesage", &known), Some("message"));
        assert_eq!(suggest("zzz", &known), None);
    }
}
