#!/usr/bin/env bash
# CPU models against QEMU: boot tests/cpu/models/cpuid.asm (a Multiboot kernel that prints
# the CPUID identity and feature leaves) with -cpu MODEL in pcvm and in qemu-system-i386, and
# compare: same vendor, maximum leaves, family/model/stepping and brand string; every feature
# bit pcvm reports is one QEMU reports; every leaf-1 bit that pcvm implements and QEMU reports
# is there.  MODELS="qemu32 Nehalem" overrides the list.  Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../../.." || exit 2
out=build/tests/cpu/models
mkdir -p "$out"
nasm -I tests/cpu/sys/ -f bin -o "$out/cpuid.bin" tests/cpu/models/cpuid.asm || {
    echo "0 passed, 1 failed (nasm)"; exit 1; }
if ! command -v qemu-system-i386 >/dev/null; then
    echo "FAIL cpu models: qemu-system-i386 (Debian's qemu-system-x86) is needed as the reference"
    echo "0 passed, 1 failed"; exit 1
fi
models=${MODELS:-"base qemu32 qemu64 kvm32 kvm64 core2duo n270 phenom Conroe Penryn Nehalem Westmere
SandyBridge IvyBridge Haswell Broadwell Skylake-Client Cascadelake-Server EPYC Opteron_G1
Opteron_G2 Opteron_G3 Opteron_G4 Opteron_G5 Haswell-v4 Icelake-Server Snowridge Dhyana"}
args=(-display none -m 64 -no-reboot -kernel "$out/cpuid.bin" -debugcon stdio
      -device isa-debug-exit,iobase=0xf4,iosize=1)
passed=0; failed=0
for m in $models; do
    timeout 30 "${PCVM:-./pcvm}" "${args[@]}" -cpu "$m" > "$out/$m.pcvm" 2> "$out/$m.pcvm.err"
    timeout 30 qemu-system-i386 "${args[@]}" -cpu "$m" > "$out/$m.qemu" 2> /dev/null
    if verdict=$(python3 - "$out/$m.pcvm" "$out/$m.qemu" <<'PY'
import sys
def leaves(path):
    r = {}
    for line in open(path):
        f = line.split()
        if len(f) == 3 and len(f[2]) == 32:
            key = int(f[0], 16) if int(f[1], 16) == 0 else (int(f[0], 16), int(f[1], 16))
            r[key] = [int(f[2][i:i + 8], 16) for i in range(0, 32, 8)]
    return r
p, q = leaves(sys.argv[1]), leaves(sys.argv[2])
bad = []
if 0 not in p or 0 not in q:
    print("no CPUID output (pcvm %d leaves, QEMU %d)" % (len(p), len(q))); sys.exit(1)
if p[0] != q[0]: bad.append("leaf 0 (max leaf, vendor) %s vs QEMU %s" % (p[0], q[0]))
if p[1][0] != q[1][0]: bad.append("signature %08x vs QEMU %08x" % (p[1][0], q[1][0]))
brand = lambda r: b"".join(v.to_bytes(4, "little") for l in (0x80000002, 0x80000003, 0x80000004)
                           for v in r.get(l, [0, 0, 0, 0])).rstrip(b"\0")
if brand(p) != brand(q): bad.append("brand %r vs QEMU %r" % (brand(p), brand(q)))
if p.get(0x80000000, [0])[0] != q.get(0x80000000, [0])[0]: bad.append("max extended leaf")
# Feature words: pcvm's bits must be QEMU's bits (leaf 1 ECX/EDX, leaf 7, 0x80000001 ECX/EDX),
# except what the model defines and pcvm implements but QEMU 7.2's TCG leaves out (RDSEED,
# CPUID.7.0:EBX[18]; on AMD's and Hygon's CPUs legacy-mode SYSCALL, 80000001H:EDX[11], which
# qemu-system-i386 has only in its 64-bit build).
beyond_tcg = {(7, 1): 1 << 18}
if p[0][1] in (0x68747541, 0x6f677948):   # "Auth", "Hygo"
    beyond_tcg[(0x80000001, 3)] = 1 << 11
for leaf, regs in ((1, (2, 3)), (7, (1, 2, 3)), (0x80000001, (2, 3))):
    for reg in regs:
        extra = p.get(leaf, [0] * 4)[reg] & ~q.get(leaf, [0] * 4)[reg] & ~beyond_tcg.get((leaf, reg), 0)
        if extra: bad.append("leaf %x reg %d: bits %08x not in QEMU's" % (leaf, reg, extra))
# XSAVE (leaf 0xD.0): x87 and SSE state as in QEMU, the same size for the enabled XCR0 (EBX),
# and 576 bytes at most: QEMU 7.2 also offers AVX state (bit 2, ECX 832) without AVX itself;
# pcvm offers only what it implements.  XSAVEOPT/XGETBV1 (0xD.1) among QEMU's.
if p[1][2] >> 26 & 1:
    pd, qd = p.get(0xd, [0] * 4), q.get(0xd, [0] * 4)
    if pd[0] != 3 or qd[0] & 3 != 3 or pd[1] != qd[1] or pd[2] != 576 or pd[3] or qd[3]:
        bad.append("leaf d.0 %s vs QEMU %s" % (pd, qd))
    # XSAVEC and XSAVES (bits 1, 3): what the model defines, beyond 7.2's TCG (QEMU drops them).
    if p.get((0xd, 1), [0])[0] & ~q.get((0xd, 1), [0])[0] & ~0xa: bad.append("leaf d.1 EAX not in QEMU's")
# What pcvm implements of leaf 1 must be reported whenever QEMU reports it.
impl_edx = sum(1 << b for b in (0, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 19, 23, 24, 25, 26))
impl_ecx = (1 << 0) | (1 << 26) | (1 << 31)
miss = (q[1][3] & impl_edx & ~p[1][3], q[1][2] & impl_ecx & ~p[1][2])
if any(miss): bad.append("leaf 1 EDX/ECX bits missing: %08x %08x" % miss)
print("; ".join(bad) if bad else "identity and features agree (%d pcvm warnings)" % sum(1 for _ in open(sys.argv[1] + ".err")))
sys.exit(1 if bad else 0)
PY
    ); then
        echo "PASS cpu model $m: $verdict"; passed=$((passed + 1))
    else
        echo "FAIL cpu model $m: $verdict"; failed=$((failed + 1))
    fi
done
echo "cpu models against qemu-system-i386: $passed passed, $failed failed"
[ $failed -eq 0 ]
