//! A format-neutral document tree with byte offsets, built from TOML or JSON,
//! so one validator reports the same errors, with locations, for both formats.

use std::borrow::Cow;

use crate::error::{ErrorCode, Location, PolicyError};

/// Largest policy document accepted, in bytes.
pub const MAX_DOCUMENT_BYTES: usize = 1 << 20;
/// Deepest nesting of tables and arrays accepted.
pub const MAX_DEPTH: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Toml,
    Json,
}

/// A value with the byte offset where it starts in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub offset: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(String),
    Integer(i64),
    Float(f64),
    Bool(bool),
    Array(Vec<Node>),
    Table(Vec<Entry>),
    /// A TOML datetime or JSON null: never valid in a policy, kept for a clear error.
    Other(&'static str),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_offset: usize,
    pub node: Node,
}

impl Value {
    /// The type name used in "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "a string",
            Value::Integer(_) => "an integer",
            Value::Float(_) => "a float",
            Value::Bool(_) => "a boolean",
            Value::Array(_) => "an array",
            Value::Table(_) => "a table",
            Value::Other(name) => name,
        }
    }
}

/// Parse `source` into a [`Node`] tree. Errors carry a location.
pub fn parse(source: &str, format: Format) -> Result<Node, PolicyError> {
    if source.len() > MAX_DOCUMENT_BYTES {
        return Err(PolicyError::new(
            ErrorCode::TooLarge,
            "",
            format!(
                "policy document is {} bytes; the limit is {} bytes",
                source.len(),
                MAX_DOCUMENT_BYTES
            ),
        ));
    }
    match format {
        Format::Toml => parse_toml(source),
        Format::Json => parse_json(source),
    }
}

fn too_deep(source: &str, offset: usize) -> PolicyError {
    PolicyError::new(
        ErrorCode::TooLarge,
        "",
        format!("tables and arrays nest deeper than {MAX_DEPTH} levels"),
    )
    .at(Location::of_offset(source, offset))
}

fn parse_toml(source: &str) -> Result<Node, PolicyError> {
    use toml::de::{DeTable, DeValue};

    let table = DeTable::parse(source).map_err(|err| {
        let offset = err.span().map_or(0, |span| span.start);
        PolicyError::new(ErrorCode::Syntax, "", toml_message(err.message()))
            .at(Location::of_offset(source, offset))
    })?;

    fn convert(
        source: &str,
        value: &DeValue<'_>,
        offset: usize,
        depth: usize,
    ) -> Result<Node, PolicyError> {
        if depth > MAX_DEPTH {
            return Err(too_deep(source, offset));
        }
        let value = match value {
            DeValue::String(s) => Value::String(s.to_string()),
            DeValue::Integer(i) => {
                match i64::from_str_radix(&i.as_str().replace('_', ""), i.radix()) {
                    Ok(n) => Value::Integer(n),
                    Err(_) => {
                        return Err(PolicyError::new(
                            ErrorCode::OutOfRange,
                            "",
                            format!("integer `{}` does not fit in 64 bits", i.as_str()),
                        )
                        .at(Location::of_offset(source, offset)));
                    }
                }
            }
            DeValue::Float(f) => Value::Float(parse_toml_float(f.as_str())),
            DeValue::Boolean(b) => Value::Bool(*b),
            DeValue::Datetime(_) => Value::Other("a datetime"),
            DeValue::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| convert(source, item.get_ref(), item.span().start, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            DeValue::Table(table) => Value::Table(convert_table(source, table, depth + 1)?),
        };
        Ok(Node { value, offset })
    }

    fn convert_table(
        source: &str,
        table: &DeTable<'_>,
        depth: usize,
    ) -> Result<Vec<Entry>, PolicyError> {
        let mut entries: Vec<Entry> = table
            .iter()
            .map(|(key, value)| {
                Ok(Entry {
                    key: key.get_ref().to_string(),
                    key_offset: key.span().start,
                    node: convert(source, value.get_ref(), value.span().start, depth)?,
                })
            })
            .collect::<Result<_, PolicyError>>()?;
        // Report problems in document order regardless of the map's ordering.
        entries.sort_by_key(|entry| entry.key_offset);
        Ok(entries)
    }

    let span = table.span();
    Ok(Node {
        value: Value::Table(convert_table(source, table.get_ref(), 1)?),
        offset: span.start,
    })
}

fn parse_toml_float(text: &str) -> f64 {
    match text.trim_start_matches('+') {
        "inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        t if t.ends_with("nan") => f64::NAN,
        t => t.replace('_', "").parse().unwrap_or(f64::NAN),
    }
}

/// toml's messages are already clear; make the first letter lowercase to match ours.
fn toml_message(message: &str) -> String {
    let message = message.trim();
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => "invalid TOML".to_string(),
    }
}

fn parse_json(source: &str) -> Result<Node, PolicyError> {
    use jsonc_parser::ast::{ObjectPropName, Value as Json};
    use jsonc_parser::{CollectOptions, ParseOptions, parse_to_ast};

    // Strict JSON, except that comments are allowed (as in tsconfig / VS Code settings).
    let options = ParseOptions {
        allow_comments: true,
        allow_loose_object_property_names: false,
        allow_trailing_commas: false,
        allow_missing_commas: false,
        allow_single_quoted_strings: false,
        allow_hexadecimal_numbers: false,
        allow_unary_plus_numbers: false,
        allow_bare_decimal_point_numbers: false,
        allow_non_finite_numbers: false,
        allow_extended_string_escapes: false,
    };
    let parsed = parse_to_ast(source, &CollectOptions::default(), &options).map_err(|err| {
        PolicyError::new(
            ErrorCode::Syntax,
            "",
            lowercase_first(&err.kind().to_string()),
        )
        .at(Location::of_offset(source, err.range().start))
    })?;
    let Some(root) = parsed.value else {
        return Err(
            PolicyError::new(ErrorCode::Syntax, "", "the document is empty")
                .at(Location { line: 1, column: 1 }),
        );
    };

    fn convert(source: &str, value: &Json<'_>, depth: usize) -> Result<Node, PolicyError> {
        let offset = match value {
            Json::StringLit(v) => v.range.start,
            Json::NumberLit(v) => v.range.start,
            Json::BooleanLit(v) => v.range.start,
            Json::Object(v) => v.range.start,
            Json::Array(v) => v.range.start,
            Json::NullKeyword(v) => v.range.start,
        };
        if depth > MAX_DEPTH {
            return Err(too_deep(source, offset));
        }
        let value = match value {
            Json::StringLit(s) => Value::String(s.value.to_string()),
            Json::NumberLit(n) => json_number(source, n.value, offset)?,
            Json::BooleanLit(b) => Value::Bool(b.value),
            Json::NullKeyword(_) => Value::Other("null"),
            Json::Array(a) => Value::Array(
                a.elements
                    .iter()
                    .map(|item| convert(source, item, depth + 1))
                    .collect::<Result<_, _>>()?,
            ),
            Json::Object(o) => {
                let mut entries = Vec::with_capacity(o.properties.len());
                for prop in &o.properties {
                    let (key, key_offset): (Cow<'_, str>, usize) = match &prop.name {
                        ObjectPropName::String(s) => (s.value.clone(), s.range.start),
                        ObjectPropName::Word(w) => (Cow::Borrowed(w.value), w.range.start),
                    };
                    if entries.iter().any(|e: &Entry| e.key == key) {
                        return Err(PolicyError::new(
                            ErrorCode::Syntax,
                            "",
                            format!("duplicate key `{key}`"),
                        )
                        .at(Location::of_offset(source, key_offset)));
                    }
                    entries.push(Entry {
                        key: key.into_owned(),
                        key_offset,
                        node: convert(source, &prop.value, depth + 1)?,
                    });
                }
                Value::Table(entries)
            }
        };
        Ok(Node { value, offset })
    }

    // The root object is the document itself, as in TOML: its values are depth 1.
    convert(source, &root, 0)
}

fn json_number(source: &str, text: &str, offset: usize) -> Result<Value, PolicyError> {
    if !text.contains(['.', 'e', 'E']) {
        if let Ok(n) = text.parse::<i64>() {
            return Ok(Value::Integer(n));
        }
        return Err(PolicyError::new(
            ErrorCode::OutOfRange,
            "",
            format!("integer `{text}` does not fit in 64 bits"),
        )
        .at(Location::of_offset(source, offset)));
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_finite() => Ok(Value::Float(f)),
        _ => Err(PolicyError::new(
            ErrorCode::OutOfRange,
            "",
            format!("number `{text}` is not a finite 64-bit float"),
        )
        .at(Location::of_offset(source, offset))),
    }
}

fn lowercase_first(message: &str) -> String {
    toml_message(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_and_json_give_the_same_tree_shape() {
        let t = parse("a = 1\nb = [\"x\", 2.5]\n", Format::Toml).unwrap();
        let j = parse("{\"a\": 1, \"b\": [\"x\", 2.5]}", Format::Json).unwrap();
        let strip = |n: &Node| match &n.value {
            Value::Table(e) => e
                .iter()
                .map(|e| (e.key.clone(), e.node.value.type_name()))
                .collect::<Vec<_>>(),
            _ => vec![],
        };
        assert_eq!(strip(&t), strip(&j));
    }

    #[test]
    fn syntax_errors_have_locations() {
        let e = parse("a = 1\nb = = 2\n", Format::Toml).unwrap_err();
        assert_eq!(e.code, ErrorCode::Syntax);
        assert_eq!(e.location.unwrap().line, 2);
        let e = parse("{\n  \"a\": 1,\n}", Format::Json).unwrap_err();
        assert_eq!(e.code, ErrorCode::Syntax);
        assert_eq!(e.location.unwrap().line, 2);
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let doc = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let e = parse(&format!("{{\"a\": {doc}}}"), Format::Json).unwrap_err();
        assert!(
            matches!(e.code, ErrorCode::TooLarge | ErrorCode::Syntax),
            "{e}"
        );
        let e = parse(&format!("a = {doc}"), Format::Toml).unwrap_err();
        assert!(
            matches!(e.code, ErrorCode::TooLarge | ErrorCode::Syntax),
            "{e}"
        );
        let dotted = format!("{} = 1", vec!["k"; 5_000].join("."));
        assert!(parse(&dotted, Format::Toml).is_err());
    }

    #[test]
    fn oversized_documents_are_refused() {
        let e = parse(&" ".repeat(MAX_DOCUMENT_BYTES + 1), Format::Toml).unwrap_err();
        assert_eq!(e.code, ErrorCode::TooLarge);
    }

    #[test]
    fn location_counts_characters_not_bytes() {
        assert_eq!(
            Location::of_offset("é=1\nxé", 8),
            Location { line: 2, column: 3 }
        );
    }
}
