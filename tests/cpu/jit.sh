#!/bin/bash
# JIT checks (make check-cpu), about 2 minutes (1 min 51 s at load 7, most of it the jit=off Linux boot):
#  1. every form of the conformance harness, PER cases each, run by the interpreter and by
#     the JIT (every trace compiled at its first run), compared (pcvm_run --jit-vs-interp);
#  2. random instruction streams (moves, ALU, TEST, LEA, loads/stores, MOVZX/MOVSX, ALU with
#     memory operands, shifts, IMUL, INC/DEC, PUSH/POP, CALL/RET, CMOV, forward Jcc, accesses
#     across a page end, #GP through a null FS, #AC with EFLAGS.AC, self-modifying stores into
#     the same trace, a loop back to the block start), interpreter against JIT (--jit-fuzz);
#     REP MOVS/STOS against a C model (--rep-check: overlap, DF, #AC, an ES limit mid-run);
#  3. the MIPS probe kernel (bench/kernels/loop.asm, checks its own result) both ways; the
#     JIT is the default, so the bare-metal tests (tests/cpu/sys), the nasm Multiboot test
#     kernels and Debian's Linux (the linux guest test) run here again with -accel tcg,jit=off
#     (the interpreter), and the bare-metal tests with jit-threshold=1 (every trace compiled);
#  4. -accel tcg,jit=... option errors.
# On a host that runs 32-bit programs, `JIT=1 bash tests/cpu/conformance.sh` compares the
# JIT with the host CPU itself.  Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../.." || exit 2
ROOT=$PWD
PCVM=${PCVM:-$ROOT/pcvm}
passed=0
failed=0
result() {   # result NAME STATUS [DETAIL]
    if [ "$2" = 0 ]; then
        passed=$((passed + 1)); echo "PASS $1"
    else
        failed=$((failed + 1)); echo "FAIL $1 ${3:-}"
    fi
}
TMP=$(mktemp -d /tmp/pcvm-jit.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

if bash tests/cpu/harness/build.sh >"$TMP/build.log" 2>&1; then
    B=build/tests/cpu/harness
    out=$("$B/pcvm_run" --jit-vs-interp --per "${PER:-30}" --print 2 2>&1); st=$?
    echo "$out" | tail -1
    [ $st = 0 ] || echo "$out" | head -40
    result "harness forms, JIT against interpreter" $st
    out=$("$B/pcvm_run" --jit-fuzz "${FUZZ_BLOCKS:-3000}" --seed "${SEED:-1}" --print 2 2>&1); st=$?
    echo "$out" | tail -1
    [ $st = 0 ] || echo "$out" | head -20
    result "random instruction streams, JIT against interpreter" $st
    out=$("$B/pcvm_run" --rep-check "${REP_CASES:-3000}" --seed "${SEED:-1}" --print 2 2>&1); st=$?
    echo "$out" | tail -1
    [ $st = 0 ] || echo "$out" | head -20
    result "REP MOVS/STOS (page-at-a-time path) against a C model" $st
else
    cat "$TMP/build.log"
    result "harness build" 1
fi

# The MIPS probe: exit status 1 = its checksum is right ((0 << 1) | 1 through isa-debug-exit).
if (cd bench/kernels && nasm -f bin -DITERATIONS=300000 -o "$TMP/loop.bin" loop.asm) 2>"$TMP/nasm.log"; then
    for mode in on off; do
        timeout 60 "$PCVM" -accel tcg,jit=$mode -m 64 -cpu pentium3 -nodefaults -nic none -display none \
            -serial file:"$TMP/loop-$mode.txt" -monitor none -no-reboot -kernel "$TMP/loop.bin" \
            -device isa-debug-exit,iobase=0xf4,iosize=4 >/dev/null 2>&1
        st=$?
        [ $st = 1 ] && [ "$(cat "$TMP/loop-$mode.txt")" = "!" ]
        result "MIPS probe kernel, jit=$mode" $? "(exit status $st)"
    done
else
    cat "$TMP/nasm.log"
    result "MIPS probe kernel build" 1
fi

# The bare-metal tests with the interpreter and with every trace compiled at its first run,
# and the Multiboot test kernels and Linux with the interpreter (the guest tests, through
# wrappers; the rest of make check runs with the JIT, the default).
# (s3_qmp.py takes pcvm-img from beside the pcvm it runs: the wrappers' directory.)
ln -sf "$ROOT/pcvm-img" "$TMP/pcvm-img"
for opt in jit=off jit-threshold=1; do
    printf '#!/bin/sh\nexec "%s" -accel tcg,%s "$@"\n' "$PCVM" "$opt" >"$TMP/pcvm-$opt"
    chmod +x "$TMP/pcvm-$opt"
    out=$(PCVM="$TMP/pcvm-$opt" OUT="$TMP/sys" bash tests/cpu/sys/run.sh 2>&1); st=$?
    [ $st = 0 ] || echo "$out" | grep -v '^PASS'
    result "bare-metal tests (tests/cpu/sys), $opt" $st
done
out=$(PCVM="$TMP/pcvm-jit=off" PCVM_GUEST_TESTS="kernels linux" PCVM_GUEST_LOGS="$TMP/logs" bash tests/guests/run.sh 2>&1); st=$?
[ $st = 0 ] || echo "$out" | tail -20
result "Multiboot test kernels and Linux, jit=off" $st

# Option errors: one clear line, exit status 1.
for bad in jit=maybe jit-threshold=0 jit-threshold=x; do
    err=$("$PCVM" -accel tcg,$bad -display none 2>&1 </dev/null); st=$?
    [ $st = 1 ] && [ "$(echo "$err" | wc -l)" = 1 ] && echo "$err" | grep -q "invalid value"
    result "-accel tcg,$bad refused" $? "($err)"
done

echo "$passed passed, $failed failed"
[ $failed = 0 ]
