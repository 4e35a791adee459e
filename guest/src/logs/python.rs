//! Python tracebacks, as `traceback.print_exception` writes them (CPython
//! 3.8-3.13): `Traceback (most recent call last):`, indented frames, then the
//! exception line `module.Type: message` (with continuation lines). Chains are
//! linked by `The above exception was the direct cause of the following
//! exception:` (`raise ... from`) and `During handling of the above exception,
//! another exception occurred:` (implicit context). Exception groups (3.11+)
//! are boxed in `+`/`|` margins; their sub-exceptions follow the group in the
//! chain.
//!
//! The error that ended the process is the last traceback; its chain is the
//! tracebacks linked to it, newest (outermost) first. Lines of other output
//! interleaved inside a traceback are skipped.

use super::{Found, Raised};

pub const READER: &str = "python-traceback";

const CAUSE: &str = "The above exception was the direct cause of the following exception:";
const CONTEXT: &str = "During handling of the above exception, another exception occurred:";
/// A message longer than this many lines keeps its first ones.
const MAX_MESSAGE_LINES: usize = 64;
/// Skipped lines after which a traceback without an exception line is abandoned.
const MAX_SKIPPED: usize = 200;
/// At most this many exceptions make up one chain (groups included).
const MAX_CHAIN: usize = 64;

/// One line with the exception-group margin taken off.
struct Line<'a> {
    text: &'a str,
    /// Inside an exception group's box (`|` or `+` margin).
    boxed: bool,
    /// A group's section rule (`+---- 1 ----`).
    rule: bool,
}

fn unbox(line: &str) -> Line<'_> {
    let trimmed = line.trim_start();
    if trimmed.starts_with('+') && trimmed.len() > 1 {
        let rest = trimmed.trim_start_matches(['+', '-']);
        // `+-+---- 1 ----`, `+---- 2 ----`, `+----------`, `+---- ... ----`.
        if trimmed.starts_with("+-")
            && rest
                .trim()
                .trim_matches('-')
                .trim()
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c.is_ascii_alphabetic() || c == ' ')
        {
            return Line {
                text: "",
                boxed: true,
                rule: true,
            };
        }
        if let Some(after) = trimmed.strip_prefix("+ ") {
            return Line {
                text: after,
                boxed: true,
                rule: false,
            };
        }
    }
    if let Some(after) = trimmed.strip_prefix('|') {
        return Line {
            text: after.strip_prefix(' ').unwrap_or(after),
            boxed: true,
            rule: false,
        };
    }
    Line {
        text: line,
        boxed: false,
        rule: false,
    }
}

fn is_header(text: &str) -> bool {
    let t = text.trim_start();
    t == "Traceback (most recent call last):"
        || t == "Exception Group Traceback (most recent call last):"
        // A header after a log prefix (`ERROR:root:boom` then the traceback on
        // the same record is rare; the header then ends the line).
        || t.ends_with(" Traceback (most recent call last):")
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Strength {
    Strong,
    Weak,
}

/// `module.Type: message` or `Type` alone. Strong when the name is qualified
/// or ends like an exception class name; weak when it merely starts with a
/// capital (`Loss: 0.5` printed by the program looks the same).
pub fn exception_line(text: &str) -> Option<(&str, &str, Strength)> {
    let (name, message) = match text.find(':') {
        Some(i) => {
            let rest = &text[i + 1..];
            (&text[..i], rest.strip_prefix(' ').unwrap_or(rest))
        }
        None => (text, ""),
    };
    if name.is_empty() || name.len() > 200 {
        return None;
    }
    let mut segments = name.split('.');
    let valid_segment = |s: &str| {
        let mut chars = s.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    if !segments.all(valid_segment) {
        return None;
    }
    let last = name.rsplit('.').next().unwrap_or(name);
    let qualified = name.contains('.');
    // `socket.timeout`, `socket.gaierror`... are lower-case but still exceptions.
    let strength = if exception_like(last)
        || (qualified && last.starts_with(|c: char| c.is_ascii_uppercase()))
        || (qualified && matches!(last, "timeout" | "gaierror" | "herror" | "error"))
    {
        Strength::Strong
    } else if last.starts_with(|c: char| c.is_ascii_uppercase()) {
        Strength::Weak
    } else {
        return None;
    };
    Some((name, message, strength))
}

/// Class names that end like exceptions, plus the builtins that do not.
pub fn exception_like(name: &str) -> bool {
    const SUFFIXES: &[&str] = &[
        "Error",
        "Exception",
        "Exit",
        "Interrupt",
        "Warning",
        "Group",
        "Fault",
        "Timeout",
        "Failure",
        "Failed",
        "Exceeded",
        "Unavailable",
        "Abort",
        "Aborted",
    ];
    SUFFIXES
        .iter()
        .any(|s| name.ends_with(s) && name.len() > s.len())
        || matches!(
            name,
            "StopIteration" | "StopAsyncIteration" | "KeyboardInterrupt" | "GeneratorExit"
        )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Link {
    Cause,
    Context,
}

/// Exceptions printed together: one, or a group and its sub-exceptions.
struct Unit {
    raised: Vec<Raised>,
    link: Option<Link>,
    end: usize,
}

enum State {
    /// Outside any traceback.
    Idle,
    /// After a header: frames, then the exception line.
    Frames {
        skipped: usize,
        last_was_frame: bool,
    },
    /// After an exception line: its message continues.
    Message { lines: usize },
}

pub fn read(lines: &[String]) -> Option<Found> {
    let mut units: Vec<Unit> = Vec::new();
    let mut state = State::Idle;
    let mut pending: Option<Link> = None;
    // Whether the unit being built is an open exception group box.
    let mut open_box = false;
    for (i, raw) in lines.iter().enumerate() {
        let line = unbox(raw);
        if !line.boxed {
            open_box = false;
        }
        let text = line.text;
        let trimmed = text.trim();
        if trimmed == CAUSE || trimmed == CONTEXT {
            pending = Some(if trimmed == CAUSE {
                Link::Cause
            } else {
                Link::Context
            });
            state = State::Idle;
            continue;
        }
        if is_header(text) {
            state = State::Frames {
                skipped: 0,
                last_was_frame: true,
            };
            continue;
        }
        if line.rule {
            // A group's section: a sub-exception follows, with or without a header.
            if open_box {
                state = State::Frames {
                    skipped: 0,
                    last_was_frame: true,
                };
            }
            continue;
        }
        match state {
            State::Idle => {}
            State::Frames {
                skipped,
                last_was_frame,
            } => {
                if text.starts_with([' ', '\t']) {
                    state = State::Frames {
                        skipped,
                        last_was_frame: true,
                    };
                    continue;
                }
                let accepted = exception_line(text)
                    .filter(|(_, _, strength)| *strength == Strength::Strong || last_was_frame);
                let Some((name, message, _)) = accepted else {
                    state = if skipped + 1 > MAX_SKIPPED {
                        State::Idle
                    } else {
                        State::Frames {
                            skipped: skipped + 1,
                            last_was_frame: false,
                        }
                    };
                    continue;
                };
                let raised = Raised {
                    type_name: name.to_string(),
                    message: message.to_string(),
                };
                match units.last_mut() {
                    Some(unit) if line.boxed && open_box => {
                        // Links inside a group's box join its members.
                        pending = None;
                        if unit.raised.len() < MAX_CHAIN {
                            unit.raised.push(raised);
                        }
                        unit.end = i;
                    }
                    _ => {
                        units.push(Unit {
                            raised: vec![raised],
                            link: pending.take(),
                            end: i,
                        });
                        open_box = line.boxed;
                    }
                }
                state = State::Message { lines: 0 };
            }
            State::Message { lines: count } => {
                let ends =
                    trimmed.is_empty() || count >= MAX_MESSAGE_LINES || looks_like_new_record(text);
                if ends {
                    state = State::Idle;
                    continue;
                }
                if let Some(unit) = units.last_mut()
                    && let Some(last) = unit.raised.last_mut()
                {
                    last.message.push('\n');
                    last.message.push_str(text);
                    unit.end = i;
                }
                state = State::Message { lines: count + 1 };
            }
        }
    }
    let last = units.len().checked_sub(1)?;
    let end = units[last].end;
    let mut chain = Vec::new();
    let mut index = last;
    loop {
        let unit = &units[index];
        for raised in &unit.raised {
            if chain.len() < MAX_CHAIN {
                chain.push(raised.clone());
            }
        }
        match (unit.link, index) {
            (Some(_), 1..) => index -= 1,
            _ => break,
        }
    }
    Some(Found {
        reader: READER,
        chain,
        end,
        ..Found::default()
    })
}

/// A line that starts a new log record rather than continuing a message:
/// a date, a bracketed timestamp or level, or a `LEVEL:` logging prefix.
pub fn looks_like_new_record(text: &str) -> bool {
    let b = text.as_bytes();
    let dated = b.len() >= 10
        && b[..4].iter().all(u8::is_ascii_digit)
        && (b[4] == b'-' || b[4] == b'/')
        && b[5..7].iter().all(u8::is_ascii_digit);
    let bracketed = text.starts_with('[')
        && text[1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit() || c.is_ascii_uppercase());
    let levelled = [
        "DEBUG", "INFO", "WARNING", "WARN", "ERROR", "CRITICAL", "FATAL",
    ]
    .iter()
    .any(|level| {
        text.strip_prefix(level)
            .is_some_and(|rest| rest.starts_with([':', ' ', ']']))
    });
    dated || bracketed || levelled || is_header(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    #[test]
    fn chain_is_outermost_first() {
        let found = read(&lines(
            "Traceback (most recent call last):\n  File \"a.py\", line 3, in f\n    x()\nConnectionResetError: [Errno 104] Connection reset by peer\n\nThe above exception was the direct cause of the following exception:\n\nTraceback (most recent call last):\n  File \"a.py\", line 7, in <module>\n    f()\nRuntimeError: upload failed\n",
        ))
        .unwrap();
        let types: Vec<_> = found.chain.iter().map(|r| r.type_name.as_str()).collect();
        assert_eq!(types, ["RuntimeError", "ConnectionResetError"]);
        assert_eq!(found.chain[0].message, "upload failed");
    }

    #[test]
    fn unlinked_tracebacks_are_separate() {
        let found = read(&lines(
            "Traceback (most recent call last):\n  File \"a.py\"\nValueError: old\nretrying\nTraceback (most recent call last):\n  File \"a.py\"\nKeyError: 'x'\n",
        ))
        .unwrap();
        assert_eq!(found.chain.len(), 1);
        assert_eq!(found.chain[0].type_name, "KeyError");
    }
}
