#!/usr/bin/env bash
# A throwaway PostgreSQL for the host libraries' store tests and the
# cross-language breaker test, on 127.0.0.1 and a free port.
#
#   eval "$(tests/postgres/cluster.sh start)"   # exports BACKSTOP_TEST_PG_URL, BACKSTOP_TEST_PG_DIR
#   tests/postgres/cluster.sh stop "$BACKSTOP_TEST_PG_DIR"
#
# The CLI suite's tests/pg.sh under the path the Python, Node and Go tests
# name, so there is one way to start a test cluster.
set -euo pipefail
exec "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../pg.sh" "$@"
