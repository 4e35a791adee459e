//! The simulation model: virtual workers, a dependency with an outage and a
//! capacity, and a virtual clock. Every wait and every give-up comes from the
//! guest's planner (`begin_attempt`, `after_failure`, `after_success`); this
//! file only advances time, counts calls and keeps each worker's state.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};

use anyhow::{Result, bail};
use backstop::{AttemptFailure, Failure, Policy, RetryState, Session, SharedState};

/// Most planner decisions one variant may take before the simulation stops
/// with an error (a guard against a run that would take minutes; documented
/// in `--help`).
pub const MAX_DECISIONS: u64 = 4_000_000;

/// Who shares a breaker and a budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Share {
    /// Each worker has its own (one process per worker, a local state file).
    Worker,
    /// One state for the whole fleet (a shared store such as PostgreSQL).
    Fleet,
}

impl Share {
    pub fn as_str(self) -> &'static str {
        match self {
            Share::Worker => "worker",
            Share::Fleet => "fleet",
        }
    }
}

/// The fleet, the dependency and the clock. Times are milliseconds from the
/// start of the outage.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub workers: u32,
    /// The dependency fails every call in `[0, outage_ms)`.
    pub outage_ms: u64,
    /// After the outage it serves this many calls per tick; the rest get 503.
    pub capacity: u32,
    pub tick_ms: u64,
    /// How long one call takes (failed or not).
    pub latency_ms: u64,
    /// Workers start at times spread over `[0, spread_ms)`.
    pub spread_ms: u64,
    /// After the planner gives up, the orchestrator runs the step again (a
    /// new run id: fresh attempt count, new seed) this long after.
    pub rerun_after_ms: u64,
    /// The simulation stops here; workers not done by then did not recover.
    pub horizon_ms: u64,
    pub seed: u64,
    pub share: Share,
}

/// What happened in one run of the scenario with one policy variant.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// Calls started per tick, and how many of them failed.
    pub calls: Vec<u32>,
    pub failed: Vec<u32>,
    /// Calls started while the dependency was down.
    pub outage_calls: u64,
    /// When each worker's call finally succeeded (`None`: not by the horizon).
    pub done_at_ms: Vec<Option<u64>>,
    /// Runs the planner ended, by give-up reason.
    pub gave_up: BTreeMap<&'static str, u64>,
    /// Attempts the planner refused to start (circuit open, deadline).
    pub refused: u64,
}

/// A 64-bit mix (SplitMix64's output function) for the start offsets: the
/// simulator's only randomness, a function of the seed.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The failure a call gets while the dependency is down or overloaded.
fn unavailable(overloaded: bool) -> Failure {
    Failure {
        http_status: Some(503),
        message: Some(
            if overloaded {
                "503 Service Unavailable: over capacity"
            } else {
                "503 Service Unavailable: outage"
            }
            .into(),
        ),
        ..Failure::default()
    }
}

struct Worker {
    state: RetryState,
    run: u32,
}

/// Run the scenario: each worker needs one successful call; the planner
/// decides when it calls again and when it gives up.
pub fn simulate(session: &mut Session, policy: Policy, s: &Scenario) -> Result<Outcome> {
    let ticks = s.horizon_ms.div_ceil(s.tick_ms) as usize;
    let mut out = Outcome {
        calls: vec![0; ticks],
        failed: vec![0; ticks],
        done_at_ms: vec![None; s.workers as usize],
        ..Outcome::default()
    };
    let mut shared = vec![
        SharedState::default();
        match s.share {
            Share::Worker => s.workers as usize,
            Share::Fleet => 1,
        }
    ];
    let mut workers = Vec::with_capacity(s.workers as usize);
    // (time, worker): the heap pops the earliest, ties by worker number, so a
    // seed always gives the same order and so the same outcome.
    let mut queue = BinaryHeap::new();
    for w in 0..s.workers {
        workers.push(Worker {
            state: fresh_state(session, s.seed, w, 0)?,
            run: 0,
        });
        let start = if s.spread_ms == 0 {
            0
        } else {
            mix(s.seed ^ u64::from(w).wrapping_mul(0xD1B5_4A32_D192_ED03)) % s.spread_ms
        };
        queue.push(Reverse((start, w)));
    }
    let mut decisions = 0u64;
    while let Some(Reverse((now, w))) = queue.pop() {
        if now >= s.horizon_ms {
            break;
        }
        decisions += 1;
        if decisions > MAX_DECISIONS {
            bail!(
                "the simulation needs more than {MAX_DECISIONS} planner decisions per variant; \
                 use fewer --workers or a shorter --duration"
            );
        }
        let wi = w as usize;
        let si = match s.share {
            Share::Worker => wi,
            Share::Fleet => 0,
        };
        let worker = &mut workers[wi];
        let permit = session.begin_attempt(policy, &worker.state, &shared[si], now)?;
        shared[si] = permit.shared;
        if let Some(reason) = permit.refused {
            out.refused += 1;
            *out.gave_up.entry(reason.as_str()).or_default() += 1;
            let wait = s.rerun_after_ms.max(permit.retry_after_ms);
            worker.run += 1;
            worker.state = fresh_state(session, s.seed, w, worker.run)?;
            queue.push(Reverse((now.saturating_add(wait), w)));
            continue;
        }
        worker.state = permit.state;
        // The call.
        let tick = (now / s.tick_ms) as usize;
        out.calls[tick] += 1;
        let down = now < s.outage_ms;
        out.outage_calls += u64::from(down);
        let overloaded = !down && out.calls[tick] - out.failed[tick] > s.capacity;
        let ended = now.saturating_add(s.latency_ms);
        if !down && !overloaded {
            shared[si] = session.after_success(policy, &shared[si])?;
            out.done_at_ms[wi] = Some(ended);
            continue;
        }
        out.failed[tick] += 1;
        let outcome = AttemptFailure {
            failure: unavailable(overloaded),
            duration_ms: s.latency_ms,
            pushback_ms: None,
        };
        let decision =
            session.after_failure(policy, &worker.state, &shared[si], &outcome, ended)?;
        shared[si] = decision.shared;
        match decision.give_up {
            None => {
                worker.state = decision.state;
                queue.push(Reverse((ended.saturating_add(decision.delay_ms), w)));
            }
            Some(reason) => {
                *out.gave_up.entry(reason.as_str()).or_default() += 1;
                worker.run += 1;
                worker.state = fresh_state(session, s.seed, w, worker.run)?;
                queue.push(Reverse((ended.saturating_add(s.rerun_after_ms), w)));
            }
        }
    }
    Ok(out)
}

/// A run's fresh state, its seed derived from its run id as `backstop run`
/// derives it, so every worker and every rerun jitters differently.
fn fresh_state(session: &mut Session, seed: u64, worker: u32, run: u32) -> Result<RetryState> {
    let key = format!("fleet-{seed}-w{worker}-r{run}/call");
    Ok(RetryState {
        seed: session.derive_seed(&key)?,
        ..RetryState::default()
    })
}
