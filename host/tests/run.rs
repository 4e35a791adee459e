//! `backstop run` with real processes: retries, fail-fast, timeouts that kill
//! the whole process group, deadlines, leases under concurrency and `kill -9`,
//! a damaged or locked state database, and `backstop stats` over what it recorded.
//! Assertions are on outcomes (exit statuses, files, rows), never on durations.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// (attempt, decision, class, rule, give-up reason) of one recorded attempt.
type AttemptRow = (u32, String, Option<String>, Option<String>, Option<String>);

/// A scratch directory with its own state database.
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

    fn state(&self) -> PathBuf {
        self.path("state.db")
    }

    /// An executable shell script; `$DIR` in it is the sandbox.
    fn script(&self, name: &str, body: &str) -> String {
        let path = self.path(name);
        let body = body.replace("$DIR", self.dir.path().to_str().unwrap());
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.to_string_lossy().into_owned()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_backstop"));
        cmd.args(args)
            .env(
                "BACKSTOP_CACHE_DIR",
                concat!(env!("CARGO_TARGET_TMPDIR"), "/backstop-cache"),
            )
            .env("BACKSTOP_STATE", self.state())
            .env("FLAKY_STEP_DIR", self.path("flaky"))
            .env_remove("BACKSTOP_LEASE_MS")
            .env_remove("BACKSTOP_BUSY_TIMEOUT_MS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn backstop(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    fn lines(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.path(name))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.state()).unwrap()
    }

    /// The attempts of a run, in order.
    fn attempts(&self, run_id: &str) -> Vec<AttemptRow> {
        let db = self.db();
        let mut stmt = db
            .prepare(
                "SELECT attempt, decision, class, rule, give_up_reason FROM attempts
                 WHERE run_id = ?1 ORDER BY round, attempt",
            )
            .unwrap();
        stmt.query_map([run_id], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }
}

fn example(name: &str) -> String {
    format!("{}/../examples/{name}", env!("CARGO_MANIFEST_DIR"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Fast retries for tests: the policy's waits shrunk to milliseconds.
const FAST: [&str; 4] = ["--base-delay", "10ms", "--max-delay", "20ms"];

fn run_args<'a>(run_id: &'a str, extra: &[&'a str], cmd: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["run", "--run-id", run_id];
    args.extend_from_slice(extra);
    args.push("--");
    args.extend_from_slice(cmd);
    args
}

/// Poll until `done` holds; panics after a generous bound (an outcome, not a timing).
fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "never happened: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Gone, or a zombie nobody reaps (it runs nothing).
fn process_is_dead(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => {
            let state = stat[stat.rfind(')').unwrap() + 1..]
                .split_whitespace()
                .next();
            matches!(state, Some("Z" | "X"))
        }
    }
}

fn read_pid(path: &Path) -> i32 {
    std::fs::read_to_string(path)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn transient_failures_are_retried_until_success() {
    let sb = Sandbox::new();
    let policy = example("nightly.toml");
    let flaky = example("flaky-step.sh");
    let mut extra = vec!["--policy", &policy, "--step", "train"];
    extra.extend_from_slice(&FAST);
    let out = sb.backstop(&run_args("2024-06-01", &extra, &[&flaky, "2"]));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    // stdout passes through untouched; stderr too, between backstop's own lines.
    assert_eq!(
        text(&out.stdout),
        "train: run 2024-06-01, try 1\ntrain: run 2024-06-01, try 2\n\
         train: run 2024-06-01, try 3\ntrain: model written\n"
    );
    assert_eq!(err.matches("503 Service Unavailable").count(), 2, "{err}");
    // The rule, then (after a colon) what the log readers read, if anything.
    assert!(
        err.contains("backstop: attempt 1 failed (transient, rule storage-unavailable"),
        "{err}"
    );
    assert!(err.contains("): exit status 75; retry in "), "{err}");
    assert!(err.contains("backstop: attempt 2 failed (transient, rule storage-unavailable"));
    assert!(err.contains("backstop: attempt 3 succeeded"), "{err}");
    let rows = sb.attempts("2024-06-01");
    let decisions: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert_eq!(decisions, ["retry", "retry", "succeeded"]);
    assert_eq!(rows[0].3.as_deref(), Some("storage-unavailable"));
    // Each attempt records the wait before it: the previous decision's delay.
    let db = sb.db();
    let waits: Vec<(i64, Option<i64>)> = db
        .prepare("SELECT delay_before_ms, delay_after_ms FROM attempts ORDER BY attempt")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(waits[0].0, 0);
    assert_eq!(Some(waits[1].0), waits[0].1);
    assert_eq!(Some(waits[2].0), waits[1].1);
    let (status, exit): (String, i64) = db
        .query_row("SELECT status, exit_status FROM runs", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert_eq!((status.as_str(), exit), ("succeeded", 0));
}

#[test]
fn the_waits_are_the_ones_plan_shows_for_the_run_id() {
    let sb = Sandbox::new();
    let settings = [
        "--base-delay",
        "10ms",
        "--max-delay",
        "80ms",
        "--jitter",
        "full",
        "--max-attempts",
        "4",
    ];
    let fail = sb.script("fail.sh", "exit 75");
    let out = sb.backstop(&run_args("r-42", &settings, &[&fail]));
    assert_eq!(out.status.code(), Some(75), "{}", text(&out.stderr));
    let mut plan_args = vec!["plan", "--json", "--run-id", "r-42"];
    plan_args.extend_from_slice(&settings);
    let plan: Value = serde_json::from_slice(&sb.backstop(&plan_args).stdout).unwrap();
    let planned: Vec<i64> = plan["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["delay_ms"].as_i64().unwrap())
        .collect();
    let recorded: Vec<i64> = sb
        .db()
        .prepare("SELECT delay_before_ms FROM attempts ORDER BY attempt")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(recorded, planned);
}

#[test]
fn an_already_succeeded_run_is_not_executed_again() {
    let sb = Sandbox::new();
    let step = sb.script("step.sh", "echo ran >> $DIR/log");
    let first = sb.backstop(&run_args("r1", &[], &[&step]));
    assert_eq!(first.status.code(), Some(0));
    let again = sb.backstop(&run_args("r1", &[], &[&step]));
    assert_eq!(again.status.code(), Some(0));
    let err = text(&again.stderr);
    assert!(
        err.contains("run \"r1\" step \"main\" already succeeded on attempt 1"),
        "{err}"
    );
    assert!(err.contains("not running it again"), "{err}");
    assert_eq!(sb.lines("log").len(), 1);
    // Another step of the same run id is its own unit of work.
    let other = sb.backstop(&run_args("r1", &["--step", "eval"], &[&step]));
    assert_eq!(other.status.code(), Some(0));
    assert_eq!(sb.lines("log").len(), 2);
}

#[test]
fn a_permanent_exit_code_is_not_retried() {
    let sb = Sandbox::new();
    let step = sb.script(
        "step.sh",
        "echo ran >> $DIR/log\necho 'train.py: not found' >&2\nexit 127",
    );
    let out = sb.backstop(&run_args("r1", &FAST, &[&step]));
    assert_eq!(out.status.code(), Some(127));
    let err = text(&out.stderr);
    assert!(
        err.contains("attempt 1 failed (permanent, rule builtin.exit-not-executable"),
        "{err}"
    );
    assert!(
        err.contains("): exit status 127; giving up (permanent), exiting 127"),
        "{err}"
    );
    assert_eq!(sb.lines("log").len(), 1);
    let rows = sb.attempts("r1");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].1, "give-up");
    assert_eq!(rows[0].4.as_deref(), Some("permanent"));
}

#[test]
fn a_permanent_message_in_stderr_fails_fast() {
    let sb = Sandbox::new();
    let policy = example("nightly.toml");
    let step = sb.script(
        "step.sh",
        "echo ran >> $DIR/log\necho 'epoch 1' >&2\necho 'RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB' >&2\nexit 1",
    );
    let out = sb.backstop(&run_args("r1", &["--policy", &policy], &[&step]));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("(permanent, rule gpu-oom"));
    assert_eq!(sb.lines("log").len(), 1);
}

#[test]
fn a_missing_command_exits_127_without_retrying() {
    let sb = Sandbox::new();
    let out = sb.backstop(&run_args("r1", &FAST, &["/nonexistent/train"]));
    assert_eq!(out.status.code(), Some(127));
    assert!(text(&out.stderr).contains("cannot run /nonexistent/train"));
    assert_eq!(sb.attempts("r1").len(), 1);
}

#[test]
fn unknown_failures_get_the_smaller_attempt_limit() {
    let sb = Sandbox::new();
    let step = sb.script("step.sh", "echo ran >> $DIR/log\nkill -SEGV $$");
    let mut extra = vec!["--max-attempts", "5"];
    extra.extend_from_slice(&FAST);
    let out = sb.backstop(&run_args("r1", &extra, &[&step]));
    // unknown_max_attempts defaults to 3; killed by SIGSEGV exits as shells say: 128 + 11.
    assert_eq!(out.status.code(), Some(128 + libc::SIGSEGV));
    assert_eq!(sb.lines("log").len(), 3);
    assert!(text(&out.stderr).contains("killed by SIGSEGV"));
}

#[test]
fn an_attempt_timeout_kills_the_whole_process_group() {
    let sb = Sandbox::new();
    // The command ignores SIGTERM and leaves a grandchild (which inherits that).
    let step = sb.script(
        "stubborn.sh",
        "trap '' TERM\nsleep 600 &\necho $! >> $DIR/grandchildren\necho $$ >> $DIR/children\nwait",
    );
    let mut extra = vec![
        "--attempt-timeout",
        "200ms",
        "--kill-after",
        "100ms",
        "--max-attempts",
        "2",
    ];
    extra.extend_from_slice(&FAST);
    let out = sb.backstop(&run_args("r1", &extra, &[&step]));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(124), "{err}");
    assert!(
        err.contains("attempt 1 failed (transient, rule builtin.attempt-timeout): timed out after 200ms; retry in"),
        "{err}"
    );
    assert!(
        err.contains("giving up (attempts-exhausted), exiting 124"),
        "{err}"
    );
    let pids: Vec<i32> = sb
        .lines("children")
        .iter()
        .chain(&sb.lines("grandchildren"))
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 4);
    for pid in pids {
        eventually(&format!("process {pid} killed"), || process_is_dead(pid));
    }
    let timed_out: i64 = sb
        .db()
        .query_row("SELECT sum(timed_out) FROM attempts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(timed_out, 2);
}

#[test]
fn the_deadline_stops_a_running_attempt() {
    let sb = Sandbox::new();
    let step = sb.script("slow.sh", "echo ran >> $DIR/log\nexec sleep 600");
    let mut extra = vec!["--deadline", "300ms", "--kill-after", "100ms"];
    extra.extend_from_slice(&FAST);
    let out = sb.backstop(&run_args("r1", &extra, &[&step]));
    assert_eq!(out.status.code(), Some(124), "{}", text(&out.stderr));
    let rows = sb.attempts("r1");
    assert_eq!(rows.last().unwrap().4.as_deref(), Some("deadline"));
}

#[test]
fn the_deadline_ends_retrying_with_the_last_exit_status() {
    let sb = Sandbox::new();
    let step = sb.script("fail.sh", "echo ran >> $DIR/log\nexit 75");
    let out = sb.backstop(&run_args(
        "r1",
        &[
            "--deadline",
            "300ms",
            "--base-delay",
            "200ms",
            "--jitter",
            "none",
            "--max-attempts",
            "100",
        ],
        &[&step],
    ));
    assert_eq!(out.status.code(), Some(75));
    assert!(text(&out.stderr).contains("giving up (deadline), exiting 75"));
    // Waits of 200 ms then 400 ms: never more than two attempts fit in 300 ms.
    assert!(sb.lines("log").len() <= 2);
}

#[test]
fn concurrent_invocations_of_one_run_execute_it_once() {
    let sb = Sandbox::new();
    let step = sb.script("step.sh", "echo ran >> $DIR/log\nsleep 1");
    let children: Vec<Child> = (0..4)
        .map(|_| sb.command(&run_args("r1", &[], &[&step])).spawn().unwrap())
        .collect();
    let outputs: Vec<Output> = children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    let codes: Vec<i32> = outputs.iter().map(|o| o.status.code().unwrap()).collect();
    assert_eq!(sb.lines("log").len(), 1, "{codes:?}");
    assert!(codes.contains(&0), "{codes:?}");
    for o in &outputs {
        match o.status.code() {
            Some(0) => {}
            Some(73) => assert!(
                text(&o.stderr).contains("is being run by another backstop"),
                "{}",
                text(&o.stderr)
            ),
            other => panic!("unexpected exit {other:?}: {}", text(&o.stderr)),
        }
    }
    assert_eq!(sb.attempts("r1").len(), 1);
}

#[test]
fn a_killed_backstop_is_taken_over_after_its_lease_expires() {
    let sb = Sandbox::new();
    // The first try hangs (with a grandchild); later tries succeed.
    let step = sb.script(
        "step.sh",
        "echo \"start $BACKSTOP_ATTEMPT\" >> $DIR/log\n\
         if [ ! -e $DIR/marker ]; then touch $DIR/marker; sleep 600 & echo $! > $DIR/orphan; wait; fi",
    );
    let mut first = sb
        .command(&run_args("r1", &[], &[&step]))
        .env("BACKSTOP_LEASE_MS", "500")
        .spawn()
        .unwrap();
    eventually("the first attempt started", || sb.path("orphan").exists());
    first.kill().unwrap(); // SIGKILL: no cleanup, the lease stays behind
    first.wait().unwrap();
    let orphan = read_pid(&sb.path("orphan"));
    let mut takeover = None;
    eventually("a later invocation takes over", || {
        let out = sb
            .command(&run_args("r1", &[], &[&step]))
            .env("BACKSTOP_LEASE_MS", "500")
            .output()
            .unwrap();
        match out.status.code() {
            Some(73) => false,
            _ => {
                takeover = Some(out);
                true
            }
        }
    });
    let out = takeover.unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("taking over run \"r1\" step \"main\""),
        "{err}"
    );
    assert!(err.contains("continuing with attempt 2"), "{err}");
    // Attempt numbering continues; nothing is recorded twice.
    assert_eq!(sb.lines("log"), ["start 1", "start 2"]);
    let rows = sb.attempts("r1");
    let decisions: Vec<(u32, &str)> = rows.iter().map(|r| (r.0, r.1.as_str())).collect();
    assert_eq!(decisions, [(1, "abandoned"), (2, "succeeded")]);
    // The abandoned attempt's leftovers were ended, not left running beside the new one.
    eventually("the orphan is killed", || process_is_dead(orphan));
}

#[test]
fn sigterm_to_backstop_stops_the_attempt_and_the_run_resumes_later() {
    let sb = Sandbox::new();
    let step = sb.script(
        "step.sh",
        "echo \"start $BACKSTOP_ATTEMPT\" >> $DIR/log\n\
         if [ ! -e $DIR/marker ]; then touch $DIR/marker; exec sleep 600; fi",
    );
    let child = sb.command(&run_args("r1", &[], &[&step])).spawn().unwrap();
    eventually("the attempt started", || sb.path("marker").exists());
    // SAFETY: signalling our own child process.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(128 + libc::SIGTERM));
    let err = text(&out.stderr);
    assert!(
        err.contains("interrupted by SIGTERM during attempt 1"),
        "{err}"
    );
    // The lease was released at once: the next invocation resumes without waiting.
    let out = sb.backstop(&run_args("r1", &[], &[&step]));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let rows = sb.attempts("r1");
    let decisions: Vec<(u32, &str)> = rows.iter().map(|r| (r.0, r.1.as_str())).collect();
    assert_eq!(decisions, [(1, "interrupted"), (2, "succeeded")]);
}

#[test]
fn a_run_that_gave_up_starts_again_with_a_fresh_round() {
    let sb = Sandbox::new();
    let step = sb.script(
        "step.sh",
        "echo ran >> $DIR/log\n[ -e $DIR/fixed ] || exit 75",
    );
    let mut extra = vec!["--max-attempts", "2"];
    extra.extend_from_slice(&FAST);
    let out = sb.backstop(&run_args("r1", &extra, &[&step]));
    assert_eq!(out.status.code(), Some(75));
    std::fs::write(sb.path("fixed"), "").unwrap();
    let out = sb.backstop(&run_args("r1", &extra, &[&step]));
    assert_eq!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("gave up before; starting it again (round 2)"));
    let rounds: Vec<(u32, u32, String)> = sb
        .db()
        .prepare("SELECT round, attempt, decision FROM attempts ORDER BY round, attempt")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        rounds,
        [
            (1, 1, "retry".to_string()),
            (1, 2, "give-up".to_string()),
            (2, 1, "succeeded".to_string())
        ]
    );
}

#[test]
fn an_open_circuit_refuses_to_start_and_exits_69() {
    let sb = Sandbox::new();
    let policy = sb.path("breaker.toml");
    std::fs::write(
        &policy,
        "[retry]\nmax_attempts = 1\n[retry.circuit_breaker]\nconsecutive_failures = 1\nopen_for = \"1h\"\n",
    )
    .unwrap();
    let policy = policy.to_str().unwrap();
    let step = sb.script("step.sh", "echo ran >> $DIR/log\nexit 75");
    let out = sb.backstop(&run_args(
        "r1",
        &["--policy", policy, "--step", "load"],
        &[&step],
    ));
    assert_eq!(out.status.code(), Some(75));
    // Another run of the same step shares the breaker, now open.
    let out = sb.backstop(&run_args(
        "r2",
        &["--policy", policy, "--step", "load"],
        &[&step],
    ));
    assert_eq!(out.status.code(), Some(69));
    let err = text(&out.stderr);
    assert!(
        err.contains("circuit breaker of step \"load\" is open"),
        "{err}"
    );
    assert_eq!(sb.lines("log").len(), 1);
    // A different step has its own breaker.
    let out = sb.backstop(&run_args(
        "r2",
        &["--policy", policy, "--step", "other"],
        &[&step],
    ));
    assert_eq!(out.status.code(), Some(75));
}

#[test]
fn an_invalid_policy_or_override_exits_125_before_running() {
    let sb = Sandbox::new();
    let step = sb.script("step.sh", "echo ran >> $DIR/log");
    let out = sb.backstop(&run_args("r1", &["--max-attempts", "0"], &[&step]));
    assert_eq!(out.status.code(), Some(125));
    assert!(text(&out.stderr).contains("--max-attempts: 0 is out of range"));
    let bad = sb.path("bad.toml");
    std::fs::write(&bad, "[retry]\njitter = \"wobbly\"\n").unwrap();
    let out = sb.backstop(&run_args(
        "r1",
        &["--policy", bad.to_str().unwrap()],
        &[&step],
    ));
    assert_eq!(out.status.code(), Some(125));
    assert!(text(&out.stderr).contains("bad.toml:2:10: error[invalid-value]: retry.jitter"));
    assert!(sb.lines("log").is_empty());
    assert!(
        !sb.state().exists(),
        "nothing is recorded for a run that never started"
    );
}

#[test]
fn the_command_needs_a_double_dash() {
    let sb = Sandbox::new();
    let out = sb.backstop(&["run", "--run-id", "r1", "true"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_corrupted_state_database_is_reported_and_left_untouched() {
    let sb = Sandbox::new();
    let garbage = b"this is not a database ".repeat(500);
    std::fs::write(sb.state(), &garbage).unwrap();
    let step = sb.script("step.sh", "echo ran >> $DIR/log");
    let out = sb.backstop(&run_args("r1", &[], &[&step]));
    assert_eq!(out.status.code(), Some(74));
    let err = text(&out.stderr);
    assert!(err.contains(&sb.state().display().to_string()), "{err}");
    assert!(err.contains("corrupted or not a SQLite database"), "{err}");
    assert!(sb.lines("log").is_empty());
    assert_eq!(std::fs::read(sb.state()).unwrap(), garbage);
    let out = sb.backstop(&["stats"]);
    assert_eq!(out.status.code(), Some(74));
}

#[test]
fn a_damaged_page_is_reported_and_the_recorded_attempts_kept() {
    let sb = Sandbox::new();
    let step = sb.script("step.sh", "true");
    for run in ["a", "b", "c"] {
        assert!(sb.backstop(&run_args(run, &[], &[&step])).status.success());
    }
    {
        let db = sb.db();
        db.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
    }
    let mut bytes = std::fs::read(sb.state()).unwrap();
    let page = 4096;
    for p in 1..bytes.len() / page {
        bytes[p * page..p * page + 8].fill(0x7f);
    }
    std::fs::write(sb.state(), &bytes).unwrap();
    let out = sb.backstop(&run_args("d", &[], &[&step]));
    assert_eq!(out.status.code(), Some(74));
    let err = text(&out.stderr);
    // SQLite reports the damage either as quick_check's findings or as a
    // malformed image while running it; both name the file and keep it.
    assert!(
        err.contains("quick_check") || err.contains("corrupted or not a SQLite database"),
        "{err}"
    );
    assert!(err.contains(&sb.state().display().to_string()), "{err}");
    assert_eq!(std::fs::read(sb.state()).unwrap(), bytes);
    // `stats` checks every page (a run reads only what it needs).
    let out = sb.backstop(&["stats"]);
    assert_eq!(out.status.code(), Some(74));
    let err = text(&out.stderr);
    assert!(
        err.contains("quick_check") || err.contains("corrupted or not a SQLite database"),
        "{err}"
    );
    assert_eq!(std::fs::read(sb.state()).unwrap(), bytes);
}

#[test]
fn the_write_ahead_log_is_kept_between_runs_and_does_not_grow_with_them() {
    let sb = Sandbox::new();
    let step = sb.script("step.sh", "true");
    let log = PathBuf::from(format!("{}-wal", sb.state().display()));
    let run = |id: &str| {
        assert!(sb.backstop(&run_args(id, &[], &[&step])).status.success());
    };
    for n in 0..20 {
        run(&format!("warm{n}"));
    }
    // Kept, so the next run neither recreates nor re-syncs it.
    let warm = std::fs::metadata(&log).expect("the log is kept").len();
    for n in 0..20 {
        run(&format!("r{n}"));
    }
    // Checkpointed before an attempt once it holds 64 pages (a few runs'
    // worth), so later runs reuse its space: it stops growing, well below
    // SQLite's own 1,000-page checkpoint.
    let after = std::fs::metadata(&log).unwrap().len();
    let page_frame = 4096 + 24;
    assert!(
        after <= warm && after <= 32 + 128 * page_frame,
        "the log grew from {warm} to {after} bytes over 20 runs"
    );
    let db = sb.db();
    let succeeded: i64 = db
        .query_row(
            "SELECT count(*) FROM runs WHERE status = 'succeeded'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(succeeded, 40);
}

#[test]
fn a_locked_state_database_is_reported_and_nothing_is_lost() {
    let sb = Sandbox::new();
    let step = sb.script("step.sh", "echo ran >> $DIR/log");
    assert!(sb.backstop(&run_args("r1", &[], &[&step])).status.success());
    let locker = sb.db();
    locker
        .execute_batch("BEGIN EXCLUSIVE; UPDATE runs SET updated_at_ms = 1;")
        .unwrap();
    let out = sb
        .command(&run_args("r2", &[], &[&step]))
        .env("BACKSTOP_BUSY_TIMEOUT_MS", "100")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(74));
    let err = text(&out.stderr);
    assert!(err.contains(&sb.state().display().to_string()), "{err}");
    assert!(err.contains("is locked by another process"), "{err}");
    assert_eq!(
        sb.lines("log").len(),
        1,
        "nothing ran while the database was locked"
    );
    locker.execute_batch("ROLLBACK").unwrap();
    drop(locker);
    assert_eq!(sb.attempts("r1").len(), 1);
    let again = sb.backstop(&run_args("r1", &[], &[&step]));
    assert!(text(&again.stderr).contains("already succeeded"));
    let out = sb.backstop(&run_args("r2", &[], &[&step]));
    assert!(out.status.success());
    assert_eq!(sb.lines("log").len(), 2);
}

#[test]
fn a_foreign_sqlite_file_is_not_touched() {
    let sb = Sandbox::new();
    {
        let db = sb.db();
        db.execute_batch("CREATE TABLE photos (id INTEGER)")
            .unwrap();
    }
    let before = std::fs::read(sb.state()).unwrap();
    let out = sb.backstop(&run_args("r1", &[], &["true"]));
    assert_eq!(out.status.code(), Some(74));
    assert!(text(&out.stderr).contains("not a backstop state database"));
    assert_eq!(std::fs::read(sb.state()).unwrap(), before);
}

#[test]
fn stats_report_retries_success_rate_and_recovery_per_step() {
    let sb = Sandbox::new();
    let policy = example("nightly.toml");
    let flaky = example("flaky-step.sh");
    let mut extra = vec!["--policy", &policy, "--step", "train"];
    extra.extend_from_slice(&FAST);
    assert!(
        sb.backstop(&run_args("d1", &extra, &[&flaky, "2"]))
            .status
            .success()
    );
    assert!(
        sb.backstop(&run_args("d2", &extra, &[&flaky, "0"]))
            .status
            .success()
    );
    let broken = sb.script("broken.sh", "exit 127");
    assert_eq!(
        sb.backstop(&run_args("d1", &["--step", "export"], &[&broken]))
            .status
            .code(),
        Some(127)
    );
    let metrics = sb.path("backstop.prom");
    let out = sb.backstop(&["stats", "--json", "--metrics", metrics.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps = stats["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2);
    let (export, train) = (&steps[0], &steps[1]);
    assert_eq!(export["step"], "export");
    assert_eq!(export["runs"], 1);
    assert_eq!(export["failed"], 1);
    assert_eq!(export["success_ratio"], 0.0);
    assert_eq!(export["recoveries"], 0);
    assert_eq!(export["mean_time_to_recovery_ms"], Value::Null);
    assert_eq!(train["step"], "train");
    assert_eq!(train["runs"], 2);
    assert_eq!(train["succeeded"], 2);
    assert_eq!(train["attempts"], 4);
    assert_eq!(train["retries"], 2);
    assert_eq!(train["success_ratio"], 1.0);
    assert_eq!(train["recoveries"], 1);
    assert!(train["max_time_to_recovery_ms"].as_u64().is_some());
    assert_eq!(
        train["mean_time_to_recovery_ms"],
        train["max_time_to_recovery_ms"]
    );

    let prom = std::fs::read_to_string(&metrics).unwrap();
    assert!(!sb.path("backstop.prom.tmp").exists());
    for line in [
        "# TYPE backstop_step_runs_total counter",
        "backstop_step_runs_total{step=\"train\"} 2",
        "backstop_step_attempts_total{step=\"train\"} 4",
        "backstop_step_retries_total{step=\"train\"} 2",
        "backstop_step_success_ratio{step=\"train\"} 1",
        "backstop_step_success_ratio{step=\"export\"} 0",
        "backstop_step_runs_by_status{step=\"export\",status=\"failed\"} 1",
        "backstop_step_time_to_recovery_seconds_count{step=\"train\"} 1",
        "# TYPE backstop_step_time_to_recovery_seconds summary",
    ] {
        assert!(prom.lines().any(|l| l == line), "{line} missing in\n{prom}");
    }

    let out = sb.backstop(&["stats"]);
    let table = text(&out.stdout);
    assert!(table.starts_with("step "), "{table}");
    assert!(table.contains("100.0%"), "{table}");
}

#[test]
fn stats_without_a_database_report_nothing_and_create_nothing() {
    let sb = Sandbox::new();
    let out = sb.backstop(&["stats", "--json"]);
    assert!(out.status.success());
    let stats: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["steps"], serde_json::json!([]));
    assert!(!sb.state().exists());
}

#[test]
fn the_command_sees_its_run_id_step_and_attempt() {
    let sb = Sandbox::new();
    let step = sb.script(
        "step.sh",
        "echo \"$BACKSTOP_RUN_ID $BACKSTOP_STEP $BACKSTOP_ATTEMPT\"\n[ \"$BACKSTOP_ATTEMPT\" = 2 ]",
    );
    let mut extra = vec!["--step", "features"];
    extra.extend_from_slice(&FAST);
    let out = sb.backstop(&run_args("nightly-7", &extra, &[&step]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "nightly-7 features 1\nnightly-7 features 2\n"
    );
}

#[test]
fn redirected_stdin_reaches_the_command() {
    let sb = Sandbox::new();
    let mut child = sb
        .command(&run_args("r1", &[], &["cat"]))
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"rows\n").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(text(&out.stdout), "rows\n");
}

#[test]
fn the_help_documents_every_exit_status_and_the_environment() {
    let sb = Sandbox::new();
    let help = text(&sb.backstop(&["run", "--help"]).stdout);
    for needle in [
        "69 ",
        "73 ",
        "74 ",
        "124 ",
        "125 ",
        "126/127",
        "128+N",
        // --one-attempt's statuses.
        "75 ",
        "65 ",
        "66 ",
        "--one-attempt",
        "--permanent-exit-code",
        "BACKSTOP_STATE",
        "BACKSTOP_LEASE_MS",
        "BACKSTOP_BUSY_TIMEOUT_MS",
        "BACKSTOP_FAILURE_FILE",
        "--read-stdout",
    ] {
        assert!(help.contains(needle), "{needle} missing in\n{help}");
    }
}

/// The lines backstop printed about failed attempts.
fn failed_lines(err: &str) -> Vec<&str> {
    err.lines()
        .filter(|l| l.starts_with("backstop: attempt ") && l.contains(" failed ("))
        .collect()
}

#[test]
fn a_failure_report_is_classified_on_exactly_that() {
    let sb = Sandbox::new();
    // Exit 75 alone would be transient (EX_TEMPFAIL); the report says 404.
    let step = sb.script(
        "step.sh",
        "echo 'some noise' >&2\n\
         printf '{\"error_types\": [\"botocore.errorfactory.NoSuchKey\"], \"error_code\": \"NoSuchKey\", \"http_status\": 404}' > \"$BACKSTOP_FAILURE_FILE\"\n\
         exit 75",
    );
    let out = sb.backstop(&run_args("r1", &FAST, &[&step]));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert_eq!(
        failed_lines(&err),
        [
            "backstop: attempt 1 failed (permanent, rule builtin.http-permanent: reported \
          botocore.errorfactory.NoSuchKey NoSuchKey (HTTP 404)): exit status 75; giving up \
          (permanent), exiting 75"
        ],
        "{err}"
    );
    assert!(!err.contains("ignoring"), "{err}");
}

#[test]
fn a_report_s_message_is_redacted_before_it_is_stored_or_printed() {
    let sb = Sandbox::new();
    let token = "ghp_Report0Token0Value0For0Testing0000001";
    let step = sb.script(
        "step.sh",
        &format!(
            "printf '{{\"message\": \"GET failed, Authorization: Bearer {token}\"}}' > \"$BACKSTOP_FAILURE_FILE\"\n\
             exit 1"
        ),
    );
    // A report with only a message: the line backstop prints shows it.
    let out = sb.backstop(&run_args("r1", &FAST, &[&step]));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("Authorization: Bearer [REDACTED]"), "{err}");
    assert!(!err.contains(token), "{err}");
    let db = std::fs::read(sb.state()).unwrap();
    let needle = token.as_bytes();
    assert!(
        !db.windows(needle.len()).any(|w| w == needle),
        "the state database holds the token"
    );
}

#[test]
fn the_report_s_pushback_sets_the_wait_and_each_attempt_starts_without_a_report() {
    let sb = Sandbox::new();
    // Attempt 1 reports a throttle with a pushback; attempt 2 reports nothing
    // and must not be classified on attempt 1's report.
    let step = sb.script(
        "step.sh",
        "case $BACKSTOP_ATTEMPT in\n\
         1) printf '{\"error_code\": \"SlowDown\", \"pushback_ms\": 35}' > \"$BACKSTOP_FAILURE_FILE\"; exit 1;;\n\
         2) [ -e \"$BACKSTOP_FAILURE_FILE\" ] && echo stale >&2; exit 75;;\n\
         esac",
    );
    let out = sb.backstop(&run_args("r1", &["--max-attempts", "2"], &[&step]));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(!err.contains("stale"), "{err}");
    assert_eq!(
        failed_lines(&err),
        [
            "backstop: attempt 1 failed (transient, rule builtin.cloud-throttling: reported \
             SlowDown): exit status 1; retry in 35ms",
            "backstop: attempt 2 failed (transient, rule builtin.exit-tempfail): exit status 75; \
             giving up (attempts-exhausted), exiting 75",
        ],
        "{err}"
    );
}

#[test]
fn a_bad_failure_report_is_a_warning_and_the_logs_are_read() {
    let cases = [
        (
            "printf '{\"http_status\": 404' > \"$BACKSTOP_FAILURE_FILE\"",
            "it is not valid JSON: EOF while parsing an object",
        ),
        (
            "printf '{\"http_status\": \"404\"}' > \"$BACKSTOP_FAILURE_FILE\"",
            "field \"http_status\": expected an integer from 100 to 599, found \"404\" (a string)",
        ),
        (
            "printf '{\"error_types\": [\"A\", {}]}' > \"$BACKSTOP_FAILURE_FILE\"",
            "field \"error_types\"[1]: expected a string, found an object",
        ),
        (
            "printf '[]' > \"$BACKSTOP_FAILURE_FILE\"",
            "expected a JSON object (the canonical failure form), found an array",
        ),
        (
            "head -c 2000000 /dev/zero | tr '\\0' ' ' > \"$BACKSTOP_FAILURE_FILE\"",
            "it is larger than 1024 KiB",
        ),
        (
            "printf '{\"signal\": \"SIGNOPE\"}' > \"$BACKSTOP_FAILURE_FILE\"",
            "field \"signal\": ",
        ),
        ("mkdir \"$BACKSTOP_FAILURE_FILE\"", "cannot read it: "),
    ];
    for (write, problem) in cases {
        let sb = Sandbox::new();
        let step = sb.script("step.sh", &format!("{write}\nexit 75"));
        let out = sb.backstop(&run_args("r1", &["--max-attempts", "1"], &[&step]));
        let err = text(&out.stderr);
        // Never a crash: the exit status is the command's, classified on its status.
        assert_eq!(out.status.code(), Some(75), "{write}: {err}");
        let warning = err
            .lines()
            .find(|l| l.starts_with("backstop: ignoring the failure report "))
            .unwrap_or_else(|| panic!("{write}: no warning in {err}"));
        assert!(warning.contains("attempt-1.json: "), "{warning}");
        assert!(warning.contains(problem), "{write}: {warning}");
        assert!(warning.ends_with("; reading the logs instead"), "{warning}");
        assert!(
            err.contains("(transient, rule builtin.exit-tempfail): exit status 75"),
            "{write}: {err}"
        );
    }
}

#[test]
fn unknown_report_fields_are_ignored_with_a_warning() {
    let sb = Sandbox::new();
    let step = sb.script(
        "step.sh",
        "printf '{\"http_stauts\": 503, \"error_code\": \"NoSuchKey\"}' > \"$BACKSTOP_FAILURE_FILE\"\nexit 1",
    );
    let policy = sb.path("p.toml");
    std::fs::write(
        &policy,
        "version = 1\n[[classify.rules]]\nid = \"missing\"\nclass = \"permanent\"\nerror_code = \"NoSuchKey\"\n",
    )
    .unwrap();
    let out = sb.backstop(&run_args(
        "r1",
        &["--policy", policy.to_str().unwrap()],
        &[&step],
    ));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(
            "attempt-1.json: ignoring unknown field \"http_stauts\" (the fields are http_status,"
        ),
        "{err}"
    );
    assert!(
        err.contains("(permanent, rule missing: reported NoSuchKey)"),
        "{err}"
    );
}

#[test]
fn a_timed_out_attempt_is_its_timeout_whatever_it_reported() {
    let sb = Sandbox::new();
    let step = sb.script(
        "step.sh",
        "printf '{\"http_status\": 404}' > \"$BACKSTOP_FAILURE_FILE\"\nexec sleep 30",
    );
    let out = sb.backstop(&run_args(
        "r1",
        &[
            "--attempt-timeout",
            "300ms",
            "--kill-after",
            "100ms",
            "--max-attempts",
            "1",
        ],
        &[&step],
    ));
    let err = text(&out.stderr);
    assert!(
        err.contains("attempt 1 failed (transient, rule builtin.attempt-timeout): timed out"),
        "{err}"
    );
}

#[test]
fn alerts_from_run_carry_the_reported_error_type_code_and_class() {
    let sb = Sandbox::new();
    let pages = sb.path("pages.jsonl");
    let policy = sb.path("alerts.toml");
    std::fs::write(
        &policy,
        format!(
            "version = 1\n[retry]\nmax_attempts = 1\n\n[alerts]\n\
             payload = [\"run_id\", \"error_type\", \"error_code\", \"error_class\"]\n\n\
             [[alerts.rules]]\nid = \"failed\"\ncondition = \"run.failure_count >= 1\"\n\
             severity = \"high\"\nnotify = [\"oncall\"]\n\n\
             [[alerts.sinks]]\ntarget = \"*\"\ntype = \"file\"\npath = \"{}\"\n",
            pages.display()
        ),
    )
    .unwrap();
    let step = |code: &str| {
        sb.script(
            &format!("{code}.sh"),
            &format!(
                "printf '{{\"error_types\": [\"botocore.exceptions.ClientError\"], \"error_code\": \"{code}\"}}' > \"$BACKSTOP_FAILURE_FILE\"\nexit 1"
            ),
        )
    };
    for (run_id, code) in [("r1", "SlowDown"), ("r1b", "AccessDenied")] {
        let out = sb.backstop(&run_args(
            run_id,
            &[
                "--policy",
                policy.to_str().unwrap(),
                "--pipeline",
                "nightly",
            ],
            &[&step(code)],
        ));
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    }
    let pages: Vec<Value> = sb
        .lines("pages.jsonl")
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let triggers: Vec<&Value> = pages.iter().filter(|p| p["kind"] == "trigger").collect();
    assert_eq!(triggers.len(), 2, "{pages:?}");
    let payload = &triggers[0]["payload"];
    assert_eq!(
        payload["error_type"], "botocore.exceptions.ClientError",
        "{payload}"
    );
    assert_eq!(payload["error_code"], "SlowDown", "{payload}");
    assert_eq!(payload["error_class"], "transient", "{payload}");
    assert_eq!(triggers[1]["payload"]["error_code"], "AccessDenied");
    // Two root causes, two dedup keys.
    assert_ne!(triggers[0]["dedup_key"], triggers[1]["dedup_key"]);
}

#[test]
fn read_stdout_passes_stdout_through_and_keeps_its_end() {
    let sb = Sandbox::new();
    let step = sb.script(
        "step.sh",
        "printf 'rows: 10\\nrequests.exceptions.HTTPError: 404 Client Error: Not Found for url: http://127.0.0.1:9/part-0001.parquet\\n'\nprintf 'no newline at the end'\nexit 1",
    );
    let out = sb.backstop(&run_args(
        "r1",
        &["--read-stdout", "--max-attempts", "1"],
        &[&step],
    ));
    assert_eq!(
        text(&out.stdout),
        "rows: 10\nrequests.exceptions.HTTPError: 404 Client Error: Not Found for url: \
         http://127.0.0.1:9/part-0001.parquet\nno newline at the end"
    );
    assert_eq!(out.status.code(), Some(1));
}

/// What an attempt leaves running in the background (still in its process
/// group) is ended when the command exits by itself: before the retry (the
/// retry checks the first attempt's grandchild), and when the run ends
/// (`backstop run` returns only once it is gone). Process-group cleanup, not
/// a subreaper: a process meant to outlive the step detaches with `setsid`.
#[test]
fn grandchildren_of_a_finished_attempt_are_gone_before_the_retry_and_after_the_run() {
    let sb = Sandbox::new();
    let step = sb.script(
        "step.sh",
        "sleep 300 &\n\
         echo $! >> $DIR/grandchildren\n\
         if [ \"$BACKSTOP_ATTEMPT\" = 1 ]; then exit 3; fi\n\
         first=$(head -n 1 $DIR/grandchildren)\n\
         state=$(sed 's/.*) //' /proc/$first/stat 2>/dev/null | cut -d' ' -f1)\n\
         if [ -z \"$state\" ] || [ \"$state\" = Z ]; then echo gone >> $DIR/seen; else echo running >> $DIR/seen; fi\n\
         exit 0",
    );
    let out = sb.backstop(&run_args("r1", &FAST, &[&step]));
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("attempt 1 failed"), "{err}");
    // The failed attempt's grandchild was ended before attempt 2 started.
    assert_eq!(sb.lines("seen"), ["gone"], "{err}");
    // And the successful attempt's, before backstop returned.
    let pids: Vec<i32> = sb
        .lines("grandchildren")
        .iter()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(pids.len(), 2);
    for pid in pids {
        assert!(process_is_dead(pid), "grandchild {pid} outlived the run");
    }
}
