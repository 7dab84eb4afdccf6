#!/usr/bin/env bash
# `make bench`: pcvm and qemu-system-i386 (TCG) side by side on the same guest work, then a
# perf profile of pcvm booting Linux.  See bench/README.md.
#   BENCH_RUNS=N      runs per emulator and metric (default 5; BENCH_RUNS=3 is the quick path)
#   BENCH_QUICK=1     one run of everything (a smoke test)
#   BENCH_TIMEOUT=S   limit of one Linux run, in seconds (default 600); a run over it is reported
#   BENCH_LOOP_ITERS  passes of the MIPS loop kernel (default 20000000)
#   BENCH_ONLY=disk   only the disk rows (BENCH_ONLY=nodisk: all but them)
#   BENCH_DISK_CACHE  cache= of the disk rows' -drive (default writeback; e.g. none)
#   BENCH_NET=0       skip the network rows (bench/net.py, e1000 and virtio-net; BENCH_NET_RUNS, default 3)
#   BENCH_VBLK=0      skip the virtio-blk against IDE rows (bench/virtio_blk.py; BENCH_VBLK_RUNS,
#                     default 3 dd runs of each in one boot per emulator)
#   BENCH_9P=0        skip the virtio-9p rows (bench/virtio_9p.py: 64 MiB read and written;
#                     BENCH_9P_RUNS, default 3 boots per emulator)
#   BENCH_KVMCLOCK=0  skip the boot with and without kvm-clock rows (bench/kvmclock.py;
#                     BENCH_KVMCLOCK_RUNS, default 3 boots per variant)
#   BENCH_SNAPSHOT=0  skip the snapshot rows (bench/snapshot.py: -loadvm against QEMU's;
#                     BENCH_SNAP_RUNS, default 5)
#   BENCH_PROFILE=0   skip the profile; BENCH_PROFILE_SECS=S its limit (default 400;
#                     it stops at BOOT-OK)
# Results: bench/results/<date>-<commit>.json, latest.json, latest.txt, profile-latest.txt
# (a BENCH_ONLY run: latest-disk.* / latest-nodisk.*).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"
CACHE=${PCVM_CACHE:-$HOME/.cache/pcvm}
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
say() { echo "bench: $*" >&2; }

# QEMU is needed by the benchmark only: Debian's package, used with TCG.
if ! command -v qemu-system-i386 >/dev/null; then
  say "installing qemu-system-x86"
  if ! DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null; then
    $SUDO apt-get update -qq >/dev/null 2>&1 || true
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends qemu-system-x86 >/dev/null
  fi
fi
if [ "${BENCH_PROFILE:-1}" != 0 ] && ! command -v perf >/dev/null; then
  say "installing linux-perf for the profile"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends linux-perf >/dev/null \
    || say "cannot install linux-perf: the profile will be skipped"
fi
command -v nasm >/dev/null || { say "nasm is missing: run 'make deps'"; exit 1; }
# Up to date with the tree (`make bench` has built it already); if the tree does not build
# right now, an existing ./pcvm is still benchmarked, with a warning.
if ! make --no-print-directory -s pcvm >/dev/null; then
  [ -x ./pcvm ] || { say "cannot build ./pcvm"; exit 1; }
  say "WARNING: 'make pcvm' failed; benchmarking the existing ./pcvm"
fi

# Guests: the Linux kernel and busybox from the shared cache (scripts/fetch-guests.sh).
[ -f "$CACHE/guests/vmlinuz-686" ] || bash scripts/fetch-guests.sh linux
[ -f "$CACHE/guests/busybox" ] || bash scripts/fetch-guests.sh busybox

out=build/bench
mkdir -p "$out" bench/results
iters=${BENCH_LOOP_ITERS:-20000000}
insns=$(sed -n 's/^; INSNS_PER_ITER: *\([0-9]*\).*/\1/p' bench/kernels/loop.asm)
[ -n "$insns" ] || { say "bench/kernels/loop.asm does not state INSNS_PER_ITER"; exit 1; }
(cd bench/kernels && nasm -f bin -o "$root/$out/exit.bin" exit.asm &&
  nasm -f bin -DITERATIONS="$iters" -o "$root/$out/loop.bin" loop.asm)
python3 bench/make-initramfs.py "$CACHE/guests/busybox" "$out/initramfs.cpio.gz"

# Disk rows: the initramfs with the IDE disk drivers of the Linux package (dependencies first:
# sd_mod needs t10-pi, which needs the CRC modules and their crypto back ends), and two empty
# 256 MiB scratch images, raw and qcow2, that bench.py copies afresh for every run.
if [ "${BENCH_ONLY:-}" != nodisk ]; then
  [ -d "$CACHE/root/linux/lib/modules" ] || bash scripts/fetch-guests.sh linux
  modpaths=()
  for m in crct10dif_common crct10dif_generic crc-t10dif crc64 crc64_rocksoft_generic \
           crc64-rocksoft t10-pi scsi_common scsi_mod libata ata_piix sd_mod; do
    p=$(find "$CACHE/root/linux/lib/modules" -name "$m.ko" | head -1)
    [ -n "$p" ] || { say "no module $m.ko in $CACHE/root/linux"; exit 1; }
    modpaths+=("$p")
  done
  python3 bench/make-initramfs.py "$CACHE/guests/busybox" "$out/initramfs-disk.cpio.gz" "${modpaths[@]}"
  rm -f "$out/disk.raw" "$out/disk.qcow2"
  img=$(command -v qemu-img || echo build/pcvm-img)
  "$img" create -q -f raw "$out/disk.raw" 256M
  "$img" create -q -f qcow2 "$out/disk.qcow2" 256M
  export BENCH_DISK_INITRD=$root/$out/initramfs-disk.cpio.gz
  export BENCH_DISK_RAW=$root/$out/disk.raw BENCH_DISK_QCOW2=$root/$out/disk.qcow2
fi

# Benchmark a private copy: other work in this tree may rebuild ./pcvm during the runs.
cp ./pcvm "$out/pcvm"
export BENCH_PCVM=$root/$out/pcvm
export BENCH_PCVM_SHA256=$(sha256sum "$out/pcvm" | cut -d' ' -f1)
export BENCH_COMMIT=$(git rev-parse HEAD 2>/dev/null || echo unknown)
BENCH_DIRTY=0
[ -z "$(git status --porcelain -- src 2>/dev/null)" ] || BENCH_DIRTY=1
export BENCH_DIRTY
export BENCH_QEMU=$(command -v qemu-system-i386)
export BENCH_KERNEL=$CACHE/guests/vmlinuz-686
export BENCH_INITRD=$root/$out/initramfs.cpio.gz
export BENCH_EXIT_KERNEL=$root/$out/exit.bin
export BENCH_LOOP_KERNEL=$root/$out/loop.bin
export BENCH_LOOP_ITERS=$iters BENCH_LOOP_INSNS=$insns
export BENCH_OUT=$root/bench/results
python3 bench/bench.py
# Network rows (bench/net.py): 64 MiB each way and a small request over e1000 + user networking.
if [ "${BENCH_NET:-1}" != 0 ] && [ -z "${BENCH_ONLY:-}" ]; then
  BENCH_NET_RUNS=${BENCH_NET_RUNS:-$([ "${BENCH_QUICK:-0}" = 1 ] && echo 1 || echo 3)} \
    python3 bench/net.py || say "the network benchmark failed"
fi

# virtio-blk rows (bench/virtio_blk.py): dd on an IDE and a virtio disk in one boot, pcvm and QEMU.
if [ "${BENCH_VBLK:-1}" != 0 ] && [ -z "${BENCH_ONLY:-}" ]; then
  BENCH_VBLK_RUNS=${BENCH_VBLK_RUNS:-$([ "${BENCH_QUICK:-0}" = 1 ] && echo 1 || echo 3)} \
    python3 bench/virtio_blk.py || say "the virtio-blk benchmark failed"
fi

# virtio-9p rows (bench/virtio_9p.py) and Linux boot with and without kvm-clock (bench/kvmclock.py).
if [ "${BENCH_9P:-1}" != 0 ] && [ -z "${BENCH_ONLY:-}" ]; then
  BENCH_9P_RUNS=${BENCH_9P_RUNS:-$([ "${BENCH_QUICK:-0}" = 1 ] && echo 1 || echo 3)} \
    python3 bench/virtio_9p.py || say "the virtio-9p benchmark failed"
fi
if [ "${BENCH_KVMCLOCK:-1}" != 0 ] && [ -z "${BENCH_ONLY:-}" ]; then
  BENCH_KVMCLOCK_RUNS=${BENCH_KVMCLOCK_RUNS:-$([ "${BENCH_QUICK:-0}" = 1 ] && echo 1 || echo 3)} \
    python3 bench/kvmclock.py || say "the kvm-clock boot benchmark failed"
fi

# Snapshot rows (bench/snapshot.py): -loadvm restore time against QEMU's on the same guest.
if [ "${BENCH_SNAPSHOT:-1}" != 0 ] && [ -z "${BENCH_ONLY:-}" ]; then
  BENCH_SNAP_RUNS=${BENCH_SNAP_RUNS:-$([ "${BENCH_QUICK:-0}" = 1 ] && echo 1 || echo 5)} \
    python3 bench/snapshot.py || say "the snapshot benchmark failed"
fi

if [ "${BENCH_PROFILE:-1}" != 0 ]; then
  if command -v perf >/dev/null; then
    say "profiling pcvm booting Linux to BOOT-OK (at most ${BENCH_PROFILE_SECS:-400} s)"
    python3 bench/bench.py --profile "${BENCH_PROFILE_SECS:-400}" || say "the profile failed"
  else
    say "no perf: profile skipped"
  fi
fi
