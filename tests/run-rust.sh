#!/usr/bin/env bash
# Rust: formatting, clippy, every workspace test (native core, property tests,
# wasmtime host, conformance vectors through wasm and native, CLI), the check
# that the committed wasm artifacts equal a fresh build, and a short fuzz smoke
# run of each cargo-fuzz target. Needs rustup and crates.io.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

rustup component add rustfmt clippy >/dev/null 2>&1 || true
rustup target add wasm32-unknown-unknown

cargo fmt --all --check
cargo clippy --workspace --all-targets --locked -- -D warnings

# A throwaway PostgreSQL for the state-store tests (tests/pg.sh): the store
# suite and the fleet races run against it as well as against SQLite.
eval "$(tests/pg.sh start)"
trap 'tests/pg.sh stop "$BACKSTOP_TEST_PG_DIR"' EXIT
cargo test --workspace --locked
# `backstop stats --html` rendered in headless Chromium (apt-get installs
# chromium and python3-pil when missing).
tests/html/stats-html.sh
cargo run -p xtask --locked -q -- check-wasm
cargo run -p xtask --locked -q -- check-bindings

if [ "${BACKSTOP_SKIP_FUZZ:-}" = 1 ]; then
    echo "run-rust.sh: BACKSTOP_SKIP_FUZZ=1, skipping the fuzz smoke run" >&2
else
    tests/fuzz.sh smoke
fi
