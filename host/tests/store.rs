//! The state store's contract, run against both backends: SQLite (a file in
//! a temp dir) and PostgreSQL (a fresh database per test on the server named
//! by BACKSTOP_TEST_PG_URL, which tests/run-rust.sh starts). Leases and their
//! fencing, takeover, reruns, atomic shared state, serialised alert
//! evaluation, schema versions; then SQLite's own file defects.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use backstop::alerts::{KeyedState, NeededKeys};
use backstop::store::AlertWriter;
use backstop::store::{
    Acquired, AlertLogRow, Delivery, Fence, Grant, LeaseLost, Outgoing, Owner, PG_SCHEMA_VERSION,
    RunKey, SCHEMA_VERSION, Store, StoreError, StoreErrorKind, StoredPolicy,
};
use backstop::{Classification, Decision, FailureClass, Permit, RetryState, SharedState};

const BUSY: Duration = Duration::from_secs(10);
const LONG: u64 = 600_000;

/// One backend's database for one test.
struct Db {
    state: PathBuf,
    _dir: Option<tempfile::TempDir>,
    pg: bool,
}

fn sqlite() -> Db {
    let dir = tempfile::tempdir().unwrap();
    Db {
        state: dir.path().join("state.db"),
        _dir: Some(dir),
        pg: false,
    }
}

/// A fresh database on the test server, or `None` (with a loud message) when
/// BACKSTOP_TEST_PG_URL is unset.
fn postgres() -> Option<Db> {
    let url = pg_database()?;
    Some(Db {
        state: PathBuf::from(url),
        _dir: None,
        pg: true,
    })
}

/// Create an empty database on the test server; its URL.
pub fn pg_database() -> Option<String> {
    let Ok(base) = std::env::var("BACKSTOP_TEST_PG_URL") else {
        eprintln!(
            "\n*** SKIPPED: BACKSTOP_TEST_PG_URL is unset, so this PostgreSQL test did not run. \
             tests/run-rust.sh starts a server (tests/pg.sh); run it, or \
             eval \"$(tests/pg.sh start)\" first. ***\n"
        );
        return None;
    };
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "t_{}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos()
    );
    let mut client = postgres::Client::connect(&base, postgres::NoTls)
        .expect("the test PostgreSQL server (BACKSTOP_TEST_PG_URL) is reachable");
    client
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .unwrap();
    let cut = base.rfind('/').unwrap();
    Some(format!("{}/{name}", &base[..cut]))
}

impl Db {
    fn open(&self) -> Store {
        Store::open(&self.state, BUSY).unwrap()
    }

    fn sql(&self, sql: &str) {
        if self.pg {
            let mut c =
                postgres::Client::connect(self.state.to_str().unwrap(), postgres::NoTls).unwrap();
            c.batch_execute(sql).unwrap();
        } else {
            let c = rusqlite::Connection::open(&self.state).unwrap();
            c.execute_batch(sql).unwrap();
        }
    }
}

/// Every test, once per backend.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(#[test] fn $name() { super::$name(&super::sqlite()); })*
        }
        mod postgres_backend {
            $(#[test] fn $name() {
                if let Some(db) = super::postgres() { super::$name(&db); }
            })*
        }
    };
}

both!(
    the_schema_is_created_once_and_reopened,
    a_newer_schema_is_refused,
    a_foreign_database_is_refused,
    a_live_lease_is_exclusive,
    an_expired_lease_is_taken_over_and_the_old_holder_is_fenced,
    a_dead_holder_on_this_machine_is_taken_over_at_once,
    a_succeeded_run_is_not_granted_again_unless_rerun,
    recording_a_success_twice_is_harmless,
    shared_state_updates_are_never_lost,
    alert_evaluations_of_one_key_serialise,
    keyed_alert_evaluations_serialise_and_read_only_their_shards,
    concurrent_acquires_grant_one_lease,
    stats_count_runs_and_attempts,
    outbox_rows_are_claimed_by_one_sender_and_reclaimed_after_a_crash,
    a_failed_attempt_and_its_alert_commit_together,
    an_alert_error_inside_the_attempt_s_write_keeps_the_attempt,
    a_resolve_waits_for_its_trigger_and_dead_letters_come_back,
);

fn key(run_id: &str) -> RunKey<'_> {
    RunKey {
        run_id,
        step: "main",
    }
}

fn owner(n: u64) -> String {
    Owner::this_process("test-host", n).to_string()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

fn grant(a: Acquired) -> Grant {
    match a {
        Acquired::Granted(g) => g,
        other => panic!("expected a grant, got {other:?}"),
    }
}

fn permit(state: &RetryState, shared: &SharedState) -> Permit {
    Permit {
        refused: None,
        attempt: state.attempts + 1,
        timeout_ms: None,
        retry_after_ms: 0,
        probe: false,
        state: RetryState {
            attempts: state.attempts + 1,
            ..*state
        },
        shared: *shared,
    }
}

/// One attempt, begun and ended as a success.
fn succeed(store: &mut Store, k: RunKey<'_>, g: &Grant) -> anyhow::Result<()> {
    let p = store.begin_attempt(
        k,
        &g.fence,
        g.round,
        "h",
        now(),
        0,
        |_| 1,
        |s, sh| Ok(permit(s, sh)),
    )?;
    store.finish_success(k, &g.fence, g.round, p.attempt, now(), |sh| Ok(*sh))
}

fn is_lease_lost(e: &anyhow::Error) -> bool {
    e.downcast_ref::<LeaseLost>().is_some()
}

fn the_schema_is_created_once_and_reopened(db: &Db) {
    let mut a = db.open();
    let g = grant(
        a.acquire(key("r"), &owner(1), now(), LONG, 7, false)
            .unwrap(),
    );
    assert_eq!(g.fence.epoch, 1);
    assert_eq!(g.state.seed, 7);
    drop(a);
    // Reopening finds the schema and the row; nothing is recreated.
    let mut b = db.open();
    match b
        .acquire(key("r"), &owner(2), now(), LONG, 7, false)
        .unwrap()
    {
        Acquired::Held { owner: o, .. } => assert_eq!(o, owner(1)),
        other => panic!("{other:?}"),
    }
    let existing = Store::open_existing(&db.state, BUSY).unwrap();
    assert!(existing.is_some());
}

fn a_newer_schema_is_refused(db: &Db) {
    drop(db.open());
    if db.pg {
        db.sql("UPDATE backstop.schema_version SET version = 99");
    } else {
        db.sql("PRAGMA user_version = 99");
    }
    let err = Store::open(&db.state, BUSY).err().expect("refused");
    let store_err = err.downcast_ref::<StoreError>().expect("a StoreError");
    let known = if db.pg {
        PG_SCHEMA_VERSION
    } else {
        SCHEMA_VERSION
    };
    assert!(
        matches!(store_err.kind, StoreErrorKind::TooNew(99, k) if k == known),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(&format!("newer than this backstop's {known}"))
    );
    // The read-only path refuses it too.
    assert!(Store::open_existing(&db.state, BUSY).is_err());
}

fn a_foreign_database_is_refused(db: &Db) {
    if db.pg {
        db.sql("CREATE SCHEMA backstop; CREATE TABLE backstop.photos (id int)");
    } else {
        db.sql("CREATE TABLE photos (id INTEGER)");
    }
    let err = Store::open(&db.state, BUSY).err().expect("refused");
    assert!(
        err.to_string().contains("not a backstop state database"),
        "{err}"
    );
}

fn a_live_lease_is_exclusive(db: &Db) {
    let mut a = db.open();
    let mut b = db.open();
    let g = grant(
        a.acquire(key("r"), &owner(1), now(), LONG, 0, false)
            .unwrap(),
    );
    match b
        .acquire(key("r"), &owner(2), now(), LONG, 0, false)
        .unwrap()
    {
        Acquired::Held { owner: o, .. } => assert_eq!(o, owner(1)),
        other => panic!("{other:?}"),
    }
    assert!(a.renew(key("r"), &g.fence, now(), LONG).unwrap());
    // Another run id is independent.
    grant(
        b.acquire(key("other"), &owner(2), now(), LONG, 0, false)
            .unwrap(),
    );
}

fn an_expired_lease_is_taken_over_and_the_old_holder_is_fenced(db: &Db) {
    let mut a = db.open();
    let mut b = db.open();
    // A zero-length lease has expired by the next look at the clock.
    let old = grant(a.acquire(key("r"), &owner(1), now(), 0, 0, false).unwrap());
    let p = a
        .begin_attempt(
            key("r"),
            &old.fence,
            old.round,
            "h",
            now(),
            0,
            |_| 1,
            |s, sh| Ok(permit(s, sh)),
        )
        .unwrap();
    std::thread::sleep(Duration::from_millis(5));
    let new = grant(
        b.acquire(key("r"), &owner(2), now(), LONG, 0, false)
            .unwrap(),
    );
    assert!(new.resumed);
    assert_eq!(new.fence.epoch, old.fence.epoch + 1);
    assert_eq!(
        new.abandoned.len(),
        1,
        "the old attempt is marked abandoned"
    );
    assert_eq!(new.state.attempts, 1, "the attempt count continues");
    // Every late write of the old holder is refused; the successor's stand.
    assert!(!a.renew(key("r"), &old.fence, now(), LONG).unwrap());
    let e = a
        .finish_success(key("r"), &old.fence, old.round, p.attempt, now(), |sh| {
            Ok(*sh)
        })
        .unwrap_err();
    assert!(is_lease_lost(&e), "{e:#}");
    let e = a
        .begin_attempt(
            key("r"),
            &old.fence,
            old.round,
            "h",
            now(),
            0,
            |_| 1,
            |s, sh| Ok(permit(s, sh)),
        )
        .unwrap_err();
    assert!(is_lease_lost(&e), "{e:#}");
    let e = a
        .interrupt(key("r"), &old.fence, old.round, Some(1), now(), "SIGTERM")
        .unwrap_err();
    assert!(is_lease_lost(&e), "{e:#}");
    // The same owner string with the old epoch is refused too: the epoch fences.
    let stale = Fence {
        owner: new.fence.owner.clone(),
        epoch: old.fence.epoch,
    };
    assert!(!b.renew(key("r"), &stale, now(), LONG).unwrap());
    succeed(&mut b, key("r"), &new).unwrap();
    match a
        .acquire(key("r"), &owner(3), now(), LONG, 0, false)
        .unwrap()
    {
        Acquired::AlreadySucceeded { attempt, .. } => assert_eq!(attempt, Some(2)),
        other => panic!("{other:?}"),
    }
}

fn a_dead_holder_on_this_machine_is_taken_over_at_once(db: &Db) {
    let mut a = db.open();
    // A pid that has certainly exited: a child we started and reaped.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead_pid = child.id();
    child.wait().unwrap();
    let mut dead = Owner::parse(&owner(1)).unwrap();
    dead.pid = dead_pid;
    grant(
        a.acquire(key("r"), &dead.to_string(), now(), LONG, 0, false)
            .unwrap(),
    );
    let g = grant(
        a.acquire(key("r"), &owner(2), now(), LONG, 0, false)
            .unwrap(),
    );
    assert!(g.resumed && g.holder_dead);
    // A holder on another machine (or pid namespace) is never judged dead early.
    let mut remote = Owner::parse(&owner(3)).unwrap();
    remote.pid = dead_pid;
    remote.machine = "another-boot/1".into();
    grant(
        a.acquire(key("s"), &remote.to_string(), now(), LONG, 0, false)
            .unwrap(),
    );
    assert!(matches!(
        a.acquire(key("s"), &owner(4), now(), LONG, 0, false)
            .unwrap(),
        Acquired::Held { .. }
    ));
}

fn a_succeeded_run_is_not_granted_again_unless_rerun(db: &Db) {
    let mut s = db.open();
    let g = grant(
        s.acquire(key("r"), &owner(1), now(), LONG, 0, false)
            .unwrap(),
    );
    succeed(&mut s, key("r"), &g).unwrap();
    assert!(matches!(
        s.acquire(key("r"), &owner(2), now(), LONG, 0, false)
            .unwrap(),
        Acquired::AlreadySucceeded { .. }
    ));
    let again = grant(
        s.acquire(key("r"), &owner(2), now(), LONG, 0, true)
            .unwrap(),
    );
    assert!(again.restarted);
    assert_eq!(again.round, 2);
    assert_eq!(again.state.attempts, 0);
    assert!(again.fence.epoch > g.fence.epoch);
}

fn recording_a_success_twice_is_harmless(db: &Db) {
    let mut s = db.open();
    let g = grant(
        s.acquire(key("r"), &owner(1), now(), LONG, 0, false)
            .unwrap(),
    );
    let p = s
        .begin_attempt(
            key("r"),
            &g.fence,
            g.round,
            "h",
            now(),
            0,
            |_| 1,
            |st, sh| Ok(permit(st, sh)),
        )
        .unwrap();
    let mut calls = 0;
    for _ in 0..2 {
        s.finish_success(key("r"), &g.fence, g.round, p.attempt, now(), |sh| {
            calls += 1;
            Ok(*sh)
        })
        .unwrap();
    }
    assert_eq!(calls, 1, "the retried commit found the success recorded");
}

fn shared_state_updates_are_never_lost(db: &Db) {
    drop(db.open());
    let threads = 6;
    let per_thread = 5;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let state = db.state.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut s = Store::open(&state, BUSY).unwrap();
                barrier.wait();
                for i in 0..per_thread {
                    let run = format!("r{t}-{i}");
                    let g = grant(
                        s.acquire(key(&run), &owner(t as u64), now(), LONG, 0, false)
                            .unwrap(),
                    );
                    let p = s
                        .begin_attempt(
                            key(&run),
                            &g.fence,
                            1,
                            "h",
                            now(),
                            0,
                            |_| 1,
                            |st, sh| Ok(permit(st, sh)),
                        )
                        .unwrap();
                    // Read-modify-write of the step's shared row.
                    s.finish_success(key(&run), &g.fence, 1, p.attempt, now(), |sh| {
                        let mut next = *sh;
                        next.breaker.probes_succeeded += 1;
                        Ok(next)
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let count = shared_counter(db);
    assert_eq!(count, (threads * per_thread) as u64);
}

fn shared_counter(db: &Db) -> u64 {
    let text: String = if db.pg {
        let mut c = postgres::Client::connect(db.state.to_str().unwrap(), postgres::NoTls).unwrap();
        c.query_one(
            "SELECT state FROM backstop.shared_state WHERE step = 'main'",
            &[],
        )
        .unwrap()
        .get(0)
    } else {
        rusqlite::Connection::open(&db.state)
            .unwrap()
            .query_row(
                "SELECT state FROM shared_state WHERE step = 'main'",
                [],
                |r| r.get(0),
            )
            .unwrap()
    };
    let shared: SharedState = serde_json::from_str(&text).unwrap();
    u64::from(shared.breaker.probes_succeeded)
}

fn alert_evaluations_of_one_key_serialise(db: &Db) {
    drop(db.open());
    let threads = 6;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let state = db.state.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut s = Store::open(&state, BUSY).unwrap();
                barrier.wait();
                // The "evaluation" pages only when the state says nothing was
                // sent: the first evaluation sends, every later one sees it.
                let (_, sent) = s
                    .update_alerts("pipeline/main", &StoredPolicy::default(), now(), |prev| {
                        std::thread::sleep(Duration::from_millis(20));
                        let sent = prev.is_empty();
                        let next = if sent {
                            format!("paged by {t}")
                        } else {
                            prev.to_string()
                        };
                        Ok((next, Vec::new(), sent))
                    })
                    .unwrap();
                sent
            })
        })
        .collect();
    let pages = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|&sent| sent)
        .count();
    assert_eq!(
        pages, 1,
        "one page for one failure seen by {threads} replicas"
    );
    let rows = db.open().alert_states().unwrap();
    assert_eq!(rows.len(), 1);
    assert!(rows[0].state.starts_with("paged by "));
}

fn keyed(key: &str, state: &str, wakeup: Option<u64>) -> KeyedState {
    KeyedState {
        key: key.into(),
        state: state.into(),
        next_wakeup_ms: wakeup,
    }
}

fn keyed_alert_evaluations_serialise_and_read_only_their_shards(db: &Db) {
    drop(db.open());
    let threads = 6;
    let barrier = Arc::new(Barrier::new(threads));
    let needed = NeededKeys {
        keys: vec!["step-a".into()],
        every_key: false,
    };
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let state = db.state.clone();
            let barrier = Arc::clone(&barrier);
            let needed = needed.clone();
            std::thread::spawn(move || {
                let mut s = Store::open(&state, BUSY).unwrap();
                barrier.wait();
                // Pages only when the shard says nothing was sent yet.
                let (_, sent) = s
                    .update_alert_keys("p", &StoredPolicy::default(), now(), &needed, |shards| {
                        std::thread::sleep(Duration::from_millis(20));
                        let sent = shards.is_empty();
                        let next = if sent {
                            vec![keyed("step-a", &format!("paged by {t}"), None)]
                        } else {
                            Vec::new()
                        };
                        Ok((next, Vec::new(), sent))
                    })
                    .unwrap();
                sent
            })
        })
        .collect();
    let pages = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|&sent| sent)
        .count();
    assert_eq!(
        pages, 1,
        "one page for one failure seen by {threads} replicas"
    );

    let mut s = db.open();
    let t = now();
    // Two more shards: one due, one not; a third event sees step-a, the due
    // one and nothing else, then deletes step-a.
    s.update_alert_keys(
        "p",
        &StoredPolicy::default(),
        t,
        &NeededKeys::default(),
        |_| {
            Ok((
                vec![
                    keyed("step-b", "due", Some(t - 1)),
                    keyed("step-c", "later", Some(t + LONG)),
                ],
                Vec::new(),
                (),
            ))
        },
    )
    .unwrap();
    let (_, seen) = s
        .update_alert_keys("p", &StoredPolicy::default(), t, &needed, |shards| {
            let mut seen: Vec<String> = shards.iter().map(|s| s.key.clone()).collect();
            seen.sort();
            Ok((vec![keyed("step-a", "", None)], Vec::new(), seen))
        })
        .unwrap();
    assert_eq!(seen, ["step-a", "step-b"]);
    let keys: Vec<String> = s
        .alert_shards()
        .unwrap()
        .into_iter()
        .map(|r| r.state_key)
        .collect();
    assert_eq!(keys, ["step-b", "step-c"]);
    assert_eq!(s.alert_next_wakeup("p").unwrap(), Some(t - 1));
    // A whole-document state from before keys comes in under "" and, once
    // returned empty, is gone from the policy key's row.
    s.update_alerts("q", &StoredPolicy::default(), t, |_| {
        Ok(("{\"version\":1}".to_string(), Vec::new(), ()))
    })
    .unwrap();
    let (_, legacy) = s
        .update_alert_keys(
            "q",
            &StoredPolicy::default(),
            t,
            &NeededKeys::default(),
            |shards| Ok((vec![keyed("", "", None)], Vec::new(), shards.to_vec())),
        )
        .unwrap();
    assert_eq!(legacy, [keyed("", "{\"version\":1}", None)]);
    let rows = s.alert_states().unwrap();
    assert!(rows.iter().all(|r| r.state.is_empty()), "{rows:?}");
}

fn concurrent_acquires_grant_one_lease(db: &Db) {
    drop(db.open());
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let state = db.state.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut s = Store::open(&state, BUSY).unwrap();
                barrier.wait();
                matches!(
                    s.acquire(key("r"), &owner(t as u64), now(), LONG, 0, false)
                        .unwrap(),
                    Acquired::Granted(_)
                )
            })
        })
        .collect();
    let granted = handles
        .into_iter()
        .map(|h| h.join().unwrap())
        .filter(|&g| g)
        .count();
    assert_eq!(granted, 1);
}

fn stats_count_runs_and_attempts(db: &Db) {
    let mut s = db.open();
    for run in ["a", "b"] {
        let g = grant(
            s.acquire(key(run), &owner(1), now(), LONG, 0, false)
                .unwrap(),
        );
        succeed(&mut s, key(run), &g).unwrap();
    }
    grant(
        s.acquire(key("c"), &owner(1), now(), LONG, 0, false)
            .unwrap(),
    );
    let stats = s.stats().unwrap();
    assert_eq!(stats.len(), 1);
    let m = &stats[0];
    assert_eq!((m.runs, m.succeeded, m.running, m.attempts), (3, 2, 1, 2));
}

// ------------------------------------------------------------ SQLite's own

fn state_in(dir: &Path) -> PathBuf {
    dir.join("state.db")
}

#[test]
fn sqlite_an_empty_file_is_refused_not_reinitialised() {
    let dir = tempfile::tempdir().unwrap();
    let path = state_in(dir.path());
    std::fs::write(&path, b"").unwrap();
    let err = Store::open(&path, BUSY).err().expect("refused");
    assert!(err.to_string().contains("is empty (0 bytes)"), "{err}");
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0, "left untouched");
    assert!(Store::open_existing(&path, BUSY).is_err());
}

#[test]
fn sqlite_concurrent_first_opens_never_see_a_foreign_database() {
    for _ in 0..40 {
        let dir = tempfile::tempdir().unwrap();
        let path = state_in(dir.path());
        let barrier = Arc::new(Barrier::new(6));
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let (path, barrier) = (path.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    barrier.wait();
                    Store::open(&path, BUSY)
                        .map(|_| ())
                        .map_err(|e| e.to_string())
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap().unwrap();
        }
        // No temporary file is left beside it.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".new"))
            .collect();
        assert!(names.is_empty(), "{names:?}");
    }
}

#[test]
fn sqlite_a_version_2_file_is_migrated_keeping_its_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = state_in(dir.path());
    {
        let c = rusqlite::Connection::open(&path).unwrap();
        c.execute_batch(include_str!("data/state-v2.sql")).unwrap();
    }
    let mut s = Store::open(&path, BUSY).unwrap();
    match s
        .acquire(key("old-run"), &owner(1), now(), LONG, 0, false)
        .unwrap()
    {
        Acquired::AlreadySucceeded { attempt, .. } => assert_eq!(attempt, Some(1)),
        other => panic!("{other:?}"),
    }
    let version: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
}

// ------------------------------------------------------------ cost

/// Not a test: the cost of one successful run's state writes (acquire,
/// begin_attempt, record_process, finish_success) per backend. Run with
/// `cargo test -p backstop --release --test store -- --ignored --nocapture cost`.
#[test]
#[ignore]
fn cost_of_one_runs_state_writes() {
    let mut backends = vec![("sqlite", sqlite())];
    if let Some(pg) = postgres() {
        backends.push(("postgres", pg));
    }
    for (name, db) in &backends {
        let mut s = db.open();
        let runs = 200;
        let start = std::time::Instant::now();
        for i in 0..runs {
            let run = format!("bench-{i}");
            let g = grant(
                s.acquire(key(&run), &owner(1), now(), LONG, 0, false)
                    .unwrap(),
            );
            let p = s
                .begin_attempt(
                    key(&run),
                    &g.fence,
                    1,
                    "h",
                    now(),
                    0,
                    |_| 1,
                    |st, sh| Ok(permit(st, sh)),
                )
                .unwrap();
            s.record_process(key(&run), &g.fence, 1, p.attempt, 1, None)
                .unwrap();
            s.finish_success(key(&run), &g.fence, 1, p.attempt, now(), |sh| Ok(*sh))
                .unwrap();
        }
        let per = start.elapsed() / runs;
        eprintln!("{name}: one run's state writes (4 transactions): {per:?}");
    }
}

/// Queue `n` notifications (kind, dedup key) for sink 0 in one evaluation.
fn enqueue(db: &Db, kinds: &[(&str, &str)]) {
    let mut s = db.open();
    s.update_alerts("p", &StoredPolicy::default(), now(), |_| {
        let rows = kinds
            .iter()
            .map(|(kind, key)| AlertLogRow {
                at_ms: now(),
                kind: kind.to_string(),
                severity: "high".into(),
                rule: "r".into(),
                dedup_key: key.to_string(),
                targets: "[]".into(),
                summary: String::new(),
                sink: "file:x".into(),
                outbox: Some(Outgoing {
                    sink_index: 0,
                    body: format!("{{\"kind\":\"{kind}\",\"dedup_key\":\"{key}\"}}"),
                }),
            })
            .collect();
        Ok(("{}".to_string(), rows, ()))
    })
    .unwrap();
}

fn outbox_rows_are_claimed_by_one_sender_and_reclaimed_after_a_crash(db: &Db) {
    let keys: Vec<String> = (0..40).map(|i| format!("k{i}")).collect();
    let kinds: Vec<(&str, &str)> = keys.iter().map(|k| ("trigger", k.as_str())).collect();
    enqueue(db, &kinds);
    // Four senders claim concurrently: every row exactly once.
    let threads = 4;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let state = db.state.clone();
            let barrier = Arc::clone(&barrier);
            std::thread::spawn(move || {
                let mut s = Store::open(&state, BUSY).unwrap();
                barrier.wait();
                let mut mine = Vec::new();
                loop {
                    let rows = s.claim_outbox(&format!("s{t}"), now(), LONG, 3).unwrap();
                    if rows.is_empty() {
                        break;
                    }
                    mine.extend(rows.iter().map(|r| r.dedup_key.clone()));
                }
                mine
            })
        })
        .collect();
    let mut claimed: Vec<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    claimed.sort();
    let mut expected = keys.clone();
    expected.sort();
    assert_eq!(claimed, expected, "each row claimed exactly once");
    let mut s = db.open();
    for r in s.outbox(false).unwrap() {
        s.finish_outbox(r.id, "any", now(), &Delivery::Delivered)
            .unwrap();
    }
    assert!(s.outbox(false).unwrap().is_empty());
    assert_eq!(s.outbox(true).unwrap().len(), 40);
    // A sender that dies holding a claim: nobody else gets the row until the
    // claim expires; then it comes back with the same body and dedup key.
    enqueue(db, &[("trigger", "z")]);
    let held = s.claim_outbox("dead", now(), 200, 10).unwrap();
    assert_eq!(held.len(), 1);
    assert!(s.claim_outbox("next", now(), LONG, 10).unwrap().is_empty());
    std::thread::sleep(Duration::from_millis(300));
    let again = s.claim_outbox("next", now(), LONG, 10).unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!((again[0].id, again[0].tries), (held[0].id, 2));
    assert_eq!(again[0].body, held[0].body);
    s.finish_outbox(again[0].id, "next", now(), &Delivery::Delivered)
        .unwrap();
    assert!(s.outbox(false).unwrap().is_empty());
}

fn a_resolve_waits_for_its_trigger_and_dead_letters_come_back(db: &Db) {
    enqueue(db, &[("trigger", "a"), ("resolve", "a"), ("trigger", "b")]);
    let mut s = db.open();
    let first = s.claim_outbox("s", now(), 200, 10).unwrap();
    let got: Vec<(&str, &str)> = first
        .iter()
        .map(|r| (r.kind.as_str(), r.dedup_key.as_str()))
        .collect();
    // The resolve of `a` waits while its trigger is undelivered.
    assert_eq!(got, [("trigger", "a"), ("trigger", "b")]);
    let error = "HTTP 400".to_string();
    s.finish_outbox(first[0].id, "s", now(), &Delivery::Dead { error })
        .unwrap();
    s.finish_outbox(
        first[1].id,
        "s",
        now(),
        &Delivery::Retry {
            due_in_ms: LONG,
            retry_state: "{}".into(),
            error: "HTTP 503".into(),
        },
    )
    .unwrap();
    // A dead trigger no longer holds its resolve back; the retry is not due.
    let next = s.claim_outbox("s", now(), 200, 10).unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].kind, "resolve");
    // Another sender's late mark of a row it no longer holds is ignored.
    s.finish_outbox(
        next[0].id,
        "other",
        now(),
        &Delivery::Dead { error: "x".into() },
    )
    .unwrap();
    assert_eq!(
        s.outbox(false)
            .unwrap()
            .iter()
            .filter(|r| r.dead_at_ms.is_some())
            .count(),
        1
    );
    assert_eq!(s.redeliver_dead(None, now()).unwrap(), 1);
    std::thread::sleep(Duration::from_millis(300));
    // The redelivered trigger is due again, and its resolve (whose claim
    // expired) waits behind it once more.
    let back = s.claim_outbox("s2", now(), LONG, 10).unwrap();
    let kinds: Vec<&str> = back.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds, ["trigger"], "{back:?}");
    assert_eq!(back[0].tries, 1, "a redelivered dead letter starts afresh");
    s.finish_outbox(back[0].id, "s2", now(), &Delivery::Delivered)
        .unwrap();
    let last = s.claim_outbox("s2", now(), LONG, 10).unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(
        (last[0].kind.as_str(), last[0].dedup_key.as_str()),
        ("resolve", "a")
    );
}

/// The Python, Go and Node stores create PostgreSQL's version-3 tables (the
/// DDL in tests/postgres/schema-v3.sql) and refuse a newer version: the CLI
/// adds its outbox to such a database without changing the version.
#[test]
fn postgres_a_version_3_schema_from_another_host_gets_the_outbox_and_stays_3() {
    let Some(url) = pg_database() else { return };
    let ddl = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/postgres/schema-v3.sql"
    ))
    .unwrap();
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    c.batch_execute(&format!(
        "CREATE SCHEMA backstop; SET search_path TO backstop; {ddl};
         CREATE TABLE backstop.schema_version (version BIGINT NOT NULL);
         INSERT INTO backstop.schema_version VALUES (3);"
    ))
    .unwrap();
    let mut s = Store::open(Path::new(&url), BUSY).unwrap();
    assert!(s.claim_outbox("x", now(), LONG, 1).unwrap().is_empty());
    let version: i64 = c
        .query_one("SELECT max(version) FROM backstop.schema_version", &[])
        .unwrap()
        .get(0);
    assert_eq!(version, PG_SCHEMA_VERSION);
    assert_eq!(
        PG_SCHEMA_VERSION, 3,
        "the other hosts' stores refuse any other"
    );
}

// ------------------------------------------------- attempt + alert, one tx

/// The planner's answer to a failed attempt: retry, or give up.
fn decision(state: &RetryState, shared: &SharedState, give_up: bool) -> Decision {
    Decision {
        give_up: give_up.then_some(backstop::GiveUpReason::AttemptsExhausted),
        delay_ms: 10,
        attempt: state.attempts,
        next_timeout_ms: None,
        classification: Classification {
            class: FailureClass::Transient,
            rule: None,
            reason: String::new(),
        },
        explanation: "test".into(),
        state: *state,
        shared: *shared,
    }
}

/// One trigger to one sink, as an evaluation would log and queue it.
fn page(key: &str) -> AlertLogRow {
    AlertLogRow {
        at_ms: now(),
        kind: "trigger".into(),
        severity: "high".into(),
        rule: "r".into(),
        dedup_key: key.into(),
        targets: "[]".into(),
        summary: String::new(),
        sink: "file:x".into(),
        outbox: Some(Outgoing {
            sink_index: 0,
            body: format!("{{\"dedup_key\":\"{key}\"}}"),
        }),
    }
}

/// Start attempt 1 of `run` under a fresh lease; its grant and permit.
fn started(s: &mut Store, run: &str) -> (Grant, Permit) {
    let g = grant(
        s.acquire(key(run), &owner(1), now(), LONG, 0, false)
            .unwrap(),
    );
    let p = s
        .begin_attempt(
            key(run),
            &g.fence,
            g.round,
            "h",
            now(),
            0,
            |_| 1,
            |st, sh| Ok(permit(st, sh)),
        )
        .unwrap();
    (g, p)
}

fn count(db: &Db, sql: &str) -> i64 {
    if db.pg {
        let mut c = postgres::Client::connect(db.state.to_str().unwrap(), postgres::NoTls).unwrap();
        c.query_one(&sql.replace("T.", "backstop."), &[])
            .unwrap()
            .get(0)
    } else {
        rusqlite::Connection::open(&db.state)
            .unwrap()
            .query_row(&sql.replace("T.", ""), [], |r| r.get(0))
            .unwrap()
    }
}

fn a_failed_attempt_and_its_alert_commit_together(db: &Db) {
    let mut s = db.open();
    let (g, p) = started(&mut s, "r");
    let policy = StoredPolicy::default();
    let committed = s
        .finish_failure_with(
            key("r"),
            &g.fence,
            g.round,
            p.attempt,
            now(),
            &Default::default(),
            3,
            |st, sh| Ok(decision(st, sh, true)),
            |within, _| {
                within
                    .update_alerts("p", &policy, now(), |_| {
                        Ok(("{}".to_string(), vec![page("k1")], ()))
                    })
                    .map(|_| ())
            },
        )
        .map(|_| ());
    assert!(committed.is_ok(), "{committed:?}");
    // Both committed: the attempt's decision and the page with its outbox row.
    assert_eq!(
        count(
            db,
            "SELECT count(*) FROM T.attempts WHERE decision = 'give-up'"
        ),
        1
    );
    assert_eq!(count(db, "SELECT count(*) FROM T.alert_log"), 1);
    assert_eq!(count(db, "SELECT count(*) FROM T.alert_outbox"), 1);
    // The lease was freed by the give-up, in the same transaction.
    assert!(matches!(
        s.acquire(key("r"), &owner(2), now(), LONG, 0, false)
            .unwrap(),
        Acquired::Granted(_)
    ));
    // A stale fence refuses the attempt and so writes no alert either.
    let before = count(db, "SELECT count(*) FROM T.alert_log");
    let stale = s.finish_failure_with(
        key("r"),
        &g.fence,
        g.round,
        p.attempt,
        now(),
        &Default::default(),
        3,
        |st, sh| Ok(decision(st, sh, true)),
        |within, _| {
            within
                .update_alerts("p", &policy, now(), |_| {
                    Ok(("{}".to_string(), vec![page("k2")], ()))
                })
                .map(|_| ())
        },
    );
    assert!(stale.unwrap_err().downcast_ref::<LeaseLost>().is_some());
    assert_eq!(count(db, "SELECT count(*) FROM T.alert_log"), before);
}

fn an_alert_error_inside_the_attempt_s_write_keeps_the_attempt(db: &Db) {
    let mut s = db.open();
    let (g, p) = started(&mut s, "r");
    let (decision_, alert) = s
        .finish_failure_with(
            key("r"),
            &g.fence,
            g.round,
            p.attempt,
            now(),
            &Default::default(),
            3,
            |st, sh| Ok(decision(st, sh, false)),
            |within, _| {
                // The guest fails after the state row was locked and read:
                // the alert part is undone (savepoint), the attempt is not.
                Ok(
                    within.update_alerts("p", &StoredPolicy::default(), now(), |_| {
                        anyhow::bail!("alert state over its cap");
                        #[allow(unreachable_code)]
                        Ok((String::new(), Vec::new(), ()))
                    }),
                )
            },
        )
        .unwrap();
    assert!(decision_.give_up.is_none());
    assert!(format!("{:#}", alert.unwrap_err()).contains("over its cap"));
    assert_eq!(
        count(
            db,
            "SELECT count(*) FROM T.attempts WHERE decision = 'retry'"
        ),
        1
    );
    assert_eq!(count(db, "SELECT count(*) FROM T.alert_log"), 0);
    // The transaction went on after the rollback to the savepoint: a second
    // evaluation in it commits.
    let p2 = s
        .begin_attempt(
            key("r"),
            &g.fence,
            1,
            "h",
            now(),
            0,
            |_| 1,
            |st, sh| Ok(permit(st, sh)),
        )
        .unwrap();
    let (_, ids) = s
        .finish_failure_with(
            key("r"),
            &g.fence,
            g.round,
            p2.attempt,
            now(),
            &Default::default(),
            3,
            |st, sh| Ok(decision(st, sh, false)),
            |within, _| {
                let _ = within.update_alerts::<()>("p", &StoredPolicy::default(), now(), |_| {
                    anyhow::bail!("first evaluation fails")
                });
                within
                    .update_alerts("p", &StoredPolicy::default(), now(), |_| {
                        Ok(("{}".to_string(), vec![page("k3")], ()))
                    })
                    .map(|(ids, ())| ids)
            },
        )
        .unwrap();
    assert_eq!(ids.len(), 1);
    assert_eq!(count(db, "SELECT count(*) FROM T.alert_log"), 1);
    assert_eq!(count(db, "SELECT count(*) FROM T.alert_outbox"), 1);
}
