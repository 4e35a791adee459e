//! Run ids, step and pipeline names: one documented policy, enforced when
//! `backstop run` parses its arguments, before anything runs (a usage error,
//! exit 2), instead of alerting failing afterwards. It is the guest's own
//! rule for alert events (`names::check_id` in the guest), so an id `run`
//! accepts is one every host's evaluator accepts:
//! - not blank (not empty, not only whitespace);
//! - at most [`MAX_ID_BYTES`] bytes of UTF-8;
//! - no control characters (newlines would forge log lines and break a pasted command).
//!
//! Anything else is allowed: values are quoted wherever backstop renders them
//! into a command.

/// Longest run id, step or pipeline name, in bytes.
pub const MAX_ID_BYTES: usize = 256;

/// A clap value parser applying the policy.
pub fn parse(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        return Err("it is blank; give a non-empty id".into());
    }
    if value.len() > MAX_ID_BYTES {
        return Err(format!(
            "it is {} bytes; the limit is {MAX_ID_BYTES} bytes",
            value.len()
        ));
    }
    if let Some(c) = value.chars().find(|c| c.is_control()) {
        return Err(format!(
            "it contains the control character U+{:04X}; use printable characters",
            u32::from(c)
        ));
    }
    Ok(value.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy() {
        assert!(parse("nightly-2024-01-01").is_ok());
        assert!(parse("x; rm -rf ~ #").is_ok());
        assert!(parse("{step}{pipeline}").is_ok());
        assert!(parse(&"é".repeat(128)).is_ok());
        assert!(parse(&"é".repeat(129)).unwrap_err().contains("258 bytes"));
        assert!(parse("  ").unwrap_err().contains("blank"));
        assert!(parse("a\nb").unwrap_err().contains("U+000A"));
        assert!(parse("a\u{1b}[31m").unwrap_err().contains("U+001B"));
    }
}
