//! Runs every vector in `tests/vectors` through the component (wasmtime) and
//! through the native core, and requires both to match the vector and each other.

use std::path::{Path, PathBuf};

use backstop::{
    AttemptFailure, BreakerState, BudgetState, Circuit, Engine, Error, Failure, Format,
    GiveUpReason, LogInput, RetryState, SharedState,
};
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
    if let Some(call) = vector.get("call").and_then(Value::as_str) {
        return run_wasm_call(session, policy, call, &vector["input"]);
    }
    if let Some(steps) = vector.get("alert_steps").and_then(Value::as_array) {
        return json!({ "steps": run_wasm_alerts(session, policy, steps) });
    }
    if let Some(text) = vector.get("redact").and_then(Value::as_str) {
        return outcome(session.redact(policy, text));
    }
    if let Some(log) = vector.get("log") {
        let input: LogInput = serde_json::from_value(log.clone()).expect("canonical log input");
        let report = match session.read_log(&input) {
            Ok(report) => report,
            Err(Error::Rejected(e)) => return json!({ "error": e }),
            Err(other) => return json!({ "unexpected": other.to_string() }),
        };
        return match session.classify(policy, &report.failure) {
            Ok(c) => log_outcome(
                &report.failure,
                &report.readers,
                &report.summary,
                report.pushback_ms,
                json!(c),
            ),
            Err(other) => json!({ "unexpected": other.to_string() }),
        };
    }
    let failure: Failure =
        serde_json::from_value(vector["failure"].clone()).expect("canonical failure");
    match session.classify(policy, &failure) {
        Ok(c) => json!({ "ok": c }),
        Err(Error::Rejected(e)) => json!({ "error": e }),
        Err(other) => json!({ "unexpected": other.to_string() }),
    }
}

/// A log vector's canonical result: the report, with every failure key
/// present (`null` or `[]` when absent) so a vector can require absence, and
/// the report's classification.
fn log_outcome(
    f: &Failure,
    readers: &[String],
    summary: &str,
    pushback_ms: Option<u64>,
    classification: Value,
) -> Value {
    json!({ "ok": {
        "failure": {
            "http_status": f.http_status,
            "grpc_code": f.grpc_code,
            "exit_code": f.exit_code,
            "signal": f.signal,
            "error_types": f.error_types,
            "error_bases": f.error_bases,
            "error_code": f.error_code,
            "message": f.message,
        },
        "readers": readers,
        "summary": summary,
        "pushback_ms": pushback_ms,
        "classification": classification,
    }})
}

fn input<T: serde::de::DeserializeOwned + Default>(input: &Value, key: &str) -> T {
    match input.get(key) {
        None => T::default(),
        Some(v) => serde_json::from_value(v.clone()).unwrap_or_else(|e| panic!("input.{key}: {e}")),
    }
}

fn now_ms(input: &Value) -> u64 {
    input["now_ms"].as_u64().expect("input.now_ms")
}

fn seed_of(input: &Value) -> u64 {
    input["seed"]
        .as_str()
        .expect("seed is a decimal string")
        .parse()
        .unwrap()
}

fn outcome<T: serde::Serialize>(result: Result<T, Error>) -> Value {
    match result {
        Ok(v) => json!({ "ok": v }),
        Err(Error::Rejected(e)) => json!({ "error": e }),
        Err(other) => json!({ "unexpected": other.to_string() }),
    }
}

fn run_wasm_call(
    session: &mut backstop::Session,
    policy: backstop::Policy,
    call: &str,
    i: &Value,
) -> Value {
    match call {
        "begin_attempt" => outcome(session.begin_attempt(
            policy,
            &input(i, "state"),
            &input(i, "shared"),
            now_ms(i),
        )),
        "after_failure" => {
            let o: AttemptFailure = input(i, "outcome");
            outcome(session.after_failure(
                policy,
                &input(i, "state"),
                &input(i, "shared"),
                &o,
                now_ms(i),
            ))
        }
        "plan_failures" => {
            let o: AttemptFailure = input(i, "outcome");
            let max = i["max_entries"].as_u64().unwrap() as u32;
            outcome(
                session
                    .plan_failures(
                        policy,
                        &input(i, "state"),
                        &input(i, "shared"),
                        &o,
                        now_ms(i),
                        max,
                    )
                    .map(|entries| json!({ "entries": entries })),
            )
        }
        "after_success" => outcome(session.after_success(policy, &input(i, "shared"))),
        "plan_schedule" => {
            let max = i["max_entries"].as_u64().unwrap() as u32;
            outcome(session.plan_schedule(policy, seed_of(i), max))
        }
        "derive_seed" => outcome(
            session
                .derive_seed(i["key"].as_str().unwrap())
                .map(|seed| json!({ "seed": seed.to_string() })),
        ),
        "sinks" => outcome(
            session
                .alert_sinks(policy)
                .map(|sinks| json!({ "sinks": sinks })),
        ),
        other => panic!("unknown call {other}"),
    }
}

/// The native core's planner types, mapped onto the host's serde types so
/// both sides print the same canonical JSON.
mod native {
    use super::*;
    use backstop_core as core;

    pub fn state(s: &RetryState) -> core::RetryState {
        core::RetryState {
            attempts: s.attempts,
            started_at_ms: s.started_at_ms,
            last_delay_ms: s.last_delay_ms,
            seed: s.seed,
        }
    }

    pub fn outcome(o: AttemptFailure) -> core::AttemptFailure {
        core::AttemptFailure {
            failure: failure(o.failure),
            duration_ms: o.duration_ms,
            pushback_ms: o.pushback_ms,
        }
    }

    pub fn permit_json(p: core::Permit) -> Value {
        json!({
            "refused": p.refused.map(reason),
            "attempt": p.attempt,
            "timeout_ms": p.timeout_ms,
            "retry_after_ms": p.retry_after_ms,
            "probe": p.probe,
            "state": state_back(p.state),
            "shared": shared_back(p.shared),
        })
    }

    pub fn decision_json(d: core::Decision) -> Value {
        json!({
            "give_up": d.give_up.map(reason),
            "delay_ms": d.delay_ms,
            "attempt": d.attempt,
            "next_timeout_ms": d.next_timeout_ms,
            "classification": { "class": d.classification.class.as_str(), "rule": d.classification.rule, "reason": d.classification.reason },
            "explanation": d.explanation,
            "state": state_back(d.state),
            "shared": shared_back(d.shared),
        })
    }

    pub fn state_back(s: core::RetryState) -> RetryState {
        RetryState {
            attempts: s.attempts,
            started_at_ms: s.started_at_ms,
            last_delay_ms: s.last_delay_ms,
            seed: s.seed,
        }
    }

    pub fn shared(s: &SharedState) -> core::SharedState {
        use core::breaker::Circuit as C;
        let b = &s.breaker;
        core::SharedState {
            breaker: core::breaker::BreakerState {
                circuit: match b.circuit {
                    Circuit::Closed => C::Closed,
                    Circuit::Open => C::Open,
                    Circuit::HalfOpen => C::HalfOpen,
                },
                consecutive_failures: b.consecutive_failures,
                recent_outcomes: b.recent_outcomes,
                recent_count: b.recent_count,
                opened_at_ms: b.opened_at_ms,
                probes_started: b.probes_started,
                probes_succeeded: b.probes_succeeded,
            },
            budget: core::budget::BudgetState {
                spent_milli: s.budget.spent_milli,
            },
        }
    }

    pub fn shared_back(s: core::SharedState) -> SharedState {
        use core::breaker::Circuit as C;
        let b = s.breaker;
        SharedState {
            breaker: BreakerState {
                circuit: match b.circuit {
                    C::Closed => Circuit::Closed,
                    C::Open => Circuit::Open,
                    C::HalfOpen => Circuit::HalfOpen,
                },
                consecutive_failures: b.consecutive_failures,
                recent_outcomes: b.recent_outcomes,
                recent_count: b.recent_count,
                opened_at_ms: b.opened_at_ms,
                probes_started: b.probes_started,
                probes_succeeded: b.probes_succeeded,
            },
            budget: BudgetState {
                spent_milli: s.budget.spent_milli,
            },
        }
    }

    pub fn reason(r: core::GiveUp) -> GiveUpReason {
        serde_json::from_value(json!(r.as_str())).unwrap()
    }

    pub fn failure(f: Failure) -> core::Failure {
        core::Failure {
            http_status: f.http_status,
            grpc_code: f.grpc_code,
            exit_code: f.exit_code,
            signal: f.signal,
            error_types: f.error_types,
            error_bases: f.error_bases,
            error_code: f.error_code,
            message: f.message,
        }
    }
}

fn native_error(e: backstop_core::PolicyError) -> Value {
    json!({
        "code": e.code.as_str(),
        "message": e.message,
        "path": e.path,
        "line": e.location.map(|l| l.line),
        "column": e.location.map(|l| l.column),
    })
}

fn run_native_call(policy: &backstop_core::Policy, call: &str, i: &Value) -> Value {
    let wrap = |r: Result<Value, backstop_core::PolicyError>| match r {
        Ok(v) => json!({ "ok": v }),
        Err(e) => json!({ "error": native_error(e) }),
    };
    match call {
        "begin_attempt" => {
            let (s, sh): (RetryState, SharedState) = (input(i, "state"), input(i, "shared"));
            wrap(
                policy
                    .begin_attempt(&native::state(&s), &native::shared(&sh), now_ms(i))
                    .map(native::permit_json),
            )
        }
        "after_failure" => {
            let (s, sh, o): (RetryState, SharedState, AttemptFailure) =
                (input(i, "state"), input(i, "shared"), input(i, "outcome"));
            let o = native::outcome(o);
            wrap(
                policy
                    .after_failure(&native::state(&s), &native::shared(&sh), &o, now_ms(i))
                    .map(native::decision_json),
            )
        }
        "plan_failures" => {
            let (s, sh, o): (RetryState, SharedState, AttemptFailure) =
                (input(i, "state"), input(i, "shared"), input(i, "outcome"));
            let o = native::outcome(o);
            let max = i["max_entries"].as_u64().unwrap() as u32;
            wrap(
                policy
                    .plan_failures(&native::state(&s), &native::shared(&sh), &o, now_ms(i), max)
                    .map(|entries| {
                        json!({ "entries": entries.into_iter().map(|e| json!({
                            "decision": native::decision_json(e.decision),
                            "next_permit": e.next_permit.map(native::permit_json),
                        })).collect::<Vec<_>>() })
                    }),
            )
        }
        "after_success" => {
            let sh: SharedState = input(i, "shared");
            wrap(
                policy
                    .after_success(&native::shared(&sh))
                    .map(|s| json!(native::shared_back(s))),
            )
        }
        "plan_schedule" => {
            let max = i["max_entries"].as_u64().unwrap() as u32;
            let s = policy.schedule(seed_of(i), max);
            wrap(Ok(json!({
                "attempts": s.attempts.iter().map(|a| json!({
                    "attempt": a.attempt, "delay_ms": a.delay_ms, "timeout_ms": a.timeout_ms, "start_ms": a.start_ms,
                })).collect::<Vec<_>>(),
                "ends_with": s.ends_with.map(native::reason),
            })))
        }
        "derive_seed" => wrap(Ok(
            json!({ "seed": backstop_core::jitter::derive_seed(i["key"].as_str().unwrap()).to_string() }),
        )),
        "sinks" => {
            let config = policy.alerts();
            let sinks = config.present.then(|| {
                config
                    .sinks
                    .iter()
                    .map(|s| {
                        json!({
                            "target": s.target,
                            "kind": s.kind.as_str(),
                            "location": s.location,
                            "format": s.format.as_str(),
                            "timeout_ms": s.timeout_ms,
                            "dead_letter": s.dead_letter,
                            "routing_key_env": s.routing_key_env,
                            "template": s.template,
                        })
                    })
                    .collect::<Vec<_>>()
            });
            wrap(Ok(json!({ "sinks": sinks })))
        }
        other => panic!("unknown call {other}"),
    }
}

/// Runs an alert sequence, threading the state; one canonical outcome per step.
fn run_wasm_alerts(
    session: &mut backstop::Session,
    policy: backstop::Policy,
    steps: &[Value],
) -> Vec<Value> {
    let whole = run_wasm_alerts_whole(session, policy, steps);
    // The same sequence over keyed shards must answer the same, step by step.
    let keyed = run_wasm_alerts_keyed(session, policy, steps);
    whole
        .into_iter()
        .zip(keyed)
        .map(|(w, k)| {
            if w == k {
                w
            } else {
                json!({ "whole": w, "keyed": k })
            }
        })
        .collect()
}

/// A host's keyed store in memory: shards by key.
fn run_wasm_alerts_keyed(
    session: &mut backstop::Session,
    policy: backstop::Policy,
    steps: &[Value],
) -> Vec<Value> {
    use backstop::alerts::KeyedState;
    use std::collections::BTreeMap;
    let mut store: BTreeMap<String, KeyedState> = BTreeMap::new();
    steps
        .iter()
        .map(|step| {
            let mut trial = store.clone();
            if let Some(explicit) = step.get("state").and_then(Value::as_str) {
                trial.clear();
                trial.insert(String::new(), KeyedState { key: String::new(), state: explicit.to_string(), next_wakeup_ms: None });
            }
            let event: backstop::alerts::Event = serde_json::from_value(step["event"].clone()).expect("canonical event");
            let now = step["now_ms"].as_u64().unwrap();
            let needed = match session.alert_state_keys(policy, &event) {
                Ok(n) => n,
                Err(Error::Rejected(e)) => return json!({ "error": e }),
                Err(other) => return json!({ "unexpected": other.to_string() }),
            };
            let loaded: Vec<KeyedState> = trial
                .values()
                .filter(|s| needed.every_key || needed.keys.contains(&s.key) || s.key.is_empty() || s.next_wakeup_ms.is_some_and(|w| w <= now))
                .cloned()
                .collect();
            match session.evaluate_alerts_keyed(policy, &loaded, &event, now) {
                Ok(e) => {
                    for s in e.states {
                        if s.state.is_empty() {
                            trial.remove(&s.key);
                        } else {
                            trial.insert(s.key.clone(), s);
                        }
                    }
                    store = trial;
                    let next = store.values().filter_map(|s| s.next_wakeup_ms).min();
                    json!({ "ok": { "notifications": e.notifications, "suppressed": e.suppressed, "next_wakeup_ms": next } })
                }
                Err(Error::Rejected(e)) => json!({ "error": e }),
                Err(other) => json!({ "unexpected": other.to_string() }),
            }
        })
        .collect()
}

fn run_wasm_alerts_whole(
    session: &mut backstop::Session,
    policy: backstop::Policy,
    steps: &[Value],
) -> Vec<Value> {
    let mut state = String::new();
    steps
        .iter()
        .map(|step| {
            let input_state = step.get("state").and_then(Value::as_str).map_or(state.clone(), str::to_string);
            let event: backstop::alerts::Event = serde_json::from_value(step["event"].clone()).expect("canonical event");
            match session.evaluate_alerts(policy, &input_state, &event, step["now_ms"].as_u64().unwrap()) {
                Ok(e) => {
                    state = e.state.clone();
                    json!({ "ok": { "notifications": e.notifications, "suppressed": e.suppressed, "next_wakeup_ms": e.next_wakeup_ms } })
                }
                Err(Error::Rejected(e)) => json!({ "error": e }),
                Err(other) => json!({ "unexpected": other.to_string() }),
            }
        })
        .collect()
}

fn run_native_alerts(policy: &backstop_core::Policy, steps: &[Value]) -> Vec<Value> {
    use backstop_core::alerts::{Event, EventKind};
    let mut state = String::new();
    steps
        .iter()
        .map(|step| {
            let input_state = step.get("state").and_then(Value::as_str).map_or(state.clone(), str::to_string);
            let e: backstop::alerts::Event = serde_json::from_value(step["event"].clone()).unwrap();
            let kind: String = serde_json::from_value(json!(e.kind)).unwrap();
            let event = Event {
                kind: [
                    EventKind::AttemptFailed,
                    EventKind::RunFailed,
                    EventKind::RunSucceeded,
                    EventKind::RunLate,
                    EventKind::AlertAcknowledged,
                    EventKind::Tick,
                ]
                .into_iter()
                .find(|k| k.as_str() == kind)
                .unwrap(),
                pipeline: e.pipeline,
                step: e.step,
                run_id: e.run_id,
                failure: e.failure.map(native::failure),
                attempt: e.attempt,
                late_minutes: e.late_minutes,
                labels: e.labels.into_iter().collect(),
                log_lines: e.log_lines,
                dedup_key: e.dedup_key,
            };
            match policy.evaluate_alerts(&input_state, &event, step["now_ms"].as_u64().unwrap()) {
                Ok(e) => {
                    state = e.state.clone();
                    let notifications: Vec<Value> = e
                        .notifications
                        .iter()
                        .map(|n| {
                            json!({
                                "kind": n.kind.as_str(),
                                "severity": n.severity,
                                "targets": n.targets,
                                "rule": n.rule,
                                "dedup_key": n.dedup_key,
                                "summary": n.summary,
                                "payload": serde_json::from_str::<Value>(&n.payload).unwrap(),
                            })
                        })
                        .collect();
                    let suppressed: Vec<Value> = e
                        .suppressed
                        .iter()
                        .map(|x| json!({ "rule": x.rule, "dedup_key": x.dedup_key, "severity": x.severity, "reason": x.reason.as_str() }))
                        .collect();
                    json!({ "ok": { "notifications": notifications, "suppressed": suppressed, "next_wakeup_ms": e.next_wakeup_ms } })
                }
                Err(e) => json!({ "error": native_error(e) }),
            }
        })
        .collect()
}

fn run_native(policy: &Value, vector: &Value) -> Value {
    use backstop_core as core;
    let (source, format) = policy_of(policy);
    let format = match format {
        Format::Toml => core::Format::Toml,
        Format::Json => core::Format::Json,
    };
    let error_json = native_error;
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
    if let Some(call) = vector.get("call").and_then(Value::as_str) {
        return run_native_call(&policy, call, &vector["input"]);
    }
    if let Some(steps) = vector.get("alert_steps").and_then(Value::as_array) {
        return json!({ "steps": run_native_alerts(&policy, steps) });
    }
    if let Some(text) = vector.get("redact").and_then(Value::as_str) {
        return match policy.redact(text) {
            Ok(r) => json!({ "ok": {
                "text": r.text,
                "redactions": r.counts.iter().map(|(rule, count)| json!({ "rule": rule, "count": count })).collect::<Vec<_>>(),
            } }),
            Err(e) => json!({ "error": error_json(e) }),
        };
    }
    if let Some(log) = vector.get("log") {
        let input: LogInput = serde_json::from_value(log.clone()).expect("canonical log input");
        let input = core::LogInput {
            text: input.text,
            exit_code: input.exit_code,
            signal: input.signal,
            stream: input.stream.map(|s| match s {
                backstop::LogStream::Stderr => core::LogStream::Stderr,
                backstop::LogStream::Stdout => core::LogStream::Stdout,
                backstop::LogStream::Combined => core::LogStream::Combined,
            }),
        };
        let report = match core::read_log(&input) {
            Ok(report) => report,
            Err(e) => return json!({ "error": error_json(e) }),
        };
        let r = report.failure.clone();
        let failure = Failure {
            http_status: r.http_status,
            grpc_code: r.grpc_code,
            exit_code: r.exit_code,
            signal: r.signal,
            error_types: r.error_types,
            error_bases: r.error_bases,
            error_code: r.error_code,
            message: r.message,
        };
        return match policy.classify(&report.failure) {
            Ok(c) => log_outcome(
                &failure,
                &report.readers,
                &report.summary,
                report.pushback_ms,
                json!({ "class": c.class.as_str(), "rule": c.rule, "reason": c.reason }),
            ),
            Err(e) => json!({ "unexpected": error_json(e) }),
        };
    }
    let f: Failure = serde_json::from_value(vector["failure"].clone()).unwrap();
    let failure = core::Failure {
        http_status: f.http_status,
        grpc_code: f.grpc_code,
        exit_code: f.exit_code,
        signal: f.signal,
        error_types: f.error_types,
        error_bases: f.error_bases,
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
    } else if let Some(steps) = vector.get("alert_steps").and_then(Value::as_array) {
        let steps: Vec<Value> = steps
            .iter()
            .map(|s| match (s.get("expect"), s.get("expect_error")) {
                (Some(e), _) => json!({ "ok": e }),
                (None, Some(e)) => json!({ "error": e }),
                _ => panic!("alert step without an expectation in {}", vector["name"]),
            })
            .collect();
        json!({ "steps": steps })
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
    assert!(count >= 290, "only {count} vectors found");
    assert!(
        failures.is_empty(),
        "{} of {count} vectors failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{count} vectors passed in wasm and native");
}
