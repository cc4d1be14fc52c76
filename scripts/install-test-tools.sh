#!/usr/bin/env bash
# Installs the client tools the integration tests drive, from Debian's packages:
#   - debuginfod-find (package `debuginfod`, elfutils' own debuginfod client), which
#     tests/debuginfod.rs points at the example server on 127.0.0.1.
#
# Idempotent and quiet: when every tool is on PATH it returns at once without touching apt;
# `apt-get update` runs only when the package is not known to apt yet.
set -euo pipefail

# tool:package pairs.
TOOLS=(
    "debuginfod-find:debuginfod"
)

missing=()
for pair in "${TOOLS[@]}"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair#*:}")
done
if [[ ${#missing[@]} -eq 0 ]]; then
    exit 0
fi

log() { echo "install-test-tools: $*" >&2; }
SUDO=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 || { log "run as root (or install: ${missing[*]})"; exit 1; }
    SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive

# Only refresh the package lists when apt does not know a package yet.
for package in "${missing[@]}"; do
    if ! apt-cache show "$package" >/dev/null 2>&1; then
        "${SUDO[@]}" apt-get update -qq >/dev/null || { log "apt-get update failed"; exit 1; }
        break
    fi
done

log "installing ${missing[*]}"
if ! out=$("${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" 2>&1); then
    echo "$out" | tail -n 30 >&2
    log "apt-get install ${missing[*]} failed"
    exit 1
fi
for pair in "${TOOLS[@]}"; do
    command -v "${pair%%:*}" >/dev/null 2>&1 || { log "${pair%%:*} is still missing"; exit 1; }
done
