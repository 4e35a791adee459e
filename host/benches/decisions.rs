//! One classification and one planner decision through the native core and
//! through the wasmtime host, side by side in one run, plus a cold
//! `backstop classify` process with and without the precompiled-code cache.
//!
//! Run: `cargo bench -p backstop --bench decisions`

use std::process::Command;

use backstop::{AttemptFailure, CacheMode, Engine, Failure, Format, RetryState, SharedState};
use criterion::{Criterion, criterion_group, criterion_main};

const POLICY: &str = include_str!("../../examples/storage-read.toml");

fn failures() -> Vec<(&'static str, Failure)> {
    vec![
        (
            "http-503",
            Failure {
                http_status: Some(503),
                ..Default::default()
            },
        ),
        (
            "chain-and-message",
            Failure {
                error_types: vec![
                    "RuntimeError".into(),
                    "botocore.exceptions.ReadTimeoutError".into(),
                ],
                error_code: Some("ECONNRESET".into()),
                message: Some("read timed out after 60s while fetching part-0.parquet".into()),
                ..Default::default()
            },
        ),
        (
            "unmatched",
            Failure {
                exit_code: Some(1),
                message: Some("Segmentation fault".into()),
                ..Default::default()
            },
        ),
    ]
}

fn classify(c: &mut Criterion) {
    let native = backstop_core::Policy::load(POLICY, backstop_core::Format::Toml).unwrap();
    let engine = Engine::builder()
        .cache(CacheMode::Disabled)
        .build()
        .unwrap();
    let mut session = engine.session().unwrap();
    let policy = session.load_policy(POLICY, Format::Toml).unwrap();

    for (name, failure) in failures() {
        let mut group = c.benchmark_group(format!("classify/{name}"));
        let core_failure = backstop_core::Failure {
            http_status: failure.http_status,
            grpc_code: failure.grpc_code.clone(),
            exit_code: failure.exit_code,
            signal: failure.signal.clone(),
            error_types: failure.error_types.clone(),
            error_bases: failure.error_bases.clone(),
            error_code: failure.error_code.clone(),
            message: failure.message.clone(),
        };
        group.bench_function("native", |b| {
            b.iter(|| {
                native
                    .classify(std::hint::black_box(&core_failure))
                    .unwrap()
            })
        });
        group.bench_function("wasmtime", |b| {
            b.iter(|| {
                session
                    .classify(policy, std::hint::black_box(&failure))
                    .unwrap()
            })
        });
        group.finish();
    }
}

fn plan(c: &mut Criterion) {
    let native = backstop_core::Policy::load(POLICY, backstop_core::Format::Toml).unwrap();
    let engine = Engine::builder()
        .cache(CacheMode::Disabled)
        .build()
        .unwrap();
    let mut session = engine.session().unwrap();
    let policy = session.load_policy(POLICY, Format::Toml).unwrap();
    let failure = Failure {
        http_status: Some(503),
        ..Default::default()
    };
    let outcome = AttemptFailure {
        failure: failure.clone(),
        duration_ms: 1_200,
        pushback_ms: None,
    };
    let state = RetryState {
        attempts: 2,
        started_at_ms: Some(1_000),
        last_delay_ms: 1_000,
        seed: 42,
    };
    let native_outcome = backstop_core::AttemptFailure {
        failure: backstop_core::Failure {
            http_status: Some(503),
            ..Default::default()
        },
        duration_ms: 1_200,
        pushback_ms: None,
    };
    let native_state = backstop_core::RetryState {
        attempts: 2,
        started_at_ms: Some(1_000),
        last_delay_ms: 1_000,
        seed: 42,
    };
    let native_shared = backstop_core::SharedState::default();
    let mut group = c.benchmark_group("plan/after-failure");
    group.bench_function("native", |b| {
        b.iter(|| {
            native
                .after_failure(
                    &native_state,
                    &native_shared,
                    std::hint::black_box(&native_outcome),
                    5_000,
                )
                .unwrap()
        })
    });
    group.bench_function("wasmtime", |b| {
        b.iter(|| {
            session
                .after_failure(
                    policy,
                    &state,
                    &SharedState::default(),
                    std::hint::black_box(&outcome),
                    5_000,
                )
                .unwrap()
        })
    });
    group.finish();
    let mut group = c.benchmark_group("plan/begin-attempt");
    group.bench_function("native", |b| {
        b.iter(|| {
            native
                .begin_attempt(&native_state, &native_shared, 5_000)
                .unwrap()
        })
    });
    group.bench_function("wasmtime", |b| {
        b.iter(|| {
            session
                .begin_attempt(policy, &state, &SharedState::default(), 5_000)
                .unwrap()
        })
    });
    group.finish();
}

fn alerts(c: &mut Criterion) {
    use backstop::alerts::{Event, EventKind};
    let seed = include_str!("../../examples/seed-alerts.json");
    let native = backstop_core::Policy::load(seed, backstop_core::Format::Json).unwrap();
    let engine = Engine::builder()
        .cache(CacheMode::Disabled)
        .build()
        .unwrap();
    let mut session = engine.session().unwrap();
    let policy = session.load_policy(seed, Format::Json).unwrap();
    let failure = Failure {
        http_status: Some(503),
        error_types: vec!["TransientError".into()],
        ..Default::default()
    };
    let event = Event {
        failure: Some(failure.clone()),
        attempt: 1,
        pipeline: "nightly".into(),
        step: "train".into(),
        run_id: "r1".into(),
        ..Event::tick()
    };
    let event = Event {
        kind: EventKind::AttemptFailed,
        ..event
    };
    let native_event = backstop_core::alerts::Event {
        kind: backstop_core::alerts::EventKind::AttemptFailed,
        pipeline: "nightly".into(),
        step: "train".into(),
        run_id: "r1".into(),
        failure: Some(backstop_core::Failure {
            http_status: Some(503),
            error_types: vec!["TransientError".into()],
            ..Default::default()
        }),
        attempt: 1,
        late_minutes: 0,
        labels: vec![],
        log_lines: vec![],
        dedup_key: None,
    };
    let mut group = c.benchmark_group("alerts/evaluate-attempt-failed");
    group.bench_function("native", |b| {
        b.iter(|| {
            native
                .evaluate_alerts("", std::hint::black_box(&native_event), 1_000)
                .unwrap()
        })
    });
    group.bench_function("wasmtime", |b| {
        b.iter(|| {
            session
                .evaluate_alerts(policy, "", std::hint::black_box(&event), 1_000)
                .unwrap()
        })
    });
    group.finish();
}

fn cold_start(c: &mut Criterion) {
    let cache = tempfile::tempdir().unwrap();
    let run = |cached: bool| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_backstop"));
        cmd.args(["classify", "--http-status", "503", "--json"]);
        if cached {
            cmd.env("BACKSTOP_CACHE_DIR", cache.path());
        } else {
            cmd.env("BACKSTOP_CACHE", "off");
        }
        assert!(cmd.output().unwrap().status.success());
    };
    run(true); // warm the cache
    let mut group = c.benchmark_group("cli-cold-start");
    group.sample_size(10);
    group.bench_function("cached", |b| b.iter(|| run(true)));
    group.bench_function("uncached", |b| b.iter(|| run(false)));
    group.finish();
}

/// A 50-line tail (training progress, a bearer token, a botocore traceback):
/// what `backstop run` and the host helpers read and redact per failed attempt.
fn tail(c: &mut Criterion) {
    let text = include_str!("../../tests/bench/tail-50.txt");
    let native_policy = backstop_core::Policy::load("", backstop_core::Format::Toml).unwrap();
    let engine = Engine::builder()
        .cache(CacheMode::Disabled)
        .build()
        .unwrap();
    let mut session = engine.session().unwrap();
    let policy = session.default_policy().unwrap();
    let native_input = backstop_core::LogInput {
        text: text.to_string(),
        exit_code: Some(1),
        ..Default::default()
    };
    let input = backstop::LogInput {
        text: text.to_string(),
        exit_code: Some(1),
        ..Default::default()
    };
    let mut group = c.benchmark_group("tail-50/read-log");
    group.bench_function("native", |b| {
        b.iter(|| backstop_core::read_log(std::hint::black_box(&native_input)).unwrap())
    });
    group.bench_function("wasmtime", |b| {
        b.iter(|| session.read_log(std::hint::black_box(&input)).unwrap())
    });
    group.finish();
    let mut group = c.benchmark_group("tail-50/redact");
    group.bench_function("native", |b| {
        b.iter(|| native_policy.redact(std::hint::black_box(text)).unwrap())
    });
    group.bench_function("wasmtime", |b| {
        b.iter(|| session.redact(policy, std::hint::black_box(text)).unwrap())
    });
    group.finish();
}

/// The bound for the redactor: alert evaluation of a failed attempt
/// carrying the 50-line tail, with the built-in redaction rules on and with
/// every one of them disabled (`[redaction] disable = [...]`), side by side.
fn alerts_with_tail(c: &mut Criterion) {
    use backstop::alerts::{Event, EventKind};
    let text = include_str!("../../tests/bench/tail-50.txt");
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let seed: serde_json::Value =
        serde_json::from_str(include_str!("../../examples/seed-alerts.json")).unwrap();
    let rules: toml::Table =
        toml::from_str(include_str!("../../guest/src/redaction_rules.toml")).unwrap();
    let every_rule: Vec<serde_json::Value> = rules["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().into())
        .collect();
    let mut unredacted = seed.clone();
    unredacted["redaction"] = serde_json::json!({ "disable": every_rule });
    let engine = Engine::builder()
        .cache(CacheMode::Disabled)
        .build()
        .unwrap();
    let mut session = engine.session().unwrap();
    let mut group = c.benchmark_group("alerts/evaluate-tail-50");
    for (name, policy) in [("redacted", &seed), ("unredacted", &unredacted)] {
        let source = policy.to_string();
        let native = backstop_core::Policy::load(&source, backstop_core::Format::Json).unwrap();
        let handle = session.load_policy(&source, Format::Json).unwrap();
        let native_event = backstop_core::alerts::Event {
            kind: backstop_core::alerts::EventKind::AttemptFailed,
            pipeline: "nightly".into(),
            step: "train".into(),
            run_id: "r1".into(),
            failure: Some(backstop_core::Failure {
                exit_code: Some(1),
                message: Some(lines.last().cloned().unwrap_or_default()),
                error_types: vec!["botocore.exceptions.ClientError".into()],
                ..Default::default()
            }),
            attempt: 1,
            late_minutes: 0,
            labels: vec![],
            log_lines: lines.clone(),
            dedup_key: None,
        };
        let event = Event {
            kind: EventKind::AttemptFailed,
            pipeline: "nightly".into(),
            step: "train".into(),
            run_id: "r1".into(),
            failure: Some(Failure {
                exit_code: Some(1),
                message: Some(lines.last().cloned().unwrap_or_default()),
                error_types: vec!["botocore.exceptions.ClientError".into()],
                ..Default::default()
            }),
            attempt: 1,
            log_lines: lines.clone(),
            ..Event::tick()
        };
        group.bench_function(format!("native/{name}"), |b| {
            b.iter(|| {
                native
                    .evaluate_alerts("", std::hint::black_box(&native_event), 1_000)
                    .unwrap()
            })
        });
        group.bench_function(format!("wasmtime/{name}"), |b| {
            b.iter(|| {
                session
                    .evaluate_alerts(handle, "", std::hint::black_box(&event), 1_000)
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    classify,
    plan,
    alerts,
    alerts_with_tail,
    tail,
    cold_start
);
criterion_main!(benches);
