//! Runs every vector in `tests/vectors` through the component (wasmtime) and
//! through the native core, and requires both to match the vector and each other.

use std::path::{Path, PathBuf};

use backstop::{Engine, Error, Failure, Format};
use serde_json::{Value, json};

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors")
}

fn suites() -> Vec<(String, Value)> {
    let mut files: Vec<_> = std::fs::read_dir(vectors_dir())
        .expect("tests/vectors exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                serde_json::from_str(&text).unwrap(),
            )
        })
        .collect()
}

/// The canonical outcome of one vector, whichever shape it has.
fn run_wasm(session: &mut backstop::Session, policy: &Value, vector: &Value) -> Value {
    let (source, format) = policy_of(policy);
    let loaded = session.load_policy(&source, format);
    if vector.get("expect_errors").is_some() {
        return match loaded {
            Err(Error::InvalidPolicy(errors)) => json!({ "errors": errors }),
            other => json!({ "unexpected": format!("{other:?}") }),
        };
    }
    let policy = loaded.expect("policy loads");
    let failure: Failure =
        serde_json::from_value(vector["failure"].clone()).expect("canonical failure");
    match session.classify(policy, &failure) {
        Ok(c) => json!({ "ok": c }),
        Err(Error::Rejected(e)) => json!({ "error": e }),
        Err(other) => json!({ "unexpected": other.to_string() }),
    }
}

fn run_native(policy: &Value, vector: &Value) -> Value {
    use backstop_core as core;
    let (source, format) = policy_of(policy);
    let format = match format {
        Format::Toml => core::Format::Toml,
        Format::Json => core::Format::Json,
    };
    let error_json = |e: core::PolicyError| {
        json!({
            "code": e.code.as_str(),
            "message": e.message,
            "path": e.path,
            "line": e.location.map(|l| l.line),
            "column": e.location.map(|l| l.column),
        })
    };
    let loaded = core::Policy::load(&source, format);
    if vector.get("expect_errors").is_some() {
        return match loaded {
            Err(errors) => {
                json!({ "errors": errors.into_iter().map(error_json).collect::<Vec<_>>() })
            }
            Ok(_) => json!({ "unexpected": "loaded" }),
        };
    }
    let policy = loaded.expect("policy loads");
    let f: Failure = serde_json::from_value(vector["failure"].clone()).unwrap();
    let failure = core::Failure {
        http_status: f.http_status,
        grpc_code: f.grpc_code,
        exit_code: f.exit_code,
        signal: f.signal,
        error_types: f.error_types,
        error_code: f.error_code,
        message: f.message,
    };
    match policy.classify(&failure) {
        Ok(c) => json!({ "ok": { "class": c.class.as_str(), "rule": c.rule, "reason": c.reason } }),
        Err(e) => json!({ "error": error_json(e) }),
    }
}

fn policy_of(policy: &Value) -> (String, Format) {
    if policy.is_null() {
        return (String::new(), Format::Toml);
    }
    let format = match policy["format"].as_str() {
        Some("json") => Format::Json,
        _ => Format::Toml,
    };
    (
        policy["source"]
            .as_str()
            .expect("policy.source")
            .to_string(),
        format,
    )
}

/// Every key of `expected` must equal the same key of `actual`.
fn subset_matches(expected: &Value, actual: &Value) -> bool {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => e
            .iter()
            .all(|(k, v)| a.get(k).is_some_and(|av| subset_matches(v, av))),
        (Value::Array(e), Value::Array(a)) => {
            e.len() == a.len() && e.iter().zip(a).all(|(e, a)| subset_matches(e, a))
        }
        _ => expected == actual,
    }
}

fn expected_of(vector: &Value) -> Value {
    if let Some(e) = vector.get("expect") {
        json!({ "ok": e })
    } else if let Some(e) = vector.get("expect_error") {
        json!({ "error": e })
    } else if let Some(e) = vector.get("expect_errors") {
        json!({ "errors": e })
    } else {
        panic!("vector {} has no expectation", vector["name"])
    }
}

#[test]
fn every_vector_passes_in_wasm_and_native_and_they_agree() {
    let engine = Engine::builder()
        .cache(backstop::CacheMode::Disabled)
        .build()
        .unwrap();
    let mut session = engine.session().unwrap();
    let mut failures = Vec::new();
    let mut count = 0;
    for (file, suite) in suites() {
        for vector in suite["vectors"].as_array().expect("vectors array") {
            count += 1;
            let policy = vector.get("policy").unwrap_or(&suite["policy"]);
            let name = format!("{file}: {}", vector["name"]);
            let expected = expected_of(vector);
            let wasm = run_wasm(&mut session, policy, vector);
            let native = run_native(policy, vector);
            if wasm != native {
                failures.push(format!("{name}\n  wasm:   {wasm}\n  native: {native}"));
            } else if !subset_matches(&expected, &wasm) {
                failures.push(format!(
                    "{name}\n  expected: {expected}\n  actual:   {wasm}"
                ));
            }
        }
    }
    assert!(count >= 135, "only {count} vectors found");
    assert!(
        failures.is_empty(),
        "{} of {count} vectors failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{count} vectors passed in wasm and native");
}
