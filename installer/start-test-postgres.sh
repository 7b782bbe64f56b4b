#!/usr/bin/env bash
# A throwaway PostgreSQL server for the storage tests (CI runs them on SQLite and on it).
#
#   export INSPECTOR_TEST_POSTGRES_URL=$(installer/start-test-postgres.sh start DIR [--durable])
#   ...run the tests...
#   installer/start-test-postgres.sh stop DIR
#
# start: installs the Debian package `postgresql` when no server binaries are found
# (like install-system-deps.sh: apt-get, sudo when not root), creates a cluster in
# DIR/data owned by an unprivileged user (root cannot run postgres: `postgres` is used),
# starts it on a free port of 127.0.0.1 with password authentication, creates the
# role `inspector_test` and its own database of that name (each test makes a schema of
# its own in it) and prints their SQLAlchemy URL. The server skips fsync (a test cluster
# that a crash may lose); --durable keeps PostgreSQL's defaults, for benchmarks.
# Exit status 3: PostgreSQL is not installed and cannot be installed here.
# stop: stops the server and removes DIR.
set -euo pipefail

die() {  # die <status> <message>
    echo "start-test-postgres: $2" >&2
    exit "$1"
}

find_bindir() {  # newest Debian server first, then whatever is on PATH
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [[ -x $dir/initdb && -x $dir/pg_ctl ]] && { echo "$dir"; return 0; }
    done
    command -v initdb >/dev/null && command -v pg_ctl >/dev/null || return 1
    dirname "$(command -v pg_ctl)"
}

install_postgres() {
    command -v apt-get >/dev/null ||
        die 3 "no PostgreSQL server binaries (initdb, pg_ctl) and no apt-get to install them"
    local sudo=""
    [[ $(id -u) -eq 0 ]] || sudo="sudo"
    echo "start-test-postgres: installing the Debian package postgresql" >&2
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq >/dev/null || die 3 "apt-get update failed: cannot install PostgreSQL"
    $sudo apt-get install -y -qq --no-install-recommends postgresql >/dev/null ||
        die 3 "apt-get install postgresql failed"
}

as_owner() {  # run a command as the cluster's owner (root hands it to `postgres`)
    if [[ $(id -u) -eq 0 ]]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

port_in_use() {
    (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

start() {
    local dir=$1 durable=${2:-}
    [[ -z $durable || $durable == --durable ]] || die 2 "unknown option $durable; use --durable"
    local bindir
    bindir=$(find_bindir) || { install_postgres; bindir=$(find_bindir) ||
        die 3 "the postgresql package installed no initdb/pg_ctl"; }
    if [[ $(id -u) -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || die 1 "running as root needs the user 'postgres' to own the server"
    fi
    mkdir -p "$dir"
    [[ -z $(ls -A "$dir") ]] || die 2 "$dir is not empty: give a new or empty folder"
    [[ $(id -u) -ne 0 ]] || chown postgres: "$dir"
    chmod 700 "$dir"
    as_owner test -w "$dir" || die 1 "the server's owner cannot write to $dir: choose a folder under /tmp"
    echo "$bindir" >"$dir/bindir"

    local password
    password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth-local=trust \
        --auth-host=scram-sha-256 --encoding=UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 ||
        die 1 "initdb failed; see $dir/initdb.log"

    local settings="-c listen_addresses=127.0.0.1 -c unix_socket_directories=$dir"
    [[ -n $durable ]] || settings+=" -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    local port attempt started=""
    for attempt in 1 2 3 4 5; do
        port=$((55000 + RANDOM % 5000))
        port_in_use "$port" && continue
        if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-p $port $settings" start >/dev/null; then
            started=yes
            break
        fi
        echo "start-test-postgres: attempt $attempt on port $port failed; trying another" >&2
    done
    [[ -n $started ]] || die 1 "the server did not start; see $dir/server.log"

    as_owner "$bindir/psql" -h "$dir" -p "$port" -U postgres -d postgres -q -v ON_ERROR_STOP=1 \
        -c "CREATE ROLE inspector_test LOGIN PASSWORD '$password'" \
        -c "CREATE DATABASE inspector_test OWNER inspector_test" >/dev/null ||
        die 1 "cannot create the test role and database; see $dir/server.log"
    local url="postgresql+psycopg://inspector_test:$password@127.0.0.1:$port/inspector_test"
    echo "$url" >"$dir/url"
    echo "start-test-postgres: PostgreSQL $("$bindir/pg_ctl" --version | awk '{print $3}')" \
        "on 127.0.0.1:$port, data in $dir/data${durable:+ (durable)}" >&2
    echo "$url"
}

stop() {
    local dir=$1
    [[ -f $dir/bindir ]] || die 2 "$dir holds no test server started by this script"
    if [[ -f $dir/data/postmaster.pid ]]; then
        as_owner "$(cat "$dir/bindir")/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null ||
            echo "start-test-postgres: the server in $dir did not stop cleanly" >&2
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    start) [[ $# -ge 2 ]] || die 2 "usage: $0 start DIR [--durable]"; start "$2" "${3:-}" ;;
    stop) [[ $# -eq 2 ]] || die 2 "usage: $0 stop DIR"; stop "$2" ;;
    *) die 2 "usage: $0 start DIR [--durable] | stop DIR" ;;
esac
