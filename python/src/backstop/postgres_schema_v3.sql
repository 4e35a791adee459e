CREATE TABLE runs (
    run_id              TEXT NOT NULL,
    step                TEXT NOT NULL,
    round               BIGINT NOT NULL,
    status              TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    retry_state         TEXT NOT NULL,
    outcome             TEXT,
    exit_status         BIGINT,
    created_at_ms       BIGINT NOT NULL,
    updated_at_ms       BIGINT NOT NULL,
    finished_at_ms      BIGINT,
    lease_owner         TEXT,
    lease_expires_at_ms BIGINT,
    lease_epoch         BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, step)
);
CREATE TABLE attempts (
    run_id          TEXT NOT NULL,
    step            TEXT NOT NULL,
    round           BIGINT NOT NULL,
    attempt         BIGINT NOT NULL,
    host            TEXT NOT NULL,
    pid             BIGINT,
    pid_start       BIGINT,
    started_at_ms   BIGINT NOT NULL,
    ended_at_ms     BIGINT,
    delay_before_ms BIGINT NOT NULL,
    timeout_ms      BIGINT,
    exit_code       BIGINT,
    signal          TEXT,
    timed_out       BIGINT NOT NULL DEFAULT 0,
    class           TEXT,
    rule            TEXT,
    decision        TEXT,
    give_up_reason  TEXT,
    delay_after_ms  BIGINT,
    explanation     TEXT,
    lease_epoch     BIGINT,
    PRIMARY KEY (run_id, step, round, attempt),
    FOREIGN KEY (run_id, step) REFERENCES runs (run_id, step)
);
CREATE INDEX attempts_by_step ON attempts (step);
CREATE TABLE shared_state (
    step          TEXT PRIMARY KEY,
    state         TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);
CREATE TABLE alert_state (
    policy_key    TEXT PRIMARY KEY,
    state         TEXT NOT NULL,
    updated_at_ms BIGINT NOT NULL,
    policy_path   TEXT,
    policy_format TEXT,
    policy_source TEXT
);
CREATE TABLE alert_log (
    id         BIGSERIAL PRIMARY KEY,
    at_ms      BIGINT NOT NULL,
    policy_key TEXT NOT NULL,
    kind       TEXT NOT NULL,
    severity   TEXT NOT NULL,
    rule       TEXT NOT NULL,
    dedup_key  TEXT NOT NULL,
    targets    TEXT NOT NULL,
    summary    TEXT NOT NULL,
    delivered  BIGINT,
    sink       TEXT,
    error      TEXT
);
CREATE INDEX alert_log_by_key ON alert_log (dedup_key);
