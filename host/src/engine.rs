//! Embeds the policy component with wasmtime: one compiled [`Engine`], cheap
//! [`Session`]s (one wasm instance each), fuel and memory limits, and recovery
//! from traps.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Store, StoreLimits, StoreLimitsBuilder};

use crate::alerts::{
    Evaluation, Event, EventKind, KeyedEvaluation, KeyedState, NeededKeys, Notification,
    NotificationKind, Severity, Sink, SinkFormat, SinkKind, Suppressed, SuppressionReason,
};
use crate::cache::{COMPONENT_SHA256, CodeCache};
use crate::error::{Error, Result};
use crate::planner::{
    AttemptFailure, BreakerState, BudgetState, Circuit, Decision, GiveUpReason, Permit,
    PlannedAttempt, PlannedFailure, RetryState, Schedule, SharedState,
};
use crate::redaction::{RedactionReport, RuleCount};
use crate::types::{
    Classification, ErrorCode, Failure, FailureClass, Format, LogInput, LogReport, LogStream,
    PolicyError,
};

mod bindings {
    wasmtime::component::bindgen!({
        world: "backstop",
        path: "../wit",
    });
}

use bindings::exports::backstop::policy::alerts as wit_alerts;
use bindings::exports::backstop::policy::classifier as wit;
use bindings::exports::backstop::policy::logs as wit_logs;
use bindings::exports::backstop::policy::redaction as wit_redaction;
use bindings::exports::backstop::policy::retry as wit_retry;
use bindings::exports::backstop::policy::types as wit_types;
use bindings::{Backstop, BackstopPre};

/// The component, embedded so the CLI is one self-contained binary.
pub const COMPONENT: &[u8] = include_bytes!("../wasm/backstop.wasm");

/// Default fuel per call: far above any real policy (a 1 MiB document loads in
/// well under 1% of it), low enough that a runaway input stops in seconds.
pub const DEFAULT_FUEL_PER_CALL: u64 = 20_000_000_000;
/// How often the epoch ticker of an engine built with
/// [`EngineBuilder::time_per_call`] advances the epoch.
const EPOCH_TICK: std::time::Duration = std::time::Duration::from_millis(10);
/// Default cap on guest linear memory.
pub const DEFAULT_MEMORY_LIMIT: usize = 256 << 20;

/// Where precompiled code is cached.
#[derive(Debug, Clone)]
pub enum CacheMode {
    /// `$BACKSTOP_CACHE_DIR`, else the user's cache directory (`~/.cache/backstop`).
    /// `BACKSTOP_CACHE=off` disables it.
    Default,
    Dir(PathBuf),
    Disabled,
}

/// Configures an [`Engine`].
#[derive(Debug, Clone)]
pub struct EngineBuilder {
    cache: CacheMode,
    limit: CallLimit,
    memory_limit: usize,
}

/// What stops a runaway guest call.
#[derive(Debug, Clone, Copy)]
enum CallLimit {
    /// Fuel metering: deterministic, counted in every basic block.
    Fuel(u64),
    /// Epoch interruption: a wall-clock budget, in ticks of [`EPOCH_TICK`].
    Epoch(u64),
}

impl Default for EngineBuilder {
    fn default() -> Self {
        EngineBuilder {
            cache: CacheMode::Default,
            limit: CallLimit::Fuel(DEFAULT_FUEL_PER_CALL),
            memory_limit: DEFAULT_MEMORY_LIMIT,
        }
    }
}

impl EngineBuilder {
    pub fn cache(mut self, cache: CacheMode) -> Self {
        self.cache = cache;
        self
    }

    /// Fuel (roughly, wasm instructions) one guest call may burn before it traps.
    pub fn fuel_per_call(mut self, fuel: u64) -> Self {
        self.limit = CallLimit::Fuel(fuel);
        self
    }

    /// Stop a runaway guest call after this much wall-clock time instead of
    /// after an amount of fuel: epoch interruption, checked at loop headers
    /// and function entries, where fuel is counted in every basic block. The
    /// engine gets a ticker thread, which ends with the engine. Rounded up
    /// to 10 ms; a loaded machine stretches what a call gets done in it.
    pub fn time_per_call(mut self, time: std::time::Duration) -> Self {
        let ticks = time.as_millis().div_ceil(EPOCH_TICK.as_millis()).max(1);
        self.limit = CallLimit::Epoch(u64::try_from(ticks).unwrap_or(u64::MAX));
        self
    }

    /// Largest linear memory, in bytes, one instance may grow to.
    pub fn memory_limit(mut self, bytes: usize) -> Self {
        self.memory_limit = bytes;
        self
    }

    pub fn build(self) -> Result<Engine> {
        let mut config = Config::new();
        let epoch = matches!(self.limit, CallLimit::Epoch(_));
        config
            .concurrency_support(false)
            .consume_fuel(!epoch)
            .epoch_interruption(epoch)
            // Native unwind info serves only outside unwinders: nothing
            // unwinds through guest frames (the component imports no host
            // function), and traps keep their wasm backtraces. Registering
            // it with libgcc was a tenth of loading the cached code.
            .native_unwind_info(false);
        let engine = wasmtime::Engine::new(&config).map_err(runtime)?;
        if epoch {
            let weak = engine.weak();
            std::thread::Builder::new()
                .name("backstop-epoch".into())
                .spawn(move || {
                    while let Some(engine) = weak.upgrade() {
                        engine.increment_epoch();
                        drop(engine);
                        std::thread::sleep(EPOCH_TICK);
                    }
                })
                .map_err(|e| Error::Runtime(format!("starting the epoch ticker: {e}")))?;
        }
        let cache = match self.cache {
            CacheMode::Default => CodeCache::from_env(),
            CacheMode::Dir(dir) => Some(CodeCache::new(dir)),
            CacheMode::Disabled => None,
        };
        let component = match &cache {
            Some(cache) => cache.load_or_compile(&engine, COMPONENT, COMPONENT_SHA256)?,
            None => Component::new(&engine, COMPONENT).map_err(runtime)?,
        };
        // The component imports nothing, so the linker stays empty.
        let linker = Linker::<HostState>::new(&engine);
        let pre = linker.instantiate_pre(&component).map_err(runtime)?;
        let pre = BackstopPre::new(pre).map_err(runtime)?;
        Ok(Engine {
            inner: Arc::new(EngineInner {
                engine,
                component,
                pre,
                limit: self.limit,
                memory_limit: self.memory_limit,
            }),
        })
    }
}

/// A compiled policy component. Cheap to clone; share it across threads and
/// create one [`Session`] per thread.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    engine: wasmtime::Engine,
    component: Component,
    pre: BackstopPre<HostState>,
    limit: CallLimit,
    memory_limit: usize,
}

impl EngineInner {
    /// Give the store one call's allowance.
    fn arm(&self, store: &mut Store<HostState>) -> Result<()> {
        match self.limit {
            CallLimit::Fuel(fuel) => store.set_fuel(fuel).map_err(runtime),
            CallLimit::Epoch(ticks) => {
                store.set_epoch_deadline(ticks);
                Ok(())
            }
        }
    }
}

impl Engine {
    /// An engine with the default cache and limits.
    pub fn new() -> Result<Engine> {
        EngineBuilder::default().build()
    }

    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// A new instance of the component with its own loaded policies.
    pub fn session(&self) -> Result<Session> {
        let (store, bindings) = self.instantiate()?;
        Ok(Session {
            engine: self.clone(),
            store,
            bindings,
            policies: HashMap::default(),
            next_id: 0,
        })
    }

    /// The component's own imports and exports (for tests and `backstop version`).
    pub fn component_imports(&self) -> Vec<String> {
        let ty = self.inner.component.component_type();
        ty.imports(&self.inner.engine)
            .map(|(name, _)| name.to_string())
            .collect()
    }

    pub fn component_exports(&self) -> Vec<String> {
        let ty = self.inner.component.component_type();
        ty.exports(&self.inner.engine)
            .map(|(name, _)| name.to_string())
            .collect()
    }

    fn instantiate(&self) -> Result<(Store<HostState>, Backstop)> {
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.inner.memory_limit)
            .instances(1)
            .build();
        let mut store = Store::new(&self.inner.engine, HostState { limits });
        store.limiter(|state| &mut state.limits);
        self.inner.arm(&mut store)?;
        let bindings = self.inner.pre.instantiate(&mut store).map_err(runtime)?;
        Ok((store, bindings))
    }
}

struct HostState {
    limits: StoreLimits,
}

/// A loaded policy, valid in the [`Session`] that loaded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    id: u64,
}

struct LoadedPolicy {
    source: Arc<str>,
    format: Format,
    handle: u32,
    /// The guest's `fast-path-for` answers (a pure function of the policy and
    /// a shared state) for the all-zero state and for the last steady state:
    /// what `begin_attempt` on a fresh state and `after_success` may skip.
    fast_zero: Option<FastPath>,
    fast_last: Option<(SharedState, FastPath)>,
    /// The retry helpers' default breaker and budget (see `retrying::Retry`),
    /// shared by every retry loop with this policy. Kept beside the fast-path
    /// answers so that a successful loop finds both in one look-up.
    retry_shared: SharedState,
}

impl LoadedPolicy {
    /// The guest's fast-path answer already known for `shared`, if any.
    fn known_fast_path(&self, shared: &SharedState) -> Option<&FastPath> {
        known_fast_path(&self.fast_zero, &self.fast_last, shared)
    }
}

/// [`LoadedPolicy::known_fast_path`] over the two fields alone, so that the
/// policy's other fields stay writable while the answer is borrowed.
fn known_fast_path<'a>(
    fast_zero: &'a Option<FastPath>,
    fast_last: &'a Option<(SharedState, FastPath)>,
    shared: &SharedState,
) -> Option<&'a FastPath> {
    if *shared == SharedState::default() {
        return fast_zero.as_ref();
    }
    match fast_last {
        Some((known, fast)) if known == shared => Some(fast),
        _ => None,
    }
}

/// Policy ids are a session's own counter, never chosen by anyone else, so
/// the maps keyed by them need no DoS-resistant hash: a multiply spreads
/// them, cheaper than SipHash on the several look-ups of a successful
/// retry loop that makes no guest call.
type IdHash = std::hash::BuildHasherDefault<IdHasher>;

#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }
    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

/// What the guest says a host may skip for one shared state.
#[derive(Debug, Clone)]
struct FastPath {
    success_records_nothing: bool,
    fresh_permit: Option<Permit>,
}

/// One instance of the component. Not `Sync`: use one per thread.
pub struct Session {
    engine: Engine,
    store: Store<HostState>,
    bindings: Backstop,
    policies: HashMap<u64, LoadedPolicy, IdHash>,
    next_id: u64,
}

/// A fresh operation's first permit, as the guest's fast-path answer gives
/// it, borrowed from the session's cache.
pub(crate) struct FreshPermit<'a>(&'a Permit);

impl FreshPermit<'_> {
    pub(crate) fn get(&self) -> &Permit {
        self.0
    }

    /// The permit as the attempt that started at `started_ms` holds it: the
    /// seed not drawn yet (0), the start recorded.
    pub(crate) fn started_at(&self, started_ms: u64) -> Permit {
        let mut permit = self.0.clone();
        permit.state.seed = 0;
        permit.state.started_at_ms = Some(started_ms);
        permit
    }
}

impl Session {
    /// The retry helpers' default shared state (breaker and budget) of
    /// `policy`; `None` once it is unloaded.
    pub(crate) fn retry_shared(&mut self, policy: Policy) -> Option<&mut SharedState> {
        self.policies
            .get_mut(&policy.id)
            .map(|loaded| &mut loaded.retry_shared)
    }

    /// The retry helpers' first attempt against the session's own shared
    /// state of `policy`, when the guest's known `fast-path-for` answer for
    /// that state gives a fresh permit: the permit for a fresh operation whose
    /// seed is not drawn yet (the caller fills in `started-at-ms`), written
    /// back like every permit's shared state, and whether a success right
    /// after it records nothing (the answer says so for the state the permit
    /// leaves). One look-up and no guest call; `None` when the guest must be
    /// asked, or the permit refuses (`begin_attempt` reports both). The
    /// permit is lent, not copied: an attempt that succeeds needs only its
    /// number, timeout and probe flag (see [`FreshPermit`]).
    pub(crate) fn fresh_start(&mut self, policy: Policy) -> Option<(FreshPermit<'_>, bool)> {
        let loaded = self.policies.get_mut(&policy.id)?;
        let shared = loaded.retry_shared;
        let fast = known_fast_path(&loaded.fast_zero, &loaded.fast_last, &shared)?;
        let permit = fast.fresh_permit.as_ref().filter(|p| p.refused.is_none())?;
        let unchanged = permit.shared == shared;
        let success_free = fast.success_records_nothing && unchanged;
        if !unchanged {
            loaded.retry_shared = permit.shared;
        }
        Some((FreshPermit(permit), success_free))
    }

    /// Parse and validate a policy once; classify with it many times.
    pub fn load_policy(&mut self, source: &str, format: Format) -> Result<Policy> {
        let handle = self.load_in_guest(source, format)?;
        self.next_id += 1;
        self.policies.insert(
            self.next_id,
            LoadedPolicy {
                source: source.into(),
                format,
                handle,
                fast_zero: None,
                fast_last: None,
                retry_shared: SharedState::default(),
            },
        );
        Ok(Policy { id: self.next_id })
    }

    /// The built-in rules alone.
    pub fn default_policy(&mut self) -> Result<Policy> {
        self.load_policy("", Format::Toml)
    }

    pub fn classify(&mut self, policy: Policy, failure: &Failure) -> Result<Classification> {
        let handle = self.handle(policy)?;
        let failure = to_wit_failure(failure);
        let result = self.call(|bindings, store| {
            bindings
                .backstop_policy_classifier()
                .call_classify(store, handle, &failure)
        })?;
        let verdict = result.map_err(|e| Error::Rejected(from_wit_error(e)))?;
        Ok(from_wit_classification(verdict))
    }

    /// Before each attempt: may it start (breaker, deadline), and with what timeout?
    pub fn begin_attempt(
        &mut self,
        policy: Policy,
        state: &RetryState,
        shared: &SharedState,
        now_ms: u64,
    ) -> Result<Permit> {
        // A fresh state against a shared state the guest gave a fresh permit
        // for: its answer with the clock and the seed filled in, as it says.
        let fresh = RetryState {
            seed: state.seed,
            ..RetryState::default()
        };
        if *state == fresh
            && let Some(fast) = self.fast_path(policy, shared)?
            && let Some(permit) = &fast.fresh_permit
        {
            let mut permit = permit.clone();
            permit.state.started_at_ms = Some(now_ms);
            permit.state.seed = state.seed;
            return Ok(permit);
        }
        let handle = self.handle(policy)?;
        let (state, shared) = (to_wit_state(state), to_wit_shared(shared));
        let result = self.call(|bindings, store| {
            bindings
                .backstop_policy_retry()
                .call_begin_attempt(store, handle, state, shared, now_ms)
        })?;
        let p = result.map_err(|e| Error::Rejected(from_wit_error(e)))?;
        Ok(from_wit_permit(p))
    }

    /// After a failed attempt: classify it, then retry after how long or give up.
    pub fn after_failure(
        &mut self,
        policy: Policy,
        state: &RetryState,
        shared: &SharedState,
        outcome: &AttemptFailure,
        now_ms: u64,
    ) -> Result<Decision> {
        let handle = self.handle(policy)?;
        let (state, shared) = (to_wit_state(state), to_wit_shared(shared));
        let outcome = to_wit_outcome(outcome);
        let result = self.call(|bindings, store| {
            bindings
                .backstop_policy_retry()
                .call_after_failure(store, handle, state, shared, &outcome, now_ms)
        })?;
        let d = result.map_err(|e| Error::Rejected(from_wit_error(e)))?;
        Ok(from_wit_decision(d))
    }

    /// `after_failure`, then what the same failure decides when it fails
    /// again and again: entry 0 is `after_failure(state, shared, outcome,
    /// now_ms)`; entry i + 1 exists when entry i has a `next_permit` p (and
    /// `max_entries`, clamped to 1 to 64, allows), and is
    /// `after_failure(p.state, p.shared, o, t)` for every `t` and every `o`
    /// with `outcome`'s failure and pushback. The guest decides which answers
    /// cannot depend on the clock (no deadline, the breaker closed or absent).
    /// A retry loop may keep the answer and take an entry while the failure
    /// and the states it holds are the ones the entry was computed for, so a
    /// repeated failure costs no guest call. ([`Retry`](crate::retrying::Retry)
    /// does not: under wasmtime an entry costs about what the call it saves
    /// costs; see docs/ARCHITECTURE.md, "repeated failures".)
    pub fn plan_failures(
        &mut self,
        policy: Policy,
        state: &RetryState,
        shared: &SharedState,
        outcome: &AttemptFailure,
        now_ms: u64,
        max_entries: u32,
    ) -> Result<Vec<PlannedFailure>> {
        let handle = self.handle(policy)?;
        let (state, shared) = (to_wit_state(state), to_wit_shared(shared));
        let outcome = to_wit_outcome(outcome);
        let result = self.call(|bindings, store| {
            bindings.backstop_policy_retry().call_plan_failures(
                store,
                handle,
                state,
                shared,
                &outcome,
                now_ms,
                max_entries,
            )
        })?;
        let entries = result.map_err(|e| Error::Rejected(from_wit_error(e)))?;
        Ok(entries
            .into_iter()
            .map(|e| PlannedFailure {
                decision: from_wit_decision(e.decision),
                next_permit: e.next_permit.map(from_wit_permit),
            })
            .collect())
    }

    /// After a successful attempt: close a half-open circuit, refill the budget.
    pub fn after_success(&mut self, policy: Policy, shared: &SharedState) -> Result<SharedState> {
        if let Some(fast) = self.known_fast_path(policy, shared)
            && fast.success_records_nothing
        {
            return Ok(*shared);
        }
        let handle = self.handle(policy)?;
        let wit_shared = to_wit_shared(shared);
        let result = self.call(|bindings, store| {
            bindings
                .backstop_policy_retry()
                .call_after_success(store, handle, wit_shared)
        })?;
        let next = from_wit_shared(result.map_err(|e| Error::Rejected(from_wit_error(e)))?);
        if next == *shared && *shared != SharedState::default() {
            // A steady state (a success left it as it was): ask once what may
            // be skipped for it, so the next calls against it skip the guest.
            let fast = self.fast_path_for(policy, shared)?;
            if let Some(loaded) = self.policies.get_mut(&policy.id) {
                loaded.fast_last = Some((*shared, fast));
            }
        }
        Ok(next)
    }

    /// The guest's fast-path answer already known for `shared`, if any.
    fn known_fast_path(&self, policy: Policy, shared: &SharedState) -> Option<&FastPath> {
        self.policies.get(&policy.id)?.known_fast_path(shared)
    }

    /// The fast-path answer for `shared` when known; for the all-zero state
    /// (every new dependency's) it is asked once per policy.
    fn fast_path(&mut self, policy: Policy, shared: &SharedState) -> Result<Option<&FastPath>> {
        if *shared == SharedState::default()
            && self
                .policies
                .get(&policy.id)
                .is_some_and(|p| p.fast_zero.is_none())
        {
            let fast = self.fast_path_for(policy, shared)?;
            if let Some(loaded) = self.policies.get_mut(&policy.id) {
                loaded.fast_zero = Some(fast);
            }
        }
        Ok(self.known_fast_path(policy, shared))
    }

    fn fast_path_for(&mut self, policy: Policy, shared: &SharedState) -> Result<FastPath> {
        let handle = self.handle(policy)?;
        let wit_shared = to_wit_shared(shared);
        let result = self.call(|bindings, store| {
            bindings
                .backstop_policy_retry()
                .call_fast_path_for(store, handle, wit_shared)
        })?;
        let f = result.map_err(|e| Error::Rejected(from_wit_error(e)))?;
        Ok(FastPath {
            success_records_nothing: f.success_records_nothing,
            fresh_permit: f.fresh_permit.map(from_wit_permit),
        })
    }

    /// A dry run: the attempts the policy would make if every one failed transiently.
    pub fn plan_schedule(
        &mut self,
        policy: Policy,
        seed: u64,
        max_entries: u32,
    ) -> Result<Schedule> {
        let handle = self.handle(policy)?;
        let result = self.call(|bindings, store| {
            bindings
                .backstop_policy_retry()
                .call_plan_schedule(store, handle, seed, max_entries)
        })?;
        let s = result.map_err(|e| Error::Rejected(from_wit_error(e)))?;
        Ok(Schedule {
            attempts: s
                .attempts
                .into_iter()
                .map(|a| PlannedAttempt {
                    attempt: a.attempt,
                    delay_ms: a.delay_ms,
                    timeout_ms: a.timeout_ms,
                    start_ms: a.start_ms,
                })
                .collect(),
            ends_with: s.ends_with.map(from_wit_give_up),
        })
    }

    /// Evaluate one pipeline event against the policy's alert rules.
    /// `state` is the previous evaluation's state (`""` for none).
    pub fn evaluate_alerts(
        &mut self,
        policy: Policy,
        state: &str,
        event: &Event,
        now_ms: u64,
    ) -> Result<Evaluation> {
        let handle = self.handle(policy)?;
        let event = to_wit_event(event);
        let result = self.call(|bindings, store| {
            bindings
                .backstop_policy_alerts()
                .call_evaluate(store, handle, state, &event, now_ms)
        })?;
        let e = result.map_err(|e| Error::Rejected(from_wit_error(e)))?;
        Ok(Evaluation {
            notifications: from_wit_notifications(e.notifications)?,
            suppressed: from_wit_suppressed(e.suppressed),
            state: e.state,
            next_wakeup_ms: e.next_wakeup_ms,
        })
    }

    /// The keyed alert state shards `event` needs (see [`KeyedState`]).
    pub fn alert_state_keys(&mut self, policy: Policy, event: &Event) -> Result<NeededKeys> {
        let handle = self.handle(policy)?;
        let event = to_wit_event(event);
        let result = self.call(|bindings, store| {
            bindings
                .backstop_policy_alerts()
                .call_alert_state_keys(store, handle, &event)
        })?;
        let n = result.map_err(|e| Error::Rejected(from_wit_error(e)))?;
        Ok(NeededKeys {
            keys: n.keys,
            every_key: n.every_key,
        })
    }

    /// Evaluate one event over the keyed shards loaded for it: the needed
    /// keys that exist, the stored keys whose wakeup is due, and a
    /// whole-document state under the key `""` if one is stored. Returns the
    /// shards to store (an empty state deletes its key).
    pub fn evaluate_alerts_keyed(
        &mut self,
        policy: Policy,
        states: &[KeyedState],
        event: &Event,
        now_ms: u64,
    ) -> Result<KeyedEvaluation> {
        let handle = self.handle(policy)?;
        let event = to_wit_event(event);
        let states: Vec<wit_alerts::KeyedState> = states
            .iter()
            .map(|s| wit_alerts::KeyedState {
                key: s.key.clone(),
                state: s.state.clone(),
                next_wakeup_ms: s.next_wakeup_ms,
            })
            .collect();
        let result = self.call(|bindings, store| {
            bindings
                .backstop_policy_alerts()
                .call_evaluate_keyed(store, handle, &states, &event, now_ms)
        })?;
        let e = result.map_err(|e| Error::Rejected(from_wit_error(e)))?;
        Ok(KeyedEvaluation {
            notifications: from_wit_notifications(e.notifications)?,
            suppressed: from_wit_suppressed(e.suppressed),
            states: e
                .states
                .into_iter()
                .map(|s| KeyedState {
                    key: s.key,
                    state: s.state,
                    next_wakeup_ms: s.next_wakeup_ms,
                })
                .collect(),
            next_wakeup_ms: e.next_wakeup_ms,
        })
    }

    /// The policy's alert sinks, validated at load; `None` when the policy has
    /// no alert section at all.
    pub fn alert_sinks(&mut self, policy: Policy) -> Result<Option<Vec<Sink>>> {
        let handle = self.handle(policy)?;
        let result = self
            .call(|bindings, store| bindings.backstop_policy_alerts().call_sinks(store, handle))?;
        let sinks = result.map_err(|e| Error::Rejected(from_wit_error(e)))?;
        Ok(sinks.map(|sinks| {
            sinks
                .into_iter()
                .map(|s| Sink {
                    target: s.target,
                    kind: match s.kind {
                        wit_alerts::SinkKind::Stdout => SinkKind::Stdout,
                        wit_alerts::SinkKind::File => SinkKind::File,
                        wit_alerts::SinkKind::Webhook => SinkKind::Webhook,
                        wit_alerts::SinkKind::Command => SinkKind::Command,
                    },
                    location: s.location,
                    format: match s.format {
                        wit_alerts::SinkFormat::Backstop => SinkFormat::Backstop,
                        wit_alerts::SinkFormat::Pagerduty => SinkFormat::Pagerduty,
                        wit_alerts::SinkFormat::Slack => SinkFormat::Slack,
                        wit_alerts::SinkFormat::Template => SinkFormat::Template,
                    },
                    timeout_ms: s.timeout_ms,
                    dead_letter: s.dead_letter,
                    routing_key_env: s.routing_key_env,
                    template: s.template,
                })
                .collect()
        }))
    }

    /// Redact secrets from `text` with the built-in rules and the policy's
    /// `[redaction]` patterns and allow-list. Redact a whole log tail before
    /// splitting or clipping it: a PEM block spans lines, and a header's
    /// prefix is what gives the token after it away.
    pub fn redact(&mut self, policy: Policy, text: &str) -> Result<RedactionReport> {
        let handle = self.handle(policy)?;
        let result = self.call(|bindings, store| {
            bindings
                .backstop_policy_redaction()
                .call_redact(store, handle, text)
        })?;
        let r: wit_redaction::RedactionReport =
            result.map_err(|e| Error::Rejected(from_wit_error(e)))?;
        Ok(RedactionReport {
            text: r.text,
            redactions: r
                .redactions
                .into_iter()
                .map(|c| RuleCount {
                    rule: c.rule,
                    count: c.count,
                })
                .collect(),
        })
    }

    /// Read a failure out of a process's output tail (Python tracebacks,
    /// provider codes, HTTP and gRPC statuses, JVM/Node/Go errors, errno
    /// texts); classify the report's `failure` with [`Session::classify`].
    /// Errors only for a signal that is neither a name nor a number.
    pub fn read_log(&mut self, input: &LogInput) -> Result<LogReport> {
        let input = wit_logs::LogInput {
            text: input.text.clone(),
            exit_code: input.exit_code,
            signal: input.signal.clone(),
            stream: input.stream.map(|s| match s {
                LogStream::Stderr => wit_logs::LogStream::Stderr,
                LogStream::Stdout => wit_logs::LogStream::Stdout,
                LogStream::Combined => wit_logs::LogStream::Combined,
            }),
        };
        let result = self
            .call(|bindings, store| bindings.backstop_policy_logs().call_read_log(store, &input))?;
        let r = result.map_err(|e| Error::Rejected(from_wit_error(e)))?;
        Ok(LogReport {
            failure: from_wit_failure(r.failure),
            readers: r.readers,
            summary: r.summary,
            pushback_ms: r.pushback_ms,
        })
    }

    /// The default jitter seed for an idempotency key (`<run id>/<step>`).
    pub fn derive_seed(&mut self, key: &str) -> Result<u64> {
        self.call(|bindings, store| {
            bindings
                .backstop_policy_retry()
                .call_derive_seed(store, key)
        })
    }

    /// Release a policy in the guest. Using it afterwards is an error.
    pub fn unload(&mut self, policy: Policy) -> Result<()> {
        if let Some(loaded) = self.policies.remove(&policy.id) {
            self.call(|bindings, store| {
                bindings
                    .backstop_policy_classifier()
                    .call_drop_policy(store, loaded.handle)
            })?;
        }
        Ok(())
    }

    fn handle(&self, policy: Policy) -> Result<u32> {
        self.policies
            .get(&policy.id)
            .map(|loaded| loaded.handle)
            .ok_or_else(|| {
                Error::Rejected(PolicyError {
                    code: ErrorCode::UnknownPolicy,
                    message: "this policy was unloaded or belongs to another session".into(),
                    path: String::new(),
                    line: None,
                    column: None,
                })
            })
    }

    fn load_in_guest(&mut self, source: &str, format: Format) -> Result<u32> {
        let format = match format {
            Format::Toml => wit_types::PolicyFormat::Toml,
            Format::Json => wit_types::PolicyFormat::Json,
        };
        let result = self.call(|bindings, store| {
            bindings
                .backstop_policy_classifier()
                .call_load_policy(store, source, format)
        })?;
        result.map_err(|errors| {
            Error::InvalidPolicy(errors.into_iter().map(from_wit_error).collect())
        })
    }

    /// Run one guest call with a fresh fuel allowance. A trap poisons the
    /// instance, so it is replaced and every policy reloaded into the new one.
    fn call<T>(
        &mut self,
        f: impl FnOnce(&Backstop, &mut Store<HostState>) -> wasmtime::Result<T>,
    ) -> Result<T> {
        self.engine.inner.arm(&mut self.store)?;
        match f(&self.bindings, &mut self.store) {
            Ok(value) => Ok(value),
            Err(trap) => {
                let message = format!("{trap:#}");
                self.restart()?;
                Err(Error::Trap(message))
            }
        }
    }

    fn restart(&mut self) -> Result<()> {
        let (store, bindings) = self.engine.instantiate()?;
        self.store = store;
        self.bindings = bindings;
        let reload: Vec<(u64, Arc<str>, Format)> = self
            .policies
            .iter()
            .map(|(id, p)| (*id, p.source.clone(), p.format))
            .collect();
        for (id, source, format) in reload {
            match self.load_in_guest(&source, format) {
                Ok(handle) => {
                    if let Some(p) = self.policies.get_mut(&id) {
                        p.handle = handle;
                    }
                }
                Err(err) => {
                    return Err(Error::Runtime(format!(
                        "reloading a policy after a trap: {err}"
                    )));
                }
            }
        }
        Ok(())
    }
}

fn to_wit_failure(failure: &Failure) -> wit::Failure {
    wit::Failure {
        http_status: failure.http_status,
        grpc_code: failure.grpc_code.clone(),
        exit_code: failure.exit_code,
        signal: failure.signal.clone(),
        error_types: failure.error_types.clone(),
        error_bases: failure.error_bases.clone(),
        error_code: failure.error_code.clone(),
        message: failure.message.clone(),
    }
}

fn from_wit_failure(failure: wit::Failure) -> Failure {
    Failure {
        http_status: failure.http_status,
        grpc_code: failure.grpc_code,
        exit_code: failure.exit_code,
        signal: failure.signal,
        error_types: failure.error_types,
        error_bases: failure.error_bases,
        error_code: failure.error_code,
        message: failure.message,
    }
}

fn from_wit_classification(verdict: wit::Classification) -> Classification {
    Classification {
        class: match verdict.class {
            wit_types::FailureClass::Transient => FailureClass::Transient,
            wit_types::FailureClass::Permanent => FailureClass::Permanent,
            wit_types::FailureClass::Unknown => FailureClass::Unknown,
        },
        rule: verdict.rule,
        reason: verdict.reason,
    }
}

fn to_wit_outcome(outcome: &AttemptFailure) -> wit_retry::AttemptFailure {
    wit_retry::AttemptFailure {
        failure: to_wit_failure(&outcome.failure),
        duration_ms: outcome.duration_ms,
        pushback_ms: outcome.pushback_ms,
    }
}

fn from_wit_decision(d: wit_retry::Decision) -> Decision {
    Decision {
        give_up: d.give_up.map(from_wit_give_up),
        delay_ms: d.delay_ms,
        attempt: d.attempt,
        next_timeout_ms: d.next_timeout_ms,
        classification: from_wit_classification(d.classification),
        explanation: d.explanation,
        state: from_wit_state(d.state),
        shared: from_wit_shared(d.shared),
    }
}

fn from_wit_permit(p: wit_retry::Permit) -> Permit {
    Permit {
        refused: p.refused.map(from_wit_give_up),
        attempt: p.attempt,
        timeout_ms: p.timeout_ms,
        retry_after_ms: p.retry_after_ms,
        probe: p.probe,
        state: from_wit_state(p.state),
        shared: from_wit_shared(p.shared),
    }
}

fn to_wit_state(s: &RetryState) -> wit_retry::RetryState {
    wit_retry::RetryState {
        attempts: s.attempts,
        started_at_ms: s.started_at_ms,
        last_delay_ms: s.last_delay_ms,
        seed: s.seed,
    }
}

fn from_wit_state(s: wit_retry::RetryState) -> RetryState {
    RetryState {
        attempts: s.attempts,
        started_at_ms: s.started_at_ms,
        last_delay_ms: s.last_delay_ms,
        seed: s.seed,
    }
}

fn to_wit_shared(s: &SharedState) -> wit_retry::SharedState {
    let b = &s.breaker;
    wit_retry::SharedState {
        breaker: wit_retry::BreakerState {
            circuit: match b.circuit {
                Circuit::Closed => wit_retry::Circuit::Closed,
                Circuit::Open => wit_retry::Circuit::Open,
                Circuit::HalfOpen => wit_retry::Circuit::HalfOpen,
            },
            consecutive_failures: b.consecutive_failures,
            recent_outcomes: b.recent_outcomes,
            recent_count: b.recent_count,
            opened_at_ms: b.opened_at_ms,
            probes_started: b.probes_started,
            probes_succeeded: b.probes_succeeded,
        },
        budget: wit_retry::BudgetState {
            spent_milli: s.budget.spent_milli,
        },
    }
}

fn from_wit_shared(s: wit_retry::SharedState) -> SharedState {
    let b = s.breaker;
    SharedState {
        breaker: BreakerState {
            circuit: match b.circuit {
                wit_retry::Circuit::Closed => Circuit::Closed,
                wit_retry::Circuit::Open => Circuit::Open,
                wit_retry::Circuit::HalfOpen => Circuit::HalfOpen,
            },
            consecutive_failures: b.consecutive_failures,
            recent_outcomes: b.recent_outcomes,
            recent_count: b.recent_count,
            opened_at_ms: b.opened_at_ms,
            probes_started: b.probes_started,
            probes_succeeded: b.probes_succeeded,
        },
        budget: BudgetState {
            spent_milli: s.budget.spent_milli,
        },
    }
}

fn from_wit_give_up(reason: wit_retry::GiveUpReason) -> GiveUpReason {
    use wit_retry::GiveUpReason as W;
    match reason {
        W::Permanent => GiveUpReason::Permanent,
        W::AttemptsExhausted => GiveUpReason::AttemptsExhausted,
        W::Deadline => GiveUpReason::Deadline,
        W::PushbackBeyondDeadline => GiveUpReason::PushbackBeyondDeadline,
        W::CircuitOpen => GiveUpReason::CircuitOpen,
        W::BudgetExhausted => GiveUpReason::BudgetExhausted,
    }
}

fn from_wit_error(e: wit_types::PolicyError) -> PolicyError {
    use wit_types::ErrorCode as W;
    PolicyError {
        code: match e.code {
            W::Syntax => ErrorCode::Syntax,
            W::UnknownField => ErrorCode::UnknownField,
            W::MissingField => ErrorCode::MissingField,
            W::WrongType => ErrorCode::WrongType,
            W::InvalidValue => ErrorCode::InvalidValue,
            W::OutOfRange => ErrorCode::OutOfRange,
            W::DuplicateId => ErrorCode::DuplicateId,
            W::InvalidRegex => ErrorCode::InvalidRegex,
            W::TooLarge => ErrorCode::TooLarge,
            W::UnknownPolicy => ErrorCode::UnknownPolicy,
            W::InvalidFailure => ErrorCode::InvalidFailure,
            W::InvalidState => ErrorCode::InvalidState,
        },
        message: e.message,
        path: e.path,
        line: e.location.map(|l| l.line),
        column: e.location.map(|l| l.column),
    }
}

fn runtime(err: impl std::fmt::Display) -> Error {
    Error::Runtime(format!("{err:#}"))
}

fn to_wit_event(event: &Event) -> wit_alerts::Event {
    wit_alerts::Event {
        kind: match event.kind {
            EventKind::AttemptFailed => wit_alerts::EventKind::AttemptFailed,
            EventKind::RunFailed => wit_alerts::EventKind::RunFailed,
            EventKind::RunSucceeded => wit_alerts::EventKind::RunSucceeded,
            EventKind::RunLate => wit_alerts::EventKind::RunLate,
            EventKind::AlertAcknowledged => wit_alerts::EventKind::AlertAcknowledged,
            EventKind::Tick => wit_alerts::EventKind::Tick,
        },
        pipeline: event.pipeline.clone(),
        step: event.step.clone(),
        run_id: event.run_id.clone(),
        failure: event.failure.as_ref().map(to_wit_failure),
        attempt: event.attempt,
        late_minutes: event.late_minutes,
        labels: event
            .labels
            .iter()
            .map(|(key, value)| wit_alerts::Label {
                key: key.clone(),
                value: value.clone(),
            })
            .collect(),
        log_lines: event.log_lines.clone(),
        dedup_key: event.dedup_key.clone(),
    }
}

fn from_wit_severity(s: wit_alerts::Severity) -> Severity {
    match s {
        wit_alerts::Severity::Info => Severity::Info,
        wit_alerts::Severity::Warning => Severity::Warning,
        wit_alerts::Severity::High => Severity::High,
        wit_alerts::Severity::Critical => Severity::Critical,
    }
}

fn from_wit_notifications(list: Vec<wit_alerts::Notification>) -> Result<Vec<Notification>> {
    list.into_iter()
        .map(|n| {
            Ok(Notification {
                kind: match n.kind {
                    wit_alerts::NotificationKind::Trigger => NotificationKind::Trigger,
                    wit_alerts::NotificationKind::Escalate => NotificationKind::Escalate,
                    wit_alerts::NotificationKind::Repeat => NotificationKind::Repeat,
                    wit_alerts::NotificationKind::Resolve => NotificationKind::Resolve,
                },
                severity: from_wit_severity(n.severity),
                targets: n.targets,
                rule: n.rule,
                dedup_key: n.dedup_key,
                summary: n.summary,
                payload: serde_json::from_str(&n.payload).map_err(|e| {
                    Error::Runtime(format!("the guest sent a payload that is not JSON: {e}"))
                })?,
            })
        })
        .collect()
}

fn from_wit_suppressed(list: Vec<wit_alerts::Suppressed>) -> Vec<Suppressed> {
    list.into_iter()
        .map(|x| Suppressed {
            rule: x.rule,
            dedup_key: x.dedup_key,
            severity: from_wit_severity(x.severity),
            reason: match x.reason {
                wit_alerts::SuppressionReason::Duplicate => SuppressionReason::Duplicate,
                wit_alerts::SuppressionReason::Inhibited => SuppressionReason::Inhibited,
                wit_alerts::SuppressionReason::Acknowledged => SuppressionReason::Acknowledged,
                wit_alerts::SuppressionReason::RepeatLimit => SuppressionReason::RepeatLimit,
            },
        })
        .collect()
}
