//! `backstop run --one-attempt` as Kubernetes / Argo pods run it: every
//! invocation in a fresh, empty working directory, sharing only the state
//! store (a SQLite file, and PostgreSQL when BACKSTOP_TEST_PG_URL is set).
//! Checks the exit statuses, that each invocation waits out the delay the
//! previous one planned (lower bounds only, measured with the clock), the
//! permanent and gave-up statuses, and that a succeeded run id is not run again.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

// The statuses documented in `backstop run --help` (host/src/cli/exit.rs).
const RETRY_ME: i32 = 75;
const PERMANENT: i32 = 65;
const GAVE_UP: i32 = 66;

/// Waits of 1 s then 2 s (no jitter): far above a quick step's run time,
/// so an invocation that did not wait cannot pass the lower bounds.
const POLICY: &str = r#"
version = 1

[[classify.rules]]
id = "throttled"
class = "transient"
message = ["(?i)slow ?down"]

[[classify.rules]]
id = "gone"
class = "permanent"
message = ["(?i)404 not found"]

[retry]
max_attempts = 4
base_delay = "1s"
multiplier = 2
max_delay = "10s"
jitter = "none"
"#;

/// What the pods share: the state store, the policy and the step's script
/// (the "image"), and a directory standing for the outside world the step
/// talks to (its call counter and start times).
struct Cluster {
    shared: tempfile::TempDir,
    state: String,
}

impl Cluster {
    fn new(state: Option<String>) -> Cluster {
        let shared = tempfile::tempdir().unwrap();
        std::fs::write(shared.path().join("policy.toml"), POLICY).unwrap();
        let state = state.unwrap_or_else(|| {
            shared
                .path()
                .join("state.db")
                .to_string_lossy()
                .into_owned()
        });
        Cluster { shared, state }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.shared.path().join(name)
    }

    /// A step that records each start (ns since the epoch), then fails with
    /// `failure` on its first `failures` calls and succeeds after.
    fn step(&self, name: &str, failures: u32, failure: &str) -> String {
        let path = self.path(name);
        let dir = self.shared.path().display();
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\n\
                 date +%s%N >> {dir}/{name}.starts\n\
                 n=$(wc -l < {dir}/{name}.starts)\n\
                 if [ \"$n\" -le {failures} ]; then echo '{failure}' >&2; exit 1; fi\n\
                 exit 0\n"
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path.to_string_lossy().into_owned()
    }

    /// The start times of a step's attempts, in ns.
    fn starts(&self, name: &str) -> Vec<u128> {
        std::fs::read_to_string(self.path(&format!("{name}.starts")))
            .unwrap_or_default()
            .lines()
            .map(|l| l.trim().parse().unwrap())
            .collect()
    }

    /// One pod's command: `backstop run --one-attempt` in `workdir`.
    fn pod_command(
        &self,
        workdir: &std::path::Path,
        run_id: &str,
        step: &str,
        extra: &[&str],
        command: &str,
    ) -> Command {
        let policy = self.path("policy.toml");
        let mut args = vec![
            "run",
            "--one-attempt",
            "--run-id",
            run_id,
            "--step",
            step,
            "--state",
            &self.state,
            "--policy",
            policy.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", command]);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_backstop"));
        cmd.args(&args)
            .current_dir(workdir)
            .env(
                "BACKSTOP_CACHE_DIR",
                concat!(env!("CARGO_TARGET_TMPDIR"), "/backstop-cache"),
            )
            .env_remove("BACKSTOP_STATE")
            .env_remove("BACKSTOP_LEASE_MS")
            .stdin(Stdio::null());
        cmd
    }

    /// One pod: `backstop run --one-attempt` in a fresh empty directory.
    fn pod(&self, run_id: &str, step: &str, extra: &[&str], command: &str) -> Output {
        let workdir = tempfile::tempdir().unwrap();
        let out = self
            .pod_command(workdir.path(), run_id, step, extra, command)
            .output()
            .unwrap();
        assert_empty(workdir.path());
        out
    }
}

/// The pod's directory is gone with it; nothing may depend on it.
fn assert_empty(dir: &std::path::Path) {
    assert!(
        std::fs::read_dir(dir).unwrap().next().is_none(),
        "backstop left files in the pod's working directory"
    );
}

fn status(out: &Output) -> i32 {
    out.status.code().expect("exited, not killed")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn fails_twice_then_succeeds(cluster: &Cluster) {
    let step = cluster.step("flaky", 2, "503: please slow down");
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let out = cluster.pod("job-1", "extract", &[], &step);
        statuses.push(status(&out));
        eprintln!("{}", stderr(&out));
    }
    assert_eq!(statuses, [RETRY_ME, RETRY_ME, 0]);
    let starts = cluster.starts("flaky");
    assert_eq!(starts.len(), 3, "one attempt per invocation");
    // Each attempt started no sooner than the previous one's start plus the
    // delay planned after it (its end is later than its start).
    for (i, planned) in [(1, Duration::from_secs(1)), (2, Duration::from_secs(2))] {
        let gap = Duration::from_nanos((starts[i] - starts[i - 1]) as u64);
        assert!(
            gap >= planned,
            "attempt {} started {gap:?} after attempt {i}, before its planned {planned:?}",
            i + 1
        );
    }
    // A succeeded run id + step is not run again ...
    let again = cluster.pod("job-1", "extract", &[], &step);
    assert_eq!(status(&again), 0);
    assert!(
        stderr(&again).contains("already succeeded"),
        "{}",
        stderr(&again)
    );
    assert_eq!(cluster.starts("flaky").len(), 3, "not run again");
    // ... unless asked to.
    let rerun = cluster.pod("job-1", "extract", &["--rerun"], &step);
    assert_eq!(status(&rerun), 0, "{}", stderr(&rerun));
    assert_eq!(cluster.starts("flaky").len(), 4);
}

fn a_permanent_failure_exits_with_the_permanent_code(cluster: &Cluster) {
    let step = cluster.step("gone", 99, "GET /shard-7: 404 Not Found");
    let out = cluster.pod("job-2", "extract", &[], &step);
    assert_eq!(status(&out), PERMANENT, "{}", stderr(&out));
    let custom = cluster.pod("job-3", "extract", &["--permanent-exit-code", "3"], &step);
    assert_eq!(status(&custom), 3, "{}", stderr(&custom));
    assert_eq!(
        cluster.starts("gone").len(),
        2,
        "no retry of a permanent failure"
    );
}

fn giving_up_after_transient_failures_exits_gave_up(cluster: &Cluster) {
    let step = cluster.step("down", 99, "slow down");
    let policy = "--max-attempts";
    let extra = [policy, "2", "--base-delay", "10ms"];
    let first = cluster.pod("job-4", "extract", &extra, &step);
    assert_eq!(status(&first), RETRY_ME, "{}", stderr(&first));
    let second = cluster.pod("job-4", "extract", &extra, &step);
    assert_eq!(status(&second), GAVE_UP, "{}", stderr(&second));
    assert!(stderr(&second).contains("giving up"), "{}", stderr(&second));
}

fn the_retry_me_code_is_refused_as_the_permanent_code(cluster: &Cluster) {
    let step = cluster.step("never", 0, "");
    let out = cluster.pod("job-5", "extract", &["--permanent-exit-code", "75"], &step);
    assert_eq!(status(&out), 125, "{}", stderr(&out));
    assert!(cluster.starts("never").is_empty(), "nothing was run");
}

/// A pod killed without a chance to free the lease (its node was lost): the
/// next pod waits for that lease to expire, once, and takes the run over
/// rather than exiting "retry me" and spending one of the cluster's retries.
fn a_lost_pods_lease_is_waited_out_not_retried(cluster: &Cluster) {
    let dir = cluster.shared.path().display().to_string();
    let script = cluster.path("lost");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n\
             date +%s%N >> {dir}/lost.starts\n\
             if [ \"$(wc -l < {dir}/lost.starts)\" -eq 1 ]; then echo $$ > {dir}/lost.pid; exec sleep 60; fi\n\
             exit 0\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let step = script.to_str().unwrap();
    let lease = ["BACKSTOP_LEASE_MS", "1500"];
    let first_dir = tempfile::tempdir().unwrap();
    let mut first = cluster
        .pod_command(first_dir.path(), "job-6", "extract", &[], step)
        .env(lease[0], lease[1])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid_file = cluster.path("lost.pid");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !std::fs::read_to_string(&pid_file).is_ok_and(|p| !p.trim().is_empty()) {
        assert!(
            std::time::Instant::now() < deadline,
            "the first pod never started its step"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // The node is lost: backstop and its step die without a signal they can handle.
    first.kill().unwrap();
    first.wait().unwrap();
    let step_pid = std::fs::read_to_string(&pid_file).unwrap();
    Command::new("kill")
        .args(["-KILL", step_pid.trim()])
        .status()
        .unwrap();
    let workdir = tempfile::tempdir().unwrap();
    let out = cluster
        .pod_command(workdir.path(), "job-6", "extract", &[], step)
        .env(lease[0], lease[1])
        .output()
        .unwrap();
    assert_empty(workdir.path());
    assert_eq!(status(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("for its lease to expire"),
        "{}",
        stderr(&out)
    );
    assert_eq!(cluster.starts("lost").len(), 2, "{}", stderr(&out));
}

/// Every test, once per backend.
macro_rules! both {
    ($($name:ident),* $(,)?) => {
        mod sqlite_backend {
            $(#[test] fn $name() { super::$name(&super::Cluster::new(None)); })*
        }
        mod postgres_backend {
            $(#[test] fn $name() {
                if let Some(url) = super::pg_database() {
                    super::$name(&super::Cluster::new(Some(url)));
                }
            })*
        }
    };
}

both!(
    fails_twice_then_succeeds,
    a_permanent_failure_exits_with_the_permanent_code,
    giving_up_after_transient_failures_exits_gave_up,
    the_retry_me_code_is_refused_as_the_permanent_code,
    a_lost_pods_lease_is_waited_out_not_retried,
);

/// A fresh database on the test server (as host/tests/store.rs), or `None`
/// with a loud message when BACKSTOP_TEST_PG_URL is unset.
fn pg_database() -> Option<String> {
    let Ok(base) = std::env::var("BACKSTOP_TEST_PG_URL") else {
        eprintln!(
            "\n*** SKIPPED: BACKSTOP_TEST_PG_URL is unset, so this PostgreSQL test did not run. \
             tests/run-rust.sh starts a server (tests/pg.sh). ***\n"
        );
        return None;
    };
    static N: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "oa_{}_{}_{}",
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
