//! The redaction corpus (`tests/vectors/redaction-*.json`) against the native
//! core, for quick iteration on the rules; the host runners check the
//! component gives the same answers.

use std::path::Path;

use backstop_core::{Format, Policy};
use serde_json::{Value, json};

fn error_json(e: backstop_core::PolicyError) -> Value {
    json!({
        "code": e.code.as_str(),
        "message": e.message,
        "path": e.path,
        "line": e.location.map(|l| l.line),
        "column": e.location.map(|l| l.column),
    })
}

fn subset(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|av| subset(v, av))),
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(e, a)| subset(e, a))
        }
        _ => expected == actual,
    }
}

#[test]
fn the_redaction_corpus_passes_natively() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("redaction-")
        })
        .collect();
    files.sort();
    let (mut count, mut failures) = (0, Vec::new());
    for file in files {
        let suite: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for v in suite["vectors"].as_array().unwrap() {
            if v.get("alert_steps").is_some() {
                continue; // alert sequences: the host runners evaluate them
            }
            count += 1;
            let policy = v.get("policy").unwrap_or(&suite["policy"]);
            let source = policy.get("source").and_then(Value::as_str).unwrap_or("");
            let format = if policy.get("format").and_then(Value::as_str) == Some("json") {
                Format::Json
            } else {
                Format::Toml
            };
            let loaded = Policy::load(source, format);
            let (expected, actual) = if let Some(e) = v.get("expect_errors") {
                let actual = match loaded {
                    Err(errors) => json!(errors.into_iter().map(error_json).collect::<Vec<_>>()),
                    Ok(_) => json!("loaded"),
                };
                (e.clone(), actual)
            } else {
                let policy = loaded.expect("policy loads");
                let r = policy.redact(v["redact"].as_str().unwrap()).unwrap();
                let actual = json!({
                    "text": r.text,
                    "redactions": r.counts.iter().map(|(rule, count)| json!({"rule": rule, "count": count})).collect::<Vec<_>>(),
                });
                (v["expect"].clone(), actual)
            };
            if !subset(&expected, &actual) {
                failures.push(format!(
                    "{}: {}\n  expected: {expected}\n  actual:   {actual}",
                    file.file_name().unwrap().to_string_lossy(),
                    v["name"]
                ));
            }
        }
    }
    assert!(count >= 200, "only {count} redaction vectors");
    assert!(
        failures.is_empty(),
        "{} of {count} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
