//! The explanation of a decision: one human sentence, rendered apart from
//! the state machine that decides. Built by pushing pieces into one string:
//! a retry loop renders one per failed attempt, and `format!` with nested
//! temporaries was most of a decision's cost under the slower wasm runtimes.

use super::planner::GiveUp;
use crate::classify::FailureClass;
use crate::schema::push_ms;

/// Why the decision is what it is, beyond its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    None,
    AttemptsExhausted { limit: u32 },
    Pushback { delay_ms: u64 },
    PushbackBeyondDeadline { delay_ms: u64, remaining_ms: u64 },
    Deadline { delay_ms: u64, remaining_ms: u64 },
}

/// `attempt N failed (class); retry in D (detail)` or
/// `attempt N failed (class); give up: reason (detail)`.
pub fn explanation(
    attempt: u32,
    class: FailureClass,
    give_up: Option<GiveUp>,
    delay_ms: u64,
    detail: Detail,
) -> String {
    let mut s = String::with_capacity(96);
    s.push_str("attempt ");
    push_int(&mut s, attempt);
    s.push_str(" failed (");
    s.push_str(class.as_str());
    match give_up {
        None => {
            s.push_str("); retry in ");
            push_ms(&mut s, delay_ms);
        }
        Some(reason) => {
            s.push_str("); give up: ");
            s.push_str(reason.as_str());
        }
    }
    match detail {
        Detail::None => return s,
        Detail::AttemptsExhausted { limit } => {
            s.push_str(" (");
            push_int(&mut s, attempt);
            s.push_str(" of ");
            push_int(&mut s, limit);
            s.push_str(" attempts used for ");
            s.push_str(class.as_str());
            s.push_str(" failures");
        }
        Detail::Pushback { delay_ms } => {
            s.push_str(" (server pushback of ");
            push_ms(&mut s, delay_ms);
        }
        Detail::PushbackBeyondDeadline {
            delay_ms,
            remaining_ms,
        } => {
            s.push_str(" (the server asked for ");
            push_ms(&mut s, delay_ms);
            s.push_str(" but only ");
            push_ms(&mut s, remaining_ms);
            s.push_str(" of the deadline remain");
        }
        Detail::Deadline {
            delay_ms,
            remaining_ms,
        } => {
            s.push_str(" (a wait of ");
            push_ms(&mut s, delay_ms);
            s.push_str(" would start attempt ");
            push_int(&mut s, attempt.saturating_add(1));
            s.push_str(" past the deadline (");
            push_ms(&mut s, remaining_ms);
            s.push_str(" remain)");
        }
    }
    s.push(')');
    s
}

fn push_int(s: &mut String, n: impl itoa::Integer) {
    s.push_str(itoa::Buffer::new().format(n));
}
