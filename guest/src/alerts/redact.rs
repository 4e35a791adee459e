//! Secrets never leave the evaluator: log lines and messages are scrubbed of
//! credentials in URLs, bearer tokens, `key=value` secrets and well-known
//! token formats before they are put in a notification.

use std::sync::OnceLock;

use regex::{Regex, RegexSet};

const REDACTED: &str = "[REDACTED]";

struct Patterns {
    /// One pass that says which patterns occur (most lines have none).
    any: RegexSet,
    each: Vec<(Regex, &'static str)>,
}

fn patterns() -> &'static Patterns {
    static PATTERNS: OnceLock<Patterns> = OnceLock::new();
    PATTERNS.get_or_init(|| {
        let each: Vec<(Regex, &'static str)> = [
            // scheme://user:password@host
            (r"(?P<pre>[A-Za-z][A-Za-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+(?P<post>@)", "${pre}[REDACTED]${post}"),
            // Authorization: Bearer xyz / Basic xyz
            (r"(?i)(?P<pre>\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]{8,}", "${pre}[REDACTED]"),
            // password=..., api_key: "...", token=..., secret=...
            (
                r#"(?i)(?P<pre>\b[A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|private[_-]?key|credential)s?["']?\s*[=:]\s*["']?)[^\s"'&,;]+"#,
                "${pre}[REDACTED]",
            ),
            // AWS access key ids, GitHub, Slack and Google API tokens.
            (r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b", REDACTED),
            (r"\bgh[pousr]_[A-Za-z0-9]{30,}\b", REDACTED),
            (r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b", REDACTED),
            (r"\bAIza[0-9A-Za-z_-]{35}\b", REDACTED),
            // PEM private key blocks.
            (r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----", REDACTED),
        ]
        .into_iter()
        .map(|(re, with)| (Regex::new(re).expect("redaction patterns are valid"), with))
        .collect();
        let any = RegexSet::new(each.iter().map(|(re, _)| re.as_str())).expect("redaction patterns are valid");
        Patterns { any, each }
    })
}

pub fn redact(text: &str) -> String {
    let patterns = patterns();
    let found = patterns.any.matches(text);
    let mut out = text.to_string();
    for index in found.iter() {
        let (re, with) = &patterns.each[index];
        out = re.replace_all(&out, *with).into_owned();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

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
}
