#!/usr/bin/env bash
# Guest tests: boot real operating systems in pcvm and check what they print on the serial
# console.  Closing line: "guests: N passed, N failed"; non-zero exit when any test failed.
#   PCVM_GUEST_TESTS="kernels linux"  run only these (default: the default list below;
#                                     "all": every test, cpumodels with every model)
#   PCVM=path                         emulator to test (default ./pcvm)
#   PCVM_GUEST_TIME_SCALE=2           multiply every time limit
#   PCVM_GUEST_LOGS=dir               console logs (default build/guest-logs)
#   PCVM_CPU_MODELS="486 athlon"      cpumodels: models to boot (default nine; "all": twelve)
# Tests: kernels (nasm Multiboot test kernels), badkernels (error messages), seabios (SeaBIOS
# banner, no-disk message, MBR boot from IDE), linux (Debian 686 + busybox, devices in the
# kernel log, ACPI power-off), linux_smp (-smp 8: 4 cores x 2 threads, one host thread per vCPU, LOCKed counters), monitor (QMP and HMP on sockets with -smp 2,
# a qcow2 disk and a CD; a pvpanic boot), linux_firmware (SeaBIOS + GRUB from an MBR disk: ACPI
# after the firmware moved the PM block; linux_firmware_smp: the same at -smp 2), cpumodels (/proc/cpuinfo per -cpu model),
# gnumach (GNU Mach 1.8), memtest (memtest86+), installer (Debian installer), net (e1000 +
# user networking: DHCP, a download from the host, a guest web page through hostfwd), netboot
# (-boot n: SeaBIOS, the e1000's iPXE ROM, kernel and initrd over HTTP), net_socket (two guests
# on -netdev socket listen/connect ping), net_tap (-netdev tap in a network namespace; root),
# virtio (virtio-blk on qcow2 and raw read and written, checked with qemu-img; virtio-net with
# DHCP, wget, nc and hostfwd; virtio-rng through /dev/hwrng), snapshot (savevm/loadvm on a qcow2
# disk, the QMP snapshot jobs, migrate to exec: and file:, -loadvm and -incoming starts, refused
# raw drives and bad states).  Not in any list: linux_tsan (Linux -smp 4 on a ThreadSanitizer build;
# make check-tsan).
set -u
cd "$(dirname "$0")/../.." || exit 1
# The default list is what `make check` runs: it must fit CI (2 cores, ~15 minutes).
# Measured on the 2-core box while other jobs ran (load 2..5): about 5 minutes in all, the
# installer (~1.5 min), the cpumodels boots (nine, two at a time: ~5.5 min at load ~20) and the Linux boots (~45 s each) being
# the longest.
DEFAULT="kernels badkernels seabios linux linux_smp linux_firmware linux_firmware_smp monitor cpumodels gnumach memtest installer net netboot net_socket net_tap display virtio snapshot hibernate"
# The firmware boots (SeaBIOS + GRUB from an MBR disk, -smp 1 and 2) joined the default list
# once guest time stopped jumping under host load (issue 13): 27 of 27 boots passed at load
# 9-12 (two or three at once), where about half had hung or panicked before.  "all" also boots all six CPU models.
SLOW=""
ALL="$DEFAULT $SLOW"
tests=${PCVM_GUEST_TESTS:-$DEFAULT}
if [ "$tests" = all ]; then
  tests=$ALL
  export PCVM_CPU_MODELS=${PCVM_CPU_MODELS:-all}
fi
tests=${tests//,/ }
export PCVM=${PCVM:-$PWD/pcvm}
export PCVM_GUEST_LOGS=${PCVM_GUEST_LOGS:-$PWD/build/guest-logs}
scale=${PCVM_GUEST_TIME_SCALE:-1}
mkdir -p "$PCVM_GUEST_LOGS"

# How many -cpu models cpumodels.py boots (PCVM_CPU_MODELS; its default is nine, two at a time).
model_count() {
  case ${PCVM_CPU_MODELS:-} in
    '') echo 9 ;;
    all) echo 12 ;;
    *) echo "${PCVM_CPU_MODELS//,/ }" | wc -w ;;
  esac
}

# Overall limit per test, in seconds (each script also has limits per step).
limit_for() {
  local base
  case $1 in
    kernels|badkernels|seabios) base=180 ;;
    linux|linux_smp|linux_firmware|linux_firmware_smp) base=1500 ;;
    linux_tsan) base=3600 ;;
    monitor) base=1500 ;;
    cpumodels) base=$(( 600 * $(model_count) )) ;;
    gnumach) base=900 ;;
    memtest) base=1200 ;;
    installer) base=1800 ;;
    display) base=1200 ;;
    *) base=600 ;;
  esac
  awk -v b="$base" -v s="$scale" 'BEGIN { printf "%d", b * s }'
}

# What each test needs fetched or built; prints a reason when that fails.
prepare() {
  case $1 in
    kernels|seabios) bash tests/kernels/build.sh build/tests/kernels ;;
    badkernels) bash scripts/fetch-guests.sh linux busybox ;;
    linux|linux_smp|linux_firmware|linux_firmware_smp|cpumodels) bash scripts/fetch-guests.sh linux busybox && bash tests/kernels/build.sh build/tests/kernels ;;
    net|netboot|net_socket|net_tap|snapshot|hibernate|linux_tsan) bash scripts/fetch-guests.sh linux busybox ;;
    virtio) bash scripts/fetch-guests.sh linux busybox attr ;;
    monitor) bash scripts/fetch-guests.sh linux busybox ;;
    gnumach) bash scripts/fetch-guests.sh gnumach && bash tests/kernels/build.sh build/tests/kernels ;;
    memtest) bash scripts/fetch-guests.sh memtest ;;
    installer) bash scripts/fetch-guests.sh installer ;;
    display) bash scripts/fetch-guests.sh linux busybox && bash tests/kernels/build.sh build/tests/kernels ;;
  esac
}

# Run one test: its verdict line (and the evidence on failure) goes to $2.
run_one() {
  local t=$1 res=$2 lim start out rc secs log
  lim=$(limit_for "$t")
  start=$(date +%s)
  # Tests that share something exclusive never overlap: fixed host ports (hostfwd) for net
  # tests (net, netboot, net_socket, net_tap), the MBR disk image (opened writable, so locked) for linux and seabios.
  local group=$t
  case $t in
    net|netboot|net_socket|net_tap) group=net ;;
    linux|seabios) group=mbr-disk ;;
  esac
  out=$(flock "$results/$group.lock" \
        timeout --kill-after=10 "$lim" python3 "tests/guests/$t.py" 2>&1); rc=$?
  secs=$(( $(date +%s) - start ))
  {
    if [ $rc -eq 0 ]; then
      echo "PASS $t (${secs}s)"
    else
      if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
        echo "FAIL $t: over its overall time limit of ${lim}s"
        printf '%s\n' "$out" | tail -5
        log=$(ls -t "$PCVM_GUEST_LOGS/$t"*.log 2>/dev/null | head -1)
        if [ -n "$log" ]; then
          echo "--- last 30 console lines ($log) ---"
          tr -d '\r' < "$log" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' | tail -30
        fi
      else
        printf '%s\n' "$out"
      fi
    fi
  } > "$res"
}

passed=0; failed=0; failing=()
jobs=${PCVM_GUEST_JOBS:-2}   # independent guests run side by side (each vCPU thread wants a core)
results=$(mktemp -d "${TMPDIR:-/tmp}/pcvm-guests.XXXXXX")
trap 'rm -rf "$results"' EXIT
if [ ! -x "$PCVM" ] && ! command -v "$PCVM" >/dev/null 2>&1; then
  echo "guests: emulator $PCVM not found (build it with make)"
  for t in $tests; do failed=$((failed + 1)); failing+=("$t"); done
else
  # Fetch and build what the tests need first, one at a time (shared caches).
  runnable=()
  for t in $tests; do
    if [ ! -f "tests/guests/$t.py" ]; then
      echo "FAIL $t: no such guest test (known: $ALL)"
      failed=$((failed + 1)); failing+=("$t"); continue
    fi
    if ! prep=$(prepare "$t" 2>&1); then
      echo "FAIL $t: could not fetch or build what it needs:"
      printf '%s\n' "$prep" | tail -10
      failed=$((failed + 1)); failing+=("$t"); continue
    fi
    runnable+=("$t")
  done
  # Then run them, $jobs at a time, printing each verdict in the order of the list.
  next_print=0
  print_ready() {
    while [ $next_print -lt ${#runnable[@]} ] && [ -f "$results/$next_print.done" ]; do
      local t=${runnable[$next_print]}
      cat "$results/$next_print.out"
      if head -1 "$results/$next_print.out" | grep -q '^PASS '; then
        passed=$((passed + 1))
      else
        failed=$((failed + 1)); failing+=("$t")
      fi
      next_print=$((next_print + 1))
    done
  }
  for i in "${!runnable[@]}"; do
    while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do
      wait -n 2>/dev/null || true
      print_ready
    done
    ( run_one "${runnable[$i]}" "$results/$i.out"; touch "$results/$i.done" ) &
  done
  while [ "$(jobs -rp | wc -l)" -gt 0 ]; do
    wait -n 2>/dev/null || true
    print_ready
  done
  print_ready
fi
echo "guests: $passed passed, $failed failed"
[ $failed -eq 0 ] || { echo "failing guest tests: ${failing[*]}"; exit 1; }
