#!/usr/bin/env bash
# Build float-prog.c as two static 32-bit programs (x87 maths and SSE2 maths) and run them
# natively, keeping their output as the reference for the run inside a pcvm Linux guest.
#   tests/cpu/fpu/build-float-prog.sh [OUTDIR]     (default build/tests/cpu/fpu)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-build/tests/cpu/fpu}
mkdir -p "$out"
cc=${CC:-gcc}
common=(-m32 -static -O2 -std=gnu11 -Wall -Wextra -fno-fast-math)
"$cc" "${common[@]}" -mfpmath=387 -o "$out/float-prog-x87" "$here/float-prog.c" -lm
"$cc" "${common[@]}" -msse2 -mfpmath=sse -o "$out/float-prog-sse2" "$here/float-prog.c" -lm
. "$here/../../lib/host-ia32.sh"
for v in x87 sse2; do
    rm -f "$out/float-prog-$v.native.txt"
    if ! host_runs_ia32 "$out"; then
        echo "float-prog-$v: no native run: $IA32_SKIP_REASON"
        continue
    fi
    "$out/float-prog-$v" > "$out/float-prog-$v.native.txt"
    echo "float-prog-$v: $(wc -l < "$out/float-prog-$v.native.txt") lines," \
         "$(tail -1 "$out/float-prog-$v.native.txt")"
done
