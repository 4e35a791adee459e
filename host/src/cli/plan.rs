//! `backstop plan`: the schedule a policy plans, as a table or JSON.

use std::process::ExitCode;

use anyhow::Result;
use backstop::{Engine, GiveUpReason, PlannedAttempt, Schedule};
use clap::Args;
use serde::Serialize;

use super::fmt::{bar, duration};
use super::policy::{self, PolicyArgs};

/// The step name when `--step` is not given (`plan` and `run` agree on it).
pub const DEFAULT_STEP: &str = "main";

#[derive(Args)]
pub struct PlanArgs {
    /// Derive the jitter seed from "<run id>/<step>", exactly as `backstop run` does.
    #[arg(long, value_name = "ID")]
    run_id: Option<String>,
    /// Step name for the seed [default: main]
    #[arg(long, value_name = "NAME", requires = "run_id")]
    step: Option<String>,
    /// Jitter seed (an unsigned 64-bit integer); overrides the one derived from --run-id.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// List at most this many attempts (1 to 10000).
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    limit: u32,
    /// Print one JSON object: {"seed", "attempts": [{"attempt", "delay_ms", "timeout_ms", "start_ms"}], "ends_with"}.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    policy: PolicyArgs,
}

#[derive(Serialize)]
struct PlanJson<'a> {
    /// A string: seeds use all 64 bits, more than a JSON number keeps in JavaScript.
    seed: String,
    /// "flag", "run-id" or "default".
    seed_source: &'static str,
    run_id: Option<&'a str>,
    step: Option<&'a str>,
    attempts: &'a [PlannedAttempt],
    ends_with: Option<GiveUpReason>,
}

pub fn run(args: PlanArgs) -> Result<ExitCode> {
    let mut session = Engine::new()?.session()?;
    let Some(policy) = policy::load(&mut session, &args.policy)? else {
        return Ok(ExitCode::FAILURE);
    };
    let step = args
        .run_id
        .as_ref()
        .map(|_| args.step.as_deref().unwrap_or(DEFAULT_STEP));
    let (seed, seed_source) = match (args.seed, &args.run_id) {
        (Some(seed), _) => (seed, "flag"),
        (None, Some(run_id)) => (
            session.derive_seed(&format!("{run_id}/{}", step.unwrap_or(DEFAULT_STEP)))?,
            "run-id",
        ),
        (None, None) => (0, "default"),
    };
    let schedule = session.plan_schedule(policy, seed, args.limit)?;
    if args.json {
        let out = PlanJson {
            seed: seed.to_string(),
            seed_source,
            run_id: args.run_id.as_deref(),
            step,
            attempts: &schedule.attempts,
            ends_with: schedule.ends_with,
        };
        println!("{}", serde_json::to_string(&out)?);
    } else {
        let source = match (seed_source, &args.run_id) {
            ("run-id", Some(run_id)) => format!(
                " (from run id {run_id:?}, step {:?})",
                step.unwrap_or(DEFAULT_STEP)
            ),
            ("default", _) => " (pass --run-id to see a run's own jitter)".into(),
            _ => String::new(),
        };
        println!("seed {seed}{source}");
        print!("{}", render_table(&schedule, args.limit));
    }
    Ok(ExitCode::SUCCESS)
}

/// The table: attempt, wait before it, start offset, timeout, and a bar of the wait.
fn render_table(schedule: &Schedule, limit: u32) -> String {
    const BAR_WIDTH: usize = 24;
    let max_delay = schedule
        .attempts
        .iter()
        .map(|a| a.delay_ms)
        .max()
        .unwrap_or(0);
    let rows: Vec<[String; 4]> = schedule
        .attempts
        .iter()
        .map(|a| {
            [
                a.attempt.to_string(),
                if a.attempt == 1 {
                    "-".into()
                } else {
                    duration(a.delay_ms)
                },
                duration(a.start_ms),
                a.timeout_ms.map_or("none".into(), duration),
            ]
        })
        .collect();
    let header = ["attempt", "wait", "starts at", "timeout"];
    let widths: Vec<usize> = (0..4)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([header[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |cells: [&str; 4], tail: &str| {
        let mut text = String::new();
        for (i, cell) in cells.iter().enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            text.push_str(&format!("{cell:>width$}", width = widths[i]));
        }
        if !tail.is_empty() {
            text.push_str("  ");
            text.push_str(tail);
        }
        text.push('\n');
        text
    };
    out.push_str(&line(header, ""));
    for (row, attempt) in rows.iter().zip(&schedule.attempts) {
        let cells = [&*row[0], &*row[1], &*row[2], &*row[3]];
        out.push_str(&line(cells, &bar(attempt.delay_ms, max_delay, BAR_WIDTH)));
    }
    let last = schedule.attempts.last().map_or(0, |a| a.attempt);
    let ending = match schedule.ends_with {
        None => format!("listing cut at {limit} attempts (--limit)"),
        Some(GiveUpReason::AttemptsExhausted) => {
            format!("then gives up: attempts-exhausted (all {last} attempts used)")
        }
        Some(GiveUpReason::Deadline) => {
            "then gives up: deadline (another wait would start an attempt past it)".into()
        }
        Some(reason) => format!("then gives up: {reason}"),
    };
    out.push_str(&ending);
    out.push_str("\n(a dry run: every attempt fails transiently after its full timeout)\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_aligns_columns_and_draws_bars() {
        let schedule = Schedule {
            attempts: vec![
                PlannedAttempt {
                    attempt: 1,
                    delay_ms: 0,
                    timeout_ms: Some(60_000),
                    start_ms: 0,
                },
                PlannedAttempt {
                    attempt: 2,
                    delay_ms: 1_000,
                    timeout_ms: Some(60_000),
                    start_ms: 61_000,
                },
                PlannedAttempt {
                    attempt: 3,
                    delay_ms: 2_000,
                    timeout_ms: None,
                    start_ms: 123_000,
                },
            ],
            ends_with: Some(GiveUpReason::AttemptsExhausted),
        };
        let text = render_table(&schedule, 100);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "attempt  wait  starts at  timeout");
        assert_eq!(lines[1], "      1     -         0s       1m");
        assert_eq!(
            lines[2],
            format!("      2    1s       1m1s       1m  {}", "█".repeat(12))
        );
        assert_eq!(
            lines[3],
            format!("      3    2s       2m3s     none  {}", "█".repeat(24))
        );
        assert!(lines[4].contains("attempts-exhausted (all 3 attempts used)"));
    }
}
