#!/bin/bash
# Crash consistency: a pcvm-img writer is killed with SIGKILL at random points, then
# `qemu-img check` must report no corruption (leaked clusters are allowed, exit 0 or 3) and
# pcvm-img must still read the whole image.
# Usage: tests/block/crash.sh [path/to/pcvm-img] [rounds-per-scenario]
set -u
PIMG=${1:-${PCVM_IMG:-./pcvm-img}}
PIMG=$(cd "$(dirname "$PIMG")" && pwd)/$(basename "$PIMG")
ROUNDS=${2:-4}
QIMG=${QEMU_IMG:-qemu-img}
pass=0
fail=0
T=$(mktemp -d "${TMPDIR:-/var/tmp}/pcvm-crash.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
if ! command -v "$QIMG" >/dev/null; then
    echo "qemu-img not found"
    echo "0 passed, 1 failed"
    exit 1
fi

# Kill "$@" after a random 20-400 ms, then check the image.
crash_round() { # name image command...
    local name=$1 img=$2
    shift 2
    # Job control puts the writer (and anything it starts) in its own process group, so the
    # SIGKILL reaches every process of it at once.
    set -m
    "$@" >/dev/null 2>&1 &
    local pid=$!
    set +m
    local ms=$((20 + RANDOM % 380))
    sleep "$(printf '0.%03d' "$ms")"
    kill -9 -- "-$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    # Members of the group may still be exiting (and holding the image lock) after the leader
    # was reaped: wait until the whole group is gone.
    local n=0
    while kill -0 -- "-$pid" 2>/dev/null && [ $n -lt 500 ]; do sleep 0.01; n=$((n + 1)); done
    "$QIMG" check "$img" >check.log 2>&1
    local rc=$?
    if [ $rc = 0 ] || [ $rc = 3 ]; then
        if "$PIMG" convert -O raw "$img" out.raw >/dev/null 2>conv.log; then
            pass=$((pass + 1))
            echo "PASS $name (killed after ${ms} ms, qemu-img check rc=$rc)"
            return
        fi
        echo "FAIL $name: pcvm-img cannot read the image after the crash"
        sed 's/^/    /' conv.log | head
    else
        echo "FAIL $name (killed after ${ms} ms): qemu-img check rc=$rc"
        sed 's/^/    /' check.log | head -20
    fi
    fail=$((fail + 1))
}

for r in $(seq 1 "$ROUNDS"); do
    rm -f a.qcow2
    "$PIMG" create -q -f qcow2 a.qcow2 256M
    crash_round "random 4k writes, 64k clusters #$r" a.qcow2 \
        "$PIMG" bench -q -w -c 1000000 -s 4k --random=$RANDOM a.qcow2

    rm -f b.qcow2
    "$PIMG" create -q -f qcow2 -o cluster_size=512 b.qcow2 64M
    crash_round "growing refcount table, 512-byte clusters #$r" b.qcow2 \
        "$PIMG" bench -q -w -c 1000000 -s 1536 -S 3584 b.qcow2

    rm -f c.qcow2
    "$PIMG" create -q -f qcow2 c.qcow2 64M
    "$PIMG" bench -q -w -c 300 -s 64k --random=1 c.qcow2
    "$PIMG" snapshot -c base c.qcow2
    crash_round "copy-on-write after a snapshot #$r" c.qcow2 \
        "$PIMG" bench -q -w -c 1000000 -s 8k --random=$RANDOM c.qcow2

    rm -f d.qcow2
    "$PIMG" create -q -f qcow2 -o lazy_refcounts=on,cluster_size=4096 d.qcow2 64M
    crash_round "lazy refcounts, 4k clusters #$r" d.qcow2 \
        "$PIMG" bench -q -w -c 1000000 -s 6k -S 10k --flush-interval=50 d.qcow2

    rm -f e.qcow2 base.raw
    head -c 8M /dev/urandom >base.raw
    "$PIMG" create -q -f qcow2 -b base.raw -F raw e.qcow2
    crash_round "overlay over a raw backing file #$r" e.qcow2 \
        "$PIMG" bench -q -w -c 1000000 -s 1k --random=$RANDOM e.qcow2

    # Internal snapshots switch metadata with one header write: create, apply and delete
    # killed at any point must leave a consistent image.
    rm -f f.qcow2
    "$PIMG" create -q -f qcow2 -o cluster_size=4096 f.qcow2 16M
    "$PIMG" bench -q -w -c 500 -s 4k --random=3 f.qcow2
    crash_round "snapshot create/apply/delete loop #$r" f.qcow2 bash -c \
        "i=0; while :; do i=\$((i+1)); '$PIMG' snapshot -c s\$i f.qcow2; '$PIMG' bench -q -w -c 20 -s 4k --random=\$i f.qcow2; [ \$((i % 3)) = 0 ] && '$PIMG' snapshot -a s\$((i-1)) f.qcow2; [ \$i -gt 2 ] && '$PIMG' snapshot -d s\$((i-2)) f.qcow2; done"
done

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
