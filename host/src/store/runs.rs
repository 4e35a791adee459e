//! The run ledger: leases, the fencing token and the attempts.
//!
//! A run (run id + step) is executed by whoever holds its lease. Granting
//! the lease adds one to `runs.lease_epoch`; the holder's [`Fence`] (owner +
//! epoch) is checked, under the run row's lock, by every later write, so a
//! holder that stalled past its lease (SIGSTOP, a partition, a long GC) finds
//! its late writes refused with [`LeaseLost`] instead of overwriting its
//! successor. Lease expiry is measured by the database's clock ([`Tx::now_ms`]).

use std::sync::OnceLock;

use crate::{Decision, GiveUpReason, Permit, RetryState, SharedState};

use super::shared::{load_shared, save_shared};
use super::within::Within;
use super::{Fail, LeaseLost, Row, Store, Tx, params, to_i64};

#[derive(Debug, Clone, Copy)]
pub struct RunKey<'a> {
    pub run_id: &'a str,
    pub step: &'a str,
}

/// The holder's token: who it is and which grant of the lease it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub owner: String,
    pub epoch: i64,
}

/// What `acquire` found.
#[derive(Debug)]
pub enum Acquired {
    /// The run id + step succeeded before; nothing to do.
    AlreadySucceeded {
        attempt: Option<u32>,
        finished_at_ms: Option<u64>,
    },
    /// Another invocation holds a live lease.
    Held {
        owner: String,
        expires_at_ms: u64,
    },
    Granted(Grant),
}

#[derive(Debug)]
pub struct Grant {
    pub round: u32,
    /// Taken over from an invocation that stopped (its lease expired or was freed).
    pub resumed: bool,
    /// Taken over before the lease expired: its holder's process is gone
    /// (same machine, pid no longer running).
    pub holder_dead: bool,
    /// A run that gave up (or succeeded, with `rerun`) started again with a fresh retry state.
    pub restarted: bool,
    /// Attempts the previous holder left running (now marked `abandoned`).
    pub abandoned: Vec<Abandoned>,
    pub state: RetryState,
    pub fence: Fence,
}

#[derive(Debug, Clone)]
pub struct Abandoned {
    pub attempt: u32,
    pub host: String,
    pub pid: Option<i32>,
    pub pid_start: Option<u64>,
}

/// How a finished attempt ended, for its row.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub timed_out: bool,
}

/// A lease owner: `host:pid:nonce:machine`, where `machine` names this boot
/// and pid namespace, so a pid is only ever compared on the machine (and in
/// the container) that issued it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    pub host: String,
    pub pid: u32,
    pub nonce: u64,
    pub machine: String,
}

impl Owner {
    /// This process.
    pub fn this_process(host: &str, nonce: u64) -> Owner {
        Owner {
            host: host.replace(':', "_"),
            pid: std::process::id(),
            nonce,
            machine: machine_id().to_string(),
        }
    }

    pub fn parse(text: &str) -> Option<Owner> {
        let mut parts = text.splitn(4, ':');
        let host = parts.next()?.to_string();
        let pid = parts.next()?.parse().ok()?;
        let nonce = u64::from_str_radix(parts.next()?, 16).ok()?;
        let machine = parts.next().unwrap_or("").to_string();
        Some(Owner {
            host,
            pid,
            nonce,
            machine,
        })
    }

    /// Provably not running: issued on this machine and pid namespace, and no
    /// process has its pid. (A live process with its pid may be another
    /// process reusing it: then the lease is left to expire.)
    pub fn is_provably_dead(&self) -> bool {
        let here = machine_id();
        if here.is_empty() || self.machine != here || self.pid == 0 {
            return false;
        }
        let Ok(pid) = i32::try_from(self.pid) else {
            return false;
        };
        // SAFETY: signal 0 only checks for the process's existence.
        let rc = unsafe { libc::kill(pid, 0) };
        rc != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{:x}:{}",
            self.host, self.pid, self.nonce, self.machine
        )
    }
}

/// This boot and pid namespace (Linux), or "" where unknown (then no
/// holder is ever judged dead early).
fn machine_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
            .map(|s| s.trim().to_string())
            .unwrap_or_default();
        let ns = std::fs::read_link("/proc/self/ns/pid")
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default();
        if boot.is_empty() || ns.is_empty() {
            return String::new();
        }
        // "pid:[4026531836]" -> "4026531836"; ':' separates owner fields.
        let ns: String = ns.chars().filter(char::is_ascii_digit).collect();
        format!("{boot}/{ns}")
    })
}

impl Store {
    /// Take the run's lease, or say why not. With `rerun`, a run that
    /// succeeded is started again (a new round).
    pub fn acquire(
        &mut self,
        key: RunKey<'_>,
        owner: &str,
        now_ms: u64,
        lease_ms: u64,
        seed: u64,
        rerun: bool,
    ) -> anyhow::Result<Acquired> {
        self.write(|tx| {
            let now = tx.now_ms(now_ms)?;
            let expires = now.saturating_add(to_i64(lease_ms));
            let fresh = RetryState {
                seed,
                ..RetryState::default()
            };
            let select = format!(
                "SELECT status, round, lease_owner, lease_expires_at_ms, retry_state,
                        finished_at_ms, lease_epoch
                 FROM runs WHERE run_id = ?1 AND step = ?2{}",
                tx.for_update()
            );
            let mut row = tx.query_opt(&select, params![key.run_id, key.step])?;
            if row.is_none() {
                // Two machines may both find no row; the second insert does
                // nothing and, after the first commits, finds its row.
                let inserted = tx.exec(
                    "INSERT INTO runs (run_id, step, round, status, retry_state, created_at_ms,
                                       updated_at_ms, lease_owner, lease_expires_at_ms, lease_epoch)
                     VALUES (?1, ?2, 1, 'running', ?3, ?4, ?4, ?5, ?6, 1)
                     ON CONFLICT (run_id, step) DO NOTHING",
                    params![
                        key.run_id,
                        key.step,
                        serde_json::to_string(&fresh)?,
                        now,
                        owner,
                        expires
                    ],
                )?;
                if inserted == 1 {
                    return Ok(Acquired::Granted(Grant {
                        round: 1,
                        resumed: false,
                        holder_dead: false,
                        restarted: false,
                        abandoned: Vec::new(),
                        state: fresh,
                        fence: Fence {
                            owner: owner.to_string(),
                            epoch: 1,
                        },
                    }));
                }
                row = tx.query_opt(&select, params![key.run_id, key.step])?;
            }
            let Some(row) = row else {
                return Err(Fail::Other(anyhow::anyhow!(
                    "the run's row vanished while taking its lease"
                )));
            };
            let status = row.text(0)?;
            let round = row.int(1)? as u32;
            let (lease_owner, lease_expires) = (row.opt_text(2)?, row.opt_int(3)?);
            let epoch = row.int(6)? + 1;
            let fence = Fence {
                owner: owner.to_string(),
                epoch,
            };
            match status.as_str() {
                "succeeded" if !rerun => {
                    let attempt = tx
                        .query_opt(
                            "SELECT attempt FROM attempts WHERE run_id = ?1 AND step = ?2
                             AND round = ?3 AND decision = 'succeeded'",
                            params![key.run_id, key.step, round],
                        )?
                        .map(|r| r.int(0))
                        .transpose()?
                        .map(|a| a as u32);
                    Ok(Acquired::AlreadySucceeded {
                        attempt,
                        finished_at_ms: row.opt_int(5)?.map(|t| t.max(0) as u64),
                    })
                }
                "running" => {
                    let mut holder_dead = false;
                    if let (Some(holder), Some(until)) = (lease_owner, lease_expires)
                        && until > now
                    {
                        holder_dead = Owner::parse(&holder).is_some_and(|o| o.is_provably_dead());
                        if !holder_dead {
                            return Ok(Acquired::Held {
                                owner: holder,
                                expires_at_ms: until.max(0) as u64,
                            });
                        }
                    }
                    let abandoned = tx
                        .query(
                            "SELECT attempt, host, pid, pid_start FROM attempts
                             WHERE run_id = ?1 AND step = ?2 AND round = ?3 AND decision IS NULL",
                            params![key.run_id, key.step, round],
                        )?
                        .iter()
                        .map(|r: &Row| {
                            Ok(Abandoned {
                                attempt: r.int(0)? as u32,
                                host: r.text(1)?,
                                pid: r.opt_int(2)?.map(|p| p as i32),
                                pid_start: r.opt_int(3)?.map(|t| t.max(0) as u64),
                            })
                        })
                        .collect::<Result<Vec<_>, Fail>>()?;
                    tx.exec(
                        "UPDATE attempts SET decision = 'abandoned',
                             explanation = 'its backstop stopped without recording an outcome; the run was taken over'
                         WHERE run_id = ?1 AND step = ?2 AND round = ?3 AND decision IS NULL",
                        params![key.run_id, key.step, round],
                    )?;
                    tx.exec(
                        "UPDATE runs SET lease_owner = ?3, lease_expires_at_ms = ?4,
                             lease_epoch = ?5, updated_at_ms = ?6
                         WHERE run_id = ?1 AND step = ?2",
                        params![key.run_id, key.step, owner, expires, epoch, now],
                    )?;
                    Ok(Acquired::Granted(Grant {
                        round,
                        resumed: true,
                        holder_dead,
                        restarted: false,
                        abandoned,
                        state: serde_json::from_str(&row.text(4)?)?,
                        fence,
                    }))
                }
                _ => {
                    // It gave up before (or succeeded and is forced): a new
                    // round with a fresh retry state.
                    let round = round + 1;
                    tx.exec(
                        "UPDATE runs SET round = ?3, status = 'running', retry_state = ?4,
                             outcome = NULL, exit_status = NULL, finished_at_ms = NULL,
                             lease_owner = ?5, lease_expires_at_ms = ?6, lease_epoch = ?7,
                             updated_at_ms = ?8
                         WHERE run_id = ?1 AND step = ?2",
                        params![
                            key.run_id,
                            key.step,
                            round,
                            serde_json::to_string(&fresh)?,
                            owner,
                            expires,
                            epoch,
                            now
                        ],
                    )?;
                    Ok(Acquired::Granted(Grant {
                        round,
                        resumed: false,
                        holder_dead: false,
                        restarted: true,
                        abandoned: Vec::new(),
                        state: fresh,
                        fence,
                    }))
                }
            }
        })
    }

    /// Extend the lease; `false` when another invocation holds it now.
    pub fn renew(
        &mut self,
        key: RunKey<'_>,
        fence: &Fence,
        now_ms: u64,
        lease_ms: u64,
    ) -> anyhow::Result<bool> {
        self.write(|tx| {
            let now = tx.now_ms(now_ms)?;
            let changed = tx.exec(
                "UPDATE runs SET lease_expires_at_ms = ?5
                 WHERE run_id = ?1 AND step = ?2 AND lease_owner = ?3 AND lease_epoch = ?4",
                params![
                    key.run_id,
                    key.step,
                    fence.owner.as_str(),
                    fence.epoch,
                    now.saturating_add(to_i64(lease_ms))
                ],
            )?;
            Ok(changed == 1)
        })
    }

    /// Before an attempt: ask the planner (`decide`) with the stored states,
    /// store what it returns and, when permitted, the attempt's row.
    /// `refused_exit` is the exit status recorded when the permit is refused.
    #[allow(clippy::too_many_arguments)]
    pub fn begin_attempt(
        &mut self,
        key: RunKey<'_>,
        fence: &Fence,
        round: u32,
        host: &str,
        now_ms: u64,
        delay_before_ms: u64,
        refused_exit: impl FnOnce(GiveUpReason) -> u8,
        decide: impl FnOnce(&RetryState, &SharedState) -> anyhow::Result<Permit>,
    ) -> anyhow::Result<Permit> {
        self.begin_attempt_with(
            key,
            fence,
            round,
            host,
            now_ms,
            delay_before_ms,
            refused_exit,
            decide,
            |_, _| Ok(()),
        )
        .map(|(permit, ())| permit)
    }

    /// [`Store::begin_attempt`], then `then` in the same transaction (the
    /// alert evaluation of a refusal, see [`Within`]); an error from `then`
    /// rolls the whole transaction back.
    #[allow(clippy::too_many_arguments)]
    pub fn begin_attempt_with<A>(
        &mut self,
        key: RunKey<'_>,
        fence: &Fence,
        round: u32,
        host: &str,
        now_ms: u64,
        delay_before_ms: u64,
        refused_exit: impl FnOnce(GiveUpReason) -> u8,
        decide: impl FnOnce(&RetryState, &SharedState) -> anyhow::Result<Permit>,
        then: impl FnOnce(&mut Within<'_>, &Permit) -> anyhow::Result<A>,
    ) -> anyhow::Result<(Permit, A)> {
        // Room for the writes after the command, before it starts.
        self.db
            .borrow_mut()
            .prepare_attempt()
            .map_err(|f| super::fail(&self.location, f))?;
        self.write(|tx| {
            check_lease(tx, key, fence)?;
            let now = tx.now_ms(now_ms)?;
            let state = load_state(tx, key)?;
            let shared = load_shared(tx, key.step)?;
            let permit = decide(&state, &shared)?;
            save_shared(tx, key.step, &permit.shared, now)?;
            match permit.refused {
                Some(reason) => {
                    tx.exec(
                        "UPDATE runs SET status = 'failed', outcome = ?3, exit_status = ?4,
                             retry_state = ?5, finished_at_ms = ?6, updated_at_ms = ?6,
                             lease_owner = NULL, lease_expires_at_ms = NULL
                         WHERE run_id = ?1 AND step = ?2",
                        params![
                            key.run_id,
                            key.step,
                            reason.as_str(),
                            refused_exit(reason),
                            serde_json::to_string(&permit.state)?,
                            now
                        ],
                    )?;
                }
                None => {
                    tx.exec(
                        "INSERT INTO attempts (run_id, step, round, attempt, host, started_at_ms,
                                               delay_before_ms, timeout_ms, lease_epoch)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                        params![
                            key.run_id,
                            key.step,
                            round,
                            permit.attempt,
                            host,
                            now,
                            to_i64(delay_before_ms),
                            permit.timeout_ms.map(to_i64),
                            fence.epoch
                        ],
                    )?;
                    tx.exec(
                        "UPDATE runs SET retry_state = ?3, updated_at_ms = ?4
                         WHERE run_id = ?1 AND step = ?2",
                        params![
                            key.run_id,
                            key.step,
                            serde_json::to_string(&permit.state)?,
                            now
                        ],
                    )?;
                }
            }
            let extra = joined(tx, |within| then(within, &permit))?;
            Ok((permit, extra))
        })
    }

    /// The running attempt's process group, for a takeover to find orphans.
    #[allow(clippy::too_many_arguments)]
    pub fn record_process(
        &mut self,
        key: RunKey<'_>,
        fence: &Fence,
        round: u32,
        attempt: u32,
        pid: i32,
        pid_start: Option<u64>,
    ) -> anyhow::Result<()> {
        self.write(|tx| {
            check_lease(tx, key, fence)?;
            tx.exec(
                "UPDATE attempts SET pid = ?5, pid_start = ?6
                 WHERE run_id = ?1 AND step = ?2 AND round = ?3 AND attempt = ?4",
                params![
                    key.run_id,
                    key.step,
                    round,
                    attempt,
                    pid,
                    pid_start.map(to_i64)
                ],
            )?;
            Ok(())
        })
    }

    /// After a failed attempt: ask the planner, store its decision; a give-up
    /// ends the round with `give_up_exit` and frees the lease.
    #[allow(clippy::too_many_arguments)]
    pub fn finish_failure(
        &mut self,
        key: RunKey<'_>,
        fence: &Fence,
        round: u32,
        attempt: u32,
        now_ms: u64,
        observed: &Observed,
        give_up_exit: u8,
        decide: impl FnOnce(&RetryState, &SharedState) -> anyhow::Result<Decision>,
    ) -> anyhow::Result<Decision> {
        self.finish_failure_with(
            key,
            fence,
            round,
            attempt,
            now_ms,
            observed,
            give_up_exit,
            decide,
            |_, _| Ok(()),
        )
        .map(|(decision, ())| decision)
    }

    /// [`Store::finish_failure`], then `then` in the same transaction: the
    /// attempt's alert evaluation commits with its record (see [`Within`]);
    /// an error from `then` rolls the whole transaction back.
    #[allow(clippy::too_many_arguments)]
    pub fn finish_failure_with<A>(
        &mut self,
        key: RunKey<'_>,
        fence: &Fence,
        round: u32,
        attempt: u32,
        now_ms: u64,
        observed: &Observed,
        give_up_exit: u8,
        decide: impl FnOnce(&RetryState, &SharedState) -> anyhow::Result<Decision>,
        then: impl FnOnce(&mut Within<'_>, &Decision) -> anyhow::Result<A>,
    ) -> anyhow::Result<(Decision, A)> {
        self.write(|tx| {
            check_lease(tx, key, fence)?;
            let now = tx.now_ms(now_ms)?;
            let state = load_state(tx, key)?;
            let shared = load_shared(tx, key.step)?;
            let decision = decide(&state, &shared)?;
            save_shared(tx, key.step, &decision.shared, now)?;
            let verdict = if decision.give_up.is_some() {
                "give-up"
            } else {
                "retry"
            };
            tx.exec(
                "UPDATE attempts SET ended_at_ms = ?5, exit_code = ?6, signal = ?7, timed_out = ?8,
                     class = ?9, rule = ?10, decision = ?11, give_up_reason = ?12,
                     delay_after_ms = ?13, explanation = ?14
                 WHERE run_id = ?1 AND step = ?2 AND round = ?3 AND attempt = ?4",
                params![
                    key.run_id,
                    key.step,
                    round,
                    attempt,
                    now,
                    observed.exit_code,
                    observed.signal.as_deref(),
                    observed.timed_out,
                    decision.classification.class.as_str(),
                    decision.classification.rule.as_deref(),
                    verdict,
                    decision.give_up.map(|r| r.as_str()),
                    decision
                        .give_up
                        .is_none()
                        .then_some(to_i64(decision.delay_ms)),
                    decision.explanation.as_str(),
                ],
            )?;
            let state = serde_json::to_string(&decision.state)?;
            match decision.give_up {
                Some(reason) => tx.exec(
                    "UPDATE runs SET status = 'failed', outcome = ?3, exit_status = ?4,
                         retry_state = ?5, finished_at_ms = ?6, updated_at_ms = ?6,
                         lease_owner = NULL, lease_expires_at_ms = NULL
                     WHERE run_id = ?1 AND step = ?2",
                    params![
                        key.run_id,
                        key.step,
                        reason.as_str(),
                        give_up_exit,
                        state,
                        now
                    ],
                )?,
                None => tx.exec(
                    "UPDATE runs SET retry_state = ?3, updated_at_ms = ?4
                     WHERE run_id = ?1 AND step = ?2",
                    params![key.run_id, key.step, state, now],
                )?,
            };
            let extra = joined(tx, |within| then(within, &decision))?;
            Ok((decision, extra))
        })
    }

    /// After a successful attempt: the run is done; update the shared state.
    /// Safe to call again after an error whose commit may have happened
    /// (a connection lost at COMMIT): a success already recorded under this
    /// fence is not recorded twice.
    pub fn finish_success(
        &mut self,
        key: RunKey<'_>,
        fence: &Fence,
        round: u32,
        attempt: u32,
        now_ms: u64,
        decide: impl FnOnce(&SharedState) -> anyhow::Result<SharedState>,
    ) -> anyhow::Result<()> {
        self.finish_success_with(key, fence, round, attempt, now_ms, decide, |_| Ok(()))
            .map(|_| ())
    }

    /// [`Store::finish_success`], then `then` in the same transaction (the
    /// success's alert evaluation, see [`Within`]). `None` when the success
    /// was already recorded (with its evaluation) by an earlier call.
    #[allow(clippy::too_many_arguments)]
    pub fn finish_success_with<A>(
        &mut self,
        key: RunKey<'_>,
        fence: &Fence,
        round: u32,
        attempt: u32,
        now_ms: u64,
        decide: impl FnOnce(&SharedState) -> anyhow::Result<SharedState>,
        then: impl FnOnce(&mut Within<'_>) -> anyhow::Result<A>,
    ) -> anyhow::Result<Option<A>> {
        self.write(|tx| {
            if already_succeeded(tx, key, fence)? {
                return Ok(None);
            }
            check_lease(tx, key, fence)?;
            let now = tx.now_ms(now_ms)?;
            let shared = load_shared(tx, key.step)?;
            save_shared(tx, key.step, &decide(&shared)?, now)?;
            tx.exec(
                "UPDATE attempts SET ended_at_ms = ?5, exit_code = 0, decision = 'succeeded'
                 WHERE run_id = ?1 AND step = ?2 AND round = ?3 AND attempt = ?4",
                params![key.run_id, key.step, round, attempt, now],
            )?;
            tx.exec(
                "UPDATE runs SET status = 'succeeded', outcome = 'succeeded', exit_status = 0,
                     finished_at_ms = ?3, updated_at_ms = ?3,
                     lease_owner = NULL, lease_expires_at_ms = NULL
                 WHERE run_id = ?1 AND step = ?2",
                params![key.run_id, key.step, now],
            )?;
            Ok(Some(joined(tx, then)?))
        })
    }

    /// `--one-attempt`: the planned wait still ahead of the next attempt, by
    /// the database's clock: the end of the round's last retried attempt plus
    /// the delay the planner chose after it (0 when it has passed or there is
    /// none), that planned delay, and the number of the attempt it precedes.
    pub fn planned_wait(
        &mut self,
        key: RunKey<'_>,
        fence: &Fence,
        round: u32,
        now_ms: u64,
    ) -> anyhow::Result<(u64, u64, u32)> {
        self.write(|tx| {
            check_lease(tx, key, fence)?;
            let now = tx.now_ms(now_ms)?;
            let row = tx.query_opt(
                "SELECT ended_at_ms, delay_after_ms, attempt FROM attempts
                 WHERE run_id = ?1 AND step = ?2 AND round = ?3 AND decision = 'retry'
                 ORDER BY attempt DESC LIMIT 1",
                params![key.run_id, key.step, round],
            )?;
            let Some(row) = row else {
                return Ok((0, 0, 1));
            };
            let (ended, delay) = (row.opt_int(0)?.unwrap_or(now), row.opt_int(1)?.unwrap_or(0));
            let left = ended.saturating_add(delay).saturating_sub(now).max(0);
            Ok((left as u64, delay.max(0) as u64, row.int(2)? as u32 + 1))
        })
    }

    /// `--one-attempt`: free the lease after a retry decision, so the next
    /// invocation (the next pod) takes the run over at once.
    pub fn release(&mut self, key: RunKey<'_>, fence: &Fence, now_ms: u64) -> anyhow::Result<()> {
        self.write(|tx| {
            check_lease(tx, key, fence)?;
            let now = tx.now_ms(now_ms)?;
            tx.exec(
                "UPDATE runs SET lease_owner = NULL, lease_expires_at_ms = NULL, updated_at_ms = ?3
                 WHERE run_id = ?1 AND step = ?2",
                params![key.run_id, key.step, now],
            )?;
            Ok(())
        })
    }

    /// Backstop itself was stopped by a signal: mark the running attempt (if
    /// any) and free the lease; the run stays `running` for a later invocation.
    pub fn interrupt(
        &mut self,
        key: RunKey<'_>,
        fence: &Fence,
        round: u32,
        attempt: Option<u32>,
        now_ms: u64,
        signal: &str,
    ) -> anyhow::Result<()> {
        self.write(|tx| {
            check_lease(tx, key, fence)?;
            let now = tx.now_ms(now_ms)?;
            if let Some(attempt) = attempt {
                tx.exec(
                    "UPDATE attempts SET ended_at_ms = ?5, decision = 'interrupted', explanation = ?6
                     WHERE run_id = ?1 AND step = ?2 AND round = ?3 AND attempt = ?4",
                    params![
                        key.run_id,
                        key.step,
                        round,
                        attempt,
                        now,
                        format!("backstop received {signal}")
                    ],
                )?;
            }
            tx.exec(
                "UPDATE runs SET lease_owner = NULL, lease_expires_at_ms = NULL, updated_at_ms = ?3
                 WHERE run_id = ?1 AND step = ?2",
                params![key.run_id, key.step, now],
            )?;
            Ok(())
        })
    }
}

/// Run `then` on the open transaction; a database error inside it fails
/// the transaction.
fn joined<A>(
    tx: &mut dyn Tx,
    then: impl FnOnce(&mut Within<'_>) -> anyhow::Result<A>,
) -> Result<A, Fail> {
    let mut within = Within::new(tx);
    let extra = then(&mut within);
    within.finish()?;
    Ok(extra?)
}

/// The fencing check: lock the run's row and compare the token.
fn check_lease(tx: &mut dyn Tx, key: RunKey<'_>, fence: &Fence) -> Result<(), Fail> {
    let sql = format!(
        "SELECT lease_owner, lease_epoch FROM runs WHERE run_id = ?1 AND step = ?2{}",
        tx.for_update()
    );
    let row = tx.query_opt(&sql, params![key.run_id, key.step])?;
    let held = match row {
        Some(r) => {
            r.opt_text(0)?.as_deref() == Some(fence.owner.as_str()) && r.int(1)? == fence.epoch
        }
        None => false,
    };
    if held {
        Ok(())
    } else {
        Err(Fail::Other(LeaseLost.into()))
    }
}

/// The run already ended as a success under this fence (a retried commit).
fn already_succeeded(tx: &mut dyn Tx, key: RunKey<'_>, fence: &Fence) -> Result<bool, Fail> {
    let sql = format!(
        "SELECT status, lease_owner, lease_epoch FROM runs WHERE run_id = ?1 AND step = ?2{}",
        tx.for_update()
    );
    Ok(match tx.query_opt(&sql, params![key.run_id, key.step])? {
        Some(r) => {
            r.text(0)? == "succeeded" && r.opt_text(1)?.is_none() && r.int(2)? == fence.epoch
        }
        None => false,
    })
}

fn load_state(tx: &mut dyn Tx, key: RunKey<'_>) -> Result<RetryState, Fail> {
    let row = tx
        .query_opt(
            "SELECT retry_state FROM runs WHERE run_id = ?1 AND step = ?2",
            params![key.run_id, key.step],
        )?
        .ok_or_else(|| Fail::Other(LeaseLost.into()))?;
    Ok(serde_json::from_str(&row.text(0)?)?)
}
