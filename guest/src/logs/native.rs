//! Native runtimes' last words:
//! - C++ `std::terminate` (libstdc++): `terminate called after throwing an
//!   instance of 'c10::DistBackendError'` then `  what():  message`; this is
//!   how PyTorch's NCCL watchdog and other C++ aborts end a process;
//! - Rust panics: `thread 'main' panicked at src/main.rs:2:5:` then the
//!   message (1.73+), or `panicked at 'message', src/main.rs:2:5` (older).

use std::sync::LazyLock;

use regex::Regex;

use super::{Found, Raised};

pub const READER: &str = "native";

const MAX_MESSAGE_LINES: usize = 20;

static TERMINATE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"terminate called after throwing an instance of '([^']{1,200})'").unwrap()
});
static RUST_NEW: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^thread '[^']*' panicked at [^\s]+:\d+:\d+:$").unwrap());
static RUST_OLD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^thread '[^']*' panicked at '(.*)', [^\s]+:\d+:\d+$").unwrap());

/// Continuation lines after `start`, up to a blank line or a note.
fn continued(lines: &[String], start: usize) -> (String, usize) {
    let mut message = String::new();
    let mut end = start;
    for (j, line) in lines
        .iter()
        .enumerate()
        .skip(start + 1)
        .take(MAX_MESSAGE_LINES)
    {
        let t = line.trim_start();
        if t.is_empty()
            || t.starts_with("note: ")
            || t.starts_with("stack backtrace:")
            // c10::Error's own backtrace follows its message.
            || t.starts_with("Exception raised from ")
            || t.starts_with("frame #")
        {
            break;
        }
        if !message.is_empty() {
            message.push('\n');
        }
        message.push_str(line.trim_start());
        end = j;
    }
    (message, end)
}

/// Literals every match of TERMINATE, and of RUST_NEW and RUST_OLD, contains:
/// a line without them is passed over without compiling the patterns, which
/// cost about a millisecond in the guest of every process that reads a log.
const TERMINATE_TEXT: &str = "terminate called after throwing an instance of '";
const PANICKED_TEXT: &str = "' panicked at ";

pub fn read(lines: &[String]) -> Option<Found> {
    for (i, line) in lines.iter().enumerate().rev() {
        if line.contains(TERMINATE_TEXT)
            && let Some(c) = TERMINATE.captures(line)
        {
            let (rest, end) = continued(lines, i);
            let message = rest
                .strip_prefix("what():")
                .map(str::trim_start)
                .unwrap_or(&rest)
                .to_string();
            return Some(found(&c[1], message, end));
        }
        if !line.contains(PANICKED_TEXT) {
            continue;
        }
        if RUST_NEW.is_match(line) {
            let (message, end) = continued(lines, i);
            return Some(found("rust.panic", message, end));
        }
        if let Some(c) = RUST_OLD.captures(line) {
            return Some(found("rust.panic", c[1].to_string(), i));
        }
    }
    None
}

fn found(type_name: &str, message: String, end: usize) -> Found {
    Found {
        reader: READER,
        chain: vec![Raised {
            type_name: type_name.to_string(),
            message,
        }],
        end,
        ..Found::default()
    }
}
