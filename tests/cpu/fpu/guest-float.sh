#!/usr/bin/env bash
# Issue 4's done-criterion: float-prog.c, built twice (x87 maths and SSE2 maths, by
# build-float-prog.sh), prints the same output natively and inside a Linux guest in pcvm.
#
#   tests/cpu/fpu/guest-float.sh            boot Debian's 686 kernel in ./pcvm, run both, compare
# Environment: PCVM (default ./pcvm), CPU (pcvm -cpu model, default max: the SSE2 build needs
# SSE2), TIMEOUT (seconds for the whole guest run, default 900), OUT (work directory, default
# build/tests/cpu/fpu).
#
# The initramfs is scripts/make-initramfs.sh's busybox one with a /test.sh that runs the two
# programs between markers and powers off, followed by a second cpio archive holding the two
# binaries (Linux unpacks concatenated archives into the same rootfs). Ends with "PASS ..." or
# "FAIL ..." and the elapsed time; exit 0 only when both outputs match the native ones.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
cd "$root"
CACHE=${PCVM_CACHE:-$HOME/.cache/pcvm}
out=${OUT:-build/tests/cpu/fpu}
pcvm=${PCVM:-./pcvm}
cpu=${CPU:-max}
kernel=$CACHE/guests/vmlinuz-686
mkdir -p "$out"
[ -x "$pcvm" ] || { echo "FAIL guest-float: no emulator at $pcvm (run make)"; exit 1; }
[ -f "$kernel" ] || bash scripts/fetch-guests.sh linux
command -v cpio >/dev/null || { echo "FAIL guest-float: cpio is needed"; exit 1; }

# The programs and their native output (where this host can run 32-bit programs).
bash "$here/build-float-prog.sh" "$out" >/dev/null
. "$root/tests/lib/host-ia32.sh"

# /test.sh inside the guest.
# Then both at once (and after a suspend to RAM, below): the kernel switches x87/SSE state between them (with XSAVE,
# the default max model has it, by XSAVEOPT/XRSTOR), and each output must be the one it gave
# alone.
cat > "$out/guest-float-test.sh" <<'EOF'
#!/bin/sh
dmesg | grep 'x86/fpu' | sed 's/^/FPU-INFO /'
for v in x87 sse2; do
    echo "FLOAT-BEGIN $v"
    /float-prog-$v > /tmp/$v.alone
    s=$?
    cat /tmp/$v.alone
    echo "FLOAT-END $v status $s"
done
/float-prog-x87 > /tmp/x87.both &
/float-prog-sse2 > /tmp/sse2.both &
wait
for v in x87 sse2; do
    if cmp -s /tmp/$v.alone /tmp/$v.both; then echo "FLOAT-PARALLEL $v same"; else echo "FLOAT-PARALLEL $v differs"; fi
done
# Suspend to RAM and back by the RTC alarm (pcvm resumes at the FACS waking vector), then the
# x87 program once more: its output must not change.
echo +15 > /sys/class/rtc/rtc0/wakealarm && echo mem > /sys/power/state
echo "S3-STATUS $?"
/float-prog-x87 > /tmp/x87.after
if cmp -s /tmp/x87.alone /tmp/x87.after; then echo "FLOAT-AFTER-S3 same"; else echo "FLOAT-AFTER-S3 differs"; fi
EOF
base=$out/guest-float-base.cpio.gz
initrd=$out/guest-float.cpio.gz
bash scripts/make-initramfs.sh -o "$base" --script "$out/guest-float-test.sh"
# Second archive: the two binaries at the root. The first is padded to 4 bytes (cpio alignment).
cp "$base" "$initrd"
pad=$(( (4 - $(stat -c %s "$initrd") % 4) % 4 ))
head -c "$pad" /dev/zero >> "$initrd"
(cd "$out" && printf '%s\n' float-prog-x87 float-prog-sse2 |
    cpio -o -H newc --owner 0:0 --quiet | gzip -9) >> "$initrd"

log=$out/guest-float.log
start=$(date +%s)
status=0
timeout "${TIMEOUT:-900}" "$pcvm" -cpu "$cpu" -m 256 -kernel "$kernel" -initrd "$initrd" \
    -append "console=ttyS0 no_console_suspend" -nographic < /dev/null > "$log" 2>&1 || status=$?
elapsed=$(( $(date +%s) - start ))
tr -d '\r' < "$log" > "$log.txt"

fail=0
for v in x87 sse2; do
    # The lines between the markers (kernel messages would not match the native output).
    sed -n "/^FLOAT-BEGIN $v\$/,/^FLOAT-END $v /p" "$log.txt" | sed '1d;$d' > "$out/float-prog-$v.guest.txt"
    if ! grep -q "^FLOAT-END $v status 0\$" "$log.txt"; then
        echo "FAIL float-prog-$v: did not finish with status 0 in the guest (see $log.txt)"
        fail=1
    elif [ ! -f "$out/float-prog-$v.native.txt" ]; then
        # No native reference on this host: the run must still complete with status 0.
        echo "PASS float-prog-$v: ran to completion in the guest ($(wc -l < "$out/float-prog-$v.guest.txt") lines); not compared: $IA32_SKIP_REASON"
    elif ! diff -u "$out/float-prog-$v.native.txt" "$out/float-prog-$v.guest.txt" > "$out/float-prog-$v.diff"; then
        echo "FAIL float-prog-$v: guest output differs from native ($(grep -c '^[-+][^-+]' "$out/float-prog-$v.diff") lines, see $out/float-prog-$v.diff)"
        fail=1
    else
        echo "PASS float-prog-$v: $(wc -l < "$out/float-prog-$v.native.txt") lines identical, $(tail -1 "$out/float-prog-$v.native.txt" | tr -s ' ')"
    fi
done
same=$(grep -c '^FLOAT-PARALLEL .* same$' "$log.txt" || true)
if [ "$same" -ne 2 ]; then
    echo "FAIL float-prog run concurrently: $same of 2 outputs equal their lone runs: $(grep '^FLOAT-PARALLEL' "$log.txt" | tr '\n' ' ')"
    fail=1
else
    echo "PASS float-prog x87 and sse2 at once: both outputs equal their lone runs ($(sed -n 's/^FPU-INFO //p' "$log.txt" | grep -o 'Enabled xstate.*\|using .* format.*' | tr '\n' ' '))"
fi
# Suspend to RAM: entered, resumed, and the program still right afterwards.
s3_missing=""
for line in "ACPI: PM: Preparing to enter system sleep state S3" "ACPI: PM: Low-level resume complete" \
            "PM: suspend exit" "S3-STATUS 0" "FLOAT-AFTER-S3 same"; do
    grep -qF "$line" "$log.txt" || s3_missing="$s3_missing \"$line\""
done
if [ -n "$s3_missing" ]; then
    echo "FAIL suspend to RAM (S3) and back: the console lacks$s3_missing"
    fail=1
else
    echo "PASS suspend to RAM (S3) and back by the RTC alarm; float-prog-x87 unchanged afterwards"
fi
# The max model has XSAVE: Linux must have turned it on (x87 and SSE state, 576 bytes).
if [ "$cpu" = max ] && ! grep -q "^FPU-INFO .*Enabled xstate features 0x3, context size is 576 bytes" "$log.txt"; then
    echo "FAIL -cpu max: Linux did not enable XSAVE for x87 and SSE state: $(sed -n 's/^FPU-INFO //p' "$log.txt" | tr '\n' ' ')"
    fail=1
fi
# max also has XSAVES (and XSAVEC): Linux then keeps task state in the compacted format.
if [ "$cpu" = max ] && ! grep -q "^FPU-INFO .*using 'compacted' format" "$log.txt"; then
    echo "FAIL -cpu max: Linux did not use XSAVES's compacted format: $(sed -n 's/^FPU-INFO //p' "$log.txt" | tr '\n' ' ')"
    fail=1
fi
echo "guest-float: pcvm exit status $status, ${elapsed} s (-cpu $cpu)"
exit $fail
