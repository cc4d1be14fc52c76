#!/usr/bin/env bash
# Peak memory (VmHWM) of streaming uploads of unknown length to SeaweedFS on 127.0.0.1, one
# process per size, in a release build; prints the machine and a Markdown table for
# BENCHMARKS.md.
#
#   scripts/bench-memory.sh                 # 1GiB and 4GiB, default upload settings
#   scripts/bench-memory.sh 512MiB 2GiB     # other sizes
#   BENCH_ARGS="--concurrency 8" scripts/bench-memory.sh   # other settings
#
# When $SYMSTORE_SEAWEEDFS_ENDPOINT is set (servers already started with
# scripts/test-servers.sh and its env sourced) those servers are used; otherwise the script
# starts its own in $SYMSTORE_TEST_RUN_DIR (default .tools/run-bench-memory) and stops them
# at the end. Each object is deleted after it was checked.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

# Nothing may reach a cloud metadata service or leave 127.0.0.1.
export AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null

sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(1GiB 4GiB)
read -r -a bench_args <<<"${BENCH_ARGS:-}"

if [[ -z "${SYMSTORE_SEAWEEDFS_ENDPOINT:-}" ]]; then
    export SYMSTORE_TEST_RUN_DIR=${SYMSTORE_TEST_RUN_DIR:-$REPO/.tools/run-bench-memory}
    bash scripts/install-test-servers.sh
    trap 'bash scripts/test-servers.sh stop' EXIT
    bash scripts/test-servers.sh start
    # shellcheck disable=SC1091
    source "$SYMSTORE_TEST_RUN_DIR/env"
fi

# SeaweedFS keeps the object in its run dir until it is deleted: want the largest size free,
# with room to spare.
largest_gib=$(printf '%s\n' "${sizes[@]}" | sed -n 's/^\([0-9]*\)GiB$/\1/p' | sort -n | tail -1)
if [[ -n "$largest_gib" ]]; then
    free_gib=$(df --output=avail -BG "${SYMSTORE_TEST_RUN_DIR:-$REPO}" | tail -1 | tr -dc 0-9)
    if ((free_gib < largest_gib * 2)); then
        echo "bench-memory: only ${free_gib} GiB free for a ${largest_gib} GiB upload" >&2
        exit 1
    fi
fi

cargo bench --bench upload_memory --no-run --quiet
results=()
for size in "${sizes[@]}"; do
    line=$(cargo bench --quiet --bench upload_memory -- "$size" "${bench_args[@]}")
    echo "$line" >&2
    results+=("$line")
done

field() { # LINE NAME
    tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p"
}

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
echo
echo "Machine: $(nproc) CPUs ($cpu), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo) RAM, $(uname -sr)"
echo "Command: ${BENCH_ARGS:+BENCH_ARGS=\"$BENCH_ARGS\" }scripts/bench-memory.sh${*:+ $*}"
echo
echo "| upload (stream, unknown length) | part size | concurrency | peak RSS (VmHWM) | bound part x (concurrency + 2) + 20 MiB | within | time | throughput |"
echo "|---|---|---|---|---|---|---|---|"
for line in "${results[@]}"; do
    printf '| %s MiB | %s MiB | %s | %s MiB | %s MiB | %s | %s s | %s MiB/s |\n' \
        "$(field "$line" size_mib)" "$(field "$line" part_mib)" "$(field "$line" concurrency)" \
        "$(field "$line" peak_rss_mib)" "$(field "$line" bound_mib)" \
        "$(field "$line" within_bound)" "$(field "$line" seconds)" "$(field "$line" mib_per_s)"
done
