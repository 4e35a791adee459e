//! `backstop run`: a command under a retry policy, at most once per run id +
//! step. The guest decides every retry; this module runs the attempts, waits,
//! and records everything in the state database.

use std::cell::RefCell;
use std::ffi::OsString;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result};
use backstop::alerts::{Event, EventKind};
use backstop::{AttemptFailure, Decision, Engine, Error, Failure, GiveUpReason, Policy, Session};
use clap::Args;

use super::alerting::{Alerting, Evaluated, default_pipeline};
use super::exit::{self, Exit};
use super::fmt::duration;
use super::plan::DEFAULT_STEP;
use super::policy::{self, PolicyArgs};
use super::reading::{self, Reading, Source};
use super::report::{self, Reports};
use super::sender::Sender;
use super::store::{
    self, Acquired, Fence, Grant, LeaseLost, Observed, Owner, RunKey, Store, StoreError,
};
use super::supervise::{self, Ended, Finished, Signals, Stop, signal_name};

mod one_attempt;

/// How long a lease lasts without renewal; `BACKSTOP_LEASE_MS` overrides it
/// (for tests). The holder renews it every third of that.
const DEFAULT_LEASE_MS: u64 = 30_000;

/// The error type a host reports for an attempt it stopped at its timeout;
/// the built-in rules make it transient.
const ATTEMPT_TIMEOUT_TYPE: &str = "backstop.AttemptTimeout";

#[derive(Args)]
pub struct RunArgs {
    /// Idempotency key: a run id + step that succeeded is never run again.
    /// Also seeds the jitter (see `backstop plan --run-id`).
    /// At most 256 bytes, not blank, no control characters (as step and pipeline).
    #[arg(long, value_name = "ID", value_parser = super::ids::parse)]
    run_id: String,
    /// Step name within the run; breaker and budget state is shared per step.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_STEP, value_parser = super::ids::parse)]
    step: String,
    /// State database: a SQLite file, or a postgres:// URL shared by a fleet
    /// [default: $XDG_STATE_HOME/backstop/state.db]
    #[arg(long, value_name = "PATH|URL", env = "BACKSTOP_STATE")]
    state: Option<PathBuf>,
    /// Run it even if this run id + step already succeeded (a new round).
    #[arg(long, alias = "force")]
    rerun: bool,
    /// After an attempt timeout, how long the command's process group has
    /// between SIGTERM and SIGKILL.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    kill_after: Duration,
    /// Pipeline name in alerts, and the key of its alert state
    /// [default: the policy file's name without extension, or "default"]
    #[arg(long, value_name = "NAME", value_parser = super::ids::parse)]
    pipeline: Option<String>,
    /// Also read the end of the command's stdout (passed through unchanged)
    /// when the log readers recognise no failure in its stderr.
    #[arg(long)]
    read_stdout: bool,
    /// Run one attempt, then exit: 0 on success, 75 when the planner says
    /// retry (the next invocation with the same run id, step and state first
    /// waits out the planned delay), the permanent code or 66 on giving up.
    /// For orchestrators that start a fresh pod per attempt (Kubernetes Jobs,
    /// Argo); see `backstop export`.
    #[arg(long)]
    one_attempt: bool,
    /// With --one-attempt: the exit status of a permanent failure.
    #[arg(long, value_name = "N", default_value_t = exit::PERMANENT, requires = "one_attempt",
          value_parser = clap::value_parser!(u8).range(1..=255))]
    permanent_exit_code: u8,
    #[command(flatten)]
    policy: PolicyArgs,
    /// The command and its arguments, after `--`. It runs in its own process
    /// group with BACKSTOP_RUN_ID, BACKSTOP_STEP, BACKSTOP_ATTEMPT and
    /// BACKSTOP_FAILURE_FILE set (and stdin at end-of-file when backstop's is
    /// a terminal).
    ///
    /// BACKSTOP_FAILURE_FILE is a path for this attempt's failure report: a
    /// JSON object in the canonical failure form, any of http_status,
    /// grpc_code, exit_code, signal, error_types, error_bases, error_code,
    /// message, plus pushback_ms. An attempt that wrote one is classified on
    /// exactly that (its exit status and signal fill what it leaves out);
    /// Python's backstop.report_failure(exc), Node's reportFailure(err) and
    /// Go's ReportFailure(err) write it. A report that cannot be used is a
    /// warning, and backstop reads the logs: the log readers over the end of
    /// stderr (and of stdout with --read-stdout).
    #[arg(
        required = true,
        last = true,
        value_name = "CMD",
        help_heading = "Arguments"
    )]
    command: Vec<OsString>,
}

pub(super) fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| format!("{e} (write e.g. 500ms, 10s, 1m)"))
}

/// The engine and a session, loading on a thread of their own. Deserialising
/// the cached compiled component is the largest single piece of a `run --
/// true` (about 0.8 ms), and nothing before the policy needs it, so it
/// overlaps with parsing the command line and opening the state. The result
/// comes back over a channel rather than by joining: the thread's exit
/// (wasmtime's per-thread state torn down) would add half a millisecond.
pub struct EngineLoad(Option<mpsc::Receiver<LoadedEngine>>);

type LoadedEngine = Result<(Engine, Session), Error>;

impl EngineLoad {
    pub fn start() -> EngineLoad {
        let (loaded, receiver) = mpsc::sync_channel(1);
        // Without a thread (none to be had), it loads in `finish`.
        let started = std::thread::Builder::new()
            .name("backstop-engine".into())
            .spawn(move || {
                let _ = loaded.send(load_engine());
            })
            .is_ok();
        EngineLoad(started.then_some(receiver))
    }

    fn finish(self) -> Result<(Engine, Session)> {
        let loaded = match self.0 {
            Some(receiver) => receiver
                .recv()
                .map_err(|_| anyhow::anyhow!("loading the policy engine panicked"))?,
            None => load_engine(),
        };
        Ok(loaded?)
    }
}

fn load_engine() -> LoadedEngine {
    let engine = Engine::new()?;
    let session = engine.session()?;
    Ok((engine, session))
}

pub fn run(args: RunArgs, engine: Option<EngineLoad>) -> Result<ExitCode> {
    let lease_code = if args.one_attempt {
        exit::RETRY_ME
    } else {
        exit::LEASE_HELD
    };
    run_inner(args, engine).map_err(|err| {
        let code = if err.downcast_ref::<StoreError>().is_some() {
            exit::STATE_ERROR
        } else if err.downcast_ref::<LeaseLost>().is_some() {
            lease_code
        } else {
            return err;
        };
        Exit::new(code, format!("{err:#}")).into()
    })
}

fn run_inner(args: RunArgs, engine: Option<EngineLoad>) -> Result<ExitCode> {
    if args.one_attempt {
        one_attempt::check_permanent_code(args.permanent_exit_code)?;
    }
    let engine = engine.unwrap_or_else(EngineLoad::start);
    let path = match &args.state {
        Some(path) => Ok(path.clone()),
        None => store::default_path(),
    };
    // An existing SQLite file is opened while the engine loads. A new one,
    // or a server, waits for the policy: nothing is created for a run that
    // never starts.
    let opened = match &path {
        Ok(path) if path.is_file() => Some(Store::open(path, store::busy_timeout())),
        _ => None,
    };
    let (engine, mut session) = engine.finish()?;
    let Some(policy) = policy::load(&mut session, &args.policy)? else {
        return Err(Exit::new(exit::BACKSTOP_ERROR, "invalid policy; nothing was run").into());
    };
    let seed = session.derive_seed(&format!("{}/{}", args.run_id, args.step))?;
    let reports = Reports::new().context("creating a directory for failure reports")?;
    let path = path?;
    let mut store = match opened {
        Some(store) => store?,
        None => Store::open(&path, store::busy_timeout())?,
    };
    let alerting = alerting(&mut session, &args, &path)?;
    let lease_ms = store::env_ms("BACKSTOP_LEASE_MS").unwrap_or(DEFAULT_LEASE_MS);
    let host = hostname();
    let owner = Owner::this_process(&host, nonce()).to_string();
    let key = RunKey {
        run_id: &args.run_id,
        step: &args.step,
    };
    let what = format!("run {:?} step {:?}", args.run_id, args.step);
    // The pipeline `backstop stats` groups the run under (before the lease,
    // so a failure here leaves nothing held).
    let pipeline = args
        .pipeline
        .clone()
        .unwrap_or_else(|| default_pipeline(args.policy.policy.as_deref()));
    store.label_run(key, &pipeline)?;
    // Installed before the lease is taken, so a signal can never leave it held.
    let signals = Signals::install()?;
    // --one-attempt waits once for a held lease to expire (see below).
    let mut waited_for_lease = false;
    let grant = loop {
        break match store.acquire(key, &owner, now_ms(), lease_ms, seed, args.rerun)? {
            Acquired::AlreadySucceeded {
                attempt,
                finished_at_ms,
            } => {
                let when = finished_at_ms
                    .map(|ms| format!(" at {}", super::fmt::rfc3339(ms - ms % 1000)))
                    .unwrap_or_default();
                let on = attempt
                    .map(|a| format!(" on attempt {a}"))
                    .unwrap_or_default();
                eprintln!(
                    "backstop: {what} already succeeded{on}{when}; not running it again (--rerun forces it)"
                );
                return Ok(ExitCode::SUCCESS);
            }
            Acquired::Held {
                owner,
                expires_at_ms,
            } => {
                let mut parts = owner.splitn(3, ':');
                let (holder_host, holder_pid) =
                    (parts.next().unwrap_or("?"), parts.next().unwrap_or("?"));
                let left = expires_at_ms.saturating_sub(now_ms());
                // One attempt per pod: a pod killed without a signal (node lost)
                // keeps its lease until it expires. Wait that out once rather than
                // spend one of the orchestrator's retries; a live holder renews it.
                if args.one_attempt && !waited_for_lease && left <= lease_ms {
                    waited_for_lease = true;
                    eprintln!(
                        "backstop: {what} is held by pid {holder_pid} on {holder_host}; waiting {} \
                         for its lease to expire",
                        duration(left)
                    );
                    if let Some(signal) = one_attempt::sleep_unless_signalled(
                        &signals,
                        Duration::from_millis(left + 50),
                    ) {
                        return Err(Exit::new(
                            signal_exit(signal),
                            format!(
                                "interrupted by {} while waiting for {what}'s lease",
                                signal_name(signal)
                            ),
                        )
                        .into());
                    }
                    continue;
                }
                return Err(Exit::new(
                    if args.one_attempt {
                        exit::RETRY_ME
                    } else {
                        exit::LEASE_HELD
                    },
                    format!(
                        "{what} is being run by another backstop (pid {holder_pid} on {holder_host}); \
                         its lease expires in {} unless renewed. Not running it twice",
                        duration(left)
                    ),
                )
                .into());
            }
            Acquired::Granted(grant) => grant,
        };
    };
    announce(&what, &grant, &host, args.one_attempt);
    let lease = Lease::start(
        store.reopen()?,
        &args.run_id,
        &args.step,
        grant.fence.clone(),
        lease_ms,
    );
    // Alert delivery runs beside the command, never on the run's path.
    let sender = match &alerting {
        Some(_) => {
            // Only a signal stops it: the lease guards the run, not the
            // outbox (its rows have their own claims), and it is freed when
            // the run ends, while delivery may still go on; a run that loses
            // its lease ends with an error, which stops the sender.
            let signalled = signals.flag();
            let stop = move || signalled.load(Ordering::SeqCst) != 0;
            Some(Sender::start(
                engine.clone(),
                path.clone(),
                store::busy_timeout(),
                &signals,
                stop,
            )?)
        }
        None => None,
    };
    let mut runner = Runner {
        session,
        policy,
        store,
        key,
        fence: &grant.fence,
        host: &host,
        round: grant.round,
        lease,
        signals,
        what: &what,
        args: &args,
        tty: std::io::stderr().is_terminal(),
        alerting,
        sender,
        reports,
    };
    let outcome = runner.run();
    // The process ends with this run. What the engine and the guest hold is
    // memory and mappings, which the kernel frees at exit anyway: tearing
    // them down first was a tenth of a `run -- true` (unmapping the compiled
    // code and the guest's memory, freeing its metadata). Nothing in them
    // needs flushing; the store, the lease and the sender, which sync and
    // join, are dropped as before.
    let Runner { session, .. } = runner;
    std::mem::forget(session);
    std::mem::forget(engine);
    outcome
}

/// The policy's alerting, when it has alert rules.
fn alerting(
    session: &mut Session,
    args: &RunArgs,
    state_path: &std::path::Path,
) -> Result<Option<Alerting>> {
    let Some(path) = &args.policy.policy else {
        return Ok(None);
    };
    let source = super::read_policy(path)?;
    let pipeline = args
        .pipeline
        .clone()
        .unwrap_or_else(|| default_pipeline(Some(path)));
    Alerting::new(
        session,
        &source,
        backstop::Format::from_path(path),
        &path.display().to_string(),
        &pipeline,
        format!("{pipeline}/{}", args.step),
        state_path,
    )
}

fn announce(what: &str, grant: &Grant, host: &str, one_attempt: bool) {
    if grant.restarted {
        eprintln!(
            "backstop: {what} gave up before; starting it again (round {})",
            grant.round
        );
    }
    if !grant.resumed {
        return;
    }
    let next = grant.state.attempts + 1;
    // One attempt per invocation frees the lease after each: nothing was taken over.
    if one_attempt && grant.abandoned.is_empty() && !grant.holder_dead {
        eprintln!("backstop: continuing {what} with attempt {next}");
        return;
    }
    let why = if grant.holder_dead {
        "its process is gone"
    } else {
        "its lease expired"
    };
    eprintln!(
        "backstop: taking over {what} from a backstop that stopped ({why}); continuing with attempt {next}"
    );
    for a in &grant.abandoned {
        if let Some(pid) = a.pid
            && a.host == host
            && supervise::kill_orphaned_group(pid, a.pid_start)
        {
            eprintln!(
                "backstop: killed what was left of abandoned attempt {} (process group {pid})",
                a.attempt
            );
        }
    }
}

/// How an attempt ended, as the run loop sees it.
enum Outcome {
    Finished(Finished),
    /// The command could not be started.
    SpawnFailed(std::io::Error),
}

impl Outcome {
    /// `backstop run`'s exit status when it gives up after this attempt.
    fn exit_status(&self) -> u8 {
        match self {
            Outcome::Finished(f) => match f.ended {
                Ended::Exited(code) => (code & 0xff) as u8,
                Ended::Signaled(signal) => signal_exit(signal),
                Ended::TimedOut => exit::TIMED_OUT,
                Ended::Stopped(_) => exit::BACKSTOP_ERROR,
            },
            Outcome::SpawnFailed(e) if e.kind() == std::io::ErrorKind::NotFound => exit::NOT_FOUND,
            Outcome::SpawnFailed(_) => exit::NOT_EXECUTABLE,
        }
    }

    /// What backstop itself saw of the failure (exit status, signal, its own
    /// timeout), and the attempt's row as the store records it.
    fn status(&self, command: &str) -> (Failure, Observed) {
        let mut failure = Failure::default();
        let mut observed = Observed::default();
        match self {
            Outcome::Finished(f) => {
                match f.ended {
                    Ended::Exited(code) => failure.exit_code = Some(code),
                    Ended::Signaled(signal) => failure.signal = Some(signal_name(signal)),
                    // Not the signal backstop sent: a rule about SIGKILL (the OOM
                    // killer) must not fire on backstop's own timeout.
                    Ended::TimedOut => {
                        failure.error_types = vec![ATTEMPT_TIMEOUT_TYPE.into()];
                        observed.timed_out = true;
                    }
                    Ended::Stopped(_) => {}
                }
            }
            Outcome::SpawnFailed(e) => {
                failure.exit_code = Some(i32::from(self.exit_status()));
                failure.message = Some(format!("cannot run {command}: {e}"));
            }
        }
        observed.exit_code = failure.exit_code;
        observed.signal = failure.signal.clone();
        (failure, observed)
    }

    fn describe(&self) -> String {
        match self {
            Outcome::Finished(f) => match f.ended {
                Ended::Exited(code) => format!("exit status {code}"),
                Ended::Signaled(signal) => format!("killed by {}", signal_name(signal)),
                Ended::TimedOut => match f.timeout {
                    Some(t) => format!("timed out after {}", duration(t.as_millis() as u64)),
                    None => "timed out".into(),
                },
                Ended::Stopped(_) => "stopped".into(),
            },
            Outcome::SpawnFailed(e) => format!("could not start: {e}"),
        }
    }

    /// The end of the command's stderr (or why it could not start), for the
    /// alert's last log lines.
    fn log_tail(&self, command: &str) -> String {
        match self {
            Outcome::Finished(f) => f.stderr_tail.clone(),
            Outcome::SpawnFailed(e) => format!("cannot run {command}: {e}"),
        }
    }

    fn duration_ms(&self) -> u64 {
        match self {
            Outcome::Finished(f) => f.duration.as_millis() as u64,
            Outcome::SpawnFailed(_) => 0,
        }
    }
}

fn signal_exit(signal: i32) -> u8 {
    (128 + signal).clamp(0, 255) as u8
}

struct Runner<'a> {
    session: Session,
    policy: Policy,
    store: Store,
    key: RunKey<'a>,
    fence: &'a Fence,
    host: &'a str,
    round: u32,
    lease: Lease,
    signals: Signals,
    what: &'a str,
    args: &'a RunArgs,
    tty: bool,
    alerting: Option<Alerting>,
    sender: Option<Sender>,
    reports: Reports,
}

/// After the run, how long alert delivery may go on before backstop exits
/// (`BACKSTOP_ALERT_DRAIN_MS`); what is left stays in the outbox for the next
/// run or `backstop alerts tick`. Never changes the exit status.
const DEFAULT_ALERT_DRAIN_MS: u64 = 10_000;

impl Runner<'_> {
    /// The attempts; then, when the run ended normally, alert delivery
    /// gets a bounded time to finish (a failed or interrupted run leaves it
    /// to the outbox at once). Delivery never changes the exit status.
    fn run(&mut self) -> Result<ExitCode> {
        let result = self.attempts();
        if let Some(sender) = self.sender.take()
            && result.is_ok()
        {
            let bound = store::env_ms("BACKSTOP_ALERT_DRAIN_MS").unwrap_or(DEFAULT_ALERT_DRAIN_MS);
            sender.finish(Duration::from_millis(bound), &self.signals);
        }
        result
    }

    /// The exit status of a give-up: with --one-attempt, the permanent code or
    /// "gave up"; otherwise the last attempt's, or a code of its own.
    fn give_up_exit(&self, reason: GiveUpReason, last: Option<u8>) -> u8 {
        if self.args.one_attempt {
            one_attempt::give_up_exit(reason, self.args.permanent_exit_code)
        } else {
            refused_exit(reason, last)
        }
    }

    fn attempts(&mut self) -> Result<ExitCode> {
        let mut delay_before = 0;
        if self.args.one_attempt {
            delay_before = self.wait_planned_delay()?;
        }
        // This invocation's last attempt, whose status is the exit status on giving up.
        let mut last: Option<u8> = None;
        loop {
            if let Some(signal) = self.signals.take() {
                return Err(self.interrupted(None, signal));
            }
            let now = now_ms();
            let (one, permanent) = (self.args.one_attempt, self.args.permanent_exit_code);
            let session = RefCell::new(&mut self.session);
            let (policy, alerting, key) = (self.policy, &mut self.alerting, self.key);
            // A refusal ends the run: its alert evaluation commits with it.
            let (permit, refusal_alert) = self.store.begin_attempt_with(
                self.key,
                self.fence,
                self.round,
                self.host,
                now,
                delay_before,
                |reason| {
                    if one {
                        one_attempt::give_up_exit(reason, permanent)
                    } else {
                        refused_exit(reason, last)
                    }
                },
                |state, shared| {
                    Ok(session
                        .borrow_mut()
                        .begin_attempt(policy, state, shared, now)?)
                },
                |within, permit| {
                    let (Some(alerting), Some(_)) = (alerting.as_mut(), permit.refused) else {
                        return Ok(None);
                    };
                    let event = event(
                        alerting,
                        key,
                        EventKind::RunFailed,
                        permit.attempt,
                        None,
                        "",
                    );
                    Ok(Some(alerting.evaluate(
                        &mut session.borrow_mut(),
                        within,
                        &event,
                    )))
                },
            )?;
            if let Some(reason) = permit.refused {
                let code = self.give_up_exit(reason, last);
                let why = match reason {
                    GiveUpReason::CircuitOpen => format!(
                        "the circuit breaker of step {:?} is open (half-opens in {})",
                        self.key.step,
                        duration(permit.retry_after_ms)
                    ),
                    GiveUpReason::Deadline => "the deadline has passed".into(),
                    other => other.to_string(),
                };
                eprintln!(
                    "backstop: not starting attempt {}: {why}; exiting {code}",
                    permit.attempt
                );
                self.alerted(refusal_alert);
                return Ok(ExitCode::from(code));
            }
            let attempt = permit.attempt;
            let timeout = permit.timeout_ms.map(Duration::from_millis);
            let outcome = match self.attempt(attempt, timeout)? {
                Some(outcome) => outcome,
                None => return Ok(ExitCode::SUCCESS),
            };
            let code = outcome.exit_status();
            last = Some(code);
            let (reading, observed) = self.what_failed(attempt, &outcome)?;
            let tail = outcome.log_tail(&self.command_name());
            let (decision, alerts) =
                self.record_failure(attempt, &outcome, code, &reading, &observed, &tail)?;
            super::outbox::crash_point("attempt-committed");
            let class = &decision.classification;
            let rule = match &class.rule {
                Some(rule) => format!("rule {rule}"),
                None => "no rule matched".into(),
            };
            let read = reading
                .describe()
                .map(|what| format!(": {what}"))
                .unwrap_or_default();
            let head = format!(
                "backstop: attempt {attempt} failed ({}, {rule}{read}): {}",
                class.class,
                outcome.describe()
            );
            if let Some(reason) = decision.give_up {
                let code = self.give_up_exit(reason, Some(code));
                eprintln!("{head}; giving up ({reason}), exiting {code}");
                for evaluated in alerts {
                    self.alerted(Some(evaluated));
                }
                return Ok(ExitCode::from(code));
            }
            if self.args.one_attempt {
                let code = self.retry_me(&head, &decision)?;
                for evaluated in alerts {
                    self.alerted(Some(evaluated));
                }
                return Ok(ExitCode::from(code));
            }
            eprintln!("{head}; retry in {}", duration(decision.delay_ms));
            for evaluated in alerts {
                self.alerted(Some(evaluated));
            }
            if let Some(stop) = self.pause(Duration::from_millis(decision.delay_ms), attempt + 1) {
                return match stop {
                    Stop::Signal(signal) => Err(self.interrupted(None, signal)),
                    Stop::LeaseLost => Err(LeaseLost.into()),
                };
            }
            delay_before = decision.delay_ms;
        }
    }

    /// Run one attempt; `None` when it succeeded (and was recorded).
    fn attempt(&mut self, attempt: u32, timeout: Option<Duration>) -> Result<Option<Outcome>> {
        let report_path = self
            .reports
            .fresh(attempt)
            .context("clearing the failure report file")?;
        let env = [
            ("BACKSTOP_RUN_ID", self.key.run_id.to_string()),
            ("BACKSTOP_STEP", self.key.step.to_string()),
            ("BACKSTOP_ATTEMPT", attempt.to_string()),
            (report::ENV, report_path.to_string_lossy().into_owned()),
        ];
        let running = match supervise::spawn(&self.args.command, &env, self.args.read_stdout) {
            Ok(running) => running,
            Err(e) => {
                eprintln!("backstop: cannot run {}: {e}", self.command_name());
                return Ok(Some(Outcome::SpawnFailed(e)));
            }
        };
        let pid = running.pid;
        if let Err(e) = self.store.record_process(
            self.key,
            self.fence,
            self.round,
            attempt,
            pid,
            supervise::process_start(pid),
        ) {
            // Never leave a command running that nothing supervises.
            running.kill();
            return Err(e);
        }
        let (signals, lease) = (&self.signals, &self.lease);
        let finished = running.wait(timeout, self.args.kill_after, signals, || {
            signals
                .take()
                .map(Stop::Signal)
                .or_else(|| lease.lost().then_some(Stop::LeaseLost))
        })?;
        match finished.ended {
            Ended::Exited(0) => {
                let alert = self.record_success(attempt)?;
                let tail = if attempt > 1 {
                    format!("; {} done", self.what)
                } else {
                    String::new()
                };
                eprintln!("backstop: attempt {attempt} succeeded{tail}");
                self.alerted(alert);
                Ok(None)
            }
            Ended::Stopped(Stop::Signal(signal)) => Err(self.interrupted(Some(attempt), signal)),
            Ended::Stopped(Stop::LeaseLost) => Err(LeaseLost.into()),
            // Redact the whole tail before anything splits or clips it.
            _ => {
                let mut finished = finished;
                finished.stderr_tail =
                    super::tail::redacted(&mut self.session, self.policy, &finished.stderr_tail)?;
                if let Some(stdout) = finished.stdout_tail.take() {
                    finished.stdout_tail = Some(super::tail::redacted(
                        &mut self.session,
                        self.policy,
                        &stdout,
                    )?);
                }
                Ok(Some(Outcome::Finished(finished)))
            }
        }
    }

    /// The command succeeded: record it. A dropped database connection or a
    /// write that fails (a full disk) gets a few tries while the lease still
    /// holds; then backstop fails loudly, saying the command succeeded, rather
    /// than let the success vanish. (`finish_success` is safe to repeat.)
    /// Its alert evaluation commits with it (`None` when an earlier try
    /// committed both, or there is no alerting).
    fn record_success(&mut self, attempt: u32) -> Result<Option<Result<Evaluated>>> {
        let mut wait = Duration::from_millis(100);
        let mut tries = 1;
        loop {
            let session = RefCell::new(&mut self.session);
            let (policy, alerting, key) = (self.policy, &mut self.alerting, self.key);
            let result = self.store.finish_success_with(
                self.key,
                self.fence,
                self.round,
                attempt,
                now_ms(),
                |shared| Ok(session.borrow_mut().after_success(policy, shared)?),
                |within| {
                    let Some(alerting) = alerting.as_mut() else {
                        return Ok(None);
                    };
                    let event = event(alerting, key, EventKind::RunSucceeded, attempt, None, "");
                    Ok(Some(alerting.evaluate(
                        &mut session.borrow_mut(),
                        within,
                        &event,
                    )))
                },
            );
            let err = match result {
                Ok(alert) => return Ok(alert.flatten()),
                Err(err) if err.downcast_ref::<StoreError>().is_none() => return Err(err),
                Err(err) => err,
            };
            if tries == 5 || self.lease.lost() {
                return Err(err.context(format!(
                    "attempt {attempt} SUCCEEDED, but the state database could not record it, \
                     so {} is still open: a later `backstop run` of it runs the command again. \
                     Record it by hand or make the step's output idempotent (see the README)",
                    self.what
                )));
            }
            eprintln!(
                "backstop: attempt {attempt} succeeded but recording it failed ({err:#}); trying again in {}",
                duration(wait.as_millis() as u64)
            );
            std::thread::sleep(wait);
            wait *= 2;
            tries += 1;
        }
    }

    /// What failed: the step's failure report first, then the log readers
    /// over the ends of its output, each merged with the exit status and
    /// signal. An attempt backstop stopped at its timeout is that timeout.
    fn what_failed(&mut self, attempt: u32, outcome: &Outcome) -> Result<(Reading, Observed)> {
        let (status, observed) = outcome.status(&self.command_name());
        let as_seen = |mut failure: Failure, tail: &str| {
            if failure.message.is_none() && !tail.is_empty() {
                failure.message = Some(tail.to_string());
            }
            Reading {
                failure,
                pushback_ms: None,
                source: Source::Status,
            }
        };
        let finished = match outcome {
            Outcome::Finished(f) if f.ended != Ended::TimedOut => f,
            // Whatever the step said as it was being stopped, the attempt failed
            // because backstop stopped it.
            Outcome::Finished(f) => return Ok((as_seen(status, &f.stderr_tail), observed)),
            Outcome::SpawnFailed(_) => return Ok((as_seen(status, ""), observed)),
        };
        if let Some(reading) = self.reported(attempt, &status) {
            return Ok((reading, observed));
        }
        let mut tails = vec![("stderr", finished.stderr_tail.as_str())];
        if let Some(stdout) = &finished.stdout_tail {
            tails.push(("stdout", stdout.as_str()));
        }
        let reading = reading::read_logs(&mut self.session, &tails, &status)?;
        Ok((reading, observed))
    }

    /// The attempt's failure report merged with its status, when it wrote a
    /// usable one. Anything wrong with it is a warning, and the logs are read.
    fn reported(&mut self, attempt: u32, status: &Failure) -> Option<Reading> {
        let path = self.reports.path(attempt);
        let warn = |problem: &str| {
            eprintln!(
                "backstop: ignoring the failure report {}: {problem}; reading the logs instead",
                path.display()
            );
        };
        let report = match report::read(&path) {
            Ok(Some(report)) => report,
            Ok(None) => return None,
            Err(problem) => {
                warn(&problem);
                return None;
            }
        };
        if let Some(warning) = report::unknown_warning(&report) {
            eprintln!("backstop: failure report {}: {warning}", path.display());
        }
        let mut failure = report::merge(report.failure, status);
        // A report's message is the step's own text: redact it like the logs
        // before it reaches the state database, alerts or our messages.
        if let Some(message) = failure.message.take() {
            failure.message = Some(match self.session.redact(self.policy, &message) {
                Ok(redacted) => redacted.text,
                Err(_) => "[REDACTED]".to_string(),
            });
        }
        // The guest checks what the JSON form cannot (gRPC code and signal
        // names, sizes); a report it refuses must not end the run.
        if let Err(Error::Rejected(e)) = self.session.classify(self.policy, &failure) {
            let field = e.path.strip_prefix("failure.").unwrap_or(&e.path);
            warn(&format!("field {field:?}: {}", e.message));
            return None;
        }
        Some(Reading {
            failure,
            pushback_ms: report.pushback_ms,
            source: Source::Report,
        })
    }

    /// Record a failed attempt with the planner's decision and, in the same
    /// transaction, its alert evaluation (the attempt failed; on giving up,
    /// the run failed): a crash leaves both or neither, so no failure is
    /// recorded without its alert. `tail` is the end of the command's stderr.
    fn record_failure(
        &mut self,
        attempt: u32,
        outcome: &Outcome,
        code: u8,
        reading: &Reading,
        observed: &Observed,
        tail: &str,
    ) -> Result<(Decision, Vec<Result<Evaluated>>)> {
        let failed = AttemptFailure {
            failure: reading.failure.clone(),
            duration_ms: outcome.duration_ms(),
            pushback_ms: reading.pushback_ms,
        };
        let now = now_ms();
        let session = RefCell::new(&mut self.session);
        let (policy, alerting, key) = (self.policy, &mut self.alerting, self.key);
        self.store.finish_failure_with(
            self.key,
            self.fence,
            self.round,
            attempt,
            now,
            observed,
            code,
            |state, shared| {
                Ok(session
                    .borrow_mut()
                    .after_failure(policy, state, shared, &failed, now)?)
            },
            |within, decision| {
                let Some(alerting) = alerting.as_mut() else {
                    return Ok(Vec::new());
                };
                let mut kinds = vec![EventKind::AttemptFailed];
                if decision.give_up.is_some() {
                    kinds.push(EventKind::RunFailed);
                }
                let mut evaluated = Vec::new();
                for kind in kinds {
                    let failure = Some(reading.failure.clone());
                    let event = event(alerting, key, kind, attempt, failure, tail);
                    evaluated.push(alerting.evaluate(&mut session.borrow_mut(), within, &event));
                }
                super::outbox::crash_point("attempt-evaluated");
                Ok(evaluated)
            },
        )
    }

    /// Wait between attempts: a countdown on a terminal, silence otherwise.
    fn pause(&mut self, delay: Duration, next: u32) -> Option<Stop> {
        let end = Instant::now() + delay;
        let mut stop = None;
        loop {
            if let Some(signal) = self.signals.take() {
                stop = Some(Stop::Signal(signal));
                break;
            }
            if self.lease.lost() {
                stop = Some(Stop::LeaseLost);
                break;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if self.tty {
                eprint!("\r\x1b[2K{}", countdown_line(next, left));
            }
            // A signal ends the wait at once.
            self.signals.wait(left.min(Duration::from_millis(100)));
        }
        if self.tty {
            eprint!("\r\x1b[2K");
        }
        stop
    }

    /// Backstop got `signal`: record it, free the lease, exit 128 + N. The run
    /// stays open, so the same command resumes it.
    fn interrupted(&mut self, attempt: Option<u32>, signal: i32) -> anyhow::Error {
        let name = signal_name(signal);
        if let Err(e) =
            self.store
                .interrupt(self.key, self.fence, self.round, attempt, now_ms(), &name)
        {
            return e;
        }
        let during = attempt
            .map(|a| format!(" during attempt {a}"))
            .unwrap_or_default();
        Exit::new(
            signal_exit(signal),
            format!(
                "interrupted by {name}{during}; {} stays open: the same command resumes it",
                self.what
            ),
        )
        .into()
    }

    /// Follow up an alert evaluation that committed with the run's record
    /// (print what has no sink). Alerting problems are reported, never
    /// change the exit status.
    fn alerted(&mut self, evaluated: Option<Result<Evaluated>>) {
        let (Some(alerting), Some(evaluated)) = (self.alerting.as_ref(), evaluated) else {
            return;
        };
        match evaluated.and_then(|e| alerting.committed(&mut self.store, e)) {
            Ok(handled) if handled.queued > 0 => {
                if let Some(sender) = &self.sender {
                    sender.kick();
                }
            }
            Ok(_) => {}
            Err(e) => eprintln!("backstop: alerts: {e:#}"),
        }
    }

    fn command_name(&self) -> String {
        self.args
            .command
            .first()
            .map(|c| c.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// An event of this run for the alert policy. The failure is what was read
/// (type, code, status: the root cause the dedup keys group by); `log` is the
/// end of the command's stderr.
fn event(
    alerting: &Alerting,
    key: RunKey<'_>,
    kind: EventKind,
    attempt: u32,
    failure: Option<Failure>,
    log: &str,
) -> Event {
    Event {
        kind,
        pipeline: alerting.key.clone(),
        step: key.step.to_string(),
        run_id: key.run_id.to_string(),
        failure,
        attempt,
        late_minutes: 0,
        labels: Default::default(),
        log_lines: log.lines().map(str::to_string).collect(),
        dedup_key: None,
    }
}

/// The exit status when the planner refuses an attempt: the last attempt's,
/// or a code of its own when this invocation ran none.
fn refused_exit(reason: GiveUpReason, last: Option<u8>) -> u8 {
    match (last, reason) {
        (Some(code), _) => code,
        (None, GiveUpReason::CircuitOpen) => exit::CIRCUIT_OPEN,
        (None, GiveUpReason::Deadline) => exit::TIMED_OUT,
        (None, _) => exit::BACKSTOP_ERROR,
    }
}

fn countdown_line(next: u32, left: Duration) -> String {
    // Round up to a tenth, so it never shows 0s while still waiting.
    let ms = (left.as_millis() as u64).div_ceil(100) * 100;
    format!("backstop: attempt {next} in {}", duration(ms))
}

/// The lease renewer: a thread with its own connection that extends the lease
/// every third of its length, and flags when it cannot keep it. Dropping it
/// stops the thread at once (closing `stop` ends its wait).
struct Lease {
    /// Set by the thread when the lease is lost.
    lost: Arc<AtomicBool>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Lease {
    fn start(mut store: Store, run_id: &str, step: &str, fence: Fence, lease_ms: u64) -> Lease {
        let lost = Arc::new(AtomicBool::new(false));
        let (stop, stopped) = mpsc::channel::<()>();
        let (run_id, step) = (run_id.to_string(), step.to_string());
        let thread_lost = Arc::clone(&lost);
        let thread = std::thread::spawn(move || {
            let key = RunKey {
                run_id: &run_id,
                step: &step,
            };
            let every = Duration::from_millis((lease_ms / 3).max(1));
            let mut valid_until = now_ms().saturating_add(lease_ms);
            loop {
                match stopped.recv_timeout(every) {
                    Err(mpsc::RecvTimeoutError::Timeout) => {}
                    // Told to stop, or the run dropped its handle.
                    _ => return,
                }
                let now = now_ms();
                match store.renew(key, &fence, now, lease_ms) {
                    Ok(true) => valid_until = now.saturating_add(lease_ms),
                    Ok(false) => break,
                    // A busy database: keep trying while the lease still holds.
                    Err(_) if now < valid_until => {}
                    Err(_) => break,
                }
            }
            thread_lost.store(true, Ordering::SeqCst);
        });
        Lease {
            lost,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// Distinguishes invocations with the same pid (a container restarting).
pub(super) fn nonce() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    let stack = &nanos as *const u64 as u64;
    nanos ^ stack.rotate_left(32)
}

pub(super) fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: gethostname writes at most `buf.len()` bytes into `buf`.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    // ':' separates the fields of a lease owner.
    String::from_utf8_lossy(&buf[..end]).replace(':', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_countdown_never_shows_zero_while_waiting() {
        assert_eq!(
            countdown_line(3, Duration::from_millis(1)),
            "backstop: attempt 3 in 100ms"
        );
        assert_eq!(
            countdown_line(2, Duration::from_millis(2_050)),
            "backstop: attempt 2 in 2.1s"
        );
    }

    #[test]
    fn refusals_exit_with_the_last_status_or_their_own_code() {
        assert_eq!(
            refused_exit(GiveUpReason::CircuitOpen, None),
            exit::CIRCUIT_OPEN
        );
        assert_eq!(refused_exit(GiveUpReason::Deadline, None), exit::TIMED_OUT);
        assert_eq!(refused_exit(GiveUpReason::CircuitOpen, Some(75)), 75);
    }

    #[test]
    fn signals_exit_as_shells_report_them() {
        assert_eq!(signal_exit(libc::SIGINT), 130);
        assert_eq!(signal_exit(libc::SIGKILL), 137);
    }
}
