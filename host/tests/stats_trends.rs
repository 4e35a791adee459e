//! `backstop stats --since/--until/--by` over a generated month of runs: the
//! generator records each night's run through the real store API (lease,
//! attempts, decisions, alert log) with historical times, then the CLI's
//! weekly figures are compared with the ones computed by hand below.
//!
//! With STATS_HTML_DIR set, the test also leaves the database, the HTML page
//! and the JSON there for tests/html/stats-html.sh, which renders the page in
//! headless Chromium.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

#[path = "common/month.rs"]
mod month;

fn backstop(state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_backstop"))
        .arg("stats")
        .arg("--state")
        .arg(state)
        .args(args)
        .env(
            "BACKSTOP_CACHE_DIR",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/backstop-cache"),
        )
        .output()
        .unwrap()
}

fn json(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The hand-computed figures of one week.
struct Week {
    start: &'static str,
    runs: u64,
    succeeded: u64,
    gave_up: u64,
    success_rate: f64,
    retries: u64,
    ttr: [u64; 3],
    give_ups: Value,
    pages: u64,
    infos: u64,
}

fn expected() -> [Week; 4] {
    let s = |secs: u64| secs * 1_000;
    [
        // Failures 1 and 2: retries 3; recoveries 90 s, 180 s -> median (rank 1) 90 s.
        Week {
            start: "2024-01-01",
            runs: 7,
            succeeded: 7,
            gave_up: 0,
            success_rate: 1.0,
            retries: 3,
            ttr: [s(90), s(180), s(180)],
            give_ups: serde_json::json!({}),
            pages: 0,
            infos: 2,
        },
        // Retries 3 + 0 (the permanent give-up's one attempt) + 1 = 4; recoveries 270 s, 90 s.
        Week {
            start: "2024-01-08",
            runs: 7,
            succeeded: 6,
            gave_up: 1,
            success_rate: 6.0 / 7.0,
            retries: 4,
            ttr: [s(90), s(270), s(270)],
            give_ups: serde_json::json!({"permanent": 1}),
            pages: 1,
            infos: 2,
        },
        // Retries 2 + 2 + 2 + 2 + 1 = 9; recoveries 180, 180, 90 -> median rank 2 = 180 s.
        Week {
            start: "2024-01-15",
            runs: 7,
            succeeded: 5,
            gave_up: 2,
            success_rate: 5.0 / 7.0,
            retries: 9,
            ttr: [s(180), s(180), s(180)],
            give_ups: serde_json::json!({"attempts-exhausted": 2}),
            pages: 2,
            infos: 3,
        },
        Week {
            start: "2024-01-22",
            runs: 7,
            succeeded: 7,
            gave_up: 0,
            success_rate: 1.0,
            retries: 1,
            ttr: [s(90), s(90), s(90)],
            give_ups: serde_json::json!({}),
            pages: 0,
            infos: 1,
        },
    ]
}

const WINDOW: [&str; 6] = [
    "--since",
    "2024-01-01",
    "--until",
    "2024-01-29T00:00:00Z",
    "--by",
    "week",
];

#[test]
fn a_generated_month_gives_the_hand_computed_weekly_figures() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir: PathBuf = std::env::var_os("STATS_HTML_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir.path().to_path_buf());
    std::fs::create_dir_all(&out_dir).unwrap();
    let state = out_dir.join("month.db");
    let _ = std::fs::remove_file(&state);
    month::generate(&state);

    let html = out_dir.join("month.html");
    let mut args = WINDOW.to_vec();
    args.extend(["--json", "--html", html.to_str().unwrap()]);
    let out = backstop(&state, &args);
    let report = json(&out);
    std::fs::write(out_dir.join("month.json"), &out.stdout).unwrap();
    assert_eq!(report["window"]["by"], "week");
    let groups = report["groups"].as_array().unwrap();
    let names: Vec<(&str, &str)> = groups
        .iter()
        .map(|g| (g["pipeline"].as_str().unwrap(), g["step"].as_str().unwrap()))
        .collect();
    assert_eq!(
        names,
        [("adhoc", "train"), ("nightly", "train")],
        "one row set per pipeline"
    );

    let nightly = &groups[1];
    let weeks = nightly["buckets"].as_array().unwrap();
    assert_eq!(weeks.len(), 4);
    for (got, want) in weeks.iter().zip(expected()) {
        let start = jiff::Timestamp::from_millisecond(got["start_ms"].as_i64().unwrap()).unwrap();
        assert_eq!(start.to_string(), format!("{}T00:00:00Z", want.start));
        let at = want.start;
        assert_eq!(got["runs"], want.runs, "{at}");
        assert_eq!(got["succeeded"], want.succeeded, "{at}");
        assert_eq!(got["gave_up"], want.gave_up, "{at}");
        assert_eq!(got["unfinished"], 0, "{at}");
        assert_eq!(got["attempts"], want.runs + want.retries, "{at}");
        assert_eq!(got["retries"], want.retries, "{at}");
        let rate = got["success_rate"].as_f64().unwrap();
        assert!((rate - want.success_rate).abs() < 1e-12, "{at}: {rate}");
        let per_run = got["retries_per_run"].as_f64().unwrap();
        assert!(
            (per_run - want.retries as f64 / want.runs as f64).abs() < 1e-12,
            "{at}"
        );
        assert_eq!(
            [
                &got["ttr_median_ms"],
                &got["ttr_p95_ms"],
                &got["ttr_max_ms"]
            ],
            want.ttr.map(Value::from).each_ref(),
            "{at}"
        );
        assert_eq!(got["give_ups"], want.give_ups, "{at}");
        assert_eq!(
            got["pages"], want.pages,
            "{at}: a page to two sinks counts once"
        );
        assert_eq!(got["infos"], want.infos, "{at}: resolves are not counted");
    }
    let total = &nightly["total"];
    assert_eq!(
        total["runs"], 28,
        "the nights before and after the window are out"
    );
    assert_eq!(total["retries"], 3 + 4 + 9 + 1);
    assert_eq!(
        total["give_ups"],
        serde_json::json!({"permanent": 1, "attempts-exhausted": 2})
    );
    assert_eq!(total["pages"], 3);
    // All 8 recoveries: 90 s x4, 180 s x3, 270 s -> median rank 4 = 90 s, p95 rank 8 = 270 s.
    assert_eq!(total["recoveries"], 8);
    assert_eq!(total["ttr_median_ms"], 90_000);
    assert_eq!(total["ttr_p95_ms"], 270_000);

    let adhoc = &groups[0];
    assert_eq!(adhoc["total"]["runs"], 3);
    assert_eq!(
        adhoc["buckets"][1]["give_ups"],
        serde_json::json!({"deadline": 3})
    );
    assert_eq!(
        adhoc["buckets"][1]["pages"], 3,
        "its own pages, not nightly's"
    );
    assert_eq!(adhoc["buckets"][1]["success_rate"], 0.0);

    // The plain table (stdout is a pipe): one line per week, figures as above.
    let out = backstop(&state, &[&WINDOW[..], &["--pipeline", "nightly"]].concat());
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    let row = table
        .lines()
        .find(|l| l.contains("2024-01-15"))
        .unwrap_or_else(|| panic!("{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "nightly",
            "train",
            "2024-01-15",
            "7",
            "5",
            "2",
            "71.4%",
            "9",
            "1.29",
            "3m",
            "3m",
            "3m",
            "2",
            "3",
            "attempts-exhausted",
            "2"
        ],
        "{table}"
    );
    assert!(!table.contains("adhoc"), "{table}");

    // The page holds a chart per trend and the same figures.
    let page = std::fs::read_to_string(&html).unwrap();
    assert_eq!(
        page.matches(r#"<svg class="chart""#).count(),
        8,
        "4 charts x 2 groups"
    );
    assert!(page.contains(
        r#"<tr data-bucket="2024-01-15"><th>2024-01-15</th><td data-field="runs">7</td>"#
    ));

    // By day, one step, one day: the night of the permanent failure.
    let out = backstop(
        &state,
        &[
            "--since",
            "2024-01-11",
            "--until",
            "2024-01-12",
            "--by",
            "day",
            "--step",
            "train",
            "--json",
        ],
    );
    let day = json(&out);
    let groups = day["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "adhoc ran on the 9th only");
    assert_eq!(
        groups[0]["buckets"][0]["give_ups"],
        serde_json::json!({"permanent": 1})
    );
    assert_eq!(groups[0]["buckets"][0]["pages"], 1);
}

#[test]
fn bad_windows_are_usage_errors_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("none.db");
    let out = backstop(&state, &["--since", "last week"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--since \"last week\""), "{err}");
    let out = backstop(&state, &["--since", "2024-02-01", "--until", "2024-01-01"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not before --until"));
    // No database: nothing recorded, nothing created.
    let out = backstop(&state, &["--since", "7d", "--json"]);
    assert_eq!(json(&out)["groups"], serde_json::json!([]));
    assert!(!state.exists());
}

/// The same reads on PostgreSQL (the server tests/run-rust.sh starts). Its
/// store stamps attempts with the server's clock, so the generated month
/// lands in the last hour there: the counts, the pipelines and the filters
/// are what this checks.
#[test]
fn postgres_groups_and_filters_the_same_runs() {
    let Ok(base) = std::env::var("BACKSTOP_TEST_PG_URL") else {
        eprintln!(
            "\n*** SKIPPED: BACKSTOP_TEST_PG_URL is unset, so the PostgreSQL stats test did not \
             run; tests/run-rust.sh starts a server (tests/pg.sh). ***\n"
        );
        return;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let name = format!("t_stats_{}_{nanos}", std::process::id());
    let mut client = postgres::Client::connect(&base, postgres::NoTls).unwrap();
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let url = format!("{}/{name}", &base[..base.rfind('/').unwrap()]);
    let state = PathBuf::from(&url);
    month::generate(&state);

    let report = json(&backstop(
        &state,
        &["--since", "1h", "--by", "day", "--json"],
    ));
    let groups = report["groups"].as_array().unwrap();
    let names: Vec<&str> = groups
        .iter()
        .map(|g| g["pipeline"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["adhoc", "nightly"]);
    // All 30 nightly runs (the month and the nights around it) in this hour.
    let nightly = &groups[1]["total"];
    assert_eq!(nightly["runs"], 30);
    assert_eq!(nightly["succeeded"], 26);
    assert_eq!(
        nightly["give_ups"],
        serde_json::json!({"permanent": 2, "attempts-exhausted": 2})
    );
    assert_eq!(nightly["retries"], 3 + 4 + 9 + 1 + 1);
    assert_eq!(nightly["recoveries"], 9);

    let only = json(&backstop(
        &state,
        &[
            "--since",
            "1h",
            "--pipeline",
            "adhoc",
            "--step",
            "train",
            "--json",
        ],
    ));
    let groups = only["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(
        groups[0]["total"]["give_ups"],
        serde_json::json!({"deadline": 3})
    );
    // The notifications keep their (historical) times: none in this hour.
    assert_eq!(groups[0]["total"]["pages"], 0);
    let old = json(&backstop(
        &state,
        &["--since", "2024-01-01", "--until", "2024-01-29", "--json"],
    ));
    assert_eq!(old["groups"], serde_json::json!([]), "no run started then");
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .unwrap();
}
