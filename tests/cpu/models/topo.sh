#!/usr/bin/env bash
# -smp topology against QEMU: boot tests/cpu/models/topo.asm (prints CPUID leaves 0, 1, 4,
# 0xB, 0x1F, 0x80000008) under several -smp layouts and models in pcvm and in
# qemu-system-i386, and compare the fields that describe the topology: the maximum basic leaf
# (raised to 0x1F with dies), leaf 1 EBX[31:16] (APIC ID, logical count) and HTT, leaf 4
# (cache sharing, cores per package), leaves 0xB and 0x1F (levels, shifts, counts, x2APIC ID)
# and 0x80000008 ECX.  Ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/../../.." || exit 2
out=build/tests/cpu/models
mkdir -p "$out"
nasm -I tests/cpu/sys/ -f bin -o "$out/topo.bin" tests/cpu/models/topo.asm || {
    echo "0 passed, 1 failed (nasm)"; exit 1; }
if ! command -v qemu-system-i386 >/dev/null; then
    echo "FAIL cpu topology: qemu-system-i386 (Debian's qemu-system-x86) is needed as the reference"
    echo "0 passed, 1 failed"; exit 1
fi
models=${MODELS:-"qemu32 Nehalem Opteron_G3"}
layouts=${LAYOUTS:-"cores=2,threads=2 8,sockets=2,dies=2 6,cores=3,sockets=2"}
args=(-display none -m 64 -no-reboot -kernel "$out/topo.bin" -debugcon stdio
      -device isa-debug-exit,iobase=0xf4,iosize=1)
passed=0; failed=0
for m in $models; do
    for l in $layouts; do
        t="$out/topo-$m-$l"
        timeout 30 "${PCVM:-./pcvm}" "${args[@]}" -cpu "$m" -smp "$l" > "$t.pcvm" 2> /dev/null
        timeout 30 qemu-system-i386 "${args[@]}" -cpu "$m" -smp "$l" > "$t.qemu" 2> /dev/null
        if verdict=$(python3 - "$t.pcvm" "$t.qemu" <<'PY'
import sys
def leaves(path):
    r = {}
    for line in open(path):
        f = line.split()
        if len(f) == 3 and len(f[2]) == 32:
            r[(int(f[0], 16), int(f[1], 16))] = [int(f[2][i:i + 8], 16) for i in range(0, 32, 8)]
    return r
p, q = leaves(sys.argv[1]), leaves(sys.argv[2])
if (0, 0) not in p or (0, 0) not in q:
    print("no CPUID output (pcvm %d leaves, QEMU %d)" % (len(p), len(q))); sys.exit(1)
bad = []
def cmp(what, a, b):
    if a != b: bad.append("%s %s vs QEMU %s" % (what, a, b))
maxleaf = q[(0, 0)][0]
if maxleaf >= 0x1f: cmp("max leaf", hex(p[(0, 0)][0]), hex(maxleaf))
cmp("leaf 1 EBX[31:16]", hex(p[(1, 0)][1] >> 16), hex(q[(1, 0)][1] >> 16))
cmp("leaf 1 HTT", p[(1, 0)][3] >> 28 & 1, q[(1, 0)][3] >> 28 & 1)
for leaf, subs in ((4, 5), (0xb, 3), (0x1f, 4)):
    if maxleaf >= leaf:
        for s in range(subs):
            cmp("leaf %x.%d" % (leaf, s), ["%08x" % v for v in p[(leaf, s)]], ["%08x" % v for v in q[(leaf, s)]])
if q.get((0x80000000, 0), [0])[0] >= 0x80000008:
    cmp("leaf 80000008 ECX", hex(p[(0x80000008, 0)][2]), hex(q[(0x80000008, 0)][2]))
print("; ".join(bad) if bad else "topology leaves agree")
sys.exit(1 if bad else 0)
PY
        ); then
            echo "PASS cpu topology $m -smp $l: $verdict"; passed=$((passed + 1))
        else
            echo "FAIL cpu topology $m -smp $l: $verdict"; failed=$((failed + 1))
        fi
    done
done
echo "cpu topology against qemu-system-i386: $passed passed, $failed failed"
[ $failed -eq 0 ]
