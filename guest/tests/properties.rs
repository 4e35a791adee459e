//! Property tests: the loader and classifier never panic, whatever they are fed,
//! and a policy means the same in TOML and JSON.

use backstop_core::{ErrorCode, Failure, FailureClass, Format, Policy};
use proptest::prelude::*;

const STORAGE: &str = include_str!("../../examples/storage-read.toml");

fn failure() -> impl Strategy<Value = Failure> {
    (
        proptest::option::of(any::<u16>()),
        proptest::option::of(prop_oneof!["[A-Z_]{1,20}", "[0-9]{1,3}", ".{0,8}"]),
        proptest::option::of(any::<i32>()),
        proptest::option::of(prop_oneof!["(SIG)?[A-Z]{2,6}", "[0-9]{1,3}", ".{0,8}"]),
        proptest::collection::vec("[A-Za-z_.:*/]{0,30}", 0..80),
        proptest::option::of("[A-Za-z_]{0,24}"),
        proptest::option::of(".{0,200}"),
    )
        .prop_map(
            |(http_status, grpc_code, exit_code, signal, error_types, error_code, message)| {
                Failure {
                    http_status,
                    grpc_code,
                    exit_code,
                    signal,
                    error_types,
                    error_bases: Vec::new(),
                    error_code,
                    message,
                }
            },
        )
}

/// Pieces of messages that some message patterns (built-in or the storage
/// example's) match, and some that almost match.
fn message_fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("CUDA out of memory. Tried to allocate 2.00 GiB".to_string()),
        Just("RuntimeError: CUDA error: out of memory".to_string()),
        Just("\nruntime: out of memory\n".to_string()),
        Just("pod OOMKilled".to_string()),
        Just("NO SPACE LEFT ON DEVICE".to_string()),
        Just("ProcessGroupNCCL watchdog: Timeout".to_string()),
        Just("loss is nan".to_string()),
        Just("DisruptionTarget".to_string()),
        Just("huggingface.co 429".to_string()),
        Just("Connection reset by peer".to_string()),
        Just("HTTP 503 Service Unavailable".to_string()),
        Just("xDisruptionTargetx".to_string()),
        ".{0,40}",
    ]
}

/// The storage example, warmed past the classifications that search its
/// patterns one by one.
fn warm_policy() -> &'static Policy {
    static WARM: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
    WARM.get_or_init(|| {
        let policy = Policy::load(STORAGE, Format::Toml).unwrap();
        let failure = Failure {
            message: Some("warming up".into()),
            ..Failure::default()
        };
        for _ in 0..=backstop_core::classify::PREFILTER_AFTER {
            policy.classify(&failure).unwrap();
        }
        policy
    })
}

/// One structured rule, rendered to both formats by the test.
#[derive(Debug, Clone)]
struct RuleSpec {
    class: &'static str,
    http: Vec<u16>,
    exit: Vec<u8>,
    codes: Vec<String>,
    types: Vec<String>,
    message: Option<String>,
}

fn rule_spec() -> impl Strategy<Value = RuleSpec> {
    (
        prop_oneof![Just("transient"), Just("permanent"), Just("unknown")],
        proptest::collection::vec(100u16..600, 0..3),
        proptest::collection::vec(any::<u8>(), 0..3),
        proptest::collection::vec("[A-Za-z]{1,12}", 0..3),
        proptest::collection::vec("[A-Za-z.]{1,12}", 0..2),
        proptest::option::of("[a-z]{1,6}"),
    )
        .prop_map(|(class, http, exit, codes, types, message)| RuleSpec {
            class,
            http,
            exit,
            codes,
            types,
            message,
        })
        .prop_filter("a rule needs a selector", |r| {
            !(r.http.is_empty()
                && r.exit.is_empty()
                && r.codes.is_empty()
                && r.types.is_empty()
                && r.message.is_none())
        })
}

fn render(rules: &[RuleSpec], builtin: bool) -> (String, String) {
    let mut toml = format!("[classify]\nbuiltin_rules = {builtin}\n");
    let mut json_rules = Vec::new();
    for (i, r) in rules.iter().enumerate() {
        toml.push_str(&format!(
            "\n[[classify.rules]]\nid = \"r{i}\"\nclass = \"{}\"\n",
            r.class
        ));
        let mut obj = serde_json::json!({ "id": format!("r{i}"), "class": r.class });
        if !r.http.is_empty() {
            toml.push_str(&format!("http_status = {:?}\n", r.http));
            obj["http_status"] = serde_json::json!(r.http);
        }
        if !r.exit.is_empty() {
            toml.push_str(&format!("exit_code = {:?}\n", r.exit));
            obj["exit_code"] = serde_json::json!(r.exit);
        }
        if !r.codes.is_empty() {
            toml.push_str(&format!("error_code = {:?}\n", r.codes));
            obj["error_code"] = serde_json::json!(r.codes);
        }
        if !r.types.is_empty() {
            toml.push_str(&format!("error_type = {:?}\n", r.types));
            obj["error_type"] = serde_json::json!(r.types);
        }
        if let Some(m) = &r.message {
            toml.push_str(&format!("message = {m:?}\n"));
            obj["message"] = serde_json::json!(m);
        }
        json_rules.push(obj);
    }
    let json = serde_json::json!({ "classify": { "builtin_rules": builtin, "rules": json_rules } });
    (toml, serde_json::to_string_pretty(&json).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn loading_arbitrary_text_never_panics(text in ".{0,400}", json in any::<bool>()) {
        let format = if json { Format::Json } else { Format::Toml };
        if let Err(errors) = Policy::load(&text, format) {
            prop_assert!(!errors.is_empty());
            let lines = text.split('\n').count() as u32;
            for e in errors {
                if let Some(loc) = e.location {
                    prop_assert!(loc.line >= 1 && loc.line <= lines, "{e} in {lines} lines");
                    prop_assert!(loc.column >= 1);
                }
            }
        }
    }

    #[test]
    fn mutated_policies_never_panic(cut in 0usize..2000, insert in ".{0,12}") {
        let mut text = STORAGE.to_string();
        let mut at = cut.min(text.len());
        while !text.is_char_boundary(at) { at -= 1; }
        text.insert_str(at, &insert);
        let _ = Policy::load(&text, Format::Toml);
    }

    #[test]
    fn classification_is_total_and_deterministic(failure in failure()) {
        let policy = Policy::load(STORAGE, Format::Toml).unwrap();
        let first = policy.classify(&failure);
        prop_assert_eq!(&first, &policy.classify(&failure));
        match first {
            Ok(c) => prop_assert_eq!(c.rule.is_none(), c.class == FailureClass::Unknown && c.reason == "no rule matched this failure"),
            Err(e) => {
                prop_assert_eq!(e.code, ErrorCode::InvalidFailure);
                prop_assert!(e.path.starts_with("failure."));
            }
        }
    }

    #[test]
    fn a_warm_policy_classifies_as_a_cold_one(
        failure in failure(),
        fragments in proptest::collection::vec(message_fragment(), 0..4),
    ) {
        // A policy that has classified a few times searches its message
        // patterns through one prefilter; it must decide exactly as a policy
        // searching them one by one.
        let mut failure = failure;
        if !fragments.is_empty() {
            failure.message = Some(fragments.concat());
        }
        let cold = Policy::load(STORAGE, Format::Toml).unwrap();
        prop_assert_eq!(warm_policy().classify(&failure), cold.classify(&failure));
    }

    #[test]
    fn a_failure_like_the_last_one_classifies_as_on_a_cold_policy(
        last in failure(),
        other in failure(),
        field in 0..8usize,
    ) {
        // A policy keeps its last classification for an identical failure:
        // one that differs from it in any single field must not get it.
        let mut next = last.clone();
        match field {
            0 => next.http_status = other.http_status,
            1 => next.grpc_code = other.grpc_code,
            2 => next.exit_code = other.exit_code,
            3 => next.signal = other.signal,
            4 => next.error_types = other.error_types,
            5 => next.error_bases = vec!["requests.exceptions.ConnectionError".into()],
            6 => next.error_code = other.error_code,
            _ => next.message = other.message,
        }
        let policy = Policy::load(STORAGE, Format::Toml).unwrap();
        let cold = Policy::load(STORAGE, Format::Toml).unwrap();
        let _ = policy.classify(&last);
        prop_assert_eq!(policy.classify(&next), cold.classify(&next));
        prop_assert_eq!(policy.classify(&last), cold.classify(&last));
    }

    #[test]
    fn toml_and_json_policies_decide_identically(
        rules in proptest::collection::vec(rule_spec(), 1..6),
        builtin in any::<bool>(),
        failures in proptest::collection::vec(failure(), 1..16),
    ) {
        let (toml, json) = render(&rules, builtin);
        let from_toml = Policy::load(&toml, Format::Toml).map_err(|e| format!("{e:?}\n{toml}")).unwrap();
        let from_json = Policy::load(&json, Format::Json).map_err(|e| format!("{e:?}\n{json}")).unwrap();
        for failure in &failures {
            prop_assert_eq!(from_toml.classify(failure), from_json.classify(failure));
        }
    }

    #[test]
    fn with_no_rules_and_no_builtins_everything_is_unknown(failure in failure()) {
        let policy = Policy::load("[classify]\nbuiltin_rules = false\n", Format::Toml).unwrap();
        if let Ok(c) = policy.classify(&failure) {
            prop_assert_eq!(c.class, FailureClass::Unknown);
            prop_assert_eq!(c.rule, None);
        }
    }
}

mod planner {
    use backstop_core::{AttemptFailure, Failure, Format, GiveUp, Policy, RetryState, SharedState};
    use proptest::prelude::*;

    fn policy(
        jitter: usize,
        base: u64,
        mult10: u32,
        max: u64,
        timeout: Option<u64>,
        deadline: Option<u64>,
    ) -> Policy {
        let jitter = ["none", "full", "equal", "decorrelated", "additive"][jitter];
        let mut doc = format!(
            "[retry]\nmax_attempts = 4294967295\nbase_delay = \"{base}ms\"\nmultiplier = {}\nmax_delay = \"{}ms\"\njitter = \"{jitter}\"\n",
            f64::from(mult10) / 10.0,
            max.max(base)
        );
        if let Some(t) = timeout {
            doc.push_str(&format!("attempt_timeout = \"{t}ms\"\n"));
        }
        if let Some(d) = deadline {
            doc.push_str(&format!("deadline = \"{d}ms\"\n"));
        }
        Policy::load(&doc, Format::Toml).unwrap()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn every_delay_is_within_its_bounds_and_before_the_deadline(
            jitter in 0usize..5,
            base in 0u64..100_000,
            mult10 in 10u32..1000,
            max in 0u64..10_000_000,
            timeout in proptest::option::of(1u64..1_000_000),
            deadline in proptest::option::of(1u64..10_000_000),
            attempts in any::<u32>(),
            started in proptest::option::of(0u64..1u64 << 50),
            last in any::<u64>(),
            seed in any::<u64>(),
            now in 0u64..1u64 << 50,
            pushback in proptest::option::of(any::<u64>()),
        ) {
            let p = policy(jitter, base, mult10, max, timeout, deadline);
            let state = RetryState { attempts: attempts.min(u32::MAX - 1), started_at_ms: started, last_delay_ms: last, seed };
            let outcome = AttemptFailure {
                failure: Failure { http_status: Some(503), ..Failure::default() },
                duration_ms: 10,
                pushback_ms: pushback,
            };
            let d = p.after_failure(&state, &SharedState::default(), &outcome, now).unwrap();
            let cfg = p.retry();
            match d.give_up {
                None => {
                    if pushback.is_none() {
                        let (lo, hi) = cfg.delay_bounds_ms(d.attempt);
                        prop_assert!(lo <= d.delay_ms && d.delay_ms <= hi, "{} not in {}..={}", d.delay_ms, lo, hi);
                    } else {
                        prop_assert!(d.delay_ms <= cfg.max_pushback_ms);
                    }
                    if let Some(deadline) = deadline {
                        let elapsed = now.saturating_sub(d.state.started_at_ms.unwrap());
                        prop_assert!(elapsed + d.delay_ms < deadline);
                        prop_assert!(elapsed + d.delay_ms + d.next_timeout_ms.unwrap() <= deadline);
                    }
                    if let (Some(t), Some(next)) = (timeout, d.next_timeout_ms) {
                        prop_assert!(next <= t);
                    }
                }
                Some(reason) => prop_assert!(matches!(
                    reason,
                    GiveUp::Deadline | GiveUp::PushbackBeyondDeadline | GiveUp::AttemptsExhausted
                )),
            }
        }

        /// Every entry of a plan_failures answer is what after_failure and
        /// begin_attempt answer step by step, at whatever later times the
        /// attempts happen to fail and start, with a breaker and a budget.
        #[test]
        fn a_planned_repeat_is_the_planners_answer_at_any_later_time(
            jitter in 0usize..5,
            breaker in proptest::option::of((1u32..8, 2u32..64, 1u32..10, 1u32..10)),
            budget in any::<bool>(),
            deadline in proptest::option::of(1u64..10_000_000),
            seed in any::<u64>(),
            now in 0u64..1u64 << 40,
            gaps in proptest::collection::vec(0u64..1u64 << 30, 64),
            pushback in proptest::option::of(0u64..1_000_000),
            max_entries in 0u32..80,
            status in prop_oneof![Just(503u16), Just(404), Just(500)],
        ) {
            let mut doc = format!(
                "[retry]\nmax_attempts = 40\njitter = \"{}\"\n",
                ["none", "full", "equal", "decorrelated", "additive"][jitter]
            );
            if let Some(d) = deadline {
                doc.push_str(&format!("deadline = \"{d}ms\"\n"));
            }
            if let Some((consecutive, window, minimum, rate10)) = breaker {
                doc.push_str(&format!(
                    "[retry.circuit_breaker]\nconsecutive_failures = {consecutive}\nwindow = {window}\nminimum_calls = {}\nfailure_rate = {}\n",
                    minimum.min(window),
                    f64::from(rate10) / 10.0
                ));
            }
            if budget {
                doc.push_str("[retry.budget]\nmax_tokens = 5\n");
            }
            let p = Policy::load(&doc, Format::Toml).unwrap();
            let outcome = AttemptFailure {
                failure: Failure { http_status: Some(status), ..Failure::default() },
                duration_ms: 10,
                pushback_ms: pushback,
            };
            let fresh = RetryState { seed, ..RetryState::default() };
            let first = p.begin_attempt(&fresh, &SharedState::default(), now).unwrap();
            let plan = p.plan_failures(&first.state, &first.shared, &outcome, now, max_entries).unwrap();
            prop_assert!(!plan.is_empty() && plan.len() <= max_entries.clamp(1, 64) as usize);
            prop_assert_eq!(&plan[0].decision, &p.after_failure(&first.state, &first.shared, &outcome, now).unwrap());
            let mut t = now;
            for (i, entry) in plan.iter().enumerate() {
                let Some(permit) = &entry.next_permit else {
                    prop_assert_eq!(i + 1, plan.len(), "entries after one without a permit");
                    break;
                };
                prop_assert!(entry.decision.give_up.is_none());
                t += gaps[i];
                let d = &entry.decision;
                prop_assert_eq!(permit, &p.begin_attempt(&d.state, &d.shared, t).unwrap());
                if let Some(next) = plan.get(i + 1) {
                    t += gaps[(i + 32) % 64];
                    let o = AttemptFailure { duration_ms: gaps[i] % 1000, ..outcome.clone() };
                    prop_assert_eq!(&next.decision, &p.after_failure(&permit.state, &permit.shared, &o, t).unwrap());
                }
            }
            if deadline.is_some() {
                prop_assert!(plan.len() == 1 && plan[0].next_permit.is_none());
            }
        }

        #[test]
        fn schedules_are_deterministic_and_never_cross_the_deadline(
            jitter in 0usize..5,
            base in 1u64..10_000,
            timeout in proptest::option::of(1u64..100_000),
            deadline in proptest::option::of(1u64..1_000_000),
            seed in any::<u64>(),
        ) {
            let p = policy(jitter, base, 20, 60_000, timeout, deadline);
            let s = p.schedule(seed, 200);
            prop_assert_eq!(&s, &p.schedule(seed, 200));
            for (i, a) in s.attempts.iter().enumerate() {
                prop_assert_eq!(a.attempt as usize, i + 1);
                if let Some(deadline) = deadline {
                    prop_assert!(a.start_ms < deadline);
                    prop_assert!(a.start_ms + a.timeout_ms.unwrap() <= deadline);
                }
            }
        }
    }
}
