#!/usr/bin/env bash
# A throwaway PostgreSQL for the host libraries' store tests and the
# cross-language breaker test, on 127.0.0.1 and a free port.
#
#   eval "$(tests/postgres/cluster.sh start)"   # exports BACKSTOP_TEST_PG_URL, BACKSTOP_TEST_PG_DIR
#   tests/postgres/cluster.sh stop "$BACKSTOP_TEST_PG_DIR"
#
# The same interface as the CLI suite's tests/pg.sh, which it defers to when
# that exists, so there is one way to start a test cluster. Uses the newest
# /usr/lib/postgresql/*/bin (Debian's layout), installing the distribution's
# postgresql package when there is none. initdb refuses to run as root, so as
# root the cluster belongs to the `postgres` user. Durability is off
# (fsync=off): the tests never pull the power.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ -x "$here/../pg.sh" ]; then
    exec "$here/../pg.sh" "$@"
fi
find_bin() {
    local dirs
    dirs=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$dirs" ]; then
        echo "$dirs"
    elif command -v pg_ctl >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
    fi
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    local bin dir port
    bin=$(find_bin)
    if [ -z "$bin" ]; then
        echo "cluster.sh: no PostgreSQL found; installing the distribution's package" >&2
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq postgresql >&2
        bin=$(find_bin)
    fi
    if [ -z "$bin" ]; then
        echo "cluster.sh: PostgreSQL is not installed and could not be installed" >&2
        exit 1
    fi
    if [ "$(id -u)" = 0 ] && ! id postgres >/dev/null 2>&1; then
        useradd --system --no-create-home postgres
    fi
    dir=$(mktemp -d "${TMPDIR:-/tmp}/backstop-pg.XXXXXX")
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    port=$(free_port)
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" \
        start >&2 || {
        cat "$dir/server.log" >&2
        exit 1
    }
    "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres backstop_test
    echo "$port" >"$dir/port"
    echo "$bin" >"$dir/bin"
    echo "export BACKSTOP_TEST_PG_URL=postgres://postgres@127.0.0.1:$port/backstop_test"
    echo "export BACKSTOP_TEST_PG_DIR=$dir"
    echo "cluster.sh: PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port ($dir)" >&2
}

stop() {
    local dir=${1:?usage: cluster.sh stop DIR}
    [ -d "$dir/data" ] || return 0
    as_owner "$(cat "$dir/bin")/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}

case "${1:-}" in
start) start ;;
stop) stop "${2:-}" ;;
*)
    echo "usage: tests/postgres/cluster.sh start | stop DIR" >&2
    exit 2
    ;;
esac
