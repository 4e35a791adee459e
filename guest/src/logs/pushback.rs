//! Server pushback printed in a log: `Retry-After: 30` (seconds; an HTTP
//! date cannot be resolved without a clock, which the guest does not have),
//! `retry-after-ms` / `x-ms-retry-after-ms` (milliseconds), and gRPC's
//! `grpc-retry-pushback-ms`. Header dumps (`'Retry-After': '30'`) and
//! `key=value` forms count. The newest line wins.

use std::sync::LazyLock;

use regex::Regex;

pub const READER: &str = "retry-after";

/// Pushback beyond a day is read as a day (the planner bounds it further).
const MAX_PUSHBACK_MS: u64 = 24 * 3600 * 1000;

// ASCII digits: the headers are ASCII, other scripts' digits would not parse,
// and the Unicode digit class made this pattern costly to compile.
static FORMS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r#"(?i)(?:(?:x-ms-)?retry-after-ms|grpc-retry-pushback-ms)["']?\s*[:=]\s*["']?([0-9]{1,12})\b"#,
        r#"|(?i:retry-after)["']?\s*[:=]\s*["']?([0-9]{1,9})(?:\.[0-9]+)?\b"#,
    ))
    .unwrap()
});

pub fn read(lines: &[String]) -> Option<u64> {
    for line in lines.iter().rev() {
        if !line.contains(['r', 'R']) {
            continue;
        }
        if let Some(c) = FORMS.captures_iter(line).last() {
            let ms = if let Some(ms) = c.get(1) {
                ms.as_str().parse::<u64>().ok()?
            } else {
                c.get(2)?.as_str().parse::<u64>().ok()?.saturating_mul(1000)
            };
            return Some(ms.min(MAX_PUSHBACK_MS));
        }
    }
    None
}
