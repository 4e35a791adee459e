//! Breaker and budget state, one row per step, shared by every run of the
//! step (and, on PostgreSQL, by every machine and by the Python, Go and Node
//! helpers' stores on the same table). Read-modify-write happens under the
//! row's lock inside the caller's transaction, so concurrent updates never
//! lose one another.

use anyhow::Context;

use crate::SharedState;

use super::{Dialect, Fail, Tx, params};

/// The step's state, locked until the transaction ends.
pub(crate) fn load_shared(tx: &mut dyn Tx, step: &str) -> Result<SharedState, Fail> {
    if tx.dialect() == Dialect::Postgres {
        // A row lock needs a row: two machines creating the first state for
        // a step must not both read "none" and overwrite each other.
        tx.exec(
            "INSERT INTO shared_state (step, state, updated_at_ms) VALUES (?1, ?2, 0)
             ON CONFLICT (step) DO NOTHING",
            params![step, serde_json::to_string(&SharedState::default())?],
        )?;
    }
    let sql = format!(
        "SELECT state FROM shared_state WHERE step = ?1{}",
        tx.for_update()
    );
    match tx.query_opt(&sql, params![step])? {
        Some(row) => Ok(serde_json::from_str(&row.text(0)?)
            .with_context(|| format!("the shared state of step {step:?} is not valid"))?),
        None => Ok(SharedState::default()),
    }
}

pub(crate) fn save_shared(
    tx: &mut dyn Tx,
    step: &str,
    shared: &SharedState,
    now: i64,
) -> Result<(), Fail> {
    tx.exec(
        "INSERT INTO shared_state (step, state, updated_at_ms) VALUES (?1, ?2, ?3)
         ON CONFLICT (step) DO UPDATE SET state = excluded.state, updated_at_ms = excluded.updated_at_ms",
        params![step, serde_json::to_string(shared)?, now],
    )?;
    Ok(())
}
