#!/bin/bash
# Interoperability of pcvm-img with Debian's qemu-img, both directions:
#  - images made by qemu-img (compressed, backing chains, snapshots) read bit-exactly by pcvm-img
#  - images written by pcvm-img pass `qemu-img check` and `qemu-img compare`
# Usage: tests/block/interop.sh [path/to/pcvm-img]   (default ./pcvm-img)
set -u
PIMG=${1:-${PCVM_IMG:-./pcvm-img}}
PIMG=$(cd "$(dirname "$PIMG")" && pwd)/$(basename "$PIMG")
QIMG=${QEMU_IMG:-qemu-img}
QIO=${QEMU_IO:-qemu-io}
pass=0
fail=0
T=$(mktemp -d "${TMPDIR:-/var/tmp}/pcvm-interop.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; }
check() { # name, command...
    local name=$1
    shift
    if "$@" >"$T/log" 2>&1; then ok "$name"; else ko "$name"; sed 's/^/    /' "$T/log" | head -20; fi
}
if ! command -v "$QIMG" >/dev/null; then
    echo "qemu-img not found"
    echo "0 passed, 1 failed"
    exit 1
fi

# Reference content: random data, a hole, a zero run, data at the end.
head -c 3000000 /dev/urandom >ref.raw
truncate -s 24M ref.raw
dd if=/dev/urandom of=ref.raw bs=1k seek=9000 count=700 conv=notrunc status=none
dd if=/dev/zero of=ref.raw bs=1k seek=12000 count=64 conv=notrunc status=none
dd if=/dev/urandom of=ref.raw bs=1k seek=24000 count=576 conv=notrunc status=none
# Compressible (text-like) data so compressed clusters really occur.
yes "pcvm block layer interop line" | head -c 2000000 | dd of=ref.raw bs=1k seek=4000 conv=notrunc status=none

# qemu-img makes, pcvm-img reads: convert to raw and compare byte for byte.
read_case() { # name, qemu-img convert options
    local name=$1
    shift
    rm -f q.qcow2 p.raw
    "$QIMG" convert -f raw -O qcow2 "$@" ref.raw q.qcow2 &&
        "$PIMG" convert -f qcow2 -O raw q.qcow2 p.raw && cmp ref.raw p.raw
}
check "read plain qcow2" read_case plain
check "read compat=0.10" read_case v2 -o compat=0.10
check "read cluster_size=512" read_case c512 -o cluster_size=512
check "read cluster_size=2M" read_case c2m -o cluster_size=2M
check "read zlib compressed" read_case zlib -c
check "read zstd compressed" read_case zstd -c -o compression_type=zstd
check "read compressed 4k clusters" read_case c4k -c -o cluster_size=4096
check "read refcount_bits=1" read_case rb1 -o refcount_bits=1
check "read refcount_bits=64" read_case rb64 -o refcount_bits=64

# Backing chain made by qemu-img: base <- mid <- top, with writes at each level.
chain_case() {
    rm -f base.qcow2 mid.qcow2 top.qcow2
    "$QIMG" convert -f raw -O qcow2 ref.raw base.qcow2 &&
        "$QIMG" create -q -f qcow2 -b base.qcow2 -F qcow2 mid.qcow2 &&
        "$QIO" -c 'write -P 0x11 1M 100k' -c 'write -z 9M 64k' mid.qcow2 >/dev/null &&
        "$QIMG" create -q -f qcow2 -b mid.qcow2 -F qcow2 top.qcow2 &&
        "$QIO" -c 'write -P 0x22 1050k 10k' -c 'write -P 0x33 23M 4k' top.qcow2 >/dev/null &&
        "$QIMG" convert -O raw top.qcow2 qref.raw &&
        "$PIMG" convert -O raw top.qcow2 p.raw && cmp qref.raw p.raw
}
check "read backing chain" chain_case

# Internal snapshots made by qemu-img: the active layer and the snapshot list.
snap_read_case() {
    rm -f s.qcow2
    "$QIMG" convert -f raw -O qcow2 ref.raw s.qcow2 &&
        "$QIMG" snapshot -c one s.qcow2 &&
        "$QIO" -c 'write -P 0x44 0 200k' s.qcow2 >/dev/null &&
        "$QIMG" snapshot -c two s.qcow2 &&
        "$PIMG" snapshot -l s.qcow2 | grep -q ' two ' &&
        "$QIMG" convert -O raw s.qcow2 qref.raw && "$PIMG" convert -O raw s.qcow2 p.raw && cmp qref.raw p.raw &&
        "$PIMG" snapshot -a one s.qcow2 && "$QIMG" check -q s.qcow2 &&
        "$PIMG" convert -O raw s.qcow2 p.raw && cmp ref.raw p.raw
}
check "qemu snapshots, pcvm apply" snap_read_case

# pcvm-img writes, qemu-img checks and compares.
write_case() { # name, pcvm-img convert options
    local name=$1
    shift
    rm -f w.qcow2
    "$PIMG" convert -f raw -O qcow2 "$@" ref.raw w.qcow2 && "$QIMG" check -q w.qcow2 &&
        "$QIMG" compare -q -f raw -F qcow2 ref.raw w.qcow2
}
check "write plain qcow2" write_case plain
check "write compat=0.10" write_case v2 -o compat=0.10
check "write cluster_size=512 (refcount table growth)" write_case c512 -o cluster_size=512
check "write refcount_bits=1" write_case rb1 -o refcount_bits=1,cluster_size=4096
check "write refcount_bits=64" write_case rb64 -o refcount_bits=64
check "write zlib compressed" write_case zlib -c
check "write zstd compressed" write_case zstd -c -o compression_type=zstd
check "write raw" bash -c "'$PIMG' convert -f raw -O raw ref.raw w.raw && cmp ref.raw w.raw"

compressed_really() {
    rm -f w.qcow2
    "$PIMG" convert -c -O qcow2 ref.raw w.qcow2 &&
        "$QIMG" check --output=json w.qcow2 | grep -q '"compressed-clusters"'
}
check "convert -c produces compressed clusters" compressed_really

# pcvm-img create, then qemu-io writes, pcvm-img reads.
create_case() {
    rm -f c.qcow2
    "$PIMG" create -q -f qcow2 -o cluster_size=4096,lazy_refcounts=on c.qcow2 8M &&
        "$QIMG" check -q c.qcow2 &&
        "$QIO" -c 'write -P 0x55 4000 70000' c.qcow2 >/dev/null &&
        "$QIMG" convert -O raw c.qcow2 qref.raw && "$PIMG" convert -O raw c.qcow2 p.raw && cmp qref.raw p.raw
}
check "pcvm create, qemu writes" create_case

# Backing files written by pcvm: create -b, then COW writes through qemu-io-free path (rebase -u
# writes nothing; convert -B writes only differences).
backing_write_case() {
    rm -f b.qcow2 o.qcow2 ref2.raw
    cp ref.raw ref2.raw
    dd if=/dev/urandom of=ref2.raw bs=1k seek=100 count=3 conv=notrunc status=none
    "$PIMG" convert -O qcow2 ref.raw b.qcow2 &&
        "$PIMG" convert -O qcow2 -B b.qcow2 -F qcow2 ref2.raw o.qcow2 &&
        "$QIMG" check -q o.qcow2 && "$QIMG" compare -q -F qcow2 ref2.raw o.qcow2 &&
        [ "$("$QIMG" info --output=json o.qcow2 | grep -c '"backing-filename"')" = 1 ]
}
check "convert -B writes a COW overlay" backing_write_case

# Snapshots written by pcvm-img: qemu-img sees them and the image stays consistent.
snap_write_case() {
    rm -f sw.qcow2
    "$PIMG" convert -O qcow2 ref.raw sw.qcow2 &&
        "$PIMG" snapshot -c first sw.qcow2 &&
        "$QIO" -c 'write -P 0x66 0 300k' sw.qcow2 >/dev/null &&
        "$PIMG" snapshot -c second sw.qcow2 && "$QIMG" check -q sw.qcow2 &&
        "$QIMG" snapshot -l sw.qcow2 | grep -q second &&
        "$PIMG" snapshot -a first sw.qcow2 && "$QIMG" check -q sw.qcow2 &&
        "$QIMG" compare -q -F qcow2 ref.raw sw.qcow2 &&
        "$PIMG" snapshot -d first sw.qcow2 && "$QIMG" check -q sw.qcow2 &&
        "$QIMG" snapshot -a second sw.qcow2 && "$QIMG" convert -O raw sw.qcow2 qref.raw &&
        cmp -n 307200 qref.raw <(head -c 307200 /dev/zero | tr '\0' '\146')
}
check "pcvm snapshots create/apply/delete" snap_write_case

# Snapshot operations on compressed 4k-cluster images, several snapshots, each state checked
# by qemu-img (no leaks allowed) and compared with what qemu-img reads from the snapshot.
snap_chain_case() {
    rm -f sc.qcow2
    "$QIMG" convert -c -f raw -O qcow2 -o cluster_size=4096 ref.raw sc.qcow2 &&
        "$QIMG" convert -O raw sc.qcow2 s0.raw &&
        "$PIMG" snapshot -c s0 sc.qcow2 && "$QIMG" check -q sc.qcow2 &&
        "$QIO" -c 'write -P 0x41 4000k 300k' -c 'write -P 0x42 9100k 12k' sc.qcow2 >/dev/null &&
        "$QIMG" convert -O raw sc.qcow2 s1.raw &&
        "$PIMG" snapshot -c s1 sc.qcow2 && "$QIMG" check -q sc.qcow2 &&
        "$QIO" -c 'write -P 0x43 0 64k' -c 'write -z 4100k 100k' sc.qcow2 >/dev/null &&
        "$QIMG" convert -O raw sc.qcow2 s2.raw &&
        "$PIMG" snapshot -c s2 sc.qcow2 && "$QIMG" check -q sc.qcow2 &&
        "$QIMG" compare -q -f raw -F qcow2 s2.raw sc.qcow2 &&
        "$QIMG" convert -l snapshot.name=s0 -O raw sc.qcow2 q0.raw && cmp s0.raw q0.raw &&
        "$QIMG" convert -l snapshot.name=s1 -O raw sc.qcow2 q1.raw && cmp s1.raw q1.raw &&
        "$PIMG" snapshot -d s1 sc.qcow2 && "$QIMG" check -q sc.qcow2 &&
        "$PIMG" snapshot -a s0 sc.qcow2 && "$QIMG" check -q sc.qcow2 &&
        "$QIMG" compare -q -f raw -F qcow2 s0.raw sc.qcow2 &&
        "$QIO" -c 'write -P 0x44 2M 1M' sc.qcow2 >/dev/null && "$QIMG" check -q sc.qcow2 &&
        "$QIMG" convert -l snapshot.name=s0 -O raw sc.qcow2 q0.raw && cmp s0.raw q0.raw &&
        "$PIMG" snapshot -a s2 sc.qcow2 && "$QIMG" compare -q -f raw -F qcow2 s2.raw sc.qcow2 &&
        "$PIMG" snapshot -d s0 sc.qcow2 && "$PIMG" snapshot -d s2 sc.qcow2 &&
        "$QIMG" check -q sc.qcow2 && "$QIMG" compare -q -f raw -F qcow2 s2.raw sc.qcow2 &&
        [ -z "$("$QIMG" snapshot -l sc.qcow2)" ]
}
check "pcvm snapshot chain on compressed 4k clusters" snap_chain_case

# refcount_bits=1 cannot count a second reference: the snapshot is refused, image untouched.
snap_rb1_case() {
    rm -f r1.qcow2
    "$QIMG" convert -f raw -O qcow2 -o refcount_bits=1 ref.raw r1.qcow2 &&
        ! "$PIMG" snapshot -c nope r1.qcow2 2>err.log && grep -q refcount err.log &&
        "$QIMG" check -q r1.qcow2 && "$QIMG" compare -q -f raw -F qcow2 ref.raw r1.qcow2 &&
        [ -z "$("$QIMG" snapshot -l r1.qcow2)" ]
}
check "snapshot refused with refcount_bits=1" snap_rb1_case

# info and check JSON field names as qemu-img prints them.
json_case() {
    rm -f j.qcow2
    "$QIMG" create -q -f qcow2 j.qcow2 16M && "$QIO" -c 'write 0 64k' j.qcow2 >/dev/null &&
        "$PIMG" info --output=json j.qcow2 >p.json && "$QIMG" info --output=json j.qcow2 >q.json &&
        python3 - <<'EOF' || return 1
import json
p = json.load(open("p.json")); q = json.load(open("q.json"))
for k in ("virtual-size", "cluster-size", "format", "dirty-flag"):
    assert p[k] == q[k], (k, p[k], q[k])
assert p["format-specific"] == q["format-specific"], (p["format-specific"], q["format-specific"])
EOF
    "$PIMG" check --output=json j.qcow2 >p.json && "$QIMG" check --output=json j.qcow2 >q.json &&
        python3 - <<'EOF' || return 1
import json
p = json.load(open("p.json")); q = json.load(open("q.json"))
for k in ("image-end-offset", "total-clusters", "check-errors", "allocated-clusters", "format"):
    assert p.get(k) == q.get(k), (k, p.get(k), q.get(k))
EOF
    rm -f j2.qcow2
    "$QIMG" convert -c -O qcow2 -o cluster_size=4096 -f raw ref.raw j2.qcow2 &&
        "$PIMG" check --output=json j2.qcow2 >p.json && "$QIMG" check --output=json j2.qcow2 >q.json &&
        python3 - <<'EOF'
import json
p = json.load(open("p.json")); q = json.load(open("q.json"))
for k in ("image-end-offset", "total-clusters", "allocated-clusters", "fragmented-clusters", "compressed-clusters"):
    assert p.get(k) == q.get(k), (k, p.get(k), q.get(k))
EOF
}
check "info/check json match qemu-img" json_case

# check finds a leak and -r leaks repairs it; exit codes as qemu-img's.
leak_case() {
    rm -f l.qcow2
    "$PIMG" create -q -f qcow2 l.qcow2 16M && "$QIO" -c 'write 0 128k' l.qcow2 >/dev/null &&
        truncate -s +64k l.qcow2 && python3 -c "
import os, struct
n = os.path.getsize('l.qcow2') // 65536 - 1
f = open('l.qcow2', 'r+b'); f.seek(0x20000 + 2 * n); f.write(struct.pack('>H', 1)); f.close()" &&
        { "$PIMG" check l.qcow2 >/dev/null 2>&1; [ $? = 3 ]; } &&
        { "$QIMG" check l.qcow2 >/dev/null 2>&1; [ $? = 3 ]; } &&
        "$PIMG" check -r leaks l.qcow2 >/dev/null 2>&1 && "$QIMG" check -q l.qcow2
}
check "leak detected and repaired" leak_case

# resize grows qcow2 and raw; shrink needs --shrink; qemu agrees.
resize_case() {
    rm -f z.qcow2 z.raw
    "$PIMG" create -q -f qcow2 -o cluster_size=512 z.qcow2 1M && "$PIMG" resize z.qcow2 +63M >/dev/null &&
        "$QIMG" check -q z.qcow2 && [ "$("$QIMG" info --output=json z.qcow2 | grep '"virtual-size"')" = '    "virtual-size": 67108864,' ] &&
        "$QIO" -c 'write 60M 1M' z.qcow2 >/dev/null && "$QIMG" check -q z.qcow2 &&
        "$PIMG" create -q -f raw z.raw 8M && ! "$PIMG" resize z.raw 4M 2>/dev/null &&
        "$PIMG" resize --shrink z.raw 4M >/dev/null && [ "$(stat -c %s z.raw)" = 4194304 ]
}
check "resize" resize_case

# commit and rebase.
commit_case() {
    rm -f cb.qcow2 ct.qcow2
    "$PIMG" convert -O qcow2 ref.raw cb.qcow2 && "$PIMG" create -q -f qcow2 -b cb.qcow2 -F qcow2 ct.qcow2 &&
        "$QIO" -c 'write -P 0x77 5M 1M' ct.qcow2 >/dev/null && "$QIMG" convert -O raw ct.qcow2 qref.raw &&
        "$PIMG" commit ct.qcow2 >/dev/null && "$QIMG" check -q cb.qcow2 && "$QIMG" check -q ct.qcow2 &&
        "$QIMG" compare -q -F qcow2 qref.raw cb.qcow2 && "$QIMG" compare -q -F qcow2 qref.raw ct.qcow2
}
check "commit" commit_case
rebase_case() {
    rm -f ra.qcow2 rb.qcow2 rt.qcow2
    "$PIMG" convert -O qcow2 ref.raw ra.qcow2 && "$PIMG" create -q -f qcow2 rb.qcow2 24M &&
        "$PIMG" create -q -f qcow2 -b ra.qcow2 -F qcow2 rt.qcow2 &&
        "$QIO" -c 'write -P 0x12 0 64k' rt.qcow2 >/dev/null &&
        "$QIMG" convert -O raw rt.qcow2 qref.raw &&
        "$PIMG" rebase -b rb.qcow2 -F qcow2 rt.qcow2 && "$QIMG" check -q rt.qcow2 &&
        "$QIMG" compare -q -F qcow2 qref.raw rt.qcow2 &&
        "$PIMG" rebase -u -b ra.qcow2 -F qcow2 rt.qcow2 && "$QIMG" compare -q -F qcow2 qref.raw rt.qcow2
}
check "rebase safe and unsafe" rebase_case

# Locking: a qemu-io holding the image for writing keeps pcvm-img from writing it.
lock_case() {
    rm -f k.qcow2
    "$PIMG" create -q -f qcow2 k.qcow2 1M || return 1
    rm -f k.fifo
    mkfifo k.fifo
    # qemu-io holds the image open for writing while its stdin (the fifo) stays open.
    sleep 30 >k.fifo &
    local spid=$!
    "$QIO" k.qcow2 <k.fifo >/dev/null 2>&1 &
    local qpid=$!
    sleep 1
    local out
    out=$("$PIMG" snapshot -c x k.qcow2 2>&1)
    local rc=$?
    kill $qpid $spid 2>/dev/null
    wait $qpid $spid 2>/dev/null
    [ $rc != 0 ] && echo "$out" | grep -q 'Failed to get "write" lock\|Failed to get shared "write" lock'
}
check "image locking against qemu" lock_case

# Malformed images: one clear error, nothing written.
malformed_case() {
    rm -f m.qcow2
    "$PIMG" create -q -f qcow2 m.qcow2 1M || return 1
    python3 -c "
import struct
f = open('m.qcow2', 'r+b'); f.seek(40); f.write(struct.pack('>Q', 1 << 50)); f.close()" || return 1
    local before
    before=$(md5sum <m.qcow2)
    # As qemu-img: the image opens read-only, check reports the L1 table past the end (exit 2).
    { "$PIMG" check m.qcow2 2>err.txt >/dev/null; [ $? = 2 ]; } && grep -q 'exceeding the end of the file' err.txt &&
        [ "$(md5sum <m.qcow2)" = "$before" ] &&
        printf 'QFI\xfb\0\0\0\x09' | dd of=m.qcow2 conv=notrunc status=none &&
        ! "$PIMG" info m.qcow2 2>/dev/null >/dev/null
}
check "malformed images rejected" malformed_case
loop_case() {
    rm -f la.qcow2 lb.qcow2
    "$PIMG" create -q -f qcow2 la.qcow2 1M && "$PIMG" create -q -f qcow2 -b la.qcow2 -F qcow2 lb.qcow2 &&
        "$PIMG" rebase -u -b lb.qcow2 -F qcow2 la.qcow2 &&
        ! "$PIMG" convert -O raw lb.qcow2 x.raw 2>err.txt && grep -qi 'backing' err.txt
}
check "backing loop rejected" loop_case
# snapshot -l prints what qemu-img prints, column for column: a snapshot with VM state (QEMU's
# savevm, a non-zero VM SIZE) and a 17-character tag.
snaplist_case() {
    rm -f sl.qcow2
    "$QIMG" create -q -f qcow2 sl.qcow2 16M &&
        { ! command -v qemu-system-i386 >/dev/null ||
          printf 'savevm withstate\nquit\n' | timeout 60 qemu-system-i386 -display none -m 32 -serial none \
              -monitor stdio -drive file=sl.qcow2,format=qcow2 >/dev/null 2>&1; } &&
        "$QIMG" snapshot -c abcdefghijklmnopq sl.qcow2 && "$QIMG" snapshot -l sl.qcow2 >q.txt &&
        "$PIMG" snapshot -l sl.qcow2 >p.txt && diff q.txt p.txt
}
check "snapshot -l columns as qemu-img's (VM SIZE non-zero, long tag)" snaplist_case
# The "probing guessed raw" warning where QEMU prints it: only for a probed raw image opened for
# writing (pcvm -hda), not for pcvm-img info/check/convert or a read-only -cdrom.
probe_warning_case() {
    local pcvm n
    pcvm=$(dirname "$PIMG")/pcvm
    truncate -s 1M pr.img
    n=$( { "$PIMG" info pr.img; "$PIMG" check pr.img; "$PIMG" convert -O qcow2 pr.img pr.qcow2; } 2>&1 | grep -c 'probing guessed raw')
    [ "$n" = 0 ] || return 1
    [ -x "$pcvm" ] || return 0
    timeout 10 "$pcvm" -cdrom pr.img -display none -monitor none -serial none -S >cd.txt 2>&1 &
    sleep 1; kill $! 2>/dev/null; wait
    timeout 10 "$pcvm" -hda pr.img -display none -monitor none -serial none -S >hd.txt 2>&1 &
    sleep 1; kill $! 2>/dev/null; wait
    ! grep -q 'probing guessed raw' cd.txt && grep -q 'probing guessed raw' hd.txt
}
check "raw probing warning only for a writable image (not -cdrom, not pcvm-img info/check/convert)" probe_warning_case

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
