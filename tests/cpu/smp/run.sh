#!/usr/bin/env bash
# SMP bare-metal test (tests/cpu/smp/smp.asm): the CPUs started with INIT-SIPI-SIPI add to
# shared counters with LOCKed instructions and an XCHG spinlock (exact totals), also on operands
# that need every other vCPU stopped (split across pages, VGA MMIO, a code page), pass messages
# with plain stores (TSO order) and report their APIC IDs, which must be QEMU's for the same
# -smp.  Runs with one thread per vCPU (thread=multi, also with the JIT compiling every trace
# at once) and round-robin (thread=single).  A run that hangs (a lost update in a spinlock) fails by its time limit.
# Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../../.." || exit 2
out=build/tests/cpu/smp
mkdir -p "$out"
nasm -I tests/cpu/sys/ -f bin -o "$out/smp.bin" tests/cpu/smp/smp.asm || { echo "0 passed, 1 failed (nasm)"; exit 1; }
args=(-display none -m 64 -no-reboot -kernel "$out/smp.bin" -debugcon stdio
      -device isa-debug-exit,iobase=0xf4,iosize=1)
passed=0; failed=0
run() {   # name, then pcvm arguments
    local name=$1; shift
    local log rc
    log=$(timeout 120 "${PCVM:-./pcvm}" "${args[@]}" "$@" 2>&1); rc=$?
    if [ $rc -ne 1 ] || ! grep -q '^PASS$' <<< "$log"; then
        echo "FAIL smp $name (exit $rc): $(tail -2 <<< "$log" | tr '\n' ' ')"; failed=$((failed + 1)); return
    fi
    local smp=
    for ((k = 1; k <= $#; k++)); do [ "${!k}" = -smp ] && { k=$((k + 1)); smp=${!k}; }; done
    local ours theirs
    ours=$(grep '^apic ' <<< "$log" | sort | tr '\n' ' ')
    if command -v qemu-system-i386 >/dev/null && [ -n "$smp" ]; then
        theirs=$(timeout 120 qemu-system-i386 "${args[@]}" -smp "$smp" 2>/dev/null | grep '^apic ' | sort | tr '\n' ' ')
        if [ "$ours" != "$theirs" ]; then
            echo "FAIL smp $name: APIC IDs $ours, QEMU's $theirs"; failed=$((failed + 1)); return
        fi
    fi
    echo "PASS smp $name: counters exact, TSO kept, APIC IDs ${ours% }"; passed=$((passed + 1))
}
run "-smp 4 thread=multi" -smp 4 -accel tcg,thread=multi
run "-smp 6,cores=3,sockets=2 thread=multi" -smp 6,cores=3,sockets=2 -accel tcg,thread=multi
run "-smp cores=2,threads=2 thread=multi,jit=on" -smp cores=2,threads=2 -accel tcg,thread=multi,jit=on,jit-threshold=1
run "-smp 4 thread=single" -smp 4 -accel tcg,thread=single
echo "smp bare-metal tests: $passed passed, $failed failed"
[ $failed -eq 0 ]
