//! Alert delivery from `backstop run` against a real local HTTP server, restart
//! without duplicate pages, `backstop alerts simulate` on the bundled examples,
//! and `alerts list` / `ack` / `tick`. Assertions are on outcomes, never durations.

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

const EXAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples");

struct Sandbox {
    dir: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn backstop(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_backstop"))
            .args(args)
            .env(
                "BACKSTOP_CACHE_DIR",
                concat!(env!("CARGO_TARGET_TMPDIR"), "/backstop-cache"),
            )
            .env("BACKSTOP_STATE", self.path("state.db"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .unwrap()
    }

    /// A policy: one attempt, a high alert on any failure, and `sinks` (TOML).
    fn policy(&self, sinks: &str) -> String {
        let text = format!(
            "version = 1\n[retry]\nmax_attempts = 1\n\n[alerts]\npayload = [\"pipeline\", \"step\", \"run_id\"]\n\n\
             [[alerts.rules]]\nid = \"failed\"\ncondition = \"run.failure_count >= 1\"\nseverity = \"high\"\n\
             notify = [\"oncall\"]\nescalate_after = \"1s\"\n\n{sinks}\n"
        );
        let path = self.path("nightly.toml");
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    }

    /// `backstop run` of a command that fails with exit status 3.
    fn failing_run(&self, policy: &str, run_id: &str) -> Output {
        self.backstop(&[
            "run",
            "--policy",
            policy,
            "--run-id",
            run_id,
            "--step",
            "train",
            "--",
            "sh",
            "-c",
            "echo boom >&2; exit 3",
        ])
    }

    fn lines(&self, name: &str) -> Vec<Value> {
        std::fs::read_to_string(self.path(name))
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    /// (kind, delivered, sink, error) of every alert_log row.
    fn log(&self) -> Vec<(String, Option<bool>, String, Option<String>)> {
        let db = rusqlite::Connection::open(self.path("state.db")).unwrap();
        let mut stmt = db
            .prepare("SELECT kind, delivered, sink, error FROM alert_log ORDER BY rowid")
            .unwrap();
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    }
}

/// One scripted answer: wait this long, then answer with this status.
#[derive(Clone, Copy)]
struct Reply {
    delay_ms: u64,
    status: u16,
}

fn reply(status: u16) -> Reply {
    Reply {
        delay_ms: 0,
        status,
    }
}

/// A local HTTP server answering requests in order with `script` (the last
/// reply repeats). Returns its url and the request bodies it received.
fn server(script: Vec<Reply>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            let r = script[i.min(script.len() - 1)];
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || answer(stream, r, &seen));
        }
    });
    (url, bodies)
}

fn answer(mut stream: TcpStream, r: Reply, seen: &Mutex<Vec<String>>) {
    let Some(body) = common::read_request_body(&mut stream) else {
        return;
    };
    seen.lock().unwrap().push(body);
    std::thread::sleep(Duration::from_millis(r.delay_ms));
    let body = if r.status < 300 { "ok" } else { "nope" };
    let _ = write!(
        stream,
        "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        r.status,
        body.len()
    );
}

fn webhook_sink(url: &str, extra: &str) -> String {
    format!(
        "[[alerts.sinks]]\ntarget = \"oncall\"\ntype = \"webhook\"\nurl = \"{url}\"\ntimeout = \"500ms\"\n{extra}"
    )
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_webhook_gets_the_page_and_the_run_keeps_its_exit_status() {
    let sb = Sandbox::new();
    let (url, bodies) = server(vec![reply(200)]);
    let policy = sb.policy(&webhook_sink(&url, ""));
    let out = sb.failing_run(&policy, "r1");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    let bodies = bodies.lock().unwrap();
    assert_eq!(bodies.len(), 1, "{bodies:?}");
    let body: Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(body["kind"], "trigger");
    assert_eq!(body["severity"], "high");
    assert_eq!(body["rule"], "failed");
    assert_eq!(body["payload"]["pipeline"], "nightly");
    assert!(body["dedup_key"].as_str().unwrap().contains("r1"));
    let log = sb.log();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].1, Some(true));
    // A delivery that worked says so, once.
    let err = stderr(&out);
    let said: Vec<&str> = err.lines().filter(|l| l.contains("delivered to")).collect();
    assert_eq!(said.len(), 1, "{err}");
    assert!(
        said[0].contains("alert trigger delivered to webhook:http://"),
        "{err}"
    );
}

#[test]
fn a_5xx_is_retried_until_it_succeeds() {
    let sb = Sandbox::new();
    let (url, bodies) = server(vec![reply(503), reply(200)]);
    let policy = sb.policy(&webhook_sink(&url, ""));
    let out = sb.failing_run(&policy, "r1");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(bodies.lock().unwrap().len(), 2);
    assert!(stderr(&out).contains("HTTP 503"), "{}", stderr(&out));
    assert_eq!(sb.log()[0].1, Some(true));
    assert!(!sb.path("dead-letter.jsonl").exists());
}

#[test]
fn a_timeout_is_retried() {
    let sb = Sandbox::new();
    let slow = Reply {
        delay_ms: 3_000,
        status: 200,
    };
    let (url, bodies) = server(vec![slow, reply(200)]);
    let policy = sb.policy(&webhook_sink(&url, ""));
    let out = sb.failing_run(&policy, "r1");
    assert!(bodies.lock().unwrap().len() >= 2, "{}", stderr(&out));
    assert!(stderr(&out).contains("ETIMEDOUT"), "{}", stderr(&out));
    assert_eq!(sb.log()[0].1, Some(true), "{}", stderr(&out));
}

#[test]
fn a_permanent_4xx_goes_to_the_dead_letter_file() {
    let sb = Sandbox::new();
    let (url, bodies) = server(vec![reply(400)]);
    let policy = sb.policy(&webhook_sink(&url, ""));
    let out = sb.failing_run(&policy, "r1");
    assert_eq!(out.status.code(), Some(3), "{}", stderr(&out));
    assert_eq!(bodies.lock().unwrap().len(), 1, "a 400 is not retried");
    let dead = sb.lines("dead-letter.jsonl");
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["notification"]["kind"], "trigger");
    assert!(dead[0]["error"].as_str().unwrap().contains("HTTP 400"));
    let log = sb.log();
    assert_eq!(log[0].1, Some(false));
    assert!(log[0].3.as_deref().unwrap().contains("HTTP 400"));
}

#[test]
fn a_restart_does_not_page_twice() {
    let sb = Sandbox::new();
    let file = sb.path("pages.jsonl");
    let policy = sb.policy(&format!(
        "[[alerts.sinks]]\ntarget = \"*\"\ntype = \"file\"\npath = \"{}\"\n",
        file.display()
    ));
    // No escalation falls due between the two runs, however slow the machine.
    let text = std::fs::read_to_string(&policy).unwrap();
    std::fs::write(
        &policy,
        text.replace("escalate_after = \"1s\"", "escalate_after = \"1h\""),
    )
    .unwrap();
    assert_eq!(sb.failing_run(&policy, "r1").status.code(), Some(3));
    assert_eq!(sb.failing_run(&policy, "r1").status.code(), Some(3));
    let pages = sb.lines("pages.jsonl");
    assert_eq!(pages.len(), 1, "{pages:?}");
    assert_eq!(pages[0]["kind"], "trigger");
    // A success resolves it.
    let ok = sb.backstop(&[
        "run", "--policy", &policy, "--run-id", "r2", "--step", "train", "--", "true",
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", stderr(&ok));
    let pages = sb.lines("pages.jsonl");
    assert_eq!(pages.last().unwrap()["kind"], "resolve", "{pages:?}");
}

#[test]
fn list_ack_and_tick() {
    let sb = Sandbox::new();
    let file = sb.path("pages.jsonl");
    let policy = sb.policy(&format!(
        "[[alerts.sinks]]\ntype = \"file\"\npath = \"{}\"\n",
        file.display()
    ));
    let empty = sb.backstop(&["alerts", "list", "--json"]);
    assert_eq!(empty.status.code(), Some(0));
    sb.failing_run(&policy, "r1");
    let list = sb.backstop(&["alerts", "list", "--json"]);
    let list: Value = serde_json::from_slice(&list.stdout).unwrap();
    let alert = &list["alerts"][0];
    assert_eq!(alert["status"], "firing");
    assert_eq!(alert["level"], 0);
    assert_eq!(alert["rule"], "failed");
    let key = alert["dedup_key"].as_str().unwrap().to_string();

    // The escalation (after 1s) is due during the "downtime": it fires once.
    std::thread::sleep(Duration::from_millis(1_100));
    let tick = sb.backstop(&["alerts", "tick", "--policy", &policy]);
    assert_eq!(tick.status.code(), Some(0), "{}", stderr(&tick));
    assert!(
        stderr(&tick).contains("alert escalate delivered to file:"),
        "{}",
        stderr(&tick)
    );
    let again = sb.backstop(&["alerts", "tick", "--policy", &policy]);
    assert_eq!(again.status.code(), Some(0));
    // Nothing is due the second time: one line says so, for the cron log.
    assert!(
        stderr(&again).contains("tick: nothing due for nightly"),
        "{}",
        stderr(&again)
    );
    let kinds: Vec<Value> = sb
        .lines("pages.jsonl")
        .iter()
        .map(|l| l["kind"].clone())
        .collect();
    assert_eq!(kinds, ["trigger", "escalate"]);

    let ack = sb.backstop(&["alerts", "ack", &key]);
    assert_eq!(ack.status.code(), Some(0), "{}", stderr(&ack));
    let text = sb.backstop(&["alerts", "list"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("acknowledged") && text.contains(&key),
        "{text}"
    );

    let unknown = sb.backstop(&["alerts", "ack", "no-such-key"]);
    assert_eq!(unknown.status.code(), Some(1));
    assert!(stderr(&unknown).contains("no stored alert has dedup key"));
}

fn simulate(args: &[&str]) -> Value {
    let sb = Sandbox::new();
    let seed = format!("{EXAMPLES}/seed-alerts.json");
    let history = format!("{EXAMPLES}/nightly-history.jsonl");
    let mut all = vec![
        "alerts",
        "simulate",
        "--policy",
        &seed,
        "--history",
        &history,
        "--json",
    ];
    all.extend_from_slice(args);
    let out = sb.backstop(&all);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn simulate_replays_the_seed_policy_over_a_month() {
    let out = simulate(&[]);
    let notifications = out["notifications"].as_array().unwrap();
    for n in notifications {
        for field in ["at", "kind", "severity", "rule", "targets", "dedup_key"] {
            assert!(!n[field].is_null(), "{field} in {n}");
        }
    }
    let pages: Vec<&Value> = notifications
        .iter()
        .filter(|n| n["severity"] == "high" && n["kind"] == "trigger")
        .collect();
    let paged = |night: &str| {
        pages
            .iter()
            .any(|n| n["dedup_key"].as_str().unwrap().contains(night))
    };
    // A transient blip never pages.
    assert!(!paged("nightly-2024-01-04"));
    // Three schema-error nights: the third pages, not the first two.
    assert!(!paged("nightly-2024-01-13") && !paged("nightly-2024-01-14"));
    assert!(paged("nightly-2024-01-15"));
    // The late night pages.
    assert!(paged("nightly-2024-01-21"));
    assert_eq!(pages.len(), 2);
    let summary = &out["summary"];
    assert_eq!(summary["pages"], 4, "two triggers and their escalations");
    assert_eq!(summary["open_pages"], 0);
    assert!(summary["suppressed"].as_u64().is_some());
    assert!(summary["time_paged_ms"].as_u64().unwrap() > 0);
}

#[test]
fn simulate_compares_two_policies() {
    let other = format!("{EXAMPLES}/nightly-alerts.toml");
    let out = simulate(&["--compare", &other]);
    let policies = out["policies"].as_array().unwrap();
    assert_eq!(policies.len(), 2);
    assert!(
        policies[1]["policy"]
            .as_str()
            .unwrap()
            .ends_with("nightly-alerts.toml")
    );
    assert_eq!(
        policies[0]["summary"]["pages"],
        policies[1]["summary"]["pages"]
    );

    let sb = Sandbox::new();
    let text = sb.backstop(&[
        "alerts",
        "simulate",
        "--policy",
        &format!("{EXAMPLES}/seed-alerts.json"),
        "--history",
        &format!("{EXAMPLES}/nightly-history.jsonl"),
        "--compare",
        &other,
    ]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("pages (high/critical)") && text.contains("nightly-alerts.toml"),
        "{text}"
    );
}

#[test]
fn simulate_names_the_bad_history_line() {
    let sb = Sandbox::new();
    let cases = [
        (
            "{\"at\": 5, \"kind\": \"tick\", \"colour\": 1}",
            "unknown field",
        ),
        ("{\"at\": \"yesterday\", \"kind\": \"tick\"}", "RFC 3339"),
        (
            "{\"at\": 10, \"kind\": \"tick\"}\n{\"at\": 5, \"kind\": \"tick\"}",
            "h.jsonl:2: events out of order",
        ),
        // A multi-byte character where an offset would be: an error, not a panic.
        (
            "{\"at\": 1, \"kind\": \"tick\"}\n{\"at\": \"xx€abcde\", \"kind\": \"tick\"}",
            "h.jsonl:2: `at` \"xx€abcde\" is not an RFC 3339 time",
        ),
        (
            "{\"at\": \"2024-13-01T00:00:00Z\", \"kind\": \"tick\"}",
            "h.jsonl:1: `at`",
        ),
    ];
    for (text, expected) in cases {
        let out = simulate_history(&sb, &format!("{text}\n"));
        assert_eq!(out.status.code(), Some(1));
        let err = stderr(&out);
        assert!(err.contains("h.jsonl:") && err.contains(expected), "{err}");
    }
}

#[test]
fn simulate_reads_offsets_and_fractions() {
    // The same instant three ways; in order, so no "out of order" error.
    let out = simulate_history(
        &Sandbox::new(),
        "{\"at\": \"2024-01-15T03:03:05+01:00\", \"kind\": \"tick\"}\n\
         {\"at\": \"2024-01-15T02:03:05.000Z\", \"kind\": \"tick\"}\n\
         {\"at\": 1705284185000, \"kind\": \"tick\"}\n",
    );
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// `alerts simulate` of the seed's policy over `history` (written to h.jsonl).
fn simulate_history(sb: &Sandbox, history: &str) -> std::process::Output {
    let path = sb.path("h.jsonl");
    std::fs::write(&path, history).unwrap();
    sb.backstop(&[
        "alerts",
        "simulate",
        "--policy",
        &format!("{EXAMPLES}/seed-alerts.json"),
        "--history",
        path.to_str().unwrap(),
    ])
}

#[test]
fn list_columns_fit_long_rule_ids() {
    let sb = Sandbox::new();
    let file = sb.path("pages.jsonl");
    let rule = "a-rule-id-much-longer-than-the-column-used-to-be";
    let text = format!(
        "version = 1\n[retry]\nmax_attempts = 1\n\n\
         [[alerts.rules]]\nid = \"short\"\ncondition = \"run.failure_count >= 1\"\nseverity = \"info\"\nnotify = [\"room\"]\n\n\
         [[alerts.rules]]\nid = \"{rule}\"\ncondition = \"run.failure_count >= 1\"\nseverity = \"critical\"\nnotify = [\"oncall\"]\n\n\
         [[alerts.sinks]]\ntype = \"file\"\npath = \"{}\"\n",
        file.display()
    );
    let policy = sb.path("nightly.toml");
    std::fs::write(&policy, text).unwrap();
    sb.failing_run(policy.to_str().unwrap(), "r1");
    let out = sb.backstop(&["alerts", "list"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "a header and two alerts: {text}");
    assert!(text.contains(rule), "{text}");
    // Every column starts where its header does, in every row.
    let header = lines[0];
    for column in ["severity", "rule", "since", "dedup key"] {
        let at = header.find(column).unwrap();
        for row in &lines[1..] {
            let before = &row[..at];
            assert!(
                before.ends_with("  ") && !row[at..].starts_with(' '),
                "column {column} misaligned:\n{text}"
            );
        }
    }
}
