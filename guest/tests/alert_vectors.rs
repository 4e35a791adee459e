//! The alert-sequence vectors (`tests/vectors/alerts-*.json`) against the
//! native core, for quick iteration on the evaluator; the host runners check
//! the component gives the same answers.

use std::collections::BTreeMap;
use std::path::Path;

use backstop_core::alerts::{Evaluation, Event, EventKind, KeyedState, LEGACY_KEY};
use backstop_core::{Failure, Format, Policy, PolicyError};
use serde_json::{Value, json};

fn error_json(e: &PolicyError) -> Value {
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

fn text(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_string)
}

fn failure(v: &Value) -> Failure {
    let list = |key: &str| -> Vec<String> {
        v.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    Failure {
        http_status: v
            .get("http_status")
            .and_then(Value::as_u64)
            .map(|n| n as u16),
        grpc_code: text(v, "grpc_code"),
        exit_code: v.get("exit_code").and_then(Value::as_i64).map(|n| n as i32),
        signal: text(v, "signal"),
        error_types: list("error_types"),
        error_bases: list("error_bases"),
        error_code: text(v, "error_code"),
        message: text(v, "message"),
    }
}

fn event(v: &Value) -> Event {
    let kind = match v["kind"].as_str().unwrap() {
        "attempt-failed" => EventKind::AttemptFailed,
        "run-failed" => EventKind::RunFailed,
        "run-succeeded" => EventKind::RunSucceeded,
        "run-late" => EventKind::RunLate,
        "alert-acknowledged" => EventKind::AlertAcknowledged,
        "tick" => EventKind::Tick,
        other => panic!("unknown event kind {other}"),
    };
    Event {
        kind,
        pipeline: text(v, "pipeline").unwrap_or_default(),
        step: text(v, "step").unwrap_or_default(),
        run_id: text(v, "run_id").unwrap_or_default(),
        failure: v.get("failure").map(failure),
        attempt: v.get("attempt").and_then(Value::as_u64).unwrap_or(0) as u32,
        late_minutes: v.get("late_minutes").and_then(Value::as_u64).unwrap_or(0) as u32,
        labels: v
            .get("labels")
            .and_then(Value::as_object)
            .map(|o| {
                o.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect()
            })
            .unwrap_or_default(),
        log_lines: v
            .get("log_lines")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        dedup_key: text(v, "dedup_key"),
    }
}

fn result_json(e: &Evaluation) -> Value {
    json!({
        "notifications": e.notifications.iter().map(|n| json!({
            "kind": n.kind.as_str(),
            "severity": n.severity.as_str(),
            "targets": n.targets,
            "rule": n.rule,
            "dedup_key": n.dedup_key,
            "summary": n.summary,
            "payload": serde_json::from_str::<Value>(&n.payload).unwrap(),
        })).collect::<Vec<_>>(),
        "suppressed": e.suppressed.iter().map(|s| json!({
            "rule": s.rule,
            "dedup_key": s.dedup_key,
            "severity": s.severity.as_str(),
            "reason": s.reason.as_str(),
        })).collect::<Vec<_>>(),
        "next_wakeup_ms": e.next_wakeup_ms,
    })
}

/// One event as a keyed host runs it: load the needed keys, the due ones
/// and the legacy document, evaluate, store the changed shards. Returns the
/// evaluation as one document would give it (the soonest wakeup of all keys).
fn keyed_step(
    policy: &Policy,
    store: &mut BTreeMap<String, KeyedState>,
    event: &Event,
    now: u64,
) -> (Result<Evaluation, PolicyError>, Option<u64>) {
    let needed = policy.alert_state_keys(event);
    let loaded: Vec<KeyedState> = store
        .values()
        .filter(|s| {
            needed.every_key
                || needed.keys.contains(&s.key)
                || s.key == LEGACY_KEY
                || s.next_wakeup_ms.is_some_and(|w| w <= now)
        })
        .cloned()
        .collect();
    let result = policy.evaluate_alerts_keyed(&loaded, event, now);
    let result = result.map(|k| {
        for s in k.states {
            if s.state.is_empty() {
                store.remove(&s.key);
            } else {
                store.insert(s.key.clone(), s);
            }
        }
        Evaluation {
            notifications: k.notifications,
            suppressed: k.suppressed,
            state: String::new(),
            next_wakeup_ms: k.next_wakeup_ms,
        }
    });
    let next = store.values().filter_map(|s| s.next_wakeup_ms).min();
    (result, next)
}

#[test]
fn the_alert_sequences_pass_natively() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/vectors");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("alerts-")
        })
        .collect();
    files.sort();
    let (mut count, mut failures) = (0, Vec::new());
    for file in files {
        let suite: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
        for v in suite["vectors"].as_array().unwrap() {
            let name = format!("{}: {}", file.display(), v["name"]);
            let policy = v.get("policy").unwrap_or(&suite["policy"]);
            let source = policy.get("source").and_then(Value::as_str).unwrap_or("");
            let format = if policy.get("format").and_then(Value::as_str) == Some("json") {
                Format::Json
            } else {
                Format::Toml
            };
            let loaded = Policy::load(source, format);
            if let Some(want) = v.get("expect_errors") {
                count += 1;
                let got: Vec<Value> = match &loaded {
                    Ok(_) => Vec::new(),
                    Err(errors) => errors.iter().map(error_json).collect(),
                };
                if !subset(want, &Value::Array(got.clone())) {
                    failures.push(format!("{name}\n  want {want}\n  got  {}", json!(got)));
                }
                continue;
            }
            let Some(steps) = v.get("alert_steps").and_then(Value::as_array) else {
                continue;
            };
            let policy = loaded.unwrap_or_else(|e| panic!("{name}: {e:?}"));
            let mut state = String::new();
            for (i, step) in steps.iter().enumerate() {
                count += 1;
                let input = text(step, "state").unwrap_or_else(|| state.clone());
                let now = step["now_ms"].as_u64().unwrap();
                let result = policy.evaluate_alerts(&input, &event(&step["event"]), now);
                let (want, got) = match (&result, step.get("expect"), step.get("expect_error")) {
                    (Ok(e), Some(want), _) => (want, result_json(e)),
                    (Err(e), _, Some(want)) => (want, error_json(e)),
                    (Ok(e), _, Some(want)) => (want, result_json(e)),
                    (Err(e), Some(want), _) => (want, error_json(e)),
                    _ => panic!("{name}: step {i} has no expectation"),
                };
                if !subset(want, &got) {
                    failures.push(format!("{name} step {i}\n  want {want}\n  got  {got}"));
                }
                if let Ok(e) = result {
                    state = e.state;
                }
            }
            // The same sequence through keyed shards gives the same answers.
            let mut store: BTreeMap<String, KeyedState> = BTreeMap::new();
            for (i, step) in steps.iter().enumerate() {
                // An explicit state stands for this step only, as above: on
                // success its answer carries on, on an error the store does.
                let mut trial = store.clone();
                if let Some(explicit) = text(step, "state") {
                    trial.clear();
                    trial.insert(
                        LEGACY_KEY.to_string(),
                        KeyedState {
                            key: LEGACY_KEY.to_string(),
                            state: explicit,
                            next_wakeup_ms: None,
                        },
                    );
                }
                let now = step["now_ms"].as_u64().unwrap();
                let event = event(&step["event"]);
                let (result, next) = keyed_step(&policy, &mut trial, &event, now);
                if result.is_ok() {
                    store = trial;
                }
                let (want, got) = match (&result, step.get("expect"), step.get("expect_error")) {
                    (Ok(e), Some(want), _) | (Ok(e), _, Some(want)) => {
                        let mut got = result_json(e);
                        got["next_wakeup_ms"] = json!(next);
                        (want, got)
                    }
                    (Err(e), _, Some(want)) | (Err(e), Some(want), _) => (want, error_json(e)),
                    _ => panic!("{name}: step {i} has no expectation"),
                };
                if !subset(want, &got) {
                    failures.push(format!(
                        "{name} step {i} (keyed)\n  want {want}\n  got  {got}"
                    ));
                }
            }
        }
    }
    assert!(count >= 250, "only {count} alert vectors");
    assert!(
        failures.is_empty(),
        "{} of {count} alert vectors failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
