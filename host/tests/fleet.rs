//! A fleet on one PostgreSQL: real `backstop run` processes, each with its own
//! local state directory (as if on separate hosts), sharing one database on
//! the server tests/pg.sh starts (BACKSTOP_TEST_PG_URL). Races for one run
//! id, a stalled holder fenced out by its successor, a killed holder taken
//! over, and the database restarted under a running step.
//!
//! The race campaign of issue 10 (50 trials of 20 racers) is a separate
//! command, tests/fleet-campaign.sh; the suite runs 3 trials.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::RwLock;
use std::time::{Duration, Instant};

use std::os::unix::fs::PermissionsExt;

/// The restart test stops the server every other test here is using.
static SERVER: RwLock<()> = RwLock::new(());

struct Fleet {
    url: String,
    dir: tempfile::TempDir,
}

impl Fleet {
    fn new() -> Option<Fleet> {
        let Ok(base) = std::env::var("BACKSTOP_TEST_PG_URL") else {
            eprintln!(
                "\n*** SKIPPED: BACKSTOP_TEST_PG_URL is unset, so this PostgreSQL fleet test did \
                 not run. tests/run-rust.sh starts a server (tests/pg.sh). ***\n"
            );
            return None;
        };
        let name = format!(
            "fleet_{}_{}",
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
        Some(Fleet {
            url: format!("{}/{name}", &base[..cut]),
            dir: tempfile::tempdir().unwrap(),
        })
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn script(&self, name: &str, body: &str) -> String {
        let path = self.path(name);
        let body = body.replace("$DIR", self.dir.path().to_str().unwrap());
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.to_string_lossy().into_owned()
    }

    /// `backstop run` as host number `host`: its own HOME and state directory.
    fn run(&self, host: usize, run_id: &str, lease_ms: u64, cmd: &str) -> Command {
        let home = self.path(&format!("host{host}"));
        std::fs::create_dir_all(&home).unwrap();
        let mut c = Command::new(env!("CARGO_BIN_EXE_backstop"));
        c.args(["run", "--run-id", run_id, "--", cmd])
            .env("HOME", &home)
            .env("XDG_STATE_HOME", home.join("state"))
            .env(
                "BACKSTOP_CACHE_DIR",
                concat!(env!("CARGO_TARGET_TMPDIR"), "/backstop-cache"),
            )
            .env("BACKSTOP_STATE", &self.url)
            .env("BACKSTOP_LEASE_MS", lease_ms.to_string())
            .env_remove("BACKSTOP_BUSY_TIMEOUT_MS")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// A step whose first attempt waits (its pid in `first`) and whose
    /// later attempts succeed; each start is logged in `log`.
    fn waiting_step(&self) -> String {
        self.script(
            "step.sh",
            "echo \"start $BACKSTOP_ATTEMPT\" >> $DIR/log\n\
             if [ ! -e $DIR/marker ]; then touch $DIR/marker; echo $$ > $DIR/first; sleep 600; fi",
        )
    }

    /// Host 0 running `step` as run `r1`, once its first attempt has started.
    fn start_holder(&self, lease_ms: u64, step: &str) -> Child {
        let holder = self.run(0, "r1", lease_ms, step).spawn().unwrap();
        eventually("the first attempt started", || {
            !self.lines("first").is_empty()
        });
        holder
    }

    fn lines(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.path(name))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }

    fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls).unwrap()
    }

    /// (attempt, decision, lease_epoch) of a run's attempts.
    fn attempts(&self, run_id: &str) -> Vec<(i64, Option<String>, Option<i64>)> {
        self.client()
            .query(
                "SELECT attempt, decision, lease_epoch FROM backstop.attempts
                 WHERE run_id = $1 ORDER BY round, attempt",
                &[&run_id],
            )
            .unwrap()
            .iter()
            .map(|r| (r.get(0), r.get(1), r.get(2)))
            .collect()
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "never happened: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn signal(child: &Child, sig: i32) {
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, sig);
    }
}

#[test]
fn twenty_concurrent_runs_of_one_run_id_execute_it_once() {
    let _shared = SERVER.read().unwrap();
    let Some(fleet) = Fleet::new() else { return };
    let trials: usize = std::env::var("BACKSTOP_FLEET_TRIALS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(3);
    let racers = 20;
    // The winner holds on until every other racer has exited, so each of them
    // meets a live lease (exit 73), never a finished run (exit 0).
    let step = fleet.script(
        "step.sh",
        "echo \"$BACKSTOP_RUN_ID\" >> $DIR/log\nwhile [ ! -e $DIR/release-$BACKSTOP_RUN_ID ]; do sleep 0.02; done",
    );
    let mut executions = Vec::new();
    for trial in 0..trials {
        let run_id = format!("race-{trial}");
        let mut children: Vec<Child> = (0..racers)
            .map(|host| fleet.run(host, &run_id, 30_000, &step).spawn().unwrap())
            .collect();
        let mut losers = Vec::new();
        // Collect the racers that exit while the winner holds the lease.
        eventually("every racer but the winner exits", || {
            let mut i = 0;
            while i < children.len() {
                if children[i].try_wait().unwrap().is_some() {
                    losers.push(children.remove(i).wait_with_output().unwrap());
                } else {
                    i += 1;
                }
            }
            children.len() <= 1
        });
        std::fs::write(fleet.path(&format!("release-{run_id}")), "").unwrap();
        let winners: Vec<Output> = children
            .into_iter()
            .map(|c| c.wait_with_output().unwrap())
            .collect();
        assert_eq!(winners.len(), 1, "trial {trial}: nobody ran it");
        assert_eq!(
            winners[0].status.code(),
            Some(0),
            "{}",
            text(&winners[0].stderr)
        );
        for o in &losers {
            assert_eq!(
                o.status.code(),
                Some(73),
                "trial {trial}: {}",
                text(&o.stderr)
            );
            assert!(text(&o.stderr).contains("is being run by another backstop"));
        }
        let ran = fleet.lines("log").iter().filter(|l| **l == run_id).count();
        executions.push(ran);
        assert_eq!(ran, 1, "trial {trial}: executed {ran} times");
        assert_eq!(fleet.attempts(&run_id).len(), 1);
    }
    eprintln!(
        "fleet race: {trials} trials x {racers} racers, executions per trial: {executions:?}"
    );
}

#[test]
fn a_stalled_holder_is_taken_over_after_its_lease_and_its_late_writes_are_refused() {
    let _shared = SERVER.read().unwrap();
    let Some(fleet) = Fleet::new() else { return };
    let step = fleet.waiting_step();
    let lease_ms = 600;
    let holder = fleet.start_holder(lease_ms, &step);
    // Stalled, not dead: its pid is alive, so only the lease's expiry frees it.
    signal(&holder, libc::SIGSTOP);
    let stalled_at = Instant::now();
    let out = take_over(&fleet, lease_ms, &step);
    let takeover = stalled_at.elapsed();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("its lease expired"), "{err}");
    assert_fenced_out(&fleet, holder);
    eprintln!(
        "fleet takeover of a stalled holder (lease {lease_ms} ms): {takeover:?} after SIGSTOP"
    );
}

/// Runs host 1 until it is neither refused by the live lease (73) nor by a
/// row lock the stalled holder's open transaction keeps (74: the server ends
/// that session after the busy timeout).
fn take_over(fleet: &Fleet, lease_ms: u64, step: &str) -> Output {
    let mut successor = None;
    eventually("another host takes over", || {
        let out = fleet.run(1, "r1", lease_ms, step).output().unwrap();
        if matches!(out.status.code(), Some(73 | 74)) {
            return false;
        }
        successor = Some(out);
        true
    });
    successor.unwrap()
}

/// The stalled holder wakes up: its command was killed by the takeover, and
/// every write it tries carries the old epoch and is refused.
fn assert_fenced_out(fleet: &Fleet, holder: Child) {
    signal(&holder, libc::SIGCONT);
    let old = holder.wait_with_output().unwrap();
    let old_err = text(&old.stderr);
    assert_eq!(old.status.code(), Some(73), "{old_err}");
    assert!(old_err.contains("lost the lease"), "{old_err}");
    assert_eq!(
        fleet.attempts("r1"),
        [
            (1, Some("abandoned".into()), Some(1)),
            (2, Some("succeeded".into()), Some(2))
        ]
    );
    let status: String = fleet
        .client()
        .query_one("SELECT status FROM backstop.runs WHERE run_id = 'r1'", &[])
        .unwrap()
        .get(0);
    assert_eq!(status, "succeeded");
}

#[test]
fn a_holder_stopped_inside_a_transaction_is_ended_by_the_server_and_taken_over() {
    let _shared = SERVER.read().unwrap();
    let Some(fleet) = Fleet::new() else { return };
    let step = fleet.waiting_step();
    let lease_ms = 600;
    let holder = fleet.start_holder(lease_ms, &step);
    // Park its next lease renewal on a lock we hold, stop the process there,
    // then let the renewal's UPDATE through: its session is left idle inside
    // an open transaction, holding the run's row, with nobody to commit it.
    let mut watcher = fleet.client();
    let mut blocker = fleet.client();
    let mut lock = blocker.transaction().unwrap();
    lock.execute(
        "SELECT 1 FROM backstop.runs WHERE run_id = 'r1' FOR UPDATE",
        &[],
    )
    .unwrap();
    // (state, wait event type): ("active", "Lock") waits on our lock,
    // ("idle in transaction", "Client") waits for a client that is stopped.
    let backstop_sessions = |watcher: &mut postgres::Client, state: &str, waits: &str| -> i64 {
        watcher
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE application_name = 'backstop' AND datname = current_database()
                   AND state = $1 AND wait_event_type = $2",
                &[&state, &waits],
            )
            .unwrap()
            .get(0)
    };
    eventually("its renewal waits on our lock", || {
        backstop_sessions(&mut watcher, "active", "Lock") == 1
    });
    signal(&holder, libc::SIGSTOP);
    lock.commit().unwrap();
    eventually("its session sits idle in a transaction", || {
        backstop_sessions(&mut watcher, "idle in transaction", "Client") == 1
    });
    let stalled_at = Instant::now();
    let out = take_over(&fleet, lease_ms, &step);
    let takeover = stalled_at.elapsed();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("its lease expired"), "{err}");
    assert_eq!(
        backstop_sessions(&mut watcher, "idle in transaction", "Client"),
        0,
        "the stopped session was not ended"
    );
    assert_fenced_out(&fleet, holder);
    eprintln!("fleet takeover of a holder stopped inside a transaction: {takeover:?}");
}

#[test]
fn a_killed_holder_on_the_same_host_is_taken_over_at_once() {
    let _shared = SERVER.read().unwrap();
    let Some(fleet) = Fleet::new() else { return };
    let step = fleet.waiting_step();
    // A lease far longer than the test: only the dead pid can free it early.
    let mut holder = fleet.start_holder(600_000, &step);
    holder.kill().unwrap();
    holder.wait().unwrap();
    let killed_at = Instant::now();
    let out = fleet.run(1, "r1", 600_000, &step).output().unwrap();
    let takeover = killed_at.elapsed();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("its process is gone"), "{err}");
    assert_eq!(fleet.lines("log"), ["start 1", "start 2"]);
    eprintln!("fleet takeover of a SIGKILLed holder on the same host: {takeover:?}");
}

#[test]
fn a_database_restart_during_the_command_loses_no_success() {
    let _exclusive = SERVER.write().unwrap();
    let Some(fleet) = Fleet::new() else { return };
    let Ok(pg_dir) = std::env::var("BACKSTOP_TEST_PG_DIR") else {
        eprintln!("\n*** SKIPPED: BACKSTOP_TEST_PG_DIR is unset (tests/pg.sh sets it). ***\n");
        return;
    };
    let step = fleet.script(
        "step.sh",
        "echo ran >> $DIR/log\nwhile [ ! -e $DIR/go ]; do sleep 0.02; done",
    );
    let holder = fleet.run(0, "r1", 30_000, &step).spawn().unwrap();
    eventually("the command started", || !fleet.lines("log").is_empty());
    restart_server(Path::new(&pg_dir));
    std::fs::write(fleet.path("go"), "").unwrap();
    let out = holder.wait_with_output().unwrap();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let status: String = fleet
        .client()
        .query_one("SELECT status FROM backstop.runs WHERE run_id = 'r1'", &[])
        .unwrap()
        .get(0);
    assert_eq!(status, "succeeded", "{err}");
    let again = fleet.run(1, "r1", 30_000, &step).output().unwrap();
    assert_eq!(again.status.code(), Some(0));
    assert!(text(&again.stderr).contains("already succeeded"));
    assert_eq!(fleet.lines("log"), ["ran"]);
}

/// `pg_ctl restart` of the test server (as its owner when we are root).
fn restart_server(dir: &Path) {
    let bin = std::fs::read_to_string(dir.join("bin")).unwrap();
    let pg_ctl = format!("{}/pg_ctl", bin.trim());
    let data = dir.join("data");
    let mut cmd = if unsafe { libc::geteuid() } == 0 {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", &pg_ctl]);
        c
    } else {
        Command::new(&pg_ctl)
    };
    let out = cmd
        .args([
            "-D",
            data.to_str().unwrap(),
            "-m",
            "fast",
            "-w",
            "restart",
            "-l",
        ])
        .arg(dir.join("server.log"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "pg_ctl restart: {}",
        text(&out.stderr)
    );
}
