//! Fuzzed alert policies, states and event sequences: the evaluator never
//! panics, and what it returns as state it accepts back.
#![no_main]

use arbitrary::Arbitrary;
use backstop_core::alerts::{Event, EventKind};
use backstop_core::{Failure, Format, Policy};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    condition: String,
    severity: u8,
    dedup_ms: u32,
    escalate_ms: Option<u32>,
    events: Vec<(u8, u8, u8, u16, u32, String)>,
    state: Option<String>,
}

fuzz_target!(|i: Input| {
    let conditions = ["run.failure_count >= 1", "run.consecutive_failures >= 2 or sla.late_minutes >= 30", "error.class == 'permanent'"];
    let condition = if i.condition.len() < 3 { conditions[i.condition.len()] } else { i.condition.as_str() };
    let severity = ["info", "warning", "high", "critical"][usize::from(i.severity % 4)];
    let mut doc = format!(
        "[[alerts.rules]]\ncondition = {condition:?}\nseverity = \"{severity}\"\nnotify = [\"a\"]\ndedup_window = \"{}ms\"\n",
        i.dedup_ms
    );
    if let Some(e) = i.escalate_ms {
        doc.push_str(&format!("escalate_after = \"{}ms\"\n", e.max(1)));
    }
    let Ok(policy) = Policy::load(&doc, Format::Toml) else { return };
    let mut state = i.state.clone().unwrap_or_default();
    let mut now = 1_700_000_000_000u64;
    for (kind, run, step, status, advance, line) in i.events.iter().take(64) {
        now = now.saturating_add(u64::from(*advance));
        let kind = [
            EventKind::AttemptFailed,
            EventKind::RunFailed,
            EventKind::RunSucceeded,
            EventKind::RunLate,
            EventKind::AlertAcknowledged,
            EventKind::Tick,
        ][usize::from(*kind % 6)];
        let event = Event {
            kind,
            pipeline: "p".into(),
            step: format!("s{}", step % 3),
            run_id: format!("r{}", run % 5),
            failure: Some(Failure { http_status: Some(100 + status % 500), message: Some(line.clone()), ..Failure::default() }),
            attempt: u32::from(*run),
            late_minutes: u32::from(*status % 120),
            labels: vec![],
            log_lines: vec![line.clone()],
            dedup_key: Some(format!("backstop/rule-1/p/s{}/r{}/", step % 3, run % 5)),
        };
        if let Ok(result) = policy.evaluate_alerts(&state, &event, now) {
            for n in &result.notifications {
                assert!(!n.targets.is_empty());
                assert!(serde_json::from_str::<serde_json::Value>(&n.payload).is_ok());
            }
            if let Some(w) = result.next_wakeup_ms {
                assert!(w > 0);
            }
            state = result.state;
        }
    }
});
