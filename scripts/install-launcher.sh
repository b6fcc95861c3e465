#!/usr/bin/env bash
# Installs the packages of the vendored smart-launcher-v2 backend (bench/launcher), which
# bench/bench_tokens.py --launcher runs beside connect-sim serve. Needs node and npm.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
bash "$here/scripts/install-node.sh"
cd "$here/bench/launcher"
npm ci --no-audit --no-fund --loglevel=error
