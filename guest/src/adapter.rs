//! The thin WIT adapter: converts between the generated bindings and the core.
//! It owns the table of loaded policies, since a component instance is the
//! only place a parsed policy can live between calls.

use std::cell::RefCell;
use std::collections::HashMap;

use crate::breaker::{BreakerState, Circuit};
use crate::budget::BudgetState;
use crate::classify::{Classification, Failure, FailureClass};
use crate::document::Format;
use crate::error::{ErrorCode, PolicyError};
use crate::jitter;
use crate::policy::Policy;
use crate::retry::{AttemptFailure, GiveUp, RetryState, SharedState};

wit_bindgen::generate!({
    world: "backstop",
    path: "../wit",
});

use exports::backstop::policy::alerts as wit_alerts;
use exports::backstop::policy::classifier::{
    self as wit_classifier, Classification as WitClassification, Failure as WitFailure,
    PolicyHandle,
};
use exports::backstop::policy::logs as wit_logs;
use exports::backstop::policy::redaction as wit_redaction;
use exports::backstop::policy::retry as wit_retry;
use exports::backstop::policy::types::{
    ErrorCode as WitErrorCode, FailureClass as WitFailureClass, Location as WitLocation,
    PolicyError as WitPolicyError, PolicyFormat,
};

/// Most policies one instance holds at once; a host leaking handles gets an
/// error instead of exhausting memory.
const MAX_LOADED_POLICIES: usize = 4096;

#[derive(Default)]
struct Loaded {
    policies: HashMap<PolicyHandle, Policy>,
    next: PolicyHandle,
}

thread_local! {
    static LOADED: RefCell<Loaded> = RefCell::new(Loaded::default());
}

struct Component;

impl wit_classifier::Guest for Component {
    fn load_policy(
        source: String,
        format: PolicyFormat,
    ) -> Result<PolicyHandle, Vec<WitPolicyError>> {
        let format = match format {
            PolicyFormat::Toml => Format::Toml,
            PolicyFormat::Json => Format::Json,
        };
        let policy = Policy::load(&source, format)
            .map_err(|errors| errors.into_iter().map(to_wit_error).collect::<Vec<_>>())?;
        LOADED.with_borrow_mut(|loaded| {
            if loaded.policies.len() >= MAX_LOADED_POLICIES {
                return Err(vec![to_wit_error(PolicyError::new(
                    ErrorCode::TooLarge,
                    "",
                    format!("{MAX_LOADED_POLICIES} policies are loaded; drop unused ones first"),
                ))]);
            }
            // Handles start at 1 and skip live ones after wrapping, so 0 is never valid.
            loop {
                loaded.next = loaded.next.wrapping_add(1);
                if loaded.next != 0 && !loaded.policies.contains_key(&loaded.next) {
                    break;
                }
            }
            let handle = loaded.next;
            loaded.policies.insert(handle, policy);
            Ok(handle)
        })
    }

    fn drop_policy(policy: PolicyHandle) {
        LOADED.with_borrow_mut(|loaded| loaded.policies.remove(&policy));
    }

    fn classify(
        policy: PolicyHandle,
        failure: WitFailure,
    ) -> Result<WitClassification, WitPolicyError> {
        let failure = from_wit_failure(failure);
        with_policy(policy, |policy| {
            let verdict = policy.classify(&failure).map_err(to_wit_error)?;
            Ok(to_wit_classification(verdict))
        })
    }
}

impl wit_retry::Guest for Component {
    fn begin_attempt(
        policy: PolicyHandle,
        state: wit_retry::RetryState,
        shared: wit_retry::SharedState,
        now_ms: u64,
    ) -> Result<wit_retry::Permit, WitPolicyError> {
        let (state, shared) = (from_wit_state(state), from_wit_shared(shared));
        with_policy(policy, |policy| {
            let p = policy
                .begin_attempt(&state, &shared, now_ms)
                .map_err(to_wit_error)?;
            Ok(to_wit_permit(p))
        })
    }

    fn fast_path_for(
        policy: PolicyHandle,
        shared: wit_retry::SharedState,
    ) -> Result<wit_retry::FastPath, WitPolicyError> {
        let shared = from_wit_shared(shared);
        with_policy(policy, |policy| {
            let f = policy.fast_path(&shared).map_err(to_wit_error)?;
            Ok(wit_retry::FastPath {
                success_records_nothing: f.success_records_nothing,
                fresh_permit: f.fresh_permit.map(to_wit_permit),
            })
        })
    }

    fn after_failure(
        policy: PolicyHandle,
        state: wit_retry::RetryState,
        shared: wit_retry::SharedState,
        outcome: wit_retry::AttemptFailure,
        now_ms: u64,
    ) -> Result<wit_retry::Decision, WitPolicyError> {
        let (state, shared) = (from_wit_state(state), from_wit_shared(shared));
        let outcome = from_wit_outcome(outcome);
        with_policy(policy, |policy| {
            let d = policy
                .after_failure(&state, &shared, &outcome, now_ms)
                .map_err(to_wit_error)?;
            Ok(to_wit_decision(d))
        })
    }

    fn plan_failures(
        policy: PolicyHandle,
        state: wit_retry::RetryState,
        shared: wit_retry::SharedState,
        outcome: wit_retry::AttemptFailure,
        now_ms: u64,
        max_entries: u32,
    ) -> Result<Vec<wit_retry::PlannedFailure>, WitPolicyError> {
        let (state, shared) = (from_wit_state(state), from_wit_shared(shared));
        let outcome = from_wit_outcome(outcome);
        with_policy(policy, |policy| {
            let entries = policy
                .plan_failures(&state, &shared, &outcome, now_ms, max_entries)
                .map_err(to_wit_error)?;
            Ok(entries
                .into_iter()
                .map(|e| wit_retry::PlannedFailure {
                    decision: to_wit_decision(e.decision),
                    next_permit: e.next_permit.map(to_wit_permit),
                })
                .collect())
        })
    }

    fn after_success(
        policy: PolicyHandle,
        shared: wit_retry::SharedState,
    ) -> Result<wit_retry::SharedState, WitPolicyError> {
        let shared = from_wit_shared(shared);
        with_policy(policy, |policy| {
            let next = policy.after_success(&shared).map_err(to_wit_error)?;
            Ok(to_wit_shared(next))
        })
    }

    fn plan_schedule(
        policy: PolicyHandle,
        seed: u64,
        max_entries: u32,
    ) -> Result<wit_retry::Schedule, WitPolicyError> {
        with_policy(policy, |policy| {
            let s = policy.schedule(seed, max_entries);
            Ok(wit_retry::Schedule {
                attempts: s
                    .attempts
                    .into_iter()
                    .map(|a| wit_retry::PlannedAttempt {
                        attempt: a.attempt,
                        delay_ms: a.delay_ms,
                        timeout_ms: a.timeout_ms,
                        start_ms: a.start_ms,
                    })
                    .collect(),
                ends_with: s.ends_with.map(to_wit_give_up),
            })
        })
    }

    fn derive_seed(key: String) -> u64 {
        jitter::derive_seed(&key)
    }
}

impl wit_redaction::Guest for Component {
    fn redact(
        policy: PolicyHandle,
        text: String,
    ) -> Result<wit_redaction::RedactionReport, WitPolicyError> {
        with_policy(policy, |policy| {
            let report = policy.redact(&text).map_err(to_wit_error)?;
            Ok(wit_redaction::RedactionReport {
                text: report.text,
                redactions: report
                    .counts
                    .into_iter()
                    .map(|(rule, count)| wit_redaction::RuleCount { rule, count })
                    .collect(),
            })
        })
    }
}

fn from_wit_event(event: wit_alerts::Event) -> crate::alerts::Event {
    use crate::alerts::{Event, EventKind};
    use wit_alerts::EventKind as K;
    Event {
        kind: match event.kind {
            K::AttemptFailed => EventKind::AttemptFailed,
            K::RunFailed => EventKind::RunFailed,
            K::RunSucceeded => EventKind::RunSucceeded,
            K::RunLate => EventKind::RunLate,
            K::AlertAcknowledged => EventKind::AlertAcknowledged,
            K::Tick => EventKind::Tick,
        },
        pipeline: event.pipeline,
        step: event.step,
        run_id: event.run_id,
        failure: event.failure.map(from_wit_failure),
        attempt: event.attempt,
        late_minutes: event.late_minutes,
        labels: event.labels.into_iter().map(|l| (l.key, l.value)).collect(),
        log_lines: event.log_lines,
        dedup_key: event.dedup_key,
    }
}

fn to_wit_severity(s: crate::alerts::Severity) -> wit_alerts::Severity {
    use crate::alerts::Severity;
    match s {
        Severity::Info => wit_alerts::Severity::Info,
        Severity::Warning => wit_alerts::Severity::Warning,
        Severity::High => wit_alerts::Severity::High,
        Severity::Critical => wit_alerts::Severity::Critical,
    }
}

fn to_wit_notifications(
    notifications: Vec<crate::alerts::Notification>,
) -> Vec<wit_alerts::Notification> {
    use crate::alerts::NotificationKind;
    notifications
        .into_iter()
        .map(|n| wit_alerts::Notification {
            kind: match n.kind {
                NotificationKind::Trigger => wit_alerts::NotificationKind::Trigger,
                NotificationKind::Escalate => wit_alerts::NotificationKind::Escalate,
                NotificationKind::Repeat => wit_alerts::NotificationKind::Repeat,
                NotificationKind::Resolve => wit_alerts::NotificationKind::Resolve,
            },
            severity: to_wit_severity(n.severity),
            targets: n.targets,
            rule: n.rule,
            dedup_key: n.dedup_key,
            summary: n.summary,
            payload: n.payload,
        })
        .collect()
}

fn to_wit_suppressed(suppressed: Vec<crate::alerts::Suppressed>) -> Vec<wit_alerts::Suppressed> {
    use crate::alerts::SuppressionReason;
    suppressed
        .into_iter()
        .map(|x| wit_alerts::Suppressed {
            severity: to_wit_severity(x.severity),
            rule: x.rule,
            dedup_key: x.dedup_key,
            reason: match x.reason {
                SuppressionReason::Duplicate => wit_alerts::SuppressionReason::Duplicate,
                SuppressionReason::Inhibited => wit_alerts::SuppressionReason::Inhibited,
                SuppressionReason::Acknowledged => wit_alerts::SuppressionReason::Acknowledged,
                SuppressionReason::RepeatLimit => wit_alerts::SuppressionReason::RepeatLimit,
            },
        })
        .collect()
}

impl wit_alerts::Guest for Component {
    fn evaluate(
        policy: PolicyHandle,
        state: String,
        event: wit_alerts::Event,
        now_ms: u64,
    ) -> Result<wit_alerts::Evaluation, WitPolicyError> {
        let event = from_wit_event(event);
        with_policy(policy, |policy| {
            let e = policy
                .evaluate_alerts(&state, &event, now_ms)
                .map_err(to_wit_error)?;
            Ok(wit_alerts::Evaluation {
                notifications: to_wit_notifications(e.notifications),
                suppressed: to_wit_suppressed(e.suppressed),
                state: e.state,
                next_wakeup_ms: e.next_wakeup_ms,
            })
        })
    }

    fn alert_state_keys(
        policy: PolicyHandle,
        event: wit_alerts::Event,
    ) -> Result<wit_alerts::NeededKeys, WitPolicyError> {
        let event = from_wit_event(event);
        with_policy(policy, |policy| {
            let needed = policy.alert_state_keys(&event);
            Ok(wit_alerts::NeededKeys {
                keys: needed.keys,
                every_key: needed.every_key,
            })
        })
    }

    fn evaluate_keyed(
        policy: PolicyHandle,
        states: Vec<wit_alerts::KeyedState>,
        event: wit_alerts::Event,
        now_ms: u64,
    ) -> Result<wit_alerts::KeyedEvaluation, WitPolicyError> {
        use crate::alerts::KeyedState;
        let event = from_wit_event(event);
        let states: Vec<KeyedState> = states
            .into_iter()
            .map(|s| KeyedState {
                key: s.key,
                state: s.state,
                next_wakeup_ms: s.next_wakeup_ms,
            })
            .collect();
        with_policy(policy, |policy| {
            let e = policy
                .evaluate_alerts_keyed(&states, &event, now_ms)
                .map_err(to_wit_error)?;
            Ok(wit_alerts::KeyedEvaluation {
                notifications: to_wit_notifications(e.notifications),
                suppressed: to_wit_suppressed(e.suppressed),
                states: e
                    .states
                    .into_iter()
                    .map(|s| wit_alerts::KeyedState {
                        key: s.key,
                        state: s.state,
                        next_wakeup_ms: s.next_wakeup_ms,
                    })
                    .collect(),
                next_wakeup_ms: e.next_wakeup_ms,
            })
        })
    }

    fn sinks(policy: PolicyHandle) -> Result<Option<Vec<wit_alerts::Sink>>, WitPolicyError> {
        use crate::alerts::{SinkFormat, SinkKind};
        with_policy(policy, |policy| {
            let config = policy.alerts();
            if !config.present {
                return Ok(None);
            }
            let sinks = config
                .sinks
                .iter()
                .map(|s| wit_alerts::Sink {
                    target: s.target.clone(),
                    kind: match s.kind {
                        SinkKind::Stdout => wit_alerts::SinkKind::Stdout,
                        SinkKind::File => wit_alerts::SinkKind::File,
                        SinkKind::Webhook => wit_alerts::SinkKind::Webhook,
                        SinkKind::Command => wit_alerts::SinkKind::Command,
                    },
                    location: s.location.clone(),
                    format: match s.format {
                        SinkFormat::Backstop => wit_alerts::SinkFormat::Backstop,
                        SinkFormat::Pagerduty => wit_alerts::SinkFormat::Pagerduty,
                        SinkFormat::Slack => wit_alerts::SinkFormat::Slack,
                        SinkFormat::Template => wit_alerts::SinkFormat::Template,
                    },
                    timeout_ms: s.timeout_ms,
                    dead_letter: s.dead_letter.clone(),
                    routing_key_env: s.routing_key_env.clone(),
                    template: s.template.clone(),
                })
                .collect();
            Ok(Some(sinks))
        })
    }
}

impl wit_logs::Guest for Component {
    fn read_log(input: wit_logs::LogInput) -> Result<wit_logs::LogReport, WitPolicyError> {
        use crate::logs::{LogInput, LogStream, read_log};
        let input = LogInput {
            text: input.text,
            exit_code: input.exit_code,
            signal: input.signal,
            stream: input.stream.map(|s| match s {
                wit_logs::LogStream::Stderr => LogStream::Stderr,
                wit_logs::LogStream::Stdout => LogStream::Stdout,
                wit_logs::LogStream::Combined => LogStream::Combined,
            }),
        };
        let report = read_log(&input).map_err(to_wit_error)?;
        Ok(wit_logs::LogReport {
            failure: to_wit_failure(report.failure),
            readers: report.readers,
            summary: report.summary,
            pushback_ms: report.pushback_ms,
        })
    }
}

fn with_policy<T>(
    handle: PolicyHandle,
    f: impl FnOnce(&Policy) -> Result<T, WitPolicyError>,
) -> Result<T, WitPolicyError> {
    LOADED.with_borrow(|loaded| {
        let policy = loaded
            .policies
            .get(&handle)
            .ok_or_else(|| unknown_policy(handle))?;
        f(policy)
    })
}

fn from_wit_failure(failure: WitFailure) -> Failure {
    Failure {
        http_status: failure.http_status,
        grpc_code: failure.grpc_code,
        exit_code: failure.exit_code,
        signal: failure.signal,
        error_types: failure.error_types,
        error_bases: failure.error_bases,
        error_code: failure.error_code,
        message: failure.message,
    }
}

fn to_wit_failure(failure: Failure) -> WitFailure {
    WitFailure {
        http_status: failure.http_status,
        grpc_code: failure.grpc_code,
        exit_code: failure.exit_code,
        signal: failure.signal,
        error_types: failure.error_types,
        error_bases: failure.error_bases,
        error_code: failure.error_code,
        message: failure.message,
    }
}

fn to_wit_classification(verdict: Classification) -> WitClassification {
    WitClassification {
        class: match verdict.class {
            FailureClass::Transient => WitFailureClass::Transient,
            FailureClass::Permanent => WitFailureClass::Permanent,
            FailureClass::Unknown => WitFailureClass::Unknown,
        },
        rule: verdict.rule,
        reason: verdict.reason,
    }
}

fn from_wit_state(s: wit_retry::RetryState) -> RetryState {
    RetryState {
        attempts: s.attempts,
        started_at_ms: s.started_at_ms,
        last_delay_ms: s.last_delay_ms,
        seed: s.seed,
    }
}

fn from_wit_outcome(outcome: wit_retry::AttemptFailure) -> AttemptFailure {
    AttemptFailure {
        failure: from_wit_failure(outcome.failure),
        duration_ms: outcome.duration_ms,
        pushback_ms: outcome.pushback_ms,
    }
}

fn to_wit_decision(d: crate::Decision) -> wit_retry::Decision {
    wit_retry::Decision {
        give_up: d.give_up.map(to_wit_give_up),
        delay_ms: d.delay_ms,
        attempt: d.attempt,
        next_timeout_ms: d.next_timeout_ms,
        classification: to_wit_classification(d.classification),
        explanation: d.explanation,
        state: to_wit_state(d.state),
        shared: to_wit_shared(d.shared),
    }
}

fn to_wit_permit(p: crate::Permit) -> wit_retry::Permit {
    wit_retry::Permit {
        refused: p.refused.map(to_wit_give_up),
        attempt: p.attempt,
        timeout_ms: p.timeout_ms,
        retry_after_ms: p.retry_after_ms,
        probe: p.probe,
        state: to_wit_state(p.state),
        shared: to_wit_shared(p.shared),
    }
}

fn to_wit_state(s: RetryState) -> wit_retry::RetryState {
    wit_retry::RetryState {
        attempts: s.attempts,
        started_at_ms: s.started_at_ms,
        last_delay_ms: s.last_delay_ms,
        seed: s.seed,
    }
}

fn from_wit_shared(s: wit_retry::SharedState) -> SharedState {
    let b = s.breaker;
    SharedState {
        breaker: BreakerState {
            circuit: match b.circuit {
                wit_retry::Circuit::Closed => Circuit::Closed,
                wit_retry::Circuit::Open => Circuit::Open,
                wit_retry::Circuit::HalfOpen => Circuit::HalfOpen,
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

fn to_wit_shared(s: SharedState) -> wit_retry::SharedState {
    let b = s.breaker;
    wit_retry::SharedState {
        breaker: wit_retry::BreakerState {
            circuit: match b.circuit {
                Circuit::Closed => wit_retry::Circuit::Closed,
                Circuit::Open => wit_retry::Circuit::Open,
                Circuit::HalfOpen => wit_retry::Circuit::HalfOpen,
            },
            consecutive_failures: b.consecutive_failures,
            recent_outcomes: b.recent_outcomes,
            recent_count: b.recent_count,
            opened_at_ms: b.opened_at_ms,
            probes_started: b.probes_started,
            probes_succeeded: b.probes_succeeded,
        },
        budget: wit_retry::BudgetState {
            spent_milli: s.budget.spent_milli,
        },
    }
}

fn to_wit_give_up(reason: GiveUp) -> wit_retry::GiveUpReason {
    match reason {
        GiveUp::Permanent => wit_retry::GiveUpReason::Permanent,
        GiveUp::AttemptsExhausted => wit_retry::GiveUpReason::AttemptsExhausted,
        GiveUp::Deadline => wit_retry::GiveUpReason::Deadline,
        GiveUp::PushbackBeyondDeadline => wit_retry::GiveUpReason::PushbackBeyondDeadline,
        GiveUp::CircuitOpen => wit_retry::GiveUpReason::CircuitOpen,
        GiveUp::BudgetExhausted => wit_retry::GiveUpReason::BudgetExhausted,
    }
}

fn unknown_policy(handle: PolicyHandle) -> WitPolicyError {
    to_wit_error(PolicyError::new(
        ErrorCode::UnknownPolicy,
        "",
        format!("policy handle {handle} is not loaded"),
    ))
}

fn to_wit_error(error: PolicyError) -> WitPolicyError {
    WitPolicyError {
        code: match error.code {
            ErrorCode::Syntax => WitErrorCode::Syntax,
            ErrorCode::UnknownField => WitErrorCode::UnknownField,
            ErrorCode::MissingField => WitErrorCode::MissingField,
            ErrorCode::WrongType => WitErrorCode::WrongType,
            ErrorCode::InvalidValue => WitErrorCode::InvalidValue,
            ErrorCode::OutOfRange => WitErrorCode::OutOfRange,
            ErrorCode::DuplicateId => WitErrorCode::DuplicateId,
            ErrorCode::InvalidRegex => WitErrorCode::InvalidRegex,
            ErrorCode::TooLarge => WitErrorCode::TooLarge,
            ErrorCode::UnknownPolicy => WitErrorCode::UnknownPolicy,
            ErrorCode::InvalidFailure => WitErrorCode::InvalidFailure,
            ErrorCode::InvalidState => WitErrorCode::InvalidState,
        },
        message: error.message,
        path: error.path,
        location: error.location.map(|l| WitLocation {
            line: l.line,
            column: l.column,
        }),
    }
}

export!(Component);
