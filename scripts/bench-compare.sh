#!/usr/bin/env bash
# The comparison harness of issue 7: symstore's upload against aws-sdk-s3 used directly,
# Apache Arrow object_store and awscli, on one generated file in page cache, against SeaweedFS
# (end to end) and the bench sink (client cost only), interleaved, medians of the repetitions.
#
#   scripts/bench-compare.sh                 # 1 GiB, 3 repetitions, every client
#   SIZE_MIB=4096 REPS=5 scripts/bench-compare.sh
#   CLIENTS=symstore-file,os-unsigned SMALL_COUNT=0 scripts/bench-compare.sh
#   CLIENTS=symstore-download,sdk-get,os-get,awscli-download SMALL_COUNT=0 SIZE_MIB=4096 \
#       scripts/bench-compare.sh               # downloads, written to $OUT (default /dev/shm)
#
# Uses the servers of the current shell when SYMSTORE_SEAWEEDFS_ENDPOINT is set (source the
# env file of scripts/test-servers.sh), else starts its own in $WORK/servers and stops them on
# exit. Everything listens on 127.0.0.1. The table goes to stdout and $WORK/results.md.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
WORK=${WORK:-/tmp/symstore-bench-compare}
SIZE_MIB=${SIZE_MIB:-1024}
REPS=${REPS:-3}
SMALL_COUNT=${SMALL_COUNT:-10000}
VENV="$REPO/.tools/venv"

log() { echo "bench-compare: $*" >&2; }

mkdir -p "$WORK"
if [[ ! -x "$VENV/bin/aws" ]]; then
    log "installing awscli into $VENV"
    [[ -x "$VENV/bin/pip" ]] || bash "$REPO/scripts/install-test-servers.sh"
    "$VENV/bin/pip" install --quiet awscli
fi

if [[ -z "${SYMSTORE_SEAWEEDFS_ENDPOINT:-}" ]]; then
    export SYMSTORE_TEST_RUN_DIR="$WORK/servers"
    bash "$REPO/scripts/test-servers.sh" start
    # The servers' data goes with them: a 4 GiB run stores tens of GiB before vacuums.
    trap 'SYMSTORE_TEST_RUN_DIR="$WORK/servers" bash "$REPO/scripts/test-servers.sh" stop;
          rm -rf "$WORK/servers"' EXIT
    # shellcheck disable=SC1091
    source "$WORK/servers/env"
fi

need_kib=$((SIZE_MIB * 1024 * 3))
free_kib=$(df -Pk "$WORK" | awk 'NR == 2 { print $4 }')
((free_kib > need_kib)) || { log "need $((need_kib / 1024)) MiB free in $WORK"; exit 1; }

FILE="$WORK/data-${SIZE_MIB}MiB.bin"
if [[ ! -f "$FILE" ]] || (($(stat -c %s "$FILE") != SIZE_MIB * 1024 * 1024)); then
    log "generating $FILE"
    head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom >"$FILE"
fi
cat "$FILE" >/dev/null # into the page cache

(cd "$REPO" && cargo build --release --example bench_compare)

{
    echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -1), $(free -g | awk '/Mem:/ { print $2 }') GiB"
    echo "awscli: $("$VENV/bin/aws" --version 2>&1)"
    "$REPO/target/release/examples/bench_compare" run \
        --file "$FILE" --seaweedfs "$SYMSTORE_SEAWEEDFS_ENDPOINT" --bucket bench-compare \
        --reps "$REPS" --aws "$VENV/bin/aws" --work "$WORK" --small-count "$SMALL_COUNT" \
        ${CLIENTS:+--clients "$CLIENTS"} ${OUT:+--out "$OUT"}
} | tee "$WORK/results.md"
