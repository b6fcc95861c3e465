#!/usr/bin/env bash
# PostgreSQL for the tests and benchmarks that run on it: Debian's `postgresql` package,
# installed when missing, and a throwaway cluster run as an unprivileged user.
#
#   scripts/install-postgres.sh install        # install the server binaries if missing
#   scripts/install-postgres.sh start DIR      # a fresh cluster in DIR; prints its URL
#   scripts/install-postgres.sh stop DIR       # stop it and delete DIR
#
# The cluster listens only on a unix socket inside DIR (no TCP port is opened), trusts
# local connections, and trades durability for speed (fsync off): it holds test data only.
set -euo pipefail

find_bin() {
    local dir
    if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
        dirname "$(command -v pg_ctl)"
        return 0
    fi
    for dir in /usr/lib/postgresql/*/bin; do
        if [ -x "$dir/pg_ctl" ] && [ -x "$dir/initdb" ]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

install() {
    if find_bin >/dev/null; then return 0; fi
    local sudo=""
    if [ "$(id -u)" != "0" ]; then sudo="sudo"; fi
    echo "Installing Debian's postgresql for the PostgreSQL test run..." >&2
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
        postgresql >/dev/null
    find_bin >/dev/null
}

# Who runs the server: the caller, or (as root, which PostgreSQL refuses) the `postgres`
# user that Debian's package creates.
as_owner() {
    if [ "$(id -u)" = "0" ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
    local dir="$1" bin port user
    bin="$(find_bin)"
    rm -rf "$dir"
    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd)"
    user="$(id -un)"
    if [ "$(id -u)" = "0" ]; then
        user="postgres"
        chown postgres: "$dir"
    fi
    chmod 700 "$dir"
    port="$(free_port)"
    as_owner "$bin/initdb" -D "$dir/data" -U "$user" -A trust -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-k $dir -p $port -c listen_addresses= -c fsync=off -c synchronous_commit=off \
            -c full_page_writes=off -c max_connections=400 -c shared_buffers=64MB" \
        start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }
    echo "$port" >"$dir/port"
    echo "postgresql://$user@/postgres?host=$dir&port=$port"
}

stop() {
    local dir="$1" bin
    bin="$(find_bin)"
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true
    fi
    rm -rf "$dir"
}

case "${1:-}" in
    install) install ;;
    start) install && start "${2:?usage: $0 start DIR}" ;;
    stop) stop "${2:?usage: $0 stop DIR}" ;;
    *) echo "usage: $0 install | start DIR | stop DIR" >&2; exit 2 ;;
esac
