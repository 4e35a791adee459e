//! A sink's body template (`format = "template"`): a JSON value tree whose
//! string leaves may hold `{{field}}` placeholders. The guest only validates
//! it (every placeholder names a known field, at a location) and hands it to
//! hosts as compact JSON text in the document's key order; hosts fill it from
//! the notification. Because the tree is filled leaf by leaf and serialised by
//! a JSON library, a value can never break out of its string: there is no
//! string concatenation of JSON anywhere.

use crate::document::{Node, Value};
use crate::error::ErrorCode;
use crate::schema::{Validator, join, suggest};

/// The notification fields a placeholder may name; `payload.<a>.<b>` reaches
/// into the payload (the policy's payload fields and the runbook).
pub const FIELDS: &[&str] = &[
    "at",
    "kind",
    "severity",
    "rule",
    "summary",
    "dedup_key",
    "targets",
    "target",
    "source",
    "runbook_url",
    "payload",
];

/// Nesting and size bounds: a template is a body shape, not a data store.
const MAX_DEPTH: usize = 16;
const MAX_LEAVES: usize = 512;

/// One piece of a template string: literal text or a field to fill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Field(String),
}

/// Split a string leaf into pieces. `Err` names what is wrong.
pub fn pieces(s: &str) -> Result<Vec<Piece>, String> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        if start > 0 {
            out.push(Piece::Text(rest[..start].to_string()));
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(format!("`{{{{` without a closing `}}}}` in {s:?}"));
        };
        let name = after[..end].trim();
        check_field(name)?;
        out.push(Piece::Field(name.to_string()));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest.to_string()));
    }
    Ok(out)
}

fn check_field(name: &str) -> Result<(), String> {
    if FIELDS.contains(&name) {
        return Ok(());
    }
    if let Some(path) = name.strip_prefix("payload.") {
        let ok = path.split('.').all(|seg| {
            !seg.is_empty()
                && seg
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        });
        if ok {
            return Ok(());
        }
    }
    Err(match suggest(name, FIELDS) {
        Some(close) => {
            format!("`{{{{{name}}}}}` is not a notification field; did you mean `{{{{{close}}}}}`?")
        }
        None => format!(
            "`{{{{{name}}}}}` is not a notification field; expected one of: {}, or payload.<field>",
            FIELDS.join(", ")
        ),
    })
}

/// Validate the template at `path` and return it as compact JSON text (keys
/// in document order). Diagnostics go to `v`; `None` when there were any.
pub fn read(v: &mut Validator<'_>, path: &str, node: &Node) -> Option<String> {
    if !matches!(node.value, Value::Table(_)) {
        v.wrong_type(path, node, "a table (the JSON object to send)");
        return None;
    }
    let before = v.errors.len();
    let mut out = String::new();
    let mut leaves = 0usize;
    write(v, path, node, 0, &mut leaves, &mut out);
    if leaves > MAX_LEAVES {
        v.report(
            ErrorCode::TooLarge,
            path,
            node.offset,
            format!("the template has {leaves} values; the limit is {MAX_LEAVES}"),
        );
    }
    (v.errors.len() == before).then_some(out)
}

fn write(
    v: &mut Validator<'_>,
    path: &str,
    node: &Node,
    depth: usize,
    leaves: &mut usize,
    out: &mut String,
) {
    if depth > MAX_DEPTH {
        v.report(
            ErrorCode::TooLarge,
            path,
            node.offset,
            format!("the template nests deeper than {MAX_DEPTH} levels"),
        );
        return;
    }
    *leaves += 1;
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    match &node.value {
        Value::String(s) => {
            if let Err(message) = pieces(s) {
                v.report(ErrorCode::InvalidValue, path, node.offset, message);
            }
            out.push_str(&quote(s));
        }
        Value::Integer(i) => out.push_str(&i.to_string()),
        Value::Float(f) => match serde_json::Number::from_f64(*f) {
            Some(n) => out.push_str(&n.to_string()),
            None => v.report(
                ErrorCode::InvalidValue,
                path,
                node.offset,
                format!("{f} has no JSON form"),
            ),
        },
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Other("null") => out.push_str("null"),
        Value::Other(name) => v.report(
            ErrorCode::WrongType,
            path,
            node.offset,
            format!(
                "expected a JSON value (string, number, boolean, array or table), found {name}"
            ),
        ),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(v, &format!("{path}[{i}]"), item, depth + 1, leaves, out);
            }
            out.push(']');
        }
        Value::Table(entries) => {
            out.push('{');
            for (i, e) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&quote(&e.key));
                out.push(':');
                write(v, &join(path, &e.key), &e.node, depth + 1, leaves, out);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_text_and_fields() {
        assert_eq!(
            pieces("[{{ severity }}] {{summary}}!").unwrap(),
            vec![
                Piece::Text("[".into()),
                Piece::Field("severity".into()),
                Piece::Text("] ".into()),
                Piece::Field("summary".into()),
                Piece::Text("!".into()),
            ]
        );
        assert_eq!(
            pieces("{{payload.runbook.url}}").unwrap(),
            vec![Piece::Field("payload.runbook.url".into())]
        );
        assert_eq!(pieces("plain").unwrap(), vec![Piece::Text("plain".into())]);
        assert!(pieces("{{nope}}").unwrap_err().contains("`{{nope}}`"));
        assert!(pieces("{{summary").unwrap_err().contains("closing"));
        assert!(pieces("{{payload.}}").is_err());
    }

    proptest::proptest! {
        /// Any text (multi-byte characters, stray braces) splits or is
        /// refused; never a panic, and the text pieces are the text.
        #[test]
        fn any_string_splits_or_is_refused(s in "(\\PC|[{}]){0,40}") {
            if let Ok(pieces) = pieces(&s) {
                let text: String = pieces
                    .iter()
                    .filter_map(|p| match p { Piece::Text(t) => Some(t.as_str()), _ => None })
                    .collect();
                proptest::prop_assert!(text.len() <= s.len());
            }
        }
    }
}
