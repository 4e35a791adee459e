//! `backstop simulate fleet`: N virtual workers run the real planner against
//! a dependency that is down for an outage and then serves a limited number
//! of calls per tick, on a virtual clock. One run per jitter mode and
//! protection setting (variants of the policy's `[retry]`), then a table,
//! JSON and an HTML page with SVG charts.
//!
//! Layers: `model` (workers, dependency, clock; calls the guest), `stats`
//! (figures from an outcome), `render` (table, HTML). This file reads the
//! flags and the policy and makes the variants.

mod model;
mod render;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use backstop::{Engine, Error, Format};
use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;

use super::exit::Exit;
use super::fmt::duration;
use super::{read_policy, render_diagnostics};
use model::{Scenario, Share};
use stats::Summary;

/// The largest fleet: each worker costs a few planner calls per retry, and
/// 10,000 workers × 20 variants already take about a minute.
pub const MAX_WORKERS: u32 = 10_000;
/// The longest simulated time.
const MAX_DURATION_MS: u64 = 7 * 86_400_000;
/// Most ticks (`--duration` / `--tick`) and most chart buckets.
const MAX_TICKS: u64 = 1_000_000;
const MAX_BUCKETS: u64 = 2_000;

#[derive(Subcommand)]
pub enum SimulateCommand {
    /// Simulate a fleet of workers retrying against a dependency under an outage.
    ///
    /// Each of --workers virtual workers needs one successful call to the
    /// dependency. Every call fails with 503 during the first --outage of
    /// simulated time; after it the dependency serves --capacity calls per
    /// --tick and answers 503 to the rest. Workers retry as the policy's
    /// planner decides, through the engine exactly as `backstop run` does
    /// (begin-attempt, after-failure, after-success; breaker and budget
    /// included), each with a seed derived from its own run id. When the
    /// planner gives up, the orchestrator runs the step again after
    /// --rerun-after (a new run id: fresh attempts, new seed). Time is
    /// virtual: nothing sleeps.
    ///
    /// The simulation runs once per --jitter mode and --protection setting,
    /// replacing the policy's retry.jitter and adding or removing its
    /// retry.circuit_breaker / retry.budget tables (their defaults when the
    /// policy has none). It prints per variant: total calls, wasted (failed)
    /// calls, calls during the outage, the peak calls per --bucket, and the
    /// time each worker took to recover after the outage (median, p95, max).
    /// The same flags and --seed always give the same figures.
    ///
    /// Limits: 1 to 10,000 workers; --duration up to 7 days and at most
    /// 1,000,000 ticks; at most 4,000,000 planner decisions per variant.
    #[command(verbatim_doc_comment)]
    Fleet(FleetArgs),
}

#[derive(Args)]
pub struct FleetArgs {
    /// Policy file (.toml or .json) with a [retry] section.
    #[arg(long, value_name = "FILE")]
    policy: PathBuf,
    /// Virtual workers, 1 to 10000.
    #[arg(long, value_name = "N", default_value_t = 100, value_parser = workers, allow_hyphen_values = true)]
    workers: u32,
    /// How long the dependency is down, from time 0 (e.g. 5m).
    #[arg(long, value_name = "DURATION", value_parser = positive_duration, allow_hyphen_values = true)]
    outage: u64,
    /// Calls the dependency serves per tick after the outage [default: workers / 20, at least 1].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    capacity: Option<u32>,
    /// The dependency's capacity window.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = tick, allow_hyphen_values = true)]
    tick: u64,
    /// How long one call takes.
    #[arg(long, value_name = "DURATION", default_value = "100ms", value_parser = any_duration, allow_hyphen_values = true)]
    latency: u64,
    /// Workers start at times spread over this window (0: all at once).
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = any_duration, allow_hyphen_values = true)]
    spread: u64,
    /// When the planner gives up, the step runs again this long after.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = any_duration, allow_hyphen_values = true)]
    rerun_after: u64,
    /// Simulated time in all [default: the outage + 30m; at most 7d].
    #[arg(long, value_name = "DURATION", value_parser = positive_duration, allow_hyphen_values = true)]
    duration: Option<u64>,
    /// Width of a load bucket in the table and the charts.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = positive_duration, allow_hyphen_values = true)]
    bucket: u64,
    /// Seed of the workers' start times and run ids.
    #[arg(long, value_name = "N", default_value_t = 1)]
    seed: u64,
    /// Jitter modes to compare, comma-separated.
    #[arg(
        long,
        value_name = "MODES",
        value_enum,
        value_delimiter = ',',
        default_value = "none,full,equal,decorrelated,additive"
    )]
    jitter: Vec<JitterMode>,
    /// Protection settings to compare, comma-separated.
    #[arg(
        long,
        value_name = "SETTINGS",
        value_enum,
        value_delimiter = ',',
        default_value = "off,breaker,budget,both"
    )]
    protection: Vec<Protection>,
    /// Who shares a breaker and budget: each worker its own, or one for the fleet.
    #[arg(long, value_enum, default_value = "worker")]
    share: ShareArg,
    /// Write the figures as JSON to FILE.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Write a self-contained HTML page with SVG charts to FILE.
    #[arg(long, value_name = "FILE")]
    html: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum JitterMode {
    None,
    Full,
    Equal,
    Decorrelated,
    Additive,
}

impl JitterMode {
    fn as_str(self) -> &'static str {
        match self {
            JitterMode::None => "none",
            JitterMode::Full => "full",
            JitterMode::Equal => "equal",
            JitterMode::Decorrelated => "decorrelated",
            JitterMode::Additive => "additive",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Protection {
    /// Neither circuit breaker nor retry budget.
    Off,
    /// The policy's circuit breaker (its defaults if it has none).
    Breaker,
    /// The policy's retry budget (its defaults if it has none).
    Budget,
    /// Both.
    Both,
}

impl Protection {
    fn as_str(self) -> &'static str {
        match self {
            Protection::Off => "off",
            Protection::Breaker => "breaker",
            Protection::Budget => "budget",
            Protection::Both => "both",
        }
    }

    fn breaker(self) -> bool {
        matches!(self, Protection::Breaker | Protection::Both)
    }

    fn budget(self) -> bool {
        matches!(self, Protection::Budget | Protection::Both)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ShareArg {
    Worker,
    Fleet,
}

fn parse_duration(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.starts_with('-') {
        return Err(format!(
            "`{text}` is negative; write a duration such as 500ms, 30s or 5m"
        ));
    }
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("`{text}` is not a duration: {e} (write e.g. 500ms, 30s, 5m)"))?;
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if ms > MAX_DURATION_MS {
        return Err(format!("`{text}` is longer than the limit of 7d"));
    }
    Ok(ms)
}

fn any_duration(text: &str) -> Result<u64, String> {
    parse_duration(text)
}

fn positive_duration(text: &str) -> Result<u64, String> {
    match parse_duration(text)? {
        0 => Err(format!("`{}` must be at least 1ms", text.trim())),
        ms => Ok(ms),
    }
}

fn tick(text: &str) -> Result<u64, String> {
    match parse_duration(text)? {
        ms if (10..=60_000).contains(&ms) => Ok(ms),
        _ => Err(format!(
            "`{}` is out of range; expected 10ms to 1m",
            text.trim()
        )),
    }
}

fn workers(text: &str) -> Result<u32, String> {
    let n: u64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a whole number of workers"))?;
    if n == 0 || n > u64::from(MAX_WORKERS) {
        return Err(format!(
            "{n} is out of range; expected 1 to {MAX_WORKERS} workers"
        ));
    }
    Ok(n as u32)
}

/// The JSON document `--json` writes.
#[derive(Serialize)]
struct Report<'a> {
    policy: String,
    scenario: ScenarioJson,
    variants: &'a [Summary],
}

#[derive(Serialize)]
struct ScenarioJson {
    workers: u32,
    outage_ms: u64,
    capacity_per_tick: u32,
    tick_ms: u64,
    latency_ms: u64,
    spread_ms: u64,
    rerun_after_ms: u64,
    duration_ms: u64,
    bucket_ms: u64,
    seed: String,
    share: &'static str,
}

pub fn run(command: SimulateCommand) -> Result<ExitCode> {
    match command {
        SimulateCommand::Fleet(args) => fleet(args),
    }
}

fn usage(message: String) -> anyhow::Error {
    Exit::new(2, message).into()
}

fn fleet(args: FleetArgs) -> Result<ExitCode> {
    let horizon_ms = args
        .duration
        .unwrap_or(args.outage.saturating_add(30 * 60_000))
        .min(MAX_DURATION_MS);
    if args.duration.is_none() && args.outage.saturating_add(30 * 60_000) > MAX_DURATION_MS {
        return Err(usage(format!(
            "--outage {} with the default --duration (the outage + 30m) is longer than the limit of 7d",
            duration(args.outage)
        )));
    }
    if horizon_ms.div_ceil(args.tick) > MAX_TICKS {
        return Err(usage(format!(
            "--duration {} is {} ticks of {}; the limit is {MAX_TICKS} (use a longer --tick)",
            duration(horizon_ms),
            horizon_ms.div_ceil(args.tick),
            duration(args.tick)
        )));
    }
    if args.bucket < args.tick || !args.bucket.is_multiple_of(args.tick) {
        return Err(usage(format!(
            "--bucket {} must be a whole number of ticks ({})",
            duration(args.bucket),
            duration(args.tick)
        )));
    }
    if horizon_ms.div_ceil(args.bucket) > MAX_BUCKETS {
        return Err(usage(format!(
            "--duration {} is more than {MAX_BUCKETS} buckets of {}; use a wider --bucket",
            duration(horizon_ms),
            duration(args.bucket)
        )));
    }
    let mut jitters = args.jitter.clone();
    jitters.dedup();
    let mut protections = args.protection.clone();
    protections.dedup();

    let source = read_policy(&args.policy)?;
    let format = Format::from_path(&args.policy);
    let label = args.policy.display().to_string();
    let mut session = Engine::new()?.session()?;
    // The file on its own first, so a mistake is reported at its own line.
    match session.load_policy(&source, format) {
        Ok(_) => {}
        Err(Error::InvalidPolicy(errors)) => {
            render_diagnostics(&label, &source, &errors);
            return Ok(ExitCode::FAILURE);
        }
        Err(other) => return Err(other.into()),
    }
    let document = Document::parse(&source, format)
        .with_context(|| format!("reading {label} as a document"))?;
    if !document.has_retry() {
        return Err(Exit::new(
            1,
            format!(
                "{label} has no [retry] section: the simulator compares variants of a policy's \
                 retry settings (add `[retry]`, even empty for the defaults)"
            ),
        )
        .into());
    }

    let scenario = Scenario {
        workers: args.workers,
        outage_ms: args.outage,
        capacity: args.capacity.unwrap_or((args.workers / 20).max(1)),
        tick_ms: args.tick,
        latency_ms: args.latency,
        spread_ms: args.spread,
        rerun_after_ms: args.rerun_after,
        horizon_ms,
        seed: args.seed,
        share: match args.share {
            ShareArg::Worker => Share::Worker,
            ShareArg::Fleet => Share::Fleet,
        },
    };
    let mut rows = Vec::new();
    for &protection in &protections {
        for &jitter in &jitters {
            let variant = document.variant(jitter, protection)?;
            let policy = session
                .load_policy(&variant, format)
                .with_context(|| format!("{label} with jitter {}", jitter.as_str()))?;
            let outcome = model::simulate(&mut session, policy, &scenario)?;
            session.unload(policy)?;
            rows.push(stats::summarise(
                jitter.as_str(),
                protection.as_str(),
                &scenario,
                args.bucket,
                &outcome,
            ));
        }
    }

    let header = render::Header {
        policy: &label,
        scenario: format!(
            "{} workers, outage {}, then {} calls per {} (latency {}, starts spread over {}, rerun after {}, \
             breaker/budget per {}), {} simulated, seed {}",
            scenario.workers,
            duration(scenario.outage_ms),
            scenario.capacity,
            duration(scenario.tick_ms),
            duration(scenario.latency_ms),
            duration(scenario.spread_ms),
            duration(scenario.rerun_after_ms),
            scenario.share.as_str(),
            duration(horizon_ms),
            scenario.seed
        ),
        bucket_ms: args.bucket,
    };
    print!("{}", render::table(&header, &rows));
    if let Some(path) = &args.json {
        let report = Report {
            policy: label.clone(),
            scenario: ScenarioJson {
                workers: scenario.workers,
                outage_ms: scenario.outage_ms,
                capacity_per_tick: scenario.capacity,
                tick_ms: scenario.tick_ms,
                latency_ms: scenario.latency_ms,
                spread_ms: scenario.spread_ms,
                rerun_after_ms: scenario.rerun_after_ms,
                duration_ms: horizon_ms,
                bucket_ms: args.bucket,
                seed: scenario.seed.to_string(),
                share: scenario.share.as_str(),
            },
            variants: &rows,
        };
        let mut text = serde_json::to_string_pretty(&report)?;
        text.push('\n');
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.html {
        std::fs::write(path, render::html(&header, &rows, scenario.outage_ms))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The policy document, to derive variants of its `[retry]` from.
enum Document {
    Toml(toml::Table),
    Json(serde_json::Map<String, serde_json::Value>),
}

impl Document {
    fn parse(source: &str, format: Format) -> Result<Document> {
        Ok(match format {
            Format::Toml => Document::Toml(toml::from_str(source)?),
            Format::Json => {
                // Policies are JSON with comments, as the guest reads them.
                let value: serde_json::Value = if source.trim().is_empty() {
                    serde_json::Value::Object(Default::default())
                } else {
                    jsonc_parser::parse_to_serde_value(source, &Default::default())?
                };
                match value {
                    serde_json::Value::Object(map) => Document::Json(map),
                    _ => bail!("the document is not an object"),
                }
            }
        })
    }

    fn has_retry(&self) -> bool {
        match self {
            Document::Toml(t) => t.contains_key("retry"),
            Document::Json(m) => m.contains_key("retry"),
        }
    }

    /// The document with `retry.jitter` replaced and the breaker and budget
    /// tables kept (or added empty, for their defaults) or removed.
    fn variant(&self, jitter: JitterMode, protection: Protection) -> Result<String> {
        match self {
            Document::Toml(doc) => {
                let mut doc = doc.clone();
                let Some(retry) = doc.get_mut("retry").and_then(|r| r.as_table_mut()) else {
                    bail!("`retry` is not a table");
                };
                retry.insert("jitter".into(), toml::Value::String(jitter.as_str().into()));
                for (key, on) in [
                    ("circuit_breaker", protection.breaker()),
                    ("budget", protection.budget()),
                ] {
                    if !on {
                        retry.remove(key);
                    } else if !retry.contains_key(key) {
                        retry.insert(key.into(), toml::Value::Table(Default::default()));
                    }
                }
                Ok(toml::to_string(&doc)?)
            }
            Document::Json(doc) => {
                let mut doc = doc.clone();
                let Some(retry) = doc.get_mut("retry").and_then(|r| r.as_object_mut()) else {
                    bail!("`retry` is not an object");
                };
                retry.insert("jitter".into(), jitter.as_str().into());
                for (key, on) in [
                    ("circuit_breaker", protection.breaker()),
                    ("budget", protection.budget()),
                ] {
                    if !on {
                        retry.remove(key);
                    } else if !retry.contains_key(key) {
                        retry.insert(key.into(), serde_json::Value::Object(Default::default()));
                    }
                }
                Ok(serde_json::to_string(&doc)?)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_replace_jitter_and_toggle_breaker_and_budget() {
        let doc = Document::parse(
            "[retry]\njitter = \"additive\"\n[retry.budget]\nmax_tokens = 3\n",
            Format::Toml,
        )
        .unwrap();
        let v: toml::Table =
            toml::from_str(&doc.variant(JitterMode::Full, Protection::Both).unwrap()).unwrap();
        assert_eq!(v["retry"]["jitter"].as_str(), Some("full"));
        assert_eq!(v["retry"]["budget"]["max_tokens"].as_integer(), Some(3));
        assert!(v["retry"]["circuit_breaker"].as_table().unwrap().is_empty());
        let v: toml::Table =
            toml::from_str(&doc.variant(JitterMode::None, Protection::Off).unwrap()).unwrap();
        assert!(!v["retry"].as_table().unwrap().contains_key("budget"));

        let doc =
            Document::parse("// c\n{\"retry\": {\"circuit_breaker\": {}}}", Format::Json).unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&doc.variant(JitterMode::Equal, Protection::Budget).unwrap())
                .unwrap();
        assert_eq!(v["retry"]["jitter"], "equal");
        assert!(v["retry"].get("circuit_breaker").is_none());
        assert!(v["retry"]["budget"].is_object());
    }

    #[test]
    fn durations_and_workers_are_checked() {
        assert_eq!(parse_duration("5m"), Ok(300_000));
        assert!(parse_duration("-5m").unwrap_err().contains("negative"));
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(parse_duration("8d").unwrap_err().contains("7d"));
        assert!(positive_duration("0s").is_err());
        assert!(workers("0").is_err());
        assert!(workers("10000000").unwrap_err().contains("1 to 10000"));
        assert!(workers("many").is_err());
        assert_eq!(workers("10000"), Ok(10_000));
    }
}
