#!/bin/sh
# A stand-in for a nightly step behind a flaky dependency: for each run id it
# fails the first FAILURES times (exit status 75, EX_TEMPFAIL, with a storage
# 503 on stderr), then succeeds. Try it under backstop:
#
#   backstop run --policy examples/nightly.toml --run-id demo-1 --step train \
#       -- examples/flaky-step.sh 2
#
# Usage: flaky-step.sh [FAILURES]   (default 2)
# Counters live in $FLAKY_STEP_DIR (default: $TMPDIR/backstop-flaky-step), one
# file per run id ($BACKSTOP_RUN_ID, which `backstop run` sets).
set -eu
failures="${1:-2}"
dir="${FLAKY_STEP_DIR:-${TMPDIR:-/tmp}/backstop-flaky-step}"
run_id="${BACKSTOP_RUN_ID:-manual}"
mkdir -p "$dir"
counter="$dir/$(printf '%s' "$run_id" | tr -c 'A-Za-z0-9._-' '_')"
count=$(cat "$counter" 2>/dev/null || echo 0)
count=$((count + 1))
echo "$count" > "$counter"
echo "train: run $run_id, try $count"
if [ "$count" -le "$failures" ]; then
    echo "error: reading s3://features/2024-06-01.parquet: 503 Service Unavailable" >&2
    exit 75
fi
echo "train: model written"
