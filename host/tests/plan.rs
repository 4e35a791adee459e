//! `backstop plan`: the JSON contract, the table, determinism, overrides.

use std::process::{Command, Output};

use serde_json::Value;

fn backstop(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backstop"))
        .args(args)
        .env(
            "BACKSTOP_CACHE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/backstop-cache"),
        )
        .output()
        .unwrap()
}

fn example(name: &str) -> String {
    format!("{}/../examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn plan_json(args: &[&str]) -> Value {
    let mut all = vec!["plan", "--json"];
    all.extend_from_slice(args);
    let out = backstop(&all);
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn delays(plan: &Value) -> Vec<u64> {
    plan["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["delay_ms"].as_u64().unwrap())
        .collect()
}

#[test]
fn json_lists_attempts_with_delay_timeout_and_start() {
    let plan = plan_json(&["--policy", &example("storage-read.toml"), "--run-id", "r1"]);
    let attempts = plan["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 5);
    let mut expected_start = 0;
    for (i, a) in attempts.iter().enumerate() {
        let keys: Vec<&str> = a.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(keys.len(), 4, "{a}");
        for key in ["attempt", "delay_ms", "timeout_ms", "start_ms"] {
            assert!(keys.contains(&key), "{key} missing in {a}");
        }
        assert_eq!(a["attempt"], i as u64 + 1);
        assert_eq!(a["timeout_ms"], 60_000);
        // Every attempt runs for its full timeout in a dry run, then waits.
        expected_start += a["delay_ms"].as_u64().unwrap();
        assert_eq!(a["start_ms"], expected_start, "{a}");
        expected_start += 60_000;
    }
    assert_eq!(attempts[0]["delay_ms"], 0);
    // 1 s doubling, +0-25 % (additive jitter), capped at 20 s before jitter.
    for (n, d) in delays(&plan).iter().enumerate().skip(1) {
        let base = (1_000u64 << (n - 1)).min(20_000);
        assert!(
            (base..=base + base / 4).contains(d),
            "attempt {}: {d}",
            n + 1
        );
    }
    assert_eq!(plan["ends_with"], "attempts-exhausted");
    assert!(plan["seed"].is_string());
    assert_eq!(plan["seed_source"], "run-id");
    assert_eq!(plan["run_id"], "r1");
    assert_eq!(plan["step"], "main");
}

#[test]
fn the_same_run_id_plans_the_same_schedule_and_others_differ() {
    let policy = example("nightly.toml");
    let a = plan_json(&[
        "--policy",
        &policy,
        "--run-id",
        "2024-06-01",
        "--step",
        "train",
    ]);
    let again = plan_json(&[
        "--policy",
        &policy,
        "--run-id",
        "2024-06-01",
        "--step",
        "train",
    ]);
    assert_eq!(a, again);
    let other_day = plan_json(&[
        "--policy",
        &policy,
        "--run-id",
        "2024-06-02",
        "--step",
        "train",
    ]);
    let other_step = plan_json(&[
        "--policy",
        &policy,
        "--run-id",
        "2024-06-01",
        "--step",
        "eval",
    ]);
    assert_ne!(delays(&a), delays(&other_day));
    assert_ne!(delays(&a), delays(&other_step));
    assert_ne!(a["seed"], other_day["seed"]);
    // --seed with the derived seed reproduces the run id's schedule.
    let seed = a["seed"].as_str().unwrap();
    let by_seed = plan_json(&["--policy", &policy, "--seed", seed]);
    assert_eq!(by_seed["attempts"], a["attempts"]);
    assert_eq!(by_seed["seed_source"], "flag");
}

#[test]
fn without_a_run_id_the_seed_is_zero() {
    let plan = plan_json(&[]);
    assert_eq!(plan["seed"], "0");
    assert_eq!(plan["seed_source"], "default");
    assert_eq!(plan["run_id"], Value::Null);
    // The defaults: 5 attempts, no timeout.
    assert_eq!(plan["attempts"].as_array().unwrap().len(), 5);
    assert_eq!(plan["attempts"][0]["timeout_ms"], Value::Null);
}

#[test]
fn overrides_replace_the_policy_settings() {
    let plan = plan_json(&[
        "--policy",
        &example("storage-read.toml"),
        "--max-attempts",
        "4",
        "--base-delay",
        "100ms",
        "--multiplier",
        "3",
        "--max-delay",
        "1s",
        "--jitter",
        "none",
        "--attempt-timeout",
        "2s",
    ]);
    assert_eq!(delays(&plan), [0, 100, 300, 900]);
    assert_eq!(plan["attempts"][3]["timeout_ms"], 2_000);
    assert_eq!(plan["attempts"][3]["start_ms"], 3 * 2_000 + 100 + 300 + 900);
}

#[test]
fn a_deadline_override_ends_the_schedule_early() {
    let plan = plan_json(&[
        "--max-attempts",
        "100",
        "--base-delay",
        "1s",
        "--jitter",
        "none",
        "--attempt-timeout",
        "10s",
        "--deadline",
        "1m",
    ]);
    assert_eq!(plan["ends_with"], "deadline");
    for a in plan["attempts"].as_array().unwrap() {
        let end = a["start_ms"].as_u64().unwrap() + a["timeout_ms"].as_u64().unwrap();
        assert!(end <= 60_000, "{a}");
    }
}

#[test]
fn overrides_apply_to_json_policies_with_comments() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.json");
    std::fs::write(
        &path,
        "// nightly\n{\"retry\": {\"max_attempts\": 9, \"jitter\": \"none\", \"base_delay\": \"1s\"}}",
    )
    .unwrap();
    let plan = plan_json(&["--policy", path.to_str().unwrap(), "--max-attempts", "2"]);
    assert_eq!(delays(&plan), [0, 1_000]);
}

#[test]
fn a_bad_override_is_reported_under_its_flag() {
    let out = backstop(&["plan", "--max-attempts", "0"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("--max-attempts: 0 is out of range"), "{err}");
    let out = backstop(&["plan", "--jitter", "wobbly"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--jitter: `wobbly` is not a jitter mode"));
    let out = backstop(&["plan", "--base-delay", "2s", "--max-delay", "1s"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--max-delay: max_delay (1s) is below base_delay (2s)"));
}

#[test]
fn an_invalid_policy_file_is_reported_at_its_own_lines() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(&path, "[retry]\nmax_attempts = 3\nbase_delay = 5\n").unwrap();
    let path = path.to_str().unwrap();
    // With an override too: the file's own problems come first, at its own lines.
    let out = backstop(&["plan", "--policy", path, "--max-attempts", "2"]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("{path}:3:14: error[wrong-type]: retry.base_delay")),
        "{err}"
    );
}

#[test]
fn limit_cuts_the_listing() {
    let plan = plan_json(&["--max-attempts", "1000", "--limit", "7"]);
    assert_eq!(plan["attempts"].as_array().unwrap().len(), 7);
    assert_eq!(plan["ends_with"], Value::Null);
    let out = backstop(&["plan", "--limit", "0"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn step_needs_a_run_id() {
    let out = backstop(&["plan", "--step", "train"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--run-id"));
}

#[test]
fn the_table_shows_waits_with_bars_and_how_it_ends() {
    let out = backstop(&[
        "plan",
        "--base-delay",
        "1s",
        "--jitter",
        "none",
        "--max-attempts",
        "4",
    ]);
    assert!(out.status.success());
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("seed 0"), "{table}");
    assert_eq!(lines[1], "attempt  wait  starts at  timeout");
    assert!(
        lines[2].starts_with("      1     -         0s     none"),
        "{table}"
    );
    // Waits of 1 s, 2 s, 4 s: the longest gets the full bar, the others in proportion.
    assert!(
        lines[3].ends_with(&format!("  {}", "█".repeat(6))),
        "{table}"
    );
    assert!(
        lines[4].ends_with(&format!("  {}", "█".repeat(12))),
        "{table}"
    );
    assert!(
        lines[5].ends_with(&format!("  {}", "█".repeat(24))),
        "{table}"
    );
    assert!(lines[5].contains("4s"), "{table}");
    assert!(
        table.contains("then gives up: attempts-exhausted (all 4 attempts used)"),
        "{table}"
    );
}
