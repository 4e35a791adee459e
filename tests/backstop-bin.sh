#!/usr/bin/env bash
# Prints the path of the backstop CLI for the library hosts' recorder tests,
# which read their rows back with the real `backstop stats`:
#
#   export BACKSTOP_BIN="$(tests/backstop-bin.sh)"
#
# BACKSTOP_BIN when set; else the debug build in CARGO_TARGET_DIR (or
# target/), built first with cargo (a no-op after tests/run-rust.sh). Prints
# nothing when there is no cargo and no build: those tests then skip.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -n "${BACKSTOP_BIN:-}" ]; then
    echo "$BACKSTOP_BIN"
    exit 0
fi
cli="${CARGO_TARGET_DIR:-$root/target}/debug/backstop"
if command -v cargo >/dev/null 2>&1; then
    (cd "$root" && cargo build -q --locked -p backstop) >&2
fi
if [ -x "$cli" ]; then
    echo "$cli"
fi
