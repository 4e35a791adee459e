//! The end of a step's stderr, as the classifier, the state database and
//! the alert payloads get it. The raw bytes are kept generously
//! ([`RAW_TAIL_BYTES`]); when the attempt has failed the whole tail is
//! redacted by the guest *first*, and only then split into lines, trimmed to
//! the last [`TAIL_LINES`] and clipped to [`TAIL_LINE_BYTES`] each. Clipping
//! first would cut a PEM block into lines no rule recognises, or separate a
//! long token from the `Authorization: Bearer ` that identifies it.

use anyhow::Result;
use backstop::{Policy, Session};

/// Lines of stderr passed on as the failure's message.
pub const TAIL_LINES: usize = 50;
/// Longest line passed on, after redaction (its end is kept: that is where errors are).
pub const TAIL_LINE_BYTES: usize = 4_096;
/// Raw stderr kept for redaction: the last this-many bytes.
pub const RAW_TAIL_BYTES: usize = 512 * 1024;

/// The last [`RAW_TAIL_BYTES`] of a stream, unredacted. Lives only in memory.
#[derive(Default)]
pub struct RawTail {
    bytes: Vec<u8>,
    /// Bytes were dropped from the front, so the first line may be partial.
    cut: bool,
    pub closed: bool,
}

impl RawTail {
    pub fn push(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
        if self.bytes.len() > 2 * RAW_TAIL_BYTES {
            let excess = self.bytes.len() - RAW_TAIL_BYTES;
            self.bytes.drain(..excess);
            self.cut = true;
        }
    }

    /// The kept text (invalid UTF-8 replaced), starting at a line or word
    /// boundary when the front was dropped: a fragment of a token cut in
    /// half has nothing left that a rule could recognise it by.
    pub fn text(&self) -> String {
        let mut bytes = &self.bytes[self.bytes.len().saturating_sub(RAW_TAIL_BYTES)..];
        if self.cut || bytes.len() < self.bytes.len() {
            let skip = bytes
                .iter()
                .position(|&b| b == b'\n')
                .or_else(|| bytes.iter().position(u8::is_ascii_whitespace))
                .map_or(bytes.len(), |p| p + 1);
            bytes = &bytes[skip..];
        }
        String::from_utf8_lossy(bytes).into_owned()
    }
}

/// Redact `raw` with the policy's rules, then keep its last [`TAIL_LINES`]
/// lines, each cut to its last [`TAIL_LINE_BYTES`] bytes.
pub fn redacted(session: &mut Session, policy: Policy, raw: &str) -> Result<String> {
    if raw.is_empty() {
        return Ok(String::new());
    }
    let report = session.redact(policy, raw)?;
    Ok(clip(&report.text))
}

/// The last lines of an already redacted text, each cut to its end.
fn clip(text: &str) -> String {
    let text = text.strip_suffix('\n').unwrap_or(text);
    let lines: Vec<&str> = text.split('\n').collect();
    let skip = lines.len().saturating_sub(TAIL_LINES);
    lines[skip..]
        .iter()
        .map(|l| keep_end(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The last [`TAIL_LINE_BYTES`] bytes of a line, on a character boundary.
fn keep_end(line: &str) -> &str {
    let mut start = line.len().saturating_sub(TAIL_LINE_BYTES);
    while !line.is_char_boundary(start) {
        start += 1;
    }
    &line[start..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use backstop::Engine;

    #[test]
    fn the_tail_keeps_the_last_lines_and_the_unfinished_one() {
        let mut tail = RawTail::default();
        for i in 0..(TAIL_LINES + 10) {
            tail.push(format!("line {i}\n").as_bytes());
        }
        tail.push(b"Traceback: ");
        tail.push(b"CUDA out of memory");
        let text = clip(&tail.text());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), TAIL_LINES);
        assert_eq!(lines[TAIL_LINES - 1], "Traceback: CUDA out of memory");
    }

    #[test]
    fn a_runaway_stream_is_bounded_and_starts_at_a_boundary() {
        let mut tail = RawTail::default();
        for _ in 0..40 {
            tail.push(&vec![b'x'; 100_000]);
            tail.push(b" word ");
        }
        let text = tail.text();
        assert!(text.len() <= RAW_TAIL_BYTES);
        assert!(
            text.starts_with('x') || text.starts_with("word"),
            "{:?}",
            &text[..20]
        );
        assert!(!tail.bytes.is_empty() && tail.bytes.len() <= 2 * RAW_TAIL_BYTES);
    }

    #[test]
    fn redaction_comes_before_clipping() {
        let engine = Engine::builder()
            .cache(backstop::CacheMode::Disabled)
            .build()
            .unwrap();
        let mut session = engine.session().unwrap();
        let policy = session.default_policy().unwrap();
        let token = "Zm9vYmFyYmF6cXV4".repeat(400);
        let mut tail = RawTail::default();
        tail.push(format!("Authorization: Bearer {token}\n").as_bytes());
        tail.push(b"-----BEGIN RSA PRIVATE KEY-----\n");
        for _ in 0..60 {
            tail.push(b"MIIEowIBAAKCAQEA1c7+9z5Pad7OejecsQ0bu3aozN3tihPmljnnudb9G3HecdGx\n");
        }
        tail.push(b"-----END RSA PRIVATE KEY-----\nfailed\n");
        let out = redacted(&mut session, policy, &tail.text()).unwrap();
        assert_eq!(out, "Authorization: Bearer [REDACTED]\n[REDACTED]\nfailed");
    }
}
