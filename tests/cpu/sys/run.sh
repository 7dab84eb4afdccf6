#!/usr/bin/env bash
# Build sys's bare-metal tests with nasm and run each one as a Multiboot kernel.
#   tests/cpu/sys/run.sh                 run in ./pcvm (or $PCVM)
#   EMU=qemu tests/cpu/sys/run.sh        run in qemu-system-i386, assembled with -DQEMU
#                                        (skips what QEMU is known to get wrong)
#   EMU=mini tests/cpu/sys/run.sh        run on the CPU core alone (mini_run.c linked with
#                                        build/libpcvm.a: RAM, ports 0xE9/0xF4, cpu_run)
# A test passes when it prints PASS on port 0xE9 and exits through isa-debug-exit with
# value 0 (exit status 1). Prints one line per test and a closing count; exit 1 on failure.
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out=${OUT:-$root/build/tests/cpu/sys}
mkdir -p "$out"
emu=${EMU:-pcvm}
defs=()
if [ "$emu" = qemu ]; then
    cmd=(qemu-system-i386)
    defs=(-DQEMU)
elif [ "$emu" = mini ]; then
    ${CC:-gcc} -std=c11 -D_GNU_SOURCE -I"$root/src" -O2 -o "$out/mini_run" "$here/mini_run.c" \
        "$root/build/libpcvm.a" -lm || exit 1
    cmd=("$out/mini_run")
else
    cmd=("${PCVM:-$root/pcvm}")
fi
passed=0; failed=0
for src in "$here"/*.asm; do
    name=$(basename "$src" .asm)
    if ! nasm "${defs[@]}" -I "$here/" -f bin -o "$out/$name.bin" "$src"; then
        echo "FAIL $name (nasm)"; failed=$((failed + 1)); continue
    fi
    # "; mini: skip": the test needs the whole board (ACPI, RTC), not the CPU core alone.
    if [ "$emu" = mini ] && grep -q '^; mini: skip' "$src"; then
        echo "SKIP $name (needs the full board)"; continue
    fi
    # "; qemu: skip": QEMU's TCG lacks what the test checks (said in the test's header).
    if [ "$emu" = qemu ] && grep -q '^; qemu: skip' "$src"; then
        echo "SKIP $name (not in QEMU's TCG)"; continue
    fi
    # A "; cpu: MODEL,+feat" line picks the -cpu argument (also on the mini board); a
    # "; qemu: BINARY" line another QEMU binary (a feature qemu-system-i386 lacks).
    cpu=$(sed -n 's/^; cpu: *//p' "$src" | head -1)
    # "; args: ..." adds options (devices) to the command line of pcvm and QEMU.
    read -r -a args <<< "$(sed -n 's/^; args: *//p' "$src" | head -1)"
    qemu_bin=$(sed -n 's/^; qemu: *//p' "$src" | grep -v '^skip' | head -1)
    if [ "$emu" = mini ]; then
        log=$(timeout 30 "${cmd[@]}" "$out/$name.bin" ${cpu:+"$cpu"} 2>&1)
    elif [ "$emu" = qemu ] && [ -n "$qemu_bin" ]; then
        log=$(timeout 30 "$qemu_bin" -display none -m 64 -no-reboot -kernel "$out/$name.bin" \
              ${cpu:+-cpu "$cpu"} "${args[@]}" -debugcon stdio -device isa-debug-exit,iobase=0xf4,iosize=1 2>&1)
    else
        log=$(timeout 30 "${cmd[@]}" -display none -m 64 -no-reboot -kernel "$out/$name.bin" \
              ${cpu:+-cpu "$cpu"} "${args[@]}" -debugcon stdio -device isa-debug-exit,iobase=0xf4,iosize=1 2>&1)
    fi
    rc=$?
    if [ $rc -eq 1 ] && printf '%s\n' "$log" | grep -q '^PASS$'; then
        echo "PASS $name"; passed=$((passed + 1))
    else
        echo "FAIL $name (exit $rc): $(printf '%s\n' "$log" | tail -3 | tr '\n' ' ')"
        failed=$((failed + 1))
    fi
done
# The S3 image again, driven over QMP (system_wakeup, SUSPEND/WAKEUP, "suspended"), and booted
# through SeaBIOS and GRUB from a CD, so the wake-up goes through SeaBIOS's resume path.
if [ "$emu" = pcvm ]; then
    if python3 "$here/s3_qmp.py" "${cmd[0]}"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
    if command -v grub-mkrescue >/dev/null && command -v xorriso >/dev/null; then
        iso=$out/s3-cd
        rm -rf "$iso" && mkdir -p "$iso/boot/grub" && cp "$out/s3.bin" "$iso/boot/s3.bin"
        printf '%s\n' 'set timeout=0' 'multiboot /boot/s3.bin' 'boot' > "$iso/boot/grub/grub.cfg"
        log=$(grub-mkrescue -o "$out/s3.iso" "$iso" 2>&1 && timeout 120 "${cmd[@]}" -display none -m 64 \
              -no-reboot -cdrom "$out/s3.iso" -boot d -debugcon stdio \
              -device isa-debug-exit,iobase=0xf4,iosize=1 2>&1)
        rc=$?
        if [ $rc -eq 1 ] && printf '%s\n' "$log" | grep -q '^PASS$'; then
            echo "PASS s3 through SeaBIOS (GRUB CD): resumed by SeaBIOS at the waking vector"
            passed=$((passed + 1))
        else
            echo "FAIL s3 through SeaBIOS (exit $rc): $(printf '%s\n' "$log" | tail -3 | tr '\n' ' ')"
            failed=$((failed + 1))
        fi
    else
        echo "FAIL s3 through SeaBIOS: grub-mkrescue and xorriso (grub-pc-bin, xorriso, mtools) are needed"
        failed=$((failed + 1))
    fi
fi
# xsavec.asm's user-mode expectations on the host CPU itself, where it has XSAVEC.
if [ "$emu" = pcvm ]; then
    if grep -qw xsavec /proc/cpuinfo; then
        if ${CC:-gcc} -std=c11 -D_GNU_SOURCE -O1 -o "$out/xsavec_host" "$here/xsavec_host.c" &&
           log=$("$out/xsavec_host" 2>&1) && [ "$log" = PASS ]; then
            echo "PASS xsavec on the host CPU: the expectations of xsavec.asm hold natively"
            passed=$((passed + 1))
        else
            echo "FAIL xsavec on the host CPU: $log"; failed=$((failed + 1))
        fi
    else
        echo "SKIP xsavec on the host CPU: no xsavec in /proc/cpuinfo"
    fi
fi
echo "sys bare-metal tests ($emu): $passed passed, $failed failed"
[ $failed -eq 0 ]
