//! The embedding's guarantees: the component imports nothing, exports the
//! documented interfaces, ships the committed bytes, and survives hostile input.

use backstop::{CacheMode, Engine, Error, ErrorCode, Failure, Format};
use sha2::{Digest, Sha256};

fn engine() -> Engine {
    Engine::builder()
        .cache(CacheMode::Disabled)
        .build()
        .unwrap()
}

#[test]
fn the_component_imports_nothing_and_exports_the_wit_interfaces() {
    let engine = engine();
    assert_eq!(engine.component_imports(), Vec::<String>::new());
    let mut exports = engine.component_exports();
    exports.sort();
    assert_eq!(
        exports,
        [
            "backstop:policy/alerts@0.1.0",
            "backstop:policy/classifier@0.1.0",
            "backstop:policy/logs@0.1.0",
            "backstop:policy/redaction@0.1.0",
            "backstop:policy/retry@0.1.0",
            "backstop:policy/types@0.1.0"
        ]
    );
}

#[test]
fn the_embedded_component_is_the_committed_artifact() {
    let sums = include_str!("../wasm/SHA256SUMS");
    let expected = sums
        .lines()
        .find_map(|l| l.strip_suffix("  backstop.wasm"))
        .expect("SHA256SUMS lists backstop.wasm");
    let actual: String = Sha256::digest(backstop::COMPONENT)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(actual, expected);
}

fn big_failure() -> Failure {
    Failure {
        message: Some("x".repeat(1 << 20)),
        error_types: vec!["E".repeat(1000); 10_000],
        ..Default::default()
    }
}

#[test]
fn running_out_of_fuel_is_an_error_and_the_session_recovers() {
    // The built-in rules compile on first use (the classification below:
    // under 300 M fuel). 1,000 rules with counted repetitions run out of 300 M
    // at load; a small policy still loads. (Recovery of loaded policies after
    // a trap is the memory-limit test below.)
    let engine = Engine::builder()
        .cache(CacheMode::Disabled)
        .fuel_per_call(300_000_000)
        .build()
        .unwrap();
    let mut session = engine.session().unwrap();
    let heavy: String = (0..1000)
        .map(|i| {
            format!(
                "[[classify.rules]]\nid = \"r{i}\"\nclass = \"transient\"\nmessage = \"(a|b|c|d){{1,40}}z{i}$\"\n"
            )
        })
        .collect();
    let err = session.load_policy(&heavy, Format::Toml).unwrap_err();
    assert!(matches!(err, Error::Trap(_)), "{err}");
    let policy = session
        .load_policy(
            "[[classify.rules]]\nid = \"slow\"\nclass = \"transient\"\nmessage = \"(a|b|c|d)+z$\"\n",
            Format::Toml,
        )
        .unwrap();
    // The poisoned instance was replaced; the session goes on.
    let ok = session
        .classify(
            policy,
            &Failure {
                http_status: Some(503),
                ..Default::default()
            },
        )
        .unwrap();
    assert_eq!(ok.rule.as_deref(), Some("builtin.http-transient"));
}

#[test]
fn exceeding_the_memory_limit_is_an_error_not_an_abort() {
    let engine = Engine::builder()
        .cache(CacheMode::Disabled)
        // Enough for the built-in rules, not for a 10 MB failure.
        .memory_limit(8 << 20)
        .build()
        .unwrap();
    let mut session = engine.session().unwrap();
    let policy = session.default_policy().unwrap();
    let err = session.classify(policy, &big_failure()).unwrap_err();
    assert!(matches!(err, Error::Trap(_) | Error::Runtime(_)), "{err}");
    let ok = session.classify(
        policy,
        &Failure {
            exit_code: Some(75),
            ..Default::default()
        },
    );
    assert_eq!(ok.unwrap().rule.as_deref(), Some("builtin.exit-tempfail"));
}

#[test]
fn huge_inputs_within_limits_are_classified() {
    let mut session = engine().session().unwrap();
    let policy = session.default_policy().unwrap();
    let verdict = session.classify(policy, &big_failure()).unwrap();
    assert_eq!(verdict.rule, None);
}

#[test]
fn oversized_policy_documents_are_refused_with_a_clear_error() {
    let mut session = engine().session().unwrap();
    let doc = format!("# {}\n", "x".repeat(2 << 20));
    match session.load_policy(&doc, Format::Toml) {
        Err(Error::InvalidPolicy(errors)) => assert_eq!(errors[0].code, ErrorCode::TooLarge),
        other => panic!("{other:?}"),
    }
}

#[test]
fn unloaded_policies_are_refused() {
    let mut session = engine().session().unwrap();
    let policy = session.default_policy().unwrap();
    session.unload(policy).unwrap();
    match session.classify(policy, &Failure::default()) {
        Err(Error::Rejected(e)) => assert_eq!(e.code, ErrorCode::UnknownPolicy),
        other => panic!("{other:?}"),
    }
}

#[test]
fn sessions_are_independent_and_engines_are_shareable_across_threads() {
    let engine = engine();
    let threads: Vec<_> = (0..2)
        .map(|i| {
            let engine = engine.clone();
            std::thread::spawn(move || {
                let mut session = engine.session().unwrap();
                let policy = session.default_policy().unwrap();
                let status = if i == 0 { 503 } else { 404 };
                session
                    .classify(
                        policy,
                        &Failure {
                            http_status: Some(status),
                            ..Default::default()
                        },
                    )
                    .unwrap()
                    .class
            })
        })
        .collect();
    let classes: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        classes,
        [
            backstop::FailureClass::Transient,
            backstop::FailureClass::Permanent
        ]
    );
}
