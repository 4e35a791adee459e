//! Secrets never leave the evaluator: the failure message and the log tail
//! are redacted (see [`crate::redaction`]) as one text *before* they are
//! split into lines, trimmed to the last lines and clipped, so a PEM block
//! across lines or a long `Authorization: Bearer ...` line cannot escape
//! its pattern by being cut first.

use std::sync::Arc;

use crate::redaction::Redactor;

/// The policy's redactor, shared by the alert configuration; `None` is the
/// built-in one, compiled only when something is first redacted.
#[derive(Debug, Clone, Default)]
pub struct SharedRedactor(pub Option<Arc<Redactor>>);

impl SharedRedactor {
    pub fn get(&self) -> &Redactor {
        match &self.0 {
            Some(redactor) => redactor,
            None => Redactor::builtin_ref(),
        }
    }
}

/// Redact one text with the built-in rules.
pub fn redact(text: &str) -> String {
    Redactor::builtin().redact(text).text
}

/// Redact a text, then clip it to `max_chars` characters (keeping its start).
pub fn redact_message(redactor: &Redactor, text: &str, max_chars: usize) -> String {
    clip(&redactor.redact(text).text, max_chars)
}

/// Redact the log tail as one text, then keep its last `max_lines` lines,
/// each clipped to `max_chars` characters.
pub fn redact_lines(
    redactor: &Redactor,
    lines: &[String],
    max_lines: usize,
    max_chars: usize,
) -> Vec<String> {
    let joined = lines.join("\n");
    let redacted = redactor.redact(&joined).text;
    let all: Vec<&str> = redacted.split('\n').collect();
    let skip = all.len().saturating_sub(max_lines);
    all[skip..].iter().map(|l| clip(l, max_chars)).collect()
}

pub fn clip(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_common_secrets() {
        assert_eq!(
            redact("GET https://alice:hunter2@db.example/x"),
            "GET https://alice:[REDACTED]@db.example/x"
        );
        assert_eq!(
            redact("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc"),
            "Authorization: Bearer [REDACTED]"
        );
        assert_eq!(
            redact("password=s3cr3t user=bob"),
            "password=[REDACTED] user=bob"
        );
        assert_eq!(
            redact("AWS_SECRET_ACCESS_KEY: abcd/efgh+ijkl"),
            "AWS_SECRET_ACCESS_KEY: [REDACTED]"
        );
        assert_eq!(
            redact(r#"{"api_key": "zzz123"}"#),
            r#"{"api_key": "[REDACTED]"}"#
        );
        assert_eq!(
            redact("key AKIAABCDEFGHIJKLMNOP used"),
            "key [REDACTED] used"
        );
        assert_eq!(
            redact("token ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
            "token [REDACTED]"
        );
        assert_eq!(
            redact("nothing secret here: 503 from s3"),
            "nothing secret here: 503 from s3"
        );
    }

    #[test]
    fn a_pem_block_split_into_lines_is_redacted_whole() {
        let lines: Vec<String> = [
            "loading key",
            "-----BEGIN RSA PRIVATE KEY-----",
            "MIIEowIBAAKCAQEA1c7+9z5Pad7OejecsQ0bu3aozN3tihPmljnnudb9G3HecdGx",
            "-----END RSA PRIVATE KEY-----",
            "done",
        ]
        .map(String::from)
        .to_vec();
        let out = redact_lines(&Redactor::builtin(), &lines, 20, 500);
        assert_eq!(out, vec!["loading key", "[REDACTED]", "done"]);
    }

    #[test]
    fn a_long_line_is_clipped_after_redaction() {
        let token = "Zm9vYmFyYmF6cXV4".repeat(400);
        let line = format!("Authorization: Bearer {token}");
        let out = redact_lines(&Redactor::builtin(), &[line], 20, 100);
        assert_eq!(out, vec!["Authorization: Bearer [REDACTED]"]);
    }
}
