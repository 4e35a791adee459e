#!/usr/bin/env bash
# Every test in every language: Rust (core, wasmtime host, CLI, artifacts, fuzz
# smoke), Node (jco), Python (wasmtime-py) and Go (wazero). Each suite installs
# what it needs. Runs them all, then exits non-zero if any failed.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
passed=0
failed=0
failures=()
for suite in rust node python go; do
    echo "=== $suite ==="
    if bash "$root/tests/run-$suite.sh"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures+=("$suite")
    fi
done
echo
if [ "$failed" -gt 0 ]; then
    echo "failed suites: ${failures[*]}"
fi
echo "suites: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
