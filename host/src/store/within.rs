//! Alert evaluation inside a run-ledger write: the attempt's record (with its
//! fencing check), the alert state it leads to, the alert log and the outbox
//! rows commit together, so no failure is ever recorded without its alert
//! evaluation (a crash leaves both or neither).
//!
//! Lock order, the same in every transaction that takes more than one, so
//! concurrent runs never deadlock: the run's `runs` row (fencing check),
//! then the step's `shared_state` row, then the policy key's `alert_state`
//! row; the `alert_log` and `alert_outbox` rows are new. Transactions that
//! take only a later lock (`alerts tick` and `ack`: `alert_state`; the host
//! libraries' breaker stores: `shared_state`; senders: outbox rows) never
//! wait for an earlier one while holding it.

use super::alerts::{AlertLogRow, StoredPolicy, update, update_keyed};
use super::{Fail, StoreErrorKind, Tx};
use crate::alerts::{KeyedState, NeededKeys};

/// Writes that commit with the enclosing run-ledger transaction.
pub struct Within<'t> {
    tx: &'t mut dyn Tx,
    /// A database error inside: the whole transaction must fail.
    failed: Option<StoreErrorKind>,
}

/// Where an alert evaluation is written: its own transaction (a [`super::Store`])
/// or a run-ledger write's ([`Within`]).
pub trait AlertWriter {
    /// See [`super::Store::update_alerts`].
    fn update_alerts<T>(
        &mut self,
        key: &str,
        policy: &StoredPolicy,
        now_ms: u64,
        decide: impl FnOnce(&str) -> anyhow::Result<(String, Vec<AlertLogRow>, T)>,
    ) -> anyhow::Result<(Vec<i64>, T)>;

    /// See [`super::Store::update_alert_keys`].
    fn update_alert_keys<T>(
        &mut self,
        key: &str,
        policy: &StoredPolicy,
        now_ms: u64,
        needed: &NeededKeys,
        decide: impl FnOnce(&[KeyedState]) -> anyhow::Result<(Vec<KeyedState>, Vec<AlertLogRow>, T)>,
    ) -> anyhow::Result<(Vec<i64>, T)>;
}

impl AlertWriter for super::Store {
    fn update_alerts<T>(
        &mut self,
        key: &str,
        policy: &StoredPolicy,
        now_ms: u64,
        decide: impl FnOnce(&str) -> anyhow::Result<(String, Vec<AlertLogRow>, T)>,
    ) -> anyhow::Result<(Vec<i64>, T)> {
        super::Store::update_alerts(self, key, policy, now_ms, decide)
    }

    fn update_alert_keys<T>(
        &mut self,
        key: &str,
        policy: &StoredPolicy,
        now_ms: u64,
        needed: &NeededKeys,
        decide: impl FnOnce(&[KeyedState]) -> anyhow::Result<(Vec<KeyedState>, Vec<AlertLogRow>, T)>,
    ) -> anyhow::Result<(Vec<i64>, T)> {
        super::Store::update_alert_keys(self, key, policy, now_ms, needed, decide)
    }
}

const SAVEPOINT: &str = "backstop_alerts";

impl<'t> Within<'t> {
    pub(crate) fn new(tx: &'t mut dyn Tx) -> Within<'t> {
        Within { tx, failed: None }
    }

    /// After the caller's part: a database error inside fails the whole
    /// transaction (nothing of it commits).
    pub(crate) fn finish(self) -> Result<(), Fail> {
        match self.failed {
            Some(kind) => Err(Fail::Db(kind)),
            None => Ok(()),
        }
    }
}

impl Within<'_> {
    /// Run `write` under a savepoint: when it fails short of the database
    /// (a guest error, a state over its cap) only the alert part is undone
    /// and the error returned, and the attempt's record still commits; a
    /// database error fails the whole transaction, attempt included, so it
    /// is never half written.
    fn savepoint<R>(
        &mut self,
        write: impl FnOnce(&mut dyn Tx) -> Result<R, Fail>,
    ) -> anyhow::Result<R> {
        if self.failed.is_some() {
            anyhow::bail!("the state database failed earlier in this transaction");
        }
        let result = self
            .tx
            .exec(&format!("SAVEPOINT {SAVEPOINT}"), &[])
            .and_then(|_| write(self.tx));
        let undo = match result {
            Ok(value) => match self.tx.exec(&format!("RELEASE SAVEPOINT {SAVEPOINT}"), &[]) {
                Ok(_) => return Ok(value),
                Err(e) => e,
            },
            Err(Fail::Other(e)) => {
                let rolled_back = self
                    .tx
                    .exec(&format!("ROLLBACK TO SAVEPOINT {SAVEPOINT}"), &[])
                    .and_then(|_| self.tx.exec(&format!("RELEASE SAVEPOINT {SAVEPOINT}"), &[]));
                match rolled_back {
                    Ok(_) => return Err(e),
                    Err(db) => db,
                }
            }
            Err(db) => db,
        };
        let kind = match undo {
            Fail::Db(kind) => kind,
            Fail::Other(e) => StoreErrorKind::Other(format!("{e:#}")),
        };
        let message = format!("alert evaluation: state database error: {kind:?}");
        self.failed = Some(kind);
        Err(anyhow::anyhow!(message))
    }
}

impl AlertWriter for Within<'_> {
    /// As [`super::Store::update_alerts`], inside the run-ledger transaction,
    /// under a savepoint (see [`Within::savepoint`]).
    fn update_alerts<T>(
        &mut self,
        key: &str,
        policy: &StoredPolicy,
        now_ms: u64,
        decide: impl FnOnce(&str) -> anyhow::Result<(String, Vec<AlertLogRow>, T)>,
    ) -> anyhow::Result<(Vec<i64>, T)> {
        self.savepoint(|tx| update(tx, key, policy, now_ms, decide))
    }

    /// As [`super::Store::update_alert_keys`], inside the run-ledger
    /// transaction, under a savepoint (see [`Within::savepoint`]).
    fn update_alert_keys<T>(
        &mut self,
        key: &str,
        policy: &StoredPolicy,
        now_ms: u64,
        needed: &NeededKeys,
        decide: impl FnOnce(&[KeyedState]) -> anyhow::Result<(Vec<KeyedState>, Vec<AlertLogRow>, T)>,
    ) -> anyhow::Result<(Vec<i64>, T)> {
        self.savepoint(|tx| update_keyed(tx, key, policy, now_ms, needed, decide))
    }
}
