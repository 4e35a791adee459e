#!/usr/bin/env bash
# cargo-fuzz targets of the pure core (guest/fuzz): `policy_load` (any bytes as a
# TOML or JSON policy) and `classify` (fuzzed rules and failures).
#   tests/fuzz.sh smoke        a few thousand runs of each target (part of the tests)
#   tests/fuzz.sh [SECONDS]    a campaign of SECONDS per target (default 600)
# Installs the pinned nightly toolchain and cargo-fuzz if they are missing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
nightly=nightly-2026-10-29

rustup toolchain list | grep -q "^$nightly" || rustup toolchain install "$nightly" --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --version 0.13.2 --locked

cd "$root/guest/fuzz"
mode="${1:-600}"
for target in policy_load classify plan alerts; do
    if [ "$mode" = smoke ]; then
        cargo "+$nightly" fuzz run "$target" -- -runs=5000 -max_len=4096
    else
        cargo "+$nightly" fuzz run "$target" -- -max_total_time="$mode" -max_len=4096
    fi
done
