#!/usr/bin/env bash
# Installs Debian's golang-go for the Go signature verifier's test when `go` is missing.
set -euo pipefail
if command -v go >/dev/null 2>&1; then exit 0; fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
echo "Installing Debian's golang-go for the Go webhook verifier test..."
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq golang-go >/dev/null
