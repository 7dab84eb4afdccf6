#!/usr/bin/env bash
# Build fpu's bare-metal tests (tests/cpu/fpu/*.asm, on sys's framework in tests/cpu/sys) and
# run each one as a Multiboot kernel, like tests/cpu/sys/run.sh:
#   tests/cpu/fpu/run.sh              in ./pcvm (or $PCVM)
#   EMU=mini tests/cpu/fpu/run.sh     on the CPU core alone (tests/cpu/sys/mini_run.c)
#   EMU=qemu tests/cpu/fpu/run.sh     in qemu-system-i386, to check the tests themselves
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
sys=$root/tests/cpu/sys
out=${OUT:-$root/build/tests/cpu/fpu}
mkdir -p "$out"
emu=${EMU:-pcvm}
defs=()
if [ "$emu" = qemu ]; then
    cmd=(qemu-system-i386 -cpu pentium3)
    defs=(-DQEMU)
elif [ "$emu" = mini ]; then
    ${CC:-gcc} -std=c11 -D_GNU_SOURCE -I"$root/src" -O2 -o "$out/mini_run" "$sys/mini_run.c" \
        "$root/build/libpcvm.a" -lm || exit 1
    cmd=("$out/mini_run")
else
    cmd=("${PCVM:-$root/pcvm}" -cpu pentium3)
fi
passed=0; failed=0
for src in "$here"/*.asm; do
    name=$(basename "$src" .asm)
    if ! nasm "${defs[@]}" -I "$sys/" -I "$here/" -f bin -o "$out/$name.bin" "$src"; then
        echo "FAIL $name (nasm)"; failed=$((failed + 1)); continue
    fi
    if [ "$emu" = mini ]; then
        log=$(timeout 30 "${cmd[@]}" "$out/$name.bin" pentium3 2>&1)
    else
        log=$(timeout 30 "${cmd[@]}" -display none -m 64 -no-reboot -kernel "$out/$name.bin" \
              -debugcon stdio -device isa-debug-exit,iobase=0xf4,iosize=1 2>&1)
    fi
    rc=$?
    if [ $rc -eq 1 ] && printf '%s\n' "$log" | grep -q '^PASS$'; then
        echo "PASS $name"; passed=$((passed + 1))
    else
        echo "FAIL $name (exit $rc)"; printf '%s\n' "$log" | tail -5 | sed 's/^/    /'
        failed=$((failed + 1))
    fi
done
echo "fpu bare-metal tests ($emu): $passed passed, $failed failed"
[ $failed -eq 0 ]
