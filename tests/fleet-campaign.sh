#!/usr/bin/env bash
# The fleet race campaign of issue 10, too slow for the default test command:
# BACKSTOP_FLEET_TRIALS (default 50) trials, each of 20 concurrent
# `backstop run` processes with one run id against one PostgreSQL from
# separate state directories; every trial must execute the command exactly
# once (the rest exit 73). Also the takeover tests, whose times it prints.
#
#   tests/fleet-campaign.sh            # 50 trials
#   BACKSTOP_FLEET_TRIALS=200 tests/fleet-campaign.sh
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

eval "$(tests/pg.sh start)"
trap 'tests/pg.sh stop "$BACKSTOP_TEST_PG_DIR"' EXIT
BACKSTOP_FLEET_TRIALS="${BACKSTOP_FLEET_TRIALS:-50}" \
    cargo test --workspace --locked --test fleet -- --nocapture --test-threads 1
