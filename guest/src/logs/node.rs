//! Node.js errors as an uncaught exception or `console.error(err)` prints
//! them (`util.inspect`): `TypeError: fetch failed` or `Error [ERR_X]: msg`,
//! `    at fn (file:line:col)` frames, then a `{ ... }` block of own
//! properties: `code: 'ECONNRESET'`, `errno`, `syscall`, and `[cause]:` with
//! the cause's own lines (Node 16.9+). The chain is the error, then its causes.
//! AWS SDK for JavaScript v3 errors print `__type: 'ThrottlingException'` and
//! `$metadata: { httpStatusCode: 400 }` there.

use std::sync::LazyLock;

use regex::Regex;

use super::{Found, Raised};

pub const READER: &str = "node";

const MAX_MESSAGE_LINES: usize = 20;
/// A property block longer than this is not read further.
const MAX_BLOCK_LINES: usize = 300;
const MAX_CHAIN: usize = 64;

static HEAD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?:Uncaught )?([A-Z][\w$]*)(?: \[([A-Z][A-Z0-9_]*)\])?(?:: (.*))?$").unwrap()
});
static CAUSE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\s*\[cause\]: ([A-Z][\w$]*)(?: \[([A-Z][A-Z0-9_]*)\])?(?:: (.*?))?(?: \{)?$")
        .unwrap()
});
/// `code: 'ECONNRESET'`; AWS SDK v3 errors name their code `__type` / `Code`.
static CODE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^\s*(?:code|Code|__type): '([A-Za-z0-9_]{1,64})'").unwrap());
/// `    at fn (file:1:2)` / `    at file:1:2` / `    at async fn (...)`: a
/// space before the parenthesis, unlike a JVM frame.
fn node_frame(line: &str) -> bool {
    let t = line.trim_start();
    line.starts_with(' ') && t.starts_with("at ") && (t.contains(" (") || !t.contains('('))
}

pub fn read(lines: &[String]) -> Option<Found> {
    let mut best: Option<Found> = None;
    let mut i = 0;
    while i < lines.len() {
        let Some(head) = HEAD.captures(&lines[i]) else {
            i += 1;
            continue;
        };
        let Some(frame) =
            (i + 1..lines.len().min(i + 2 + MAX_MESSAGE_LINES)).find(|&j| node_frame(&lines[j]))
        else {
            i += 1;
            continue;
        };
        let mut message = head.get(3).map_or("", |m| m.as_str()).to_string();
        for line in &lines[i + 1..frame] {
            message.push('\n');
            message.push_str(line);
        }
        let mut chain = vec![Raised {
            type_name: head[1].to_string(),
            message,
        }];
        let mut code = head.get(2).map(|m| m.as_str().to_string());
        let mut extra = Vec::new();
        let mut j = frame;
        // Frames, and the `Emitted 'error' event on X instance at:` frames
        // of an unhandled 'error' event.
        while j < lines.len()
            && (node_frame(&lines[j]) || lines[j].starts_with("Emitted 'error' event"))
        {
            j += 1;
        }
        let mut end = j - 1;
        // The property block: opened at the end of the last frame (or alone).
        let opened =
            lines[end].trim_end().ends_with('{') || lines.get(j).is_some_and(|l| l.trim() == "{");
        if opened {
            let mut k = if lines[end].trim_end().ends_with('{') {
                j
            } else {
                j + 1
            };
            while k < lines.len() && k - j < MAX_BLOCK_LINES {
                let line = &lines[k];
                if line.starts_with('}') {
                    end = k;
                    break;
                }
                if let Some(c) = CAUSE.captures(line) {
                    if chain.len() < MAX_CHAIN {
                        chain.push(Raised {
                            type_name: c[1].to_string(),
                            message: c.get(3).map_or("", |m| m.as_str()).to_string(),
                        });
                    }
                    if code.is_none()
                        && let Some(m) = c.get(2)
                    {
                        code = Some(m.as_str().to_string());
                    }
                } else if let Some(c) = CODE.captures(line) {
                    if code.is_none() {
                        code = Some(c[1].to_string());
                    }
                } else if !node_frame(line) {
                    extra.push(line.trim().to_string());
                }
                end = k;
                k += 1;
            }
            j = end + 1;
        }
        best = Some(Found {
            reader: READER,
            chain,
            end,
            extra,
            code,
        });
        i = j.max(i + 1);
    }
    best
}
