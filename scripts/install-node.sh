#!/usr/bin/env bash
# Installs Debian's nodejs for the Node example receiver's tests when `node` is missing.
set -euo pipefail
if command -v node >/dev/null 2>&1; then exit 0; fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
echo "Installing Debian's nodejs for the example receiver tests..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs >/dev/null
