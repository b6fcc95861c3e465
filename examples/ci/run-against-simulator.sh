#!/usr/bin/env bash
# Start connect-sim, run an app's tests against it, then the conformance suite; keep reports.
#
# Both CI recipes (github-actions.yml, gitlab-ci.yml) call this script, and it runs the
# same way on a laptop. Settings, all optional, from the environment:
#   PYTHON            the interpreter (default: python3)
#   SKIP_INSTALL=1    skip the pip install (connect-sim already installed)
#   INSTALL_ARGS      what pip installs (default: connect-sim)
#   CONNECT_SIM_PORT  where the simulator listens (default: 8700)
#   APP_DIR           the app's folder (default: examples/app)
#   APP_TEST_CMD      the app's test command, run in APP_DIR (default: pytest, JUnit report)
#   REPORTS_DIR       where the reports go (default: reports)
#   CONFORMANCE_ARGS  more arguments for `connect-conformance run` (e.g. --examples 5)
# The app's tests see CONNECT_SIM_BASE_URL and CONNECT_SIM_API_KEY (a fresh workspace on
# a manual clock); the connect-sim pytest plugin's connect_sim_server fixture uses the
# running simulator when CONNECT_SIM_BASE_URL is set.
set -euo pipefail

PYTHON="${PYTHON:-python3}"
PORT="${CONNECT_SIM_PORT:-8700}"
APP_DIR="${APP_DIR:-examples/app}"
REPORTS_DIR="${REPORTS_DIR:-reports}"
mkdir -p "$REPORTS_DIR"
REPORTS="$(cd "$REPORTS_DIR" && pwd)"

if [ "${SKIP_INSTALL:-0}" != "1" ]; then
    # shellcheck disable=SC2086  # INSTALL_ARGS is a list of pip arguments
    "$PYTHON" -m pip install ${INSTALL_ARGS:-connect-sim}
fi

if ! "$PYTHON" -c "import socket, sys; socket.create_server(('127.0.0.1', int(sys.argv[1]))).close()" "$PORT" 2>/dev/null; then
    echo "port $PORT is taken: set CONNECT_SIM_PORT to a free port" >&2
    exit 2
fi

WORK="$(mktemp -d)"
BASE_URL="http://127.0.0.1:$PORT"
connect-sim serve --host 127.0.0.1 --port "$PORT" --db "$WORK/sim.db" \
    --clock manual --quiet >"$REPORTS/connect-sim.log" 2>&1 &
SIM_PID=$!

stop_simulator() {
    if kill -0 "$SIM_PID" 2>/dev/null; then
        kill -TERM "$SIM_PID"  # SIGTERM: running work finishes, then the store closes
        wait "$SIM_PID" || true
    fi
    rm -rf "$WORK"
}
trap stop_simulator EXIT

"$PYTHON" - "$BASE_URL" "$SIM_PID" <<'PY'
import os, sys, time, urllib.request
url, pid = sys.argv[1] + "/health", int(sys.argv[2])
deadline = time.monotonic() + 60
while True:
    try:
        with urllib.request.urlopen(url, timeout=1) as resp:
            if resp.status == 200:
                break
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("connect-sim exited before it answered /health")
    if time.monotonic() > deadline:
        sys.exit(f"connect-sim did not answer {url}")
    time.sleep(0.2)
PY
echo "connect-sim is up at $BASE_URL"

export CONNECT_SIM_BASE_URL="$BASE_URL"
eval "$(connect-sim workspace new --seed 1 --base-url "$BASE_URL" | grep '^export ')"

status=0
(
    cd "$APP_DIR"
    if [ -n "${APP_TEST_CMD:-}" ]; then
        eval "$APP_TEST_CMD"
    else
        "$PYTHON" -m pytest --junitxml="$REPORTS/app-junit.xml"
    fi
) || status=$?
echo "app tests exit code: $status"

# shellcheck disable=SC2086  # CONFORMANCE_ARGS is a list of arguments
connect-conformance run --base-url "$BASE_URL" \
    --junit "$REPORTS/conformance-junit.xml" --html "$REPORTS/conformance.html" \
    --json "$REPORTS/conformance.json" --reproducers "$REPORTS/reproducers" \
    ${CONFORMANCE_ARGS:-} || status=$?
echo "reports in $REPORTS"
exit "$status"
