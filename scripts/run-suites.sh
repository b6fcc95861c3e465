#!/usr/bin/env bash
# `make test`: the whole suite on SQLite and, at the same time, on PostgreSQL (a throwaway
# cluster from scripts/install-postgres.sh, whose URL every in-memory Sim turns into a
# fresh schema; the multi-instance tests run there). The two runs are separate processes
# with their own temporary folders and screenshot folders, so they share no file and use
# both of the machine's cores. The SQLite run prints as it goes; the PostgreSQL run's
# output follows it. Exits non-zero when either run fails.
#
#   scripts/run-suites.sh PYTHON [pytest args...]
set -uo pipefail
cd "$(dirname "$0")/.."
py="${1:?usage: $0 PYTHON [pytest args...]}"
shift

work="$(mktemp -d /tmp/connect-sim-suites.XXXXXX)"
chmod 755 "$work"
pg_dir="$work/postgres"
mkdir -p "$pg_dir"
cleanup() {
    bash scripts/install-postgres.sh stop "$pg_dir" >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

url="$(bash scripts/install-postgres.sh start "$pg_dir")" || {
    echo "could not start PostgreSQL for the second run" >&2
    exit 1
}
pg_log="$work/postgres.log"
# A command run with `&` ignores SIGINT, and its children inherit that: the subshell puts
# the default back, so the tests that press Ctrl-C on a child process see it act.
(
    trap - INT
    CONNECT_SIM_TEST_DB="$url" CONNECT_SIM_ARTIFACTS="artifacts/postgres" \
        exec "$py" -m pytest --db-backend=postgres --basetemp="$work/tmp-postgres" "$@"
) >"$pg_log" 2>&1 &
pg_pid=$!

echo "== the suite on SQLite (the PostgreSQL run goes on beside it) =="
"$py" -m pytest --db-backend=sqlite --basetemp="$work/tmp-sqlite" "$@"
sqlite_rc=$?

wait "$pg_pid"
pg_rc=$?
echo
echo "== the suite on PostgreSQL =="
cat "$pg_log"
echo
echo "SQLite run: exit $sqlite_rc; PostgreSQL run: exit $pg_rc"
[ "$sqlite_rc" -eq 0 ] && [ "$pg_rc" -eq 0 ]
