#!/usr/bin/env bash
# cargo-fuzz targets of the pure core (guest/fuzz): `policy_load` (any bytes as a
# TOML or JSON policy), `classify` (fuzzed rules and failures), `plan` (retry
# settings, state and outcomes: every delay within its bounds), `alerts`
# (alert policies, states and event sequences) and `redaction` (the redactor
# on any text with a planted secret, and runbook templates and values).
#   tests/fuzz.sh smoke        a few thousand runs of each target (part of the tests)
#   tests/fuzz.sh [SECONDS]    a campaign of SECONDS per target (default 600)
# Installs a nightly toolchain (cargo-fuzz needs one for the sanitizer flags)
# and cargo-fuzz if they are missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
nightly=nightly

rustup run "$nightly" cargo --version >/dev/null 2>&1 || rustup toolchain install "$nightly" --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked

cd "$root/guest/fuzz"
mode="${1:-600}"
for target in policy_load classify plan alerts redaction; do
    if [ "$mode" = smoke ]; then
        # A fixed seed and an empty corpus make the smoke run reproducible:
        # the same inputs on every machine, so CI cannot turn red by chance.
        cargo "+$nightly" fuzz run "$target" "$(mktemp -d)" -- -seed=1 -runs=5000 -max_len=4096
    else
        cargo "+$nightly" fuzz run "$target" -- -max_total_time="$mode" -max_len=4096
    fi
done
