//! The alert outbox under crashes: `backstop run` is killed with SIGKILL at
//! each point of a run with alerting (inside the transaction that records
//! the attempt with its alert evaluation, after its commit, while a POST is
//! in flight, after a delivery before it is marked, during the pause between
//! attempts), then the run is
//! resumed and the outbox drained. Against a real local HTTP receiver: every
//! notification the evaluation decided arrives at least once, with the same
//! dedup key. Also Retry-After, dead letters and `alerts outbox --redeliver`.

mod common;

use std::collections::BTreeMap;
use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A local webhook receiver: replies come from `script` in order (the last
/// repeats); every body it read is recorded, answered or not.
struct Receiver {
    url: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

#[derive(Clone)]
struct Reply {
    /// Hold the request this long before answering.
    hold_ms: u64,
    status: u16,
    headers: &'static str,
}

fn ok() -> Reply {
    Reply {
        hold_ms: 0,
        status: 200,
        headers: "",
    }
}

fn receiver(script: Vec<Reply>) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&bodies);
    let n = Arc::new(AtomicUsize::new(0));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let i = n.fetch_add(1, Ordering::SeqCst);
            let r = script[i.min(script.len() - 1)].clone();
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || answer(stream, r, &seen));
        }
    });
    Receiver { url, bodies }
}

fn answer(mut stream: TcpStream, r: Reply, seen: &Mutex<Vec<Value>>) {
    let Some(body) = common::read_request_body(&mut stream) else {
        return;
    };
    seen.lock()
        .unwrap()
        .push(serde_json::from_str(&body).unwrap_or(Value::String(body)));
    std::thread::sleep(Duration::from_millis(r.hold_ms));
    let _ = write!(
        stream,
        "HTTP/1.1 {} X\r\n{}content-length: 2\r\nconnection: close\r\n\r\nok",
        r.status, r.headers
    );
}

struct Sandbox {
    dir: tempfile::TempDir,
    /// A PostgreSQL URL instead of the SQLite file `state.db`.
    pg: Option<String>,
}

impl Sandbox {
    fn new() -> Sandbox {
        Sandbox {
            dir: tempfile::tempdir().unwrap(),
            pg: None,
        }
    }

    /// A sandbox whose state is a fresh database on the test server
    /// (tests/pg.sh), or `None` (with a loud message) without one.
    fn postgres() -> Option<Sandbox> {
        let Ok(base) = std::env::var("BACKSTOP_TEST_PG_URL") else {
            eprintln!(
                "\n*** SKIPPED: BACKSTOP_TEST_PG_URL is unset, so this PostgreSQL test did not \
                 run. tests/run-rust.sh starts a server (tests/pg.sh). ***\n"
            );
            return None;
        };
        let name = format!(
            "outbox_{}_{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let mut client = postgres::Client::connect(&base, postgres::NoTls).unwrap();
        client
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let cut = base.rfind('/').unwrap();
        Some(Sandbox {
            dir: tempfile::tempdir().unwrap(),
            pg: Some(format!("{}/{name}", &base[..cut])),
        })
    }

    fn state(&self) -> String {
        match &self.pg {
            Some(url) => url.clone(),
            None => self.path("state.db").to_string_lossy().into_owned(),
        }
    }

    /// The text columns of a query's rows (numbers as text), on either
    /// backend; `T.` before a table name is its schema.
    fn rows(&self, sql: &str) -> Vec<Vec<String>> {
        match &self.pg {
            Some(url) => {
                let sql = sql.replace("T.", "backstop.");
                let mut c = postgres::Client::connect(url, postgres::NoTls).unwrap();
                c.simple_query(&sql)
                    .unwrap()
                    .into_iter()
                    .filter_map(|m| match m {
                        postgres::SimpleQueryMessage::Row(r) => Some(
                            (0..r.len())
                                .map(|i| r.get(i).unwrap_or("").to_string())
                                .collect(),
                        ),
                        _ => None,
                    })
                    .collect()
            }
            None => {
                let db = rusqlite::Connection::open(self.path("state.db")).unwrap();
                let mut stmt = db.prepare(&sql.replace("T.", "")).unwrap();
                let n = stmt.column_count();
                stmt.query_map([], |r| {
                    (0..n)
                        .map(|i| {
                            Ok(match r.get_ref(i)? {
                                rusqlite::types::ValueRef::Text(t) => {
                                    String::from_utf8_lossy(t).into_owned()
                                }
                                rusqlite::types::ValueRef::Integer(v) => v.to_string(),
                                _ => String::new(),
                            })
                        })
                        .collect()
                })
                .unwrap()
                .map(Result::unwrap)
                .collect()
            }
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_backstop"));
        c.args(args)
            .env(
                "BACKSTOP_CACHE_DIR",
                concat!(env!("CARGO_TARGET_TMPDIR"), "/backstop-cache"),
            )
            .env("BACKSTOP_STATE", self.state())
            // A killed sender's claim expires quickly, so recovery is prompt.
            .env("BACKSTOP_OUTBOX_CLAIM_MS", "300")
            .env_remove("BACKSTOP_CRASH_AT")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Two attempts, 300 ms apart; a high alert on any failure, to `url`.
    fn policy(&self, url: &str) -> String {
        let text = format!(
            "version = 1\n[retry]\nmax_attempts = 2\nbase_delay = \"300ms\"\nmax_delay = \"300ms\"\n\
             unknown_max_attempts = 2\n\n[alerts]\npayload = [\"pipeline\", \"step\", \"run_id\"]\n\n\
             [[alerts.rules]]\nid = \"failed\"\ncondition = \"run.failure_count >= 1\"\nseverity = \"high\"\n\
             notify = [\"oncall\"]\n\n\
             [[alerts.sinks]]\ntarget = \"oncall\"\ntype = \"webhook\"\nurl = \"{url}\"\ntimeout = \"5s\"\n"
        );
        let path = self.path("nightly.toml");
        std::fs::write(&path, text).unwrap();
        path.to_string_lossy().into_owned()
    }

    fn run(&self, policy: &str, run_id: &str, script: &str) -> Command {
        self.command(&[
            "run", "--policy", policy, "--run-id", run_id, "--step", "train", "--", "sh", "-c",
            script,
        ])
    }

    /// (kind, dedup_key) of every notification the evaluations decided.
    fn decided(&self) -> Vec<(String, String)> {
        let order = if self.pg.is_some() { "id" } else { "rowid" };
        self.rows(&format!(
            "SELECT kind, dedup_key FROM T.alert_log ORDER BY {order}"
        ))
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect()
    }

    fn pending(&self) -> i64 {
        self.rows("SELECT count(*) FROM T.alert_outbox WHERE delivered_at_ms IS NULL")[0][0]
            .parse()
            .unwrap()
    }
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(60), "never: {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Where the first `backstop run` dies.
#[derive(Debug, Clone, Copy)]
enum Crash {
    /// BACKSTOP_CRASH_AT names a point in the code.
    At(&'static str),
    /// SIGKILL from outside while the receiver holds the first POST.
    DuringPost,
    /// SIGKILL from outside while it waits between the attempts.
    DuringPause,
}

/// One trial: returns (decided, received, lost, duplicated).
fn trial(crash: Crash) -> (usize, usize, usize, usize) {
    let sb = Sandbox::new();
    let hold = matches!(crash, Crash::DuringPost);
    let first = Reply {
        hold_ms: if hold { 30_000 } else { 0 },
        ..ok()
    };
    let rx = receiver(vec![first, ok()]);
    let policy = sb.policy(&rx.url);
    let failing = "echo boom >&2; exit 3";
    let mut cmd = sb.run(&policy, "r1", failing);
    if let Crash::At(point) = crash {
        cmd.env("BACKSTOP_CRASH_AT", point);
    }
    let mut child = cmd.spawn().unwrap();
    match crash {
        Crash::At(_) => {}
        Crash::DuringPost => {
            eventually("the first POST arrives", || {
                !rx.bodies.lock().unwrap().is_empty()
            });
            child.kill().unwrap();
        }
        Crash::DuringPause => {
            // The pause follows attempt 1's record; its alert goes out in it.
            eventually("attempt 1 is recorded", || {
                std::fs::metadata(sb.path("state.db")).is_ok() && !sb.decided().is_empty()
            });
            child.kill().unwrap();
        }
    }
    let out = child.wait_with_output().unwrap();
    if let Crash::At(point) = crash {
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&out.status),
            Some(9),
            "{point}: {}",
            text(&out)
        );
    }
    // Resume: the same command takes the run over (its holder's pid is gone).
    std::thread::sleep(Duration::from_millis(400));
    let again = sb.run(&policy, "r1", failing).output().unwrap();
    assert_eq!(again.status.code(), Some(3), "{crash:?}: {}", text(&again));
    // A success resolves the alert; then anything left is drained.
    let resolved = sb.run(&policy, "r2", "true").output().unwrap();
    assert_eq!(resolved.status.code(), Some(0), "{}", text(&resolved));
    std::thread::sleep(Duration::from_millis(400));
    let drain = sb
        .command(&["alerts", "outbox", "--drain", "10s"])
        .output()
        .unwrap();
    assert!(drain.status.success(), "{}", text(&drain));
    assert_eq!(sb.pending(), 0, "{crash:?}: rows left in the outbox");

    let decided = sb.decided();
    let received: Vec<(String, String)> = rx
        .bodies
        .lock()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["kind"].as_str().unwrap_or("").to_string(),
                b["dedup_key"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let mut counts: BTreeMap<&(String, String), usize> = BTreeMap::new();
    for r in &received {
        *counts.entry(r).or_default() += 1;
    }
    let lost = decided.iter().filter(|d| !counts.contains_key(d)).count();
    let duplicated: usize = counts.values().map(|c| c - 1).sum();
    assert_eq!(
        lost, 0,
        "{crash:?}: decided {decided:?}, received {received:?}"
    );
    assert!(
        decided.iter().any(|(k, _)| k == "trigger") && decided.iter().any(|(k, _)| k == "resolve"),
        "{crash:?}: {decided:?}"
    );
    // The resolve carries its trigger's dedup key, and came after it.
    let trigger = received.iter().position(|(k, _)| k == "trigger").unwrap();
    let resolve = received.iter().rposition(|(k, _)| k == "resolve").unwrap();
    assert!(trigger < resolve, "{received:?}");
    assert_eq!(received[trigger].1, received[resolve].1);
    (decided.len(), received.len(), lost, duplicated)
}

#[test]
fn a_kill_at_any_point_of_a_run_with_alerting_loses_no_notification() {
    let points = [
        // Inside the attempt's transaction, after its alert evaluation
        // (nothing of it commits), then right after the commit (the attempt
        // and its alerts are one transaction: there is no point between them).
        Crash::At("attempt-evaluated"),
        Crash::At("attempt-committed"),
        Crash::At("delivered-before-mark"),
        Crash::DuringPost,
        Crash::DuringPause,
    ];
    let (mut decided, mut received, mut lost, mut duplicated) = (0, 0, 0, 0);
    for crash in points {
        let (d, r, l, dup) = trial(crash);
        eprintln!("crash {crash:?}: decided {d}, received {r}, lost {l}, duplicated {dup}");
        decided += d;
        received += r;
        lost += l;
        duplicated += dup;
    }
    eprintln!(
        "crash matrix: {} points, {decided} notifications decided, {received} received, \
         {lost} lost, {duplicated} duplicated (same dedup key)",
        points.len()
    );
}

#[test]
fn retry_after_is_honoured_and_a_dead_letter_can_be_redelivered() {
    let sb = Sandbox::new();
    // 429 with Retry-After: 1 (seconds), then a permanent 400, then accepted.
    let rx = receiver(vec![
        Reply {
            hold_ms: 0,
            status: 429,
            headers: "retry-after: 1\r\n",
        },
        Reply {
            hold_ms: 0,
            status: 400,
            headers: "",
        },
        ok(),
    ]);
    let policy = sb.policy(&rx.url);
    let out = sb
        .run(&policy, "r1", "exit 3")
        .env("BACKSTOP_ALERT_DRAIN_MS", "5000")
        .output()
        .unwrap();
    let err = text(&out);
    // The exit status is the command's, whatever delivery did.
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("HTTP 429") && err.contains("retrying in 1s"),
        "{err}"
    );
    assert!(
        err.contains("HTTP 400") && err.contains("--redeliver"),
        "{err}"
    );
    let list = sb
        .command(&["alerts", "outbox", "--json"])
        .output()
        .unwrap();
    let listed: Value = serde_json::from_slice(&list.stdout).unwrap();
    let rows = listed["outbox"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{listed}");
    assert_eq!(rows[0]["status"], "dead");
    assert_eq!(rows[0]["tries"], 2);
    let dead = std::fs::read_to_string(sb.path("dead-letter.jsonl")).unwrap();
    assert_eq!(dead.lines().count(), 1);
    let again = sb
        .command(&["alerts", "outbox", "--redeliver", "all"])
        .output()
        .unwrap();
    assert!(again.status.success(), "{}", text(&again));
    let bodies = rx.bodies.lock().unwrap();
    assert_eq!(bodies.len(), 3);
    let keys: Vec<&str> = bodies
        .iter()
        .map(|b| b["dedup_key"].as_str().unwrap())
        .collect();
    assert!(keys.iter().all(|k| *k == keys[0]), "{keys:?}");
    assert_eq!(sb.pending(), 0);
}

#[test]
fn a_hanging_receiver_never_holds_the_run_past_the_drain_bound() {
    let sb = Sandbox::new();
    let rx = receiver(vec![Reply {
        hold_ms: 60_000,
        status: 200,
        headers: "",
    }]);
    let policy = sb.policy(&rx.url);
    let started = Instant::now();
    let out = sb
        .run(&policy, "r1", "exit 3")
        .env("BACKSTOP_ALERT_DRAIN_MS", "1000")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    // The receiver holds each POST for 60 s: the run's end is bounded by the
    // retry delay and the drain bound, not by the receiver (a correctness
    // bound with a wide margin, not a performance assertion).
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{}",
        text(&out)
    );
    // What was not delivered stays in the outbox for the next sender. Each
    // cut-off try (beside the command, then after the run) reached the
    // receiver with the same notification.
    assert_eq!(sb.pending(), 1);
    let bodies = rx.bodies.lock().unwrap();
    assert!((1..=4).contains(&bodies.len()), "{bodies:?}");
    assert!(
        bodies
            .iter()
            .all(|b| b["dedup_key"] == bodies[0]["dedup_key"])
    );
}

/// A run that gives up on its only attempt, killed inside the attempt's
/// transaction (after the alert evaluation, before the commit) or right
/// after the commit. The attempt's record and its alert evaluation are one
/// transaction: the state holds both or neither, and after the run is
/// resumed (or the outbox drained) the receiver has the page.
fn the_attempt_and_its_alert_commit_together(sandbox: impl Fn() -> Option<Sandbox>) {
    for point in ["attempt-evaluated", "attempt-committed"] {
        let Some(sb) = sandbox() else { return };
        let rx = receiver(vec![ok()]);
        let policy = sb.policy(&rx.url);
        let text_ = std::fs::read_to_string(&policy).unwrap();
        std::fs::write(
            &policy,
            text_.replace("max_attempts = 2", "max_attempts = 1"),
        )
        .unwrap();
        let run_id = format!("give-up-{point}");
        let out = sb
            .run(&policy, &run_id, "echo boom >&2; exit 3")
            .env("BACKSTOP_CRASH_AT", point)
            .output()
            .unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&out.status),
            Some(9),
            "{point}: {}",
            text(&out)
        );
        let recorded = sb.rows(&format!(
            "SELECT count(*) FROM T.attempts WHERE run_id = '{run_id}' AND decision IS NOT NULL"
        ))[0][0]
            .parse::<i64>()
            .unwrap();
        let logged = sb.rows(
            "SELECT count(*) FROM T.alert_log WHERE dedup_key IN \
             (SELECT dedup_key FROM T.alert_outbox) AND kind = 'trigger'",
        )[0][0]
            .parse::<i64>()
            .unwrap();
        match point {
            // Killed before the commit: neither the attempt nor its alert.
            "attempt-evaluated" => assert_eq!((recorded, logged), (0, 0), "{point}"),
            // Killed after it: both, the page waiting in the outbox.
            _ => {
                assert_eq!(recorded, 1, "{point}");
                assert!(
                    logged >= 1,
                    "{point}: the failure was recorded without its alert"
                );
                assert!(sb.pending() >= 1, "{point}");
            }
        }
        // Resume (the holder's pid is gone: taken over at once), then drain.
        let again = sb.run(&policy, &run_id, "exit 3").output().unwrap();
        assert_ne!(again.status.code(), Some(0), "{point}: {}", text(&again));
        let drain = sb
            .command(&["alerts", "outbox", "--drain", "10s"])
            .output()
            .unwrap();
        assert!(drain.status.success(), "{}", text(&drain));
        assert_eq!(sb.pending(), 0, "{point}: rows left in the outbox");
        let triggers: Vec<String> = sb
            .decided()
            .into_iter()
            .filter(|(k, _)| k == "trigger")
            .map(|(_, key)| key)
            .collect();
        assert!(!triggers.is_empty(), "{point}: no page decided");
        let received = rx.bodies.lock().unwrap();
        for key in &triggers {
            assert!(
                received.iter().any(|b| b["dedup_key"] == key.as_str()),
                "{point}: page {key} never arrived: {received:?}"
            );
        }
    }
}

#[test]
fn the_attempt_and_its_alert_commit_together_on_sqlite() {
    the_attempt_and_its_alert_commit_together(|| Some(Sandbox::new()));
}

#[test]
fn the_attempt_and_its_alert_commit_together_on_postgres() {
    the_attempt_and_its_alert_commit_together(Sandbox::postgres);
}

/// A policy with two attempts and (almost) no wait between them, so any
/// page of attempt 1 can only go out while attempt 2 runs.
fn no_pause_policy(sb: &Sandbox, url: &str, attempts: u32) -> String {
    let policy = sb.policy(url);
    let text = std::fs::read_to_string(&policy)
        .unwrap()
        .replace("max_attempts = 2", &format!("max_attempts = {attempts}"))
        .replace("\"300ms\"", "\"1ms\"");
    std::fs::write(&policy, text).unwrap();
    policy
}

#[test]
fn alerts_go_out_beside_the_command_while_the_next_attempt_runs() {
    let sb = Sandbox::new();
    let rx = receiver(vec![ok()]);
    let policy = no_pause_policy(&sb, &rx.url, 2);
    let posted = sb.path("posted");
    // The test marks the moment the page arrives; attempt 2 succeeds only
    // if it arrives while attempt 2 is running.
    let (bodies, mark) = (Arc::clone(&rx.bodies), posted.clone());
    std::thread::spawn(move || {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(60) {
            if !bodies.lock().unwrap().is_empty() {
                std::fs::write(&mark, "").unwrap();
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    });
    let script = format!(
        "if [ \"$BACKSTOP_ATTEMPT\" = 1 ]; then echo boom >&2; exit 3; fi\n\
         i=0; while [ ! -e {} ]; do i=$((i+1)); [ $i -gt 300 ] && exit 4; sleep 0.1; done; exit 0",
        posted.display()
    );
    let out = sb.run(&policy, "r1", &script).output().unwrap();
    let err = text(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("attempt 2 succeeded"), "{err}");
    let bodies = rx.bodies.lock().unwrap();
    assert_eq!(bodies[0]["kind"], "trigger", "{bodies:?}");
}

#[test]
fn sigterm_during_delivery_is_honoured_and_the_exit_status_is_the_commands() {
    let sb = Sandbox::new();
    // The receiver holds every POST for a minute.
    let rx = receiver(vec![Reply {
        hold_ms: 60_000,
        status: 200,
        headers: "",
    }]);
    let policy = no_pause_policy(&sb, &rx.url, 1);
    let child = sb
        .run(&policy, "r1", "echo boom >&2; exit 3")
        .env("BACKSTOP_ALERT_DRAIN_MS", "60000")
        .spawn()
        .unwrap();
    eventually("the page is being delivered", || {
        !rx.bodies.lock().unwrap().is_empty()
    });
    let signalled = Instant::now();
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    // A correctness bound far below the receiver's minute, not a benchmark.
    assert!(
        signalled.elapsed() < Duration::from_secs(20),
        "{}",
        text(&out)
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    // The page was not confirmed: it stays in the outbox for the next sender.
    assert_eq!(sb.pending(), 1);
}
