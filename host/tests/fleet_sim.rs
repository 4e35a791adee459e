//! `backstop simulate fleet`: deterministic for a seed, the AWS jitter
//! anchor's ordering with the real planner, breaker and budget cut the load
//! during the outage, hostile input is refused clearly, the HTML is
//! well-formed with one SVG per chart, and the README's run is true.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn backstop(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backstop"))
        .args(args)
        .current_dir(root())
        // A cache shared by the tests, so only the first compiles the component.
        .env(
            "BACKSTOP_CACHE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/backstop-cache"),
        )
        .output()
        .unwrap()
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Run a simulation with `args` and read its JSON.
fn simulate(dir: &Path, name: &str, args: &[&str]) -> (Output, String) {
    let json = dir.join(format!("{name}.json"));
    let json = json.to_str().unwrap();
    let mut all = vec!["simulate", "fleet", "--json", json];
    all.extend_from_slice(args);
    let out = backstop(&all);
    assert!(
        out.status.success(),
        "{:?}: {}{}",
        all,
        text(&out.stdout),
        text(&out.stderr)
    );
    (out, std::fs::read_to_string(json).unwrap())
}

fn variant<'a>(report: &'a Value, jitter: &str, protection: &str) -> &'a Value {
    report["variants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["jitter"] == jitter && v["protection"] == protection)
        .unwrap_or_else(|| panic!("no variant {jitter}/{protection}"))
}

fn n(v: &Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or_else(|| panic!("{key} in {v}"))
}

/// The anchor's setting: a fleet that starts together against a dependency
/// whose capacity after the outage is well below the fleet's size.
const ANCHOR: [&str; 10] = [
    "--policy",
    "examples/fleet.toml",
    "--workers",
    "200",
    "--outage",
    "5m",
    "--capacity",
    "2",
    "--protection",
    "off",
];

#[test]
fn the_same_seed_gives_byte_identical_json_and_another_seed_differs() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--policy",
        "examples/fleet.toml",
        "--workers",
        "40",
        "--outage",
        "2m",
        "--seed",
        "7",
    ];
    let (first_out, first) = simulate(dir.path(), "a", &args);
    let (second_out, second) = simulate(dir.path(), "b", &args);
    assert_eq!(first, second);
    assert_eq!(first_out.stdout, second_out.stdout);
    let mut other = args.to_vec();
    other[7] = "8";
    let (_, third) = simulate(dir.path(), "c", &other);
    assert_ne!(first, third, "the seed changes the workers' jitter");
    // The figures add up: every worker's call either recovered or did not.
    let report: Value = serde_json::from_str(&first).unwrap();
    for v in report["variants"].as_array().unwrap() {
        assert_eq!(n(v, "recovered") + n(v, "not_recovered"), 40, "{v}");
        let load: u64 = v["load"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .sum();
        assert_eq!(load, n(v, "total_calls"), "{v}");
        assert_eq!(
            n(v, "total_calls") - n(v, "wasted_calls"),
            n(v, "recovered"),
            "{v}"
        );
    }
    assert_eq!(report["variants"].as_array().unwrap().len(), 5 * 4);
}

#[test]
fn no_jitter_is_worst_as_in_the_aws_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let (_, json) = simulate(dir.path(), "anchor", &ANCHOR);
    let report: Value = serde_json::from_str(&json).unwrap();
    let none = variant(&report, "none", "off");
    for jitter in ["full", "equal", "decorrelated", "additive"] {
        let v = variant(&report, jitter, "off");
        for key in ["total_calls", "peak_after_outage", "all_done_ms"] {
            assert!(
                n(none, key) > n(v, key),
                "{key}: none {} vs {jitter} {}",
                none[key],
                v[key]
            );
        }
    }
    // Full jitter finishes before equal jitter (the anchor: equal "takes much
    // longer"; here the margin is a few seconds, see docs/SIMULATION.md).
    let full = variant(&report, "full", "off");
    let equal = variant(&report, "equal", "off");
    assert!(
        n(full, "all_done_ms") < n(equal, "all_done_ms"),
        "completion: full {} vs equal {}",
        full["all_done_ms"],
        equal["all_done_ms"]
    );
    assert!(
        full["recovery"]["p95_ms"].as_u64() < equal["recovery"]["p95_ms"].as_u64(),
        "p95: full {} vs equal {}",
        full["recovery"],
        equal["recovery"]
    );
}

#[test]
fn breaker_and_budget_cut_the_load_during_the_outage() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--policy",
        "examples/fleet.toml",
        "--workers",
        "50",
        "--outage",
        "5m",
        "--capacity",
        "1",
    ];
    let (_, json) = simulate(dir.path(), "per-worker", &args);
    let per_worker: Value = serde_json::from_str(&json).unwrap();
    let mut fleet_args = args.to_vec();
    fleet_args.extend(["--share", "fleet"]);
    let (_, json) = simulate(dir.path(), "fleet", &fleet_args);
    let fleet: Value = serde_json::from_str(&json).unwrap();
    let outage_calls = |report: &Value, jitter: &str, protection: &str| {
        n(variant(report, jitter, protection), "calls_during_outage")
    };
    for jitter in ["none", "full", "equal", "decorrelated", "additive"] {
        let off = outage_calls(&per_worker, jitter, "off");
        // Each worker's breaker keeps it out for open_for (1m) after 5 failures.
        for protection in ["breaker", "both"] {
            let on = outage_calls(&per_worker, jitter, protection);
            assert!(
                on < off,
                "{jitter}/{protection} per worker: {on} vs off {off}"
            );
        }
        // One breaker for the fleet: a handful of calls for the whole outage.
        for protection in ["breaker", "budget", "both"] {
            let on = outage_calls(&fleet, jitter, protection);
            assert!(
                on < off,
                "{jitter}/{protection} per fleet: {on} vs off {off}"
            );
        }
        assert!(outage_calls(&fleet, jitter, "breaker") * 10 < off);
    }
    // A worker's own budget stops its retries after 5 failures; its load is then
    // one call per rerun (30s), below what the jittered waits (mean under 30s) make.
    for jitter in ["full", "equal", "decorrelated"] {
        let off = outage_calls(&per_worker, jitter, "off");
        let on = outage_calls(&per_worker, jitter, "budget");
        assert!(on < off, "{jitter}/budget per worker: {on} vs off {off}");
    }
}

#[test]
fn hostile_input_gets_a_clear_error_and_no_panic() {
    let dir = tempfile::tempdir().unwrap();
    let no_retry = dir.path().join("no-retry.toml");
    std::fs::write(&no_retry, "version = 1\n").unwrap();
    let invalid = dir.path().join("invalid.toml");
    std::fs::write(&invalid, "[retry]\nmax_attempts = 0\n").unwrap();
    let base = |workers: &str, outage: &str| {
        vec![
            "simulate".to_string(),
            "fleet".into(),
            "--policy".into(),
            "examples/fleet.toml".into(),
            "--workers".into(),
            workers.into(),
            "--outage".into(),
            outage.into(),
        ]
    };
    let mut cases: Vec<(Vec<String>, &str)> = vec![
        (
            base("0", "5m"),
            "0 is out of range; expected 1 to 10000 workers",
        ),
        (
            base("10000000", "5m"),
            "10000000 is out of range; expected 1 to 10000 workers",
        ),
        (base("-3", "5m"), "is not a whole number of workers"),
        (base("10", "-5m"), "`-5m` is negative"),
        (base("10", "soon"), "`soon` is not a duration"),
        (base("10", "0s"), "must be at least 1ms"),
        (base("10", "30d"), "longer than the limit of 7d"),
    ];
    let mut long = base("10", "5m");
    long.extend([
        "--duration".into(),
        "7d".into(),
        "--tick".into(),
        "10ms".into(),
    ]);
    cases.push((long, "the limit is 1000000"));
    let mut no_retry_case = base("10", "5m");
    no_retry_case[3] = no_retry.to_str().unwrap().into();
    cases.push((no_retry_case, "has no [retry] section"));
    let mut invalid_case = base("10", "5m");
    invalid_case[3] = invalid.to_str().unwrap().into();
    cases.push((
        invalid_case,
        "invalid.toml:2:16: error[out-of-range]: retry.max_attempts",
    ));
    let mut missing = base("10", "5m");
    missing[3] = "examples/nowhere.toml".into();
    cases.push((missing, "reading policy examples/nowhere.toml"));
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = backstop(&args);
        let err = text(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded");
        assert!(
            matches!(out.status.code(), Some(1 | 2)),
            "{args:?}: {:?}\n{err}",
            out.status
        );
        assert!(
            err.contains(expected),
            "{args:?}: expected `{expected}` in:\n{err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// Check that `page` is well-formed XML (every element closed in order),
/// skipping the doctype, and count its `svg` elements.
fn well_formed_svg_count(page: &str) -> usize {
    let mut stack: Vec<String> = Vec::new();
    let mut svgs = 0;
    let mut rest = page;
    while let Some(open) = rest.find('<') {
        let after = &rest[open + 1..];
        let close = after.find('>').expect("a tag without `>`");
        let tag = &after[..close];
        rest = &after[close + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let top = stack
                .pop()
                .unwrap_or_else(|| panic!("</{name}> closes nothing"));
            assert_eq!(top, name.trim(), "</{name}> closes <{top}>");
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().unwrap().to_string();
            if name == "svg" {
                svgs += 1;
            }
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed: {stack:?}");
    svgs
}

#[test]
fn the_html_page_is_self_contained_with_one_svg_per_chart() {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("fleet.html");
    let out = backstop(&[
        "simulate",
        "fleet",
        "--policy",
        "examples/fleet.toml",
        "--workers",
        "20",
        "--outage",
        "1m",
        "--protection",
        "off,both",
        "--html",
        html.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>"), "{page}");
    // A load chart per protection setting, total calls, p95 recovery.
    assert_eq!(well_formed_svg_count(&page), 2 + 2);
    for jitter in ["none", "full", "equal", "decorrelated", "additive"] {
        assert!(page.contains(&format!("<td>{jitter}</td>")), "{jitter}");
    }
    // Nothing is fetched: no script, no external reference.
    assert!(!page.contains("<script"));
    assert!(
        !page.contains("http://")
            || page.matches("http://").count()
                == page.matches("xmlns=\"http://www.w3.org/2000/svg\"").count()
    );
    assert!(!page.contains("https://"));
}

#[test]
fn the_readme_fleet_snippet_prints_what_it_shows() {
    let snippet = std::fs::read_to_string(root().join("examples/snippets/fleet.sh")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_backstop"), bin.join("backstop")).unwrap();
    let out = Command::new("sh")
        .args(["-e", "examples/snippets/fleet.sh"])
        .current_dir(root())
        .env(
            "PATH",
            format!(
                "{}:{}",
                bin.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        )
        .env("TMPDIR", dir.path())
        .env(
            "BACKSTOP_CACHE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/backstop-cache"),
        )
        .output()
        .unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", text(&out.stderr));
    let shown: Vec<&str> = snippet
        .lines()
        .filter_map(|l| l.strip_prefix("#   "))
        .collect();
    assert!(shown.len() > 5, "{shown:?}");
    let printed: Vec<&str> = stdout.lines().map(str::trim_end).collect();
    let shown: Vec<&str> = shown.iter().map(|l| l.trim_end()).collect();
    assert_eq!(
        printed, shown,
        "the README shows another output than the run prints"
    );
}
