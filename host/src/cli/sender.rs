//! Alert delivery beside the command. `backstop run` hands the outbox to a
//! thread with its own database connection and guest session, which delivers
//! what is due while the command runs (woken by each evaluation that queued
//! something): a page goes out while a long retry runs, and nothing on the
//! run's path (the attempt, its record, signal handling, the exit status)
//! ever waits for a receiver. When the run ends, the thread gets a bound
//! (`BACKSTOP_ALERT_DRAIN_MS`, 10 s) to deliver what is due; what is left
//! stays in the outbox for the next run, `alerts tick` or `alerts outbox
//! --drain`. A signal to backstop (or a run that ends in an error: a lost
//! lease, a state database failure) stops it between deliveries, and
//! backstop exits without waiting for a request in flight (its claim
//! expires and the row is delivered again, same dedup key).

use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Result;
use backstop::store::Store;
use backstop::{Engine, Session};

use super::fmt::now_ms;
use super::outbox::Courier;
use super::supervise::Signals;

/// While the command runs, one drain delivers for at most this long before
/// the thread looks at its instructions again (each request's timeout is cut
/// to what is left of it).
const SLICE: Duration = Duration::from_secs(1);

/// After a drain that could claim nothing (rows claimed by another sender,
/// or waiting behind an older row's retry), the thread rests this long
/// unless woken, rather than asking the database again and again.
const REST: Duration = Duration::from_secs(5);

/// When nothing is due, the thread looks at the outbox again after this (a
/// retry due later, rows another process queued) unless woken sooner.
const IDLE: Duration = Duration::from_secs(30);

#[derive(Default)]
struct Orders {
    /// Something was queued: look now.
    kicked: bool,
    /// The run ended: deliver what is due until then, and stop.
    finish_by: Option<Instant>,
    /// Stop now.
    abort: bool,
}

struct Shared {
    orders: Mutex<Orders>,
    changed: Condvar,
}

impl Shared {
    fn aborted(&self) -> bool {
        self.orders.lock().expect("sender lock").abort
    }
}

/// The delivery thread's handle.
pub struct Sender {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// Set by the thread as it ends (it also writes to the signals' wake-up
    /// pipe, so [`Sender::finish`] waits without polling).
    done: Arc<Mutex<bool>>,
}

impl Sender {
    /// Start delivering from the outbox of `state`. `stop` says when to stop
    /// at once (a signal to backstop).
    pub fn start(
        engine: Engine,
        state: PathBuf,
        busy: Duration,
        signals: &Signals,
        stop: impl Fn() -> bool + Send + 'static,
    ) -> Result<Sender> {
        let shared = Arc::new(Shared {
            orders: Mutex::new(Orders {
                // Rows left by earlier runs are looked at once.
                kicked: true,
                ..Orders::default()
            }),
            changed: Condvar::new(),
        });
        let done = Arc::new(Mutex::new(false));
        let mut waker: UnixStream = signals.waker()?;
        let (thread_shared, thread_done) = (Arc::clone(&shared), Arc::clone(&done));
        let thread = std::thread::Builder::new()
            .name("alert-sender".into())
            .spawn(move || {
                if let Err(e) = serve(&engine, &state, busy, &thread_shared, &stop) {
                    eprintln!("backstop: alerts: {e:#}");
                }
                *thread_done.lock().expect("sender lock") = true;
                let _ = std::io::Write::write_all(&mut waker, b"x");
            })?;
        Ok(Sender {
            shared,
            thread: Some(thread),
            done,
        })
    }

    /// Something was queued: deliver it now.
    pub fn kick(&self) {
        self.shared.orders.lock().expect("sender lock").kicked = true;
        self.shared.changed.notify_all();
    }

    /// The run is over: let the thread deliver what is due for at most
    /// `bound`, returning early when it is done or a signal arrives.
    pub fn finish(mut self, bound: Duration, signals: &Signals) {
        let end = Instant::now() + bound;
        self.shared.orders.lock().expect("sender lock").finish_by = Some(end);
        self.shared.changed.notify_all();
        loop {
            if *self.done.lock().expect("sender lock") {
                if let Some(thread) = self.thread.take() {
                    let _ = thread.join();
                }
                return;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() || signals.pending() {
                return;
            }
            signals.wait(left);
        }
    }
}

impl Drop for Sender {
    /// Without [`Sender::finish`] (the run failed or was interrupted): stop
    /// the thread, and never wait for a request in flight.
    fn drop(&mut self) {
        self.shared.orders.lock().expect("sender lock").abort = true;
        self.shared.changed.notify_all();
    }
}

fn serve(
    engine: &Engine,
    state: &std::path::Path,
    busy: Duration,
    shared: &Shared,
    stop: &dyn Fn() -> bool,
) -> Result<()> {
    let mut store = Store::open(state, busy)?;
    let mut courier = Courier::new(state);
    // Made when there is something to deliver: a run with nothing queued
    // costs one query, not a second guest instance (the compiled component
    // is the run's, shared).
    let mut session: Option<Session> = None;
    let halt = || stop() || shared.aborted();
    loop {
        let finish_by = {
            let mut orders = shared.orders.lock().expect("sender lock");
            if orders.abort {
                return Ok(());
            }
            orders.kicked = false;
            orders.finish_by
        };
        if halt() || finish_by.is_some_and(|t| Instant::now() >= t) {
            return Ok(());
        }
        let due = store.outbox_next_due()?;
        let now = now_ms();
        let due_now = due.is_some_and(|d| d <= now);
        // At the end, a retry due within the bound is waited for (the drain does that).
        if due_now || (finish_by.is_some() && due.is_some()) {
            let session = match &mut session {
                Some(s) => s,
                None => session.insert(engine.session()?),
            };
            let until = finish_by.unwrap_or_else(|| Instant::now() + SLICE);
            let drained = courier.drain(session, &mut store, until, &halt)?;
            if finish_by.is_some() {
                return Ok(());
            }
            if drained.delivered + drained.retrying + drained.dead > 0 {
                continue;
            }
        } else if finish_by.is_some() {
            return Ok(());
        }
        let wait = match due {
            Some(d) if d > now => Duration::from_millis(d - now).min(IDLE),
            Some(_) => REST,
            None => IDLE,
        };
        let orders = shared.orders.lock().expect("sender lock");
        let _ = shared
            .changed
            .wait_timeout_while(orders, wait, |o| {
                !o.kicked && !o.abort && o.finish_by.is_none()
            })
            .expect("sender lock");
    }
}
