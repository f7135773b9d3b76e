#!/usr/bin/env bash
# Installs what Post Office needs on a fresh machine of this kind. Idempotent; quick when done.
#   Debian: mosquitto (the local MQTT gateway) and its clients.
#   .venv (owned by the Makefile): cargo-lambda, checkov, moto server, pinned in requirements-dev.txt.
#   cargo-lambda (with zig) is for `make package`: the arm64 Lambda zips Terraform deploys.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v mosquitto >/dev/null 2>&1 && [ ! -x /usr/sbin/mosquitto ]; then
  echo "setup: installing mosquitto (apt)"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq mosquitto mosquitto-clients >/dev/null
  # The package starts a system broker on port 1883; the local post office runs its own.
  $SUDO systemctl disable --now mosquitto >/dev/null 2>&1 || $SUDO service mosquitto stop >/dev/null 2>&1 || true
fi

stamp=.venv/.requirements
if [ ! -f "$stamp" ] || ! cmp -s requirements-dev.txt "$stamp"; then
  echo "setup: installing Python tools into .venv"
  python3 -m venv .venv
  .venv/bin/pip install -q --disable-pip-version-check -r requirements-dev.txt
  cp requirements-dev.txt "$stamp"
fi

if ! rustup component list --installed 2>/dev/null | grep -q clippy; then
  rustup component add clippy rustfmt
fi
echo "setup: ok"
