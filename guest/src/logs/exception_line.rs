//! The fallback when no error reader recognised an error: the newest line
//! that carries `module.TypeError: message` after any prefix (a logging
//! record such as `ERROR:root:botocore.exceptions.ClientError: ...`, or a
//! message handed over alone, as `backstop classify --message` does). The
//! type must be qualified with a capitalised class name or end like an
//! exception class (`...Error`, `...Exception`, ...).

use std::sync::LazyLock;

use regex::Regex;

use super::python::exception_like;
use super::{Found, Raised};

pub const READER: &str = "exception-line";

/// Only the newest this-many lines are searched.
const SEARCH_LINES: usize = 200;

static CANDIDATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^\w.])((?:[A-Za-z_][A-Za-z0-9_]*\.)*[A-Za-z_][A-Za-z0-9_]*):(?: |$)")
        .unwrap()
});

pub fn read(lines: &[String]) -> Option<Found> {
    let first = lines.len().saturating_sub(SEARCH_LINES);
    for (index, line) in lines.iter().enumerate().skip(first).rev() {
        for c in CANDIDATE.captures_iter(line) {
            let m = c.get(1)?;
            let name = m.as_str();
            let last = name.rsplit('.').next().unwrap_or(name);
            let strong = exception_like(last)
                || (name.contains('.') && last.starts_with(|c: char| c.is_ascii_uppercase()));
            if !strong {
                continue;
            }
            let message = line[m.end() + 1..].trim_start();
            return Some(Found {
                reader: READER,
                chain: vec![Raised {
                    type_name: name.to_string(),
                    message: message.to_string(),
                }],
                end: index,
                ..Found::default()
            });
        }
    }
    None
}
