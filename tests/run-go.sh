#!/usr/bin/env bash
# Go host: download the pinned modules (go.sum), then check formatting (gofmt),
# run go vet, and run every test with the race detector: conformance vectors,
# canonical-ABI glue, ClassifyError, the artifact hash check, trap recovery,
# concurrency, the planner API (every planner vector), Do on a fake clock and
# the alerts evaluator (every alert sequence vector, the seed's Example 3) and
# the examples; then tests/manifests (the `backstop export` golden files
# against k8s.io/api and Argo's own types), go/pgstore (PostgreSQL shared state) against a throwaway
# PostgreSQL, and the cross-language breaker test. Extra arguments go to `go test`.
# Needs Go 1.26+ and the Go module proxy; the cross-language test also needs
# python3 and Node 20+ (it installs their dependencies when missing). The race
# detector needs cgo and a C compiler; without one (CGO_ENABLED=0 or no cc) the
# tests run without -race.
# Benchmarks: cd go && go test -run '^$' -bench 'Classify|AfterFailure|BeginAttempt|Do|EvaluateAlerts' -benchmem
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# The recorder tests (go/pgstore, go/sqlitestore) read their rows back with
# the real `backstop stats`; the cross-language test runs the CLI too.
BACKSTOP_BIN="$("$root/tests/backstop-bin.sh")"
export BACKSTOP_BIN
cd "$root/go"

go mod download
go mod verify >/dev/null

unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
    echo "run-go.sh: gofmt would reformat:" >&2
    echo "$unformatted" >&2
    exit 1
fi

go vet ./...

race=-race
if [ "$(go env CGO_ENABLED)" != 1 ] || ! command -v "$(go env CC)" >/dev/null 2>&1; then
    echo "run-go.sh: no cgo toolchain, so running the tests without -race" >&2
    race=
fi
go test $race -count=1 -timeout 30m "$@" ./...

# tests/manifests (its own module, so the core does not pull the Kubernetes
# API and Argo): the golden files of `backstop export` (examples/kubernetes,
# examples/argo) decoded strictly into k8s.io/api's Job and Argo's Template,
# and the Argo retry expression evaluated by Argo's own evaluator.
cd "$root/tests/manifests"
go mod download
go mod verify >/dev/null
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
    echo "run-go.sh: gofmt would reformat:" >&2
    echo "$unformatted" >&2
    exit 1
fi
go vet ./...
go test -count=1 ./...

# go/pgstore (its own module, so the core does not pull pgx): the
# PostgreSQL shared-state store against a throwaway cluster (tests/postgres/cluster.sh).
cd "$root/go/pgstore"
go mod download
go mod verify >/dev/null
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
    echo "run-go.sh: gofmt would reformat:" >&2
    echo "$unformatted" >&2
    exit 1
fi
go vet ./...
eval "$("$root/tests/postgres/cluster.sh" start)"
trap '"$root/tests/postgres/cluster.sh" stop "$BACKSTOP_TEST_PG_DIR"' EXIT
go test $race -count=1 -timeout 30m "$@" ./...

# go/sqlitestore (its own module, so the core does not pull a SQLite): the
# recorder into the CLI's SQLite state file, read back by `backstop stats`.
# Without -race: SQLite compiled to Go is slow under the race detector.
cd "$root/go/sqlitestore"
go mod download
go mod verify >/dev/null
unformatted="$(gofmt -l .)"
if [ -n "$unformatted" ]; then
    echo "run-go.sh: gofmt would reformat:" >&2
    echo "$unformatted" >&2
    exit 1
fi
go vet ./...
go test -count=1 -timeout 30m "$@" ./...
# Python, Node, Go and the CLI recording into one SQLite file at once.
"$root/tests/sqlite/crosslang.sh"

# The cross-language breaker: Python, Node and Go workers (and the CLI, with
# BACKSTOP_BIN) trip one breaker through this PostgreSQL (tests/postgres/crosslang.sh).
"$root/tests/postgres/crosslang.sh"
