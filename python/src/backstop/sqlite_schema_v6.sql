CREATE TABLE runs (
    run_id              TEXT NOT NULL,
    step                TEXT NOT NULL,
    -- 1, then +1 each time a run that gave up (or is forced) is started again.
    round               INTEGER NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    -- The planner's retry-state for the current round, canonical JSON.
    retry_state         TEXT NOT NULL,
    -- 'succeeded' or the give-up reason, once the round has ended.
    outcome             TEXT,
    -- What `backstop run` exited with when the round ended.
    exit_status         INTEGER,
    created_at_ms       INTEGER NOT NULL,
    updated_at_ms       INTEGER NOT NULL,
    finished_at_ms      INTEGER,
    -- The invocation running it (host:pid:nonce:machine) and until when; NULL when free.
    lease_owner         TEXT,
    lease_expires_at_ms INTEGER,
    PRIMARY KEY (run_id, step)
);
CREATE TABLE attempts (
    run_id          TEXT NOT NULL,
    step            TEXT NOT NULL,
    round           INTEGER NOT NULL,
    -- 1-based within the round, as the planner counts.
    attempt         INTEGER NOT NULL,
    host            TEXT NOT NULL,
    -- Process group of the command while it runs (= the child's pid), and the
    -- child's start time in clock ticks (Linux), to find orphans on takeover.
    pid             INTEGER,
    pid_start       INTEGER,
    started_at_ms   INTEGER NOT NULL,
    ended_at_ms     INTEGER,
    -- The wait before this attempt (0 for a round's first) and its timeout.
    delay_before_ms INTEGER NOT NULL,
    timeout_ms      INTEGER,
    exit_code       INTEGER,
    signal          TEXT,
    timed_out       INTEGER NOT NULL DEFAULT 0,
    class           TEXT,
    rule            TEXT,
    -- 'succeeded', 'retry', 'give-up', 'interrupted' (backstop was stopped by a
    -- signal), 'abandoned' (its backstop died; taken over), NULL while running.
    decision        TEXT,
    give_up_reason  TEXT,
    delay_after_ms  INTEGER,
    explanation     TEXT,
    PRIMARY KEY (run_id, step, round, attempt),
    FOREIGN KEY (run_id, step) REFERENCES runs (run_id, step)
);
CREATE INDEX attempts_by_step ON attempts (step);
-- Circuit breaker and retry budget, shared by every run of a step.
CREATE TABLE shared_state (
    step          TEXT PRIMARY KEY,
    state         TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL
);

-- The escalation evaluator's state (opaque JSON) per alert policy key (the
-- pipeline name), and the policy that made it (so `alerts ack` can evaluate).
CREATE TABLE IF NOT EXISTS alert_state (
    policy_key    TEXT PRIMARY KEY,
    state         TEXT NOT NULL,
    updated_at_ms INTEGER NOT NULL,
    policy_path   TEXT,
    policy_format TEXT,
    policy_source TEXT
);
-- One row per notification and route; delivered is NULL until attempted.
CREATE TABLE IF NOT EXISTS alert_log (
    at_ms      INTEGER NOT NULL,
    policy_key TEXT NOT NULL,
    kind       TEXT NOT NULL,
    severity   TEXT NOT NULL,
    rule       TEXT NOT NULL,
    dedup_key  TEXT NOT NULL,
    targets    TEXT NOT NULL,
    summary    TEXT NOT NULL,
    delivered  INTEGER,
    sink       TEXT,
    error      TEXT
);
CREATE INDEX IF NOT EXISTS alert_log_by_key ON alert_log (dedup_key);

ALTER TABLE runs ADD COLUMN lease_epoch INTEGER NOT NULL DEFAULT 0;
ALTER TABLE attempts ADD COLUMN lease_epoch INTEGER;

CREATE TABLE alert_outbox (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    policy_key       TEXT NOT NULL,
    -- The alert_log row this delivers (its delivered/error mirror the outcome).
    log_id           INTEGER,
    dedup_key        TEXT NOT NULL,
    kind             TEXT NOT NULL,
    sink_index       INTEGER NOT NULL,
    sink             TEXT NOT NULL,
    body             TEXT NOT NULL,
    created_at_ms    INTEGER NOT NULL,
    due_at_ms        INTEGER NOT NULL,
    tries            INTEGER NOT NULL DEFAULT 0,
    -- The planner's retry state for this delivery (JSON), NULL before the first try.
    retry_state      TEXT,
    claimed_by       TEXT,
    claimed_until_ms INTEGER,
    delivered_at_ms  INTEGER,
    dead_at_ms       INTEGER,
    last_error       TEXT
);
CREATE INDEX alert_outbox_pending ON alert_outbox (due_at_ms)
    WHERE delivered_at_ms IS NULL AND dead_at_ms IS NULL;

CREATE TABLE IF NOT EXISTS run_pipelines (
    run_id   TEXT NOT NULL,
    step     TEXT NOT NULL,
    pipeline TEXT NOT NULL,
    PRIMARY KEY (run_id, step)
);

CREATE TABLE alert_keys (
    policy_key     TEXT NOT NULL,
    state_key      TEXT NOT NULL,
    state          TEXT NOT NULL,
    -- When the guest must see this shard again (a tick), NULL for never.
    next_wakeup_ms INTEGER,
    updated_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (policy_key, state_key)
);
CREATE INDEX alert_keys_due ON alert_keys (policy_key, next_wakeup_ms)
    WHERE next_wakeup_ms IS NOT NULL;
