//! Go runtime failures: `panic: <value>` (an error value prints its
//! `Error()` text, so wrapped `%w` chains arrive as `outer: inner: cause`),
//! `panic: runtime error: ...`, and `fatal error: ...` (the runtime's
//! `throw`), each followed by a goroutine dump. Go's text has no type names:
//! the reader names the error `go.panic`, `runtime.Error` or `go.fatal`, and
//! the field readers find codes in the text (`connection reset by peer`,
//! `rpc error: code = Unavailable`).

use super::{Found, Raised};

pub const READER: &str = "go-panic";

const MAX_MESSAGE_LINES: usize = 20;

fn in_dump(line: &str) -> bool {
    line.is_empty()
        || line.starts_with('\t')
        || line.starts_with("goroutine ")
        || line.starts_with("[signal ")
        || line.starts_with("created by ")
        || line.starts_with("runtime stack:")
        || line.starts_with("exit status ")
        || (line.ends_with(')') && line.contains('(') && !line.contains(' '))
        || line.starts_with("...additional frames elided...")
}

pub fn read(lines: &[String]) -> Option<Found> {
    let (start, type_name, first) = lines.iter().enumerate().rev().find_map(|(i, line)| {
        if let Some(rest) = line.strip_prefix("panic: ") {
            let rest = rest.strip_suffix(" [recovered]").unwrap_or(rest);
            let name = if rest.starts_with("runtime error: ") {
                "runtime.Error"
            } else {
                "go.panic"
            };
            Some((i, name, rest))
        } else {
            line.strip_prefix("fatal error: ")
                .map(|rest| (i, "go.fatal", rest))
        }
    })?;
    let mut message = first.to_string();
    let mut end = start;
    let mut j = start + 1;
    // The value's text may span lines, up to the goroutine dump.
    while j < lines.len() && j - start <= MAX_MESSAGE_LINES && !in_dump(&lines[j]) {
        message.push('\n');
        message.push_str(&lines[j]);
        end = j;
        j += 1;
    }
    while j < lines.len() && in_dump(&lines[j]) {
        if !lines[j].is_empty() {
            end = j;
        }
        j += 1;
    }
    Some(Found {
        reader: READER,
        chain: vec![Raised {
            type_name: type_name.to_string(),
            message,
        }],
        end,
        ..Found::default()
    })
}
