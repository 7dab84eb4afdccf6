#!/bin/bash
# Build the conformance harness: the 32-bit native runner and the pcvm runner (linked
# against build/libpcvm.a, which `make build/libpcvm.a` keeps up to date).
# Usage: bash tests/cpu/harness/build.sh [BUILD_DIR]     (from the repository root)
set -e
cd "$(dirname "$0")/../../.."
B=${1:-build}
OUT=$B/tests/cpu/harness
mkdir -p "$OUT"
H=tests/cpu/harness
CFLAGS="-std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Isrc -I$H"
make -s --no-print-directory BUILD="$B" "$B/libpcvm.a"
# The 32-bit runner needs a multilib gcc and a kernel with IA-32 compatibility mode; without
# them the 64-bit runner (register-only forms) is the host-CPU reference.
gcc -m32 -static $CFLAGS $H/native.c $H/gen.c src/cpu/opcodes.c -o "$OUT/native" 2>/dev/null ||
    rm -f "$OUT/native"
gcc -static -no-pie $CFLAGS $H/native64.c $H/gen.c src/cpu/opcodes.c -o "$OUT/native64"
LIBS="$(pkg-config --libs zlib libzstd 2>/dev/null) -lpthread -lm -lutil"
# Other builds may be rewriting the archive right now: retry once after a pause.
gcc $CFLAGS $H/pcvm_run.c $H/gen.c "$B/libpcvm.a" $LIBS -o "$OUT/pcvm_run" 2>/dev/null || {
    sleep 5
    make -s --no-print-directory BUILD="$B" "$B/libpcvm.a"
    gcc $CFLAGS $H/pcvm_run.c $H/gen.c "$B/libpcvm.a" $LIBS -o "$OUT/pcvm_run"
}
