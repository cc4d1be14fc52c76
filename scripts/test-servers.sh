#!/usr/bin/env bash
# Starts/stops the S3-compatible test servers for the integration tests.
#
#   scripts/test-servers.sh start   # (re)start SeaweedFS, moto and a JuiceFS S3 gateway
#   scripts/test-servers.sh env     # print the export lines (eval "$(scripts/test-servers.sh env)")
#   scripts/test-servers.sh stop    # stop them; nothing started by `start` outlives this
#   scripts/test-servers.sh status  # show recorded processes and whether they are alive
#
# All servers listen on 127.0.0.1 only, on free ports picked at start, and have
# telemetry / usage reports / update checks turned off: no server sends anything
# beyond 127.0.0.1.
#
# State lives in the run dir, $REPO/.tools/run (override: SYMSTORE_TEST_RUN_DIR),
# which is wiped at each start:
#   env            export lines (see below)
#   pids           "name pid starttime" per server process
#   *.log          server output (SeaweedFS also writes glog files to seaweedfs/tmp)
#
# Exported variables:
#   SYMSTORE_SEAWEEDFS_ENDPOINT, SYMSTORE_MOTO_ENDPOINT, SYMSTORE_JUICEFS_ENDPOINT
#   SYMSTORE_SEAWEEDFS_MASTER  (SeaweedFS's master HTTP API, for benchmarks to vacuum)
#   SYMSTORE_TEST_ACCESS_KEY / SYMSTORE_TEST_SECRET_KEY                  (admin, all servers)
#   SYMSTORE_TEST_NODELETE_ACCESS_KEY / SYMSTORE_TEST_NODELETE_SECRET_KEY (SeaweedFS only)
#   SYMSTORE_TEST_REGION
#
# Notes on the servers:
#   - SeaweedFS enforces SigV4 with the fixed keys below (wrong secret ->
#     403 SignatureDoesNotMatch, anonymous -> 403 AccessDenied).
#   - moto accepts any credentials (it does not verify signatures).
#   - The JuiceFS gateway (MinIO based) verifies SigV4 against the admin keys only;
#     it runs with --multi-buckets so that CreateBucket works for any name.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
VENV="$REPO/.tools/venv"
RUN=${SYMSTORE_TEST_RUN_DIR:-$REPO/.tools/run}
READY_TIMEOUT=${SYMSTORE_TEST_READY_TIMEOUT:-60}

ADMIN_KEY=symstore-admin
ADMIN_SECRET=symstore-admin-secret
NODELETE_KEY=symstore-nodelete
NODELETE_SECRET=symstore-nodelete-secret
REGION=us-east-1

# Every server process gets this variable in its environment, so `stop` can find
# anything started by this run dir even if it escaped its process group.
MARKER_VAR=SYMSTORE_TEST_SERVERS_RUN

log() { echo "test-servers: $*" >&2; }
die() { log "$*"; exit 1; }

# ---------------------------------------------------------------- processes

# Field N (1-based, as in proc(5)) of /proc/PID/stat; e.g. 5 = process group,
# 22 = start time (tells a recorded process from a later one reusing its PID).
proc_stat_field() { # PID N
    local stat rest
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    rest=${stat##*) } # fields from 3 on; the command name may contain spaces
    local -a f
    read -r -a f <<<"$rest"
    echo "${f[$(($2 - 3))]}"
}
proc_starttime() { proc_stat_field "$1" 22; }

# PIDs of live processes that carry this run dir's marker (children included).
marked_pids() {
    local f
    while read -r f; do
        f=${f#/proc/}
        echo "${f%/environ}"
    done < <(grep -lszxF "$MARKER_VAR=$RUN" /proc/[0-9]*/environ 2>/dev/null)
    return 0
}

# is_same_live_process PID STARTTIME: same start time = same process (not a
# later one that reused the PID); a zombie (state Z) counts as dead.
is_same_live_process() {
    [[ "$(proc_starttime "$1" 2>/dev/null)" == "$2" ]] &&
        [[ "$(proc_stat_field "$1" 3 2>/dev/null)" != Z ]]
}

# PIDs recorded in the pids file that are still running.
recorded_live_pids() {
    local name pid start
    [[ -f "$RUN/pids" ]] || return 0
    while read -r name pid start; do
        [[ -n "${pid:-}" ]] || continue
        if is_same_live_process "$pid" "$start"; then
            echo "$pid"
        fi
    done <"$RUN/pids"
    return 0
}

# Signal the recorded server processes, their process groups (each server is a
# group leader, see start_bg) and anything else carrying the marker.
signal_all() { # SIG
    local sig=$1 pid pgid mypgid
    mypgid=$(proc_stat_field $$ 5)
    for pid in $(recorded_live_pids); do
        pgid=$(proc_stat_field "$pid" 5) || true
        if [[ -n "$pgid" && "$pgid" == "$pid" && "$pgid" != "$mypgid" ]]; then
            kill "-$sig" -- "-$pgid" 2>/dev/null || true
        fi
        kill "-$sig" "$pid" 2>/dev/null || true
    done
    for pid in $(marked_pids); do
        kill "-$sig" "$pid" 2>/dev/null || true
    done
}

any_alive() {
    [[ -n "$(recorded_live_pids)$(marked_pids)" ]]
}

cmd_stop() {
    if [[ ! -d "$RUN" ]]; then
        return 0
    fi
    if any_alive; then
        signal_all TERM
        # weed may take many seconds to exit on SIGTERM; give everyone 2 s.
        local _
        for _ in $(seq 1 20); do
            any_alive || break
            sleep 0.1
        done
        if any_alive; then
            signal_all KILL
            for _ in $(seq 1 50); do
                any_alive || break
                sleep 0.1
            done
        fi
        if any_alive; then
            die "some server processes survived SIGKILL: $(recorded_live_pids) $(marked_pids)"
        fi
    fi
    rm -f "$RUN/pids" "$RUN/env"
    # Unix sockets SeaweedFS puts in /tmp whatever TMPDIR says; left behind when
    # it had to be killed.
    if [[ -f "$RUN/tmp-sockets" ]]; then
        local sockfile
        while read -r sockfile; do
            if [[ "$sockfile" == /tmp/seaweedfs-*-grpc-*.sock ]]; then
                rm -f "$sockfile"
            fi
        done <"$RUN/tmp-sockets"
        rm -f "$RUN/tmp-sockets"
    fi
    if [[ -f "$RUN/sockdir" ]]; then
        rm -rf "$(cat "$RUN/sockdir")"
        rm -f "$RUN/sockdir"
    fi
    return 0
}

# start_bg NAME LOGFILE CMD... : start CMD in the background as the leader of a
# new process group (setsid; it does not fork since a background job of a
# non-interactive shell is not a group leader), so the recorded PID is the
# server's own and the group holds any children.
start_bg() {
    local name=$1 logfile=$2
    shift 2
    env "$MARKER_VAR=$RUN" setsid "$@" </dev/null >"$logfile" 2>&1 &
    local pid=$!
    local start
    start=$(proc_starttime "$pid") || {
        wait "$pid" 2>/dev/null || true
        log "$name exited immediately; log tail:"
        tail -n 40 "$logfile" >&2 || true
        return 1
    }
    echo "$name $pid $start" >>"$RUN/pids"
    LAST_PID=$pid
}

# wait_http NAME URL PID LOGFILE: wait until an unsigned GET answers with any
# HTTP status; fail if the process dies or the timeout passes.
wait_http() {
    local name=$1 url=$2 pid=$3 logfile=$4
    if ! "$VENV/bin/python" - "$url" "$pid" "$READY_TIMEOUT" <<'EOF'; then
import http.client, os, sys, time, urllib.parse
url, pid, timeout = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
u = urllib.parse.urlsplit(url)
deadline = time.monotonic() + timeout
while time.monotonic() < deadline:
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        state = "gone"
    if state in ("Z", "X", "gone"):
        sys.exit("process %d exited" % pid)
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=2)
        c.request("GET", "/")
        c.getresponse().read()
        c.close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit("no HTTP answer from %s within %ss" % (url, timeout))
EOF
        log "$name did not become ready; log tail ($logfile):"
        tail -n 40 "$logfile" >&2 || true
        return 1
    fi
}

# free_ports COUNT [pair]: prints COUNT distinct free TCP ports on 127.0.0.1
# (all held open together while picking, so they differ). With "pair", one more
# port P follows such that P+10000 is free too: SeaweedFS's built-in worker dials
# the admin gRPC server at admin.port+10000 whatever -admin.port.grpc says, so
# the admin port is passed alone and its gRPC port left at that default.
free_ports() {
    "$VENV/bin/python" - "$@" <<'EOF'
import socket, sys
held = []
def bind(port=0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", port))
    held.append(s)
    return s.getsockname()[1]
ports = [bind() for _ in range(int(sys.argv[1]))]
if sys.argv[2:] == ["pair"]:
    for _ in range(200):
        p = bind()
        if p + 10000 > 65535:
            continue
        try:
            bind(p + 10000)
        except OSError:
            continue
        ports.append(p)
        break
    else:
        sys.exit("no free port pair for the SeaweedFS admin server")
print(" ".join(map(str, ports)))
for s in held:
    s.close()
EOF
}

# ---------------------------------------------------------------- servers

write_seaweedfs_config() { # FILE
    # SeaweedFS's legacy identity actions are Read, Write, List, Tagging, Admin
    # (plus ReadAcp, WriteAcp, DeleteBucket): "Write" covers PutObject *and*
    # DeleteObject / DeleteObjects, so an identity with Read+List+Write can
    # delete. A delete-less identity is built instead from an IAM-style policy
    # attached with "policyNames" (no "actions": when both are given, the policy
    # decides and everything it does not allow is denied). Verified with 4.48:
    # the nodelete identity can Get/Head/Put (incl. overwrite)/Copy/List objects,
    # list buckets, run multipart uploads (create, upload part, complete, list,
    # abort), and gets AccessDenied for DeleteObject, per-key AccessDenied errors
    # in a DeleteObjects (multi-delete) reply, and AccessDenied for
    # CreateBucket / DeleteBucket.
    "$VENV/bin/python" - "$1" "$ADMIN_KEY" "$ADMIN_SECRET" "$NODELETE_KEY" "$NODELETE_SECRET" <<'EOF'
import json, sys
path, ak, sk, nk, ns = sys.argv[1:]
nodelete = {
    "Version": "2012-10-17",
    "Statement": [{
        "Effect": "Allow",
        "Action": [
            "s3:GetObject", "s3:PutObject",
            "s3:ListBucket", "s3:ListAllMyBuckets", "s3:GetBucketLocation",
            "s3:CreateMultipartUpload", "s3:UploadPart", "s3:CompleteMultipartUpload",
            "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts",
            "s3:ListBucketMultipartUploads",
        ],
        "Resource": ["arn:aws:s3:::*", "arn:aws:s3:::*/*"],
    }],
}
config = {
    "identities": [
        {"name": ak, "credentials": [{"accessKey": ak, "secretKey": sk}],
         "actions": ["Admin", "Read", "Write", "List", "Tagging"]},
        {"name": nk, "credentials": [{"accessKey": nk, "secretKey": ns}],
         "policyNames": ["symstore-nodelete"]},
    ],
    "policies": [{"name": "symstore-nodelete", "content": json.dumps(nodelete)}],
}
with open(path, "w") as f:
    json.dump(config, f, indent=2)
EOF
}

start_seaweedfs() {
    local dir="$RUN/seaweedfs"
    mkdir -p "$dir/data" "$dir/tmp"
    write_seaweedfs_config "$dir/s3.json"
    # Unix sockets: the path must stay under ~108 bytes.
    local sock="$dir"
    if ((${#sock} > 70)); then
        sock=$(mktemp -d /tmp/symstore-weed.XXXXXX)
        echo "$sock" >"$RUN/sockdir"
    fi
    local ports
    ports=$(free_ports 8 pair)
    # shellcheck disable=SC2086
    set -- $ports
    WEED_S3_PORT=$1
    WEED_MASTER_PORT=$3
    printf '/tmp/seaweedfs-%s.sock\n' "s3-grpc-$2" "master-grpc-$4" "volume-grpc-$6" \
        "filer-grpc-$8" "admin-grpc-$(($9 + 10000))" >"$RUN/tmp-sockets"
    # -ip/-ip.bind: every listener (master, volume, filer, s3, admin + their gRPC
    # ports) binds 127.0.0.1. -master.telemetry=false: no statistics upload (the
    # URL is pointed at a closed loopback port as well, belt and braces).
    # WebDAV, Iceberg and Lance endpoints and the admin UI are off; the admin
    # gRPC server still runs (on admin.port+10000, see free_ports). -volume.max=0 sizes
    # the volume count by free disk: every test bucket takes volumes of its own, and the
    # small default ran out ("No writable volumes") after a few hundred buckets. The count
    # is free disk / volume size, so the volume size is 64 MiB: with weed's 1 GiB a disk
    # with 27 GiB free gave 27 volumes and the suite ran out of them half-way (seen
    # 2026-12-04); with 64 MiB the same disk gives about 430.
    TMPDIR="$dir/tmp" start_bg seaweedfs "$RUN/seaweedfs.log" \
        "$VENV/bin/weed" mini \
        -dir="$dir/data" \
        -ip=127.0.0.1 -ip.bind=127.0.0.1 \
        -master.telemetry=false -master.telemetry.url=http://127.0.0.1:9/ \
        -webdav=false -admin.ui=false \
        -s3.port.iceberg=0 -s3.port.lance=0 \
        -s3.port="$1" -s3.port.grpc="$2" \
        -master.port="$3" -master.port.grpc="$4" \
        -volume.port="$5" -volume.port.grpc="$6" \
        -filer.port="$7" -filer.port.grpc="$8" \
        -admin.port="$9" \
        -filer.localSocket="$sock/filer.sock" -s3.localSocket="$sock/s3.sock" \
        -s3.config="$dir/s3.json" \
        -volume.max=0 -master.volumeSizeLimitMB=64 \
        -s3.domainName=localhost
    wait_http seaweedfs "http://127.0.0.1:$WEED_S3_PORT" "$LAST_PID" "$RUN/seaweedfs.log"
}

start_moto() {
    local ports
    ports=$(free_ports 1)
    # shellcheck disable=SC2086
    set -- $ports
    MOTO_PORT=$1
    # moto needs no network; the AWS_* values only keep the botocore it embeds
    # from looking for credentials (e.g. the EC2 metadata endpoint).
    AWS_ACCESS_KEY_ID=$ADMIN_KEY AWS_SECRET_ACCESS_KEY=$ADMIN_SECRET \
    AWS_DEFAULT_REGION=$REGION AWS_EC2_METADATA_DISABLED=true \
        start_bg moto "$RUN/moto.log" \
        "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT"
    wait_http moto "http://127.0.0.1:$MOTO_PORT" "$LAST_PID" "$RUN/moto.log"
}

start_juicefs() {
    local dir="$RUN/juicefs"
    mkdir -p "$dir/data" "$dir/cache"
    local ports
    ports=$(free_ports 2)
    # shellcheck disable=SC2086
    set -- $ports
    JFS_PORT=$1
    local metrics_port=$2
    if ! "$VENV/bin/juicefs" format --no-color -q \
        "sqlite3://$dir/jfs.db" symstore \
        --storage file --bucket "$dir/data/" --trash-days 0 \
        >"$RUN/juicefs-format.log" 2>&1; then
        log "juicefs format failed:"
        tail -n 40 "$RUN/juicefs-format.log" >&2
        return 1
    fi
    # --no-usage-report: no usage statistics upload; --no-agent: no pprof
    # listener; --metrics: Prometheus listener on a free loopback port (the
    # default 127.0.0.1:9567 would collide between parallel runs);
    # --backup-meta 0: no periodic metadata dumps; --multi-buckets: top-level
    # directories are buckets, so CreateBucket works; --keep-etag: return the
    # MD5 ETag like S3. MINIO_UPDATE=off / MINIO_BROWSER=off: no update check,
    # no web console.
    MINIO_ROOT_USER=$ADMIN_KEY MINIO_ROOT_PASSWORD=$ADMIN_SECRET \
    MINIO_UPDATE=off MINIO_BROWSER=off \
        start_bg juicefs "$RUN/juicefs.log" \
        "$VENV/bin/juicefs" gateway --no-agent --no-color \
        --no-usage-report --no-banner \
        --metrics "127.0.0.1:$metrics_port" \
        --backup-meta 0 \
        --multi-buckets --keep-etag \
        --cache-dir "$dir/cache" \
        "sqlite3://$dir/jfs.db" "127.0.0.1:$JFS_PORT"
    wait_http juicefs "http://127.0.0.1:$JFS_PORT" "$LAST_PID" "$RUN/juicefs.log"
}

cmd_start() {
    [[ -x "$VENV/bin/weed" && -x "$VENV/bin/juicefs" && -x "$VENV/bin/moto_server" ]] ||
        "$SCRIPT_DIR/install-test-servers.sh"
    if [[ -f "$RUN/pids" ]] || { [[ -d "$RUN" ]] && any_alive; }; then
        cmd_stop
    fi
    # The run dir is wiped: refuse to do that to a non-empty directory that
    # this script did not create (SYMSTORE_TEST_RUN_DIR pointing elsewhere).
    if [[ -d "$RUN" && ! -f "$RUN/.symstore-test-servers" ]] && [[ -n "$(ls -A "$RUN")" ]]; then
        die "$RUN exists and is not a test-servers run dir; not wiping it"
    fi
    rm -rf "$RUN"
    mkdir -p "$RUN"
    : >"$RUN/.symstore-test-servers"
    : >"$RUN/pids"

    # On any failure (set -e) or interruption, stop whatever was started.
    START_OK=0
    trap 'if [[ $START_OK != 1 ]]; then log "start failed; stopping what was started"; cmd_stop || true; fi' EXIT
    trap 'exit 130' INT TERM
    start_seaweedfs
    start_moto
    start_juicefs

    cat >"$RUN/env" <<EOF
export SYMSTORE_SEAWEEDFS_ENDPOINT=http://127.0.0.1:$WEED_S3_PORT
export SYMSTORE_SEAWEEDFS_MASTER=http://127.0.0.1:$WEED_MASTER_PORT
export SYMSTORE_MOTO_ENDPOINT=http://127.0.0.1:$MOTO_PORT
export SYMSTORE_JUICEFS_ENDPOINT=http://127.0.0.1:$JFS_PORT
export SYMSTORE_TEST_ACCESS_KEY=$ADMIN_KEY
export SYMSTORE_TEST_SECRET_KEY=$ADMIN_SECRET
export SYMSTORE_TEST_NODELETE_ACCESS_KEY=$NODELETE_KEY
export SYMSTORE_TEST_NODELETE_SECRET_KEY=$NODELETE_SECRET
export SYMSTORE_TEST_REGION=$REGION
EOF
    START_OK=1
    trap - EXIT INT TERM
    log "seaweedfs http://127.0.0.1:$WEED_S3_PORT, moto http://127.0.0.1:$MOTO_PORT, juicefs http://127.0.0.1:$JFS_PORT (env: $RUN/env)"
}

cmd_env() {
    [[ -f "$RUN/env" ]] || die "not running (no $RUN/env); run: $0 start"
    cat "$RUN/env"
}

cmd_status() {
    local name pid start state
    [[ -f "$RUN/pids" ]] || { echo "not running"; return 0; }
    while read -r name pid start; do
        [[ -n "${pid:-}" ]] || continue
        state=dead
        if is_same_live_process "$pid" "$start"; then
            state=running
        fi
        echo "$name $pid $state"
    done <"$RUN/pids"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
env) cmd_env ;;
status) cmd_status ;;
*)
    echo "usage: $0 start|stop|env|status" >&2
    exit 2
    ;;
esac
