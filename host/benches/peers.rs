//! Issue #14's Rust peer bench: `retrying::Retry` next to backon doing the
//! same work, in interleaved rounds (medians), each ratio printed next to its
//! goal. The function succeeds at once ("success"), or fails twice with an
//! HTTP 503 and then succeeds ("two failures"); one failed attempt is
//! (two failures - success) / 2. Sleeping is replaced on both sides (a clock
//! whose sleep returns at once; a backon sleeper that returns at once).
//! Backstop runs `tests/bench/peer-policy.toml` with the default random seed,
//! like the Go, Node and Python peer benches.
//!
//! Run: `cargo bench --workspace --bench peers` (ROUNDS=7, ITERS=20000;
//! PROFILE=success or failures runs that case alone, for `perf record`).

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use backon::{BlockingRetryable, ExponentialBuilder};
use backstop::retrying::{Clock, MemoryStore, Retry, ToFailure};
use backstop::{CacheMode, Engine, Failure, Format};

const POLICY: &str = include_str!("../../tests/bench/peer-policy.toml");

#[derive(Debug)]
struct Unavailable;

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("HTTP 503 Service Unavailable")
    }
}

impl std::error::Error for Unavailable {}

impl ToFailure for Unavailable {
    fn to_failure(&self) -> Failure {
        Failure {
            http_status: Some(503),
            ..Failure::default()
        }
    }
}

/// The system clock with a sleep that returns at once.
struct NoSleep;

impl Clock for NoSleep {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64)
    }
    fn sleep(&self, _: Duration) {}
}

/// Fails on calls 1 and 2 of every 3.
fn failing_twice() -> impl FnMut() -> Result<u32, Unavailable> {
    let mut calls = 0u32;
    move || {
        calls += 1;
        if !calls.is_multiple_of(3) {
            Err(Unavailable)
        } else {
            Ok(calls)
        }
    }
}

/// The peer policy's shape in backon: exponential from 100 ms to 5 s with
/// jitter, 5 attempts (4 retries).
fn backon_policy() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(5))
        .with_max_times(4)
        .with_jitter()
}

fn per_op(iters: u32, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(iters)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument is not supported.
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let iters: u32 = std::env::var("ITERS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let engine = Engine::builder()
        .cache(CacheMode::Disabled)
        .build()
        .unwrap();
    let mut session = engine.session().unwrap();
    let policy = session.load_policy(POLICY, Format::Toml).unwrap();
    // The same, with epoch interruption instead of fuel as the runaway
    // protection (EngineBuilder::time_per_call), to compare their cost.
    let epoch_engine = Engine::builder()
        .cache(CacheMode::Disabled)
        .time_per_call(Duration::from_secs(10))
        .build()
        .unwrap();
    let mut epoch_session = epoch_engine.session().unwrap();
    let epoch_policy = epoch_session.load_policy(POLICY, Format::Toml).unwrap();

    let names = [
        "success/backstop",
        "success/backon",
        "success-fresh-state/backstop",
        "two-failures/backstop",
        "two-failures/backon",
        "success-fresh-state/backstop-epoch",
        "two-failures/backstop-epoch",
    ];
    // PROFILE=success|failures: only that case, ITERS times, nothing
    // printed, for a profiler (`perf record`) to see one path alone.
    match std::env::var("PROFILE").as_deref() {
        Ok("success") => {
            per_op(iters, || {
                let r: Result<u32, _> =
                    Retry::<Unavailable>::new(&mut session, policy).run(&NoSleep, |_| Ok(1));
                black_box(r.unwrap());
            });
            return;
        }
        Ok("failures") => {
            let mut f = failing_twice();
            per_op(iters, || {
                let store = MemoryStore::default();
                let r = Retry::<Unavailable>::new(&mut session, policy)
                    .shared_store(&store)
                    .run(&NoSleep, |_| f());
                black_box(r.unwrap());
            });
            return;
        }
        _ => {}
    }
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for _ in 0..rounds {
        times[0].push(per_op(iters, || {
            let r: Result<u32, _> =
                Retry::<Unavailable>::new(&mut session, policy).run(&NoSleep, |_| Ok(1));
            black_box(r.unwrap());
        }));
        times[1].push(per_op(iters, || {
            let r = (|| Ok::<u32, Unavailable>(1))
                .retry(backon_policy())
                .sleep(|_| {})
                .call();
            black_box(r.unwrap());
        }));
        // A fresh breaker and budget each time: two failures per operation
        // would drain a shared budget within a few.
        times[2].push(per_op(iters, || {
            let store = MemoryStore::default();
            let r: Result<u32, _> = Retry::<Unavailable>::new(&mut session, policy)
                .shared_store(&store)
                .run(&NoSleep, |_| Ok(1));
            black_box(r.unwrap());
        }));
        let mut f = failing_twice();
        times[3].push(per_op(iters / 2, || {
            let store = MemoryStore::default();
            let r = Retry::<Unavailable>::new(&mut session, policy)
                .shared_store(&store)
                .run(&NoSleep, |_| f());
            black_box(r.unwrap());
        }));
        let mut f = failing_twice();
        times[4].push(per_op(iters / 2, || {
            let r = (&mut f).retry(backon_policy()).sleep(|_| {}).call();
            black_box(r.unwrap());
        }));
        times[5].push(per_op(iters, || {
            let store = MemoryStore::default();
            let r: Result<u32, _> = Retry::<Unavailable>::new(&mut epoch_session, epoch_policy)
                .shared_store(&store)
                .run(&NoSleep, |_| Ok(1));
            black_box(r.unwrap());
        }));
        let mut f = failing_twice();
        times[6].push(per_op(iters / 2, || {
            let store = MemoryStore::default();
            let r = Retry::<Unavailable>::new(&mut epoch_session, epoch_policy)
                .shared_store(&store)
                .run(&NoSleep, |_| f());
            black_box(r.unwrap());
        }));
    }
    let med: Vec<f64> = times.iter_mut().map(|v| median(v)).collect();
    println!("medians of {rounds} rounds of {iters} calls (ns per call):");
    for (name, m) in names.iter().zip(&med) {
        println!("  {name:34} {m:10.0} ns");
    }
    let ours_failed = (med[3] - med[2]) / 2.0;
    let peer_failed = (med[4] - med[1]) / 2.0;
    println!();
    println!(
        "{:26} {:>10} {:>10} {:>9} {:>7}",
        "Rust retrying vs backon", "backstop", "backon", "ratio", "goal"
    );
    let ratio = med[0] / med[1];
    let verdict = if ratio <= 5.0 { "met" } else { "MISSED" };
    println!(
        "{:26} {:8.0}ns {:8.0}ns {:8.1}x {:>7}  {verdict}",
        "success path, per call", med[0], med[1], ratio, "<= 5x"
    );
    if ours_failed > 0.0 && peer_failed > 0.0 {
        println!(
            "{:26} {:8.0}ns {:8.0}ns {:8.1}x {:>7}  (no goal in #14)",
            "per failed attempt",
            ours_failed,
            peer_failed,
            ours_failed / peer_failed,
            "-"
        );
    } else {
        println!("per failed attempt: no ratio, the noise exceeds the difference; use more rounds");
    }
    if med.len() > 6 {
        let epoch_failed = (med[6] - med[5]) / 2.0;
        println!();
        println!(
            "runaway protection, per failed attempt (two guest calls): fuel {ours_failed:.0} ns, epoch interruption {epoch_failed:.0} ns"
        );
    }
}
