//! Tail bounding and normalisation: every reader sees the same clean,
//! bounded lines, whatever the host sent. This is where hostile input is
//! defused: megabyte tails, endless lines, terminal escapes, carriage-return
//! progress bars, JSON log records and timestamp prefixes.

/// Only the last this-many bytes of the text are read (the end of a log is
/// where the failure is).
pub const MAX_TEXT_BYTES: usize = 256 * 1024;
/// At most this many lines (the last ones) are kept.
pub const MAX_LINES: usize = 4000;
/// A longer line keeps its beginning (where an exception names its type).
pub const MAX_LINE_BYTES: usize = 4096;
/// A JSON log record longer than this is read as plain text.
pub const MAX_JSON_LINE_BYTES: usize = 64 * 1024;
/// At most this many lines come out of one JSON record's text fields.
const MAX_LINES_PER_RECORD: usize = 400;

/// The normalised tail: lines without escapes or prefixes, oldest first.
#[derive(Debug, Default)]
pub struct Tail {
    pub lines: Vec<String>,
    /// Whether anything was cut (bytes before the tail, long lines, old lines).
    pub truncated: bool,
}

/// The last [`MAX_TEXT_BYTES`] of `text`, starting on a line boundary when one
/// is near, then cleaned line by line.
pub fn normalise(text: &str) -> Tail {
    let mut truncated = false;
    let mut text = text;
    if text.len() > MAX_TEXT_BYTES {
        truncated = true;
        let mut start = text.len() - MAX_TEXT_BYTES;
        while !text.is_char_boundary(start) {
            start += 1;
        }
        text = &text[start..];
        // Drop the partial first line unless it is all there is.
        if let Some(newline) = text.find('\n')
            && newline + 1 < text.len()
        {
            text = &text[newline + 1..];
        }
    }
    let mut lines = Vec::new();
    for raw in text.split('\n') {
        let line = strip_escapes(raw);
        let line = after_carriage_return(&line);
        let line = strip_prefixes(line);
        if line.len() <= MAX_JSON_LINE_BYTES
            && let Some(unwrapped) = json_record(line)
        {
            for inner in unwrapped {
                push_line(&mut lines, &inner, &mut truncated);
            }
            continue;
        }
        push_line(&mut lines, line, &mut truncated);
    }
    // A trailing newline leaves an empty last piece, which is not a line.
    if lines.last().is_some_and(|l: &String| l.is_empty()) {
        lines.pop();
    }
    if lines.len() > MAX_LINES {
        truncated = true;
        lines.drain(..lines.len() - MAX_LINES);
    }
    Tail { lines, truncated }
}

fn push_line(lines: &mut Vec<String>, line: &str, truncated: &mut bool) {
    let line = line.trim_end();
    if line.len() > MAX_LINE_BYTES {
        *truncated = true;
        let mut end = MAX_LINE_BYTES;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        lines.push(line[..end].to_string());
    } else {
        lines.push(line.to_string());
    }
    // Keep memory bounded while reading: old lines are dropped in batches.
    if lines.len() > 2 * MAX_LINES {
        *truncated = true;
        lines.drain(..lines.len() - MAX_LINES);
    }
}

/// Remove ANSI/VT100 escape sequences (CSI `ESC [ ... final`, OSC `ESC ] ... BEL`
/// or `ESC \`, and two-byte escapes) and other C0 controls except tab.
pub fn strip_escapes(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => match chars.next() {
                Some('[') => {
                    // Parameters and intermediates, then one final byte in @..~.
                    for c in chars.by_ref() {
                        if ('@'..='~').contains(&c) {
                            break;
                        }
                    }
                }
                Some(']') => {
                    while let Some(c) = chars.next() {
                        if c == '\u{7}' {
                            break;
                        }
                        if c == '\u{1b}' {
                            if chars.peek() == Some(&'\\') {
                                chars.next();
                            }
                            break;
                        }
                    }
                }
                _ => {}
            },
            // CSI as a single C1 character.
            '\u{9b}' => {
                for c in chars.by_ref() {
                    if ('@'..='~').contains(&c) {
                        break;
                    }
                }
            }
            '\t' | '\r' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A terminal shows only what follows the last carriage return of a line
/// (progress bars redraw themselves that way); `\r\n` is an ordinary newline.
fn after_carriage_return(line: &str) -> &str {
    let line = line.strip_suffix('\r').unwrap_or(line);
    match line.rfind('\r') {
        Some(i) => &line[i + 1..],
        None => line,
    }
}

/// Strip what log collectors put in front of every line: an RFC 3339
/// timestamp (`kubectl logs --timestamps`), then a CRI stream tag
/// (`stdout F `, containerd's log format).
fn strip_prefixes(line: &str) -> &str {
    let mut rest = line;
    if let Some(after) = strip_rfc3339(rest) {
        rest = after;
        for tag in ["stdout F ", "stderr F ", "stdout P ", "stderr P "] {
            if let Some(after) = rest.strip_prefix(tag) {
                rest = after;
                break;
            }
        }
    }
    rest
}

/// `2024-05-01T12:00:00[.fraction](Z|±hh:mm) ` at the start of a line.
fn strip_rfc3339(line: &str) -> Option<&str> {
    let b = line.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range.clone())
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    if !(digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && b.get(10) == Some(&b'T')
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16)
        && b.get(16) == Some(&b':')
        && digits(17..19))
    {
        return None;
    }
    let mut i = 19;
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
    }
    match b.get(i) {
        Some(b'Z') => i += 1,
        Some(b'+' | b'-') if digits(i + 1..i + 3) => {
            i += 3;
            if b.get(i) == Some(&b':') {
                i += 1;
            }
            if !digits(i..i + 2) {
                return None;
            }
            i += 2;
        }
        _ => return None,
    }
    if b.get(i) != Some(&b' ') {
        return None;
    }
    Some(&line[i + 1..])
}

/// The text fields of a one-line JSON log record, as lines: the message first,
/// then the exception text (structlog, python-json-logger, logrus, zap, pino,
/// Docker's json-file `log`, GCP `textPayload`). `None` when the line is not a
/// JSON object or has no such field.
fn json_record(line: &str) -> Option<Vec<String>> {
    let trimmed = line.trim();
    if !(trimmed.starts_with('{') && trimmed.ends_with('}')) {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(trimmed).ok()?;
    let object = value.as_object()?;
    const MESSAGE: &[&str] = &["message", "msg", "log", "textPayload", "event"];
    const EXCEPTION: &[&str] = &[
        "exc_info",
        "exception",
        "exc_text",
        "stack_trace",
        "stacktrace",
        "stack",
        "traceback",
        "error",
        "err",
    ];
    let mut out = Vec::new();
    let mut found = false;
    for group in [MESSAGE, EXCEPTION] {
        // One field per group: the first present string wins.
        for key in group {
            if let Some(text) = object.get(*key).and_then(|v| v.as_str()) {
                found = true;
                for piece in text.split('\n') {
                    if out.len() >= MAX_LINES_PER_RECORD {
                        break;
                    }
                    let clean = strip_escapes(piece);
                    out.push(after_carriage_return(&clean).to_string());
                }
                while out.last().is_some_and(|l: &String| l.trim().is_empty()) {
                    out.pop();
                }
                break;
            }
        }
    }
    found.then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_and_progress_bars_are_removed() {
        let tail = normalise("\u{1b}[31mValueError\u{1b}[0m: bad\n 10%|#  \r100%|####|\r\n");
        assert_eq!(tail.lines, vec!["ValueError: bad", "100%|####|"]);
    }

    #[test]
    fn timestamps_and_cri_tags_are_stripped() {
        let tail = normalise("2024-05-01T12:00:00.123456789Z stderr F KeyError: 'x'");
        assert_eq!(tail.lines, vec!["KeyError: 'x'"]);
    }

    #[test]
    fn json_records_become_their_text() {
        let tail = normalise(
            r#"{"level":"error","message":"step failed","exc_info":"Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\nValueError: x"}"#,
        );
        assert_eq!(
            tail.lines,
            vec![
                "step failed",
                "Traceback (most recent call last):",
                "  File \"a.py\", line 1, in <module>",
                "ValueError: x"
            ]
        );
    }

    #[test]
    fn huge_input_is_bounded() {
        let text = "x".repeat(10 * MAX_TEXT_BYTES);
        let tail = normalise(&text);
        assert!(tail.truncated);
        assert_eq!(tail.lines.len(), 1);
        assert!(tail.lines[0].len() <= MAX_LINE_BYTES);
        let many = "line\n".repeat(100_000);
        let tail = normalise(&many);
        assert!(tail.lines.len() <= MAX_LINES);
    }
}
