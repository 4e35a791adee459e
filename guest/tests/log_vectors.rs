//! The log-reader vectors (tests/vectors/logs-*.json) against the native core,
//! so a reader change is checked without rebuilding the component. The hosts
//! run the same vectors through the component (host/tests/conformance.rs, ...).

use std::path::Path;

use backstop_core::logs::tail;
use backstop_core::{Format, LogInput, LogStream, Policy, read_log};
use serde_json::{Value, json};

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

fn input(log: &Value) -> LogInput {
    LogInput {
        text: log["text"].as_str().expect("log.text").to_string(),
        exit_code: log
            .get("exit_code")
            .and_then(Value::as_i64)
            .map(|n| n as i32),
        signal: log
            .get("signal")
            .and_then(Value::as_str)
            .map(str::to_string),
        stream: log.get("stream").and_then(Value::as_str).map(|s| match s {
            "stderr" => LogStream::Stderr,
            "stdout" => LogStream::Stdout,
            "combined" => LogStream::Combined,
            other => panic!("unknown stream {other}"),
        }),
    }
}

fn outcome(policy: &Policy, log: &Value) -> Value {
    match read_log(&input(log)) {
        Err(e) => json!({ "error": {
            "code": e.code.as_str(), "message": e.message, "path": e.path,
            "line": e.location.map(|l| l.line), "column": e.location.map(|l| l.column),
        }}),
        Ok(r) => {
            let c = policy.classify(&r.failure).expect("classifies");
            let f = &r.failure;
            json!({ "ok": {
                "failure": {
                    "http_status": f.http_status, "grpc_code": f.grpc_code, "exit_code": f.exit_code,
                    "signal": f.signal, "error_types": f.error_types, "error_bases": f.error_bases,
                    "error_code": f.error_code, "message": f.message,
                },
                "readers": r.readers, "summary": r.summary, "pushback_ms": r.pushback_ms,
                "classification": { "class": c.class.as_str(), "rule": c.rule, "reason": c.reason },
            }})
        }
    }
}

#[test]
fn every_log_vector_passes_natively() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("logs-") && n.ends_with(".json"))
        })
        .collect();
    files.sort();
    let (mut count, mut failures) = (0, Vec::new());
    for file in files {
        let suite: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        let policy = match suite["policy"].as_object() {
            None => Policy::builtin(),
            Some(p) => Policy::load(
                p["source"].as_str().unwrap(),
                if p["format"] == "json" {
                    Format::Json
                } else {
                    Format::Toml
                },
            )
            .unwrap(),
        };
        for v in suite["vectors"].as_array().unwrap() {
            count += 1;
            let actual = outcome(&policy, &v["log"]);
            let expected = match (v.get("expect"), v.get("expect_error")) {
                (Some(e), _) => json!({ "ok": e }),
                (None, Some(e)) => json!({ "error": e }),
                _ => panic!("{} has no expectation", v["name"]),
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
    assert!(count >= 150, "only {count} log vectors");
    assert!(
        failures.is_empty(),
        "{} of {count} log vectors failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Tails far beyond the bound give an answer, and the same answer as their
/// bounded end: the readers see only the last `MAX_TEXT_BYTES`.
#[test]
fn megabyte_tails_are_bounded() {
    let error = "Traceback (most recent call last):\n  File \"a.py\", line 1, in <module>\nbotocore.exceptions.ClientError: An error occurred (SlowDown) when calling the GetObject operation: x\n";
    let noise = "INFO step done, loss=0.123456\n".repeat(200_000); // ~6 MB
    let big = read_log(&LogInput {
        text: format!("{noise}{error}"),
        exit_code: Some(1),
        ..LogInput::default()
    })
    .unwrap();
    assert_eq!(big.failure.error_code.as_deref(), Some("SlowDown"));

    // A million-line traceback: only its end is read.
    let mut frames = String::from("Traceback (most recent call last):\n");
    for i in 0..1_000_000 {
        frames.push_str(&format!("  File \"m{i}.py\", line {i}, in f\n    f()\n"));
    }
    frames.push_str("RecursionError: maximum recursion depth exceeded\n");
    let deep = read_log(&LogInput {
        text: frames,
        ..LogInput::default()
    })
    .unwrap();
    // The header is far outside the tail, so no traceback is seen; the
    // single-line reader still names the error.
    assert_eq!(deep.failure.error_types, ["RecursionError"]);

    // One endless line with no newline at all.
    let line = "x".repeat(3 * tail::MAX_TEXT_BYTES);
    let report = read_log(&LogInput {
        text: line,
        ..LogInput::default()
    })
    .unwrap();
    assert!(report.failure.message.unwrap().len() <= tail::MAX_LINE_BYTES);
}
