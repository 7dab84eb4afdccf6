#!/bin/bash
# Quick CPU conformance subset (make check-cpu): every form of the harness, PER cases each
# (default 100, ~340k cases, 15-40 s), run on the host CPU and on pcvm's core, compared.
# Extra arguments go to the native runner, e.g.
#   bash tests/cpu/run.sh --only adc            # one family (mnemonic, "int", "x87", "simd")
#   bash tests/cpu/run.sh --seed 1 --case 74317826   # replay one case
# Environment: SEED (default 1), PER (cases per form), PRINT (examples shown per form),
# MODEL (pcvm CPU model, default max).  Ends with "N passed, N failed"; exit 1 on differences.
set -o pipefail
cd "$(dirname "$0")/../.." || exit 2
bash tests/cpu/harness/build.sh >&2 || { echo "0 passed, 1 failed (harness build failed)"; exit 1; }
. tests/lib/host-ia32.sh
B=build/tests/cpu/harness
if ! host_runs_ia32 build; then
    # No 32-bit reference here: the register-only forms run on the host CPU in 64-bit mode,
    # where they encode and behave the same (native64.c says which and why).
    echo "cpu conformance: $IA32_SKIP_REASON;" \
         "comparing the register-only forms run in 64-bit mode instead (memory forms skipped:" \
         "64-bit mode addresses with 64-bit registers and RIP-relative displacements)" >&2
    "$B/native64" --seed "${SEED:-1}" --per "${PER:-100}" "$@" |
        "$B/pcvm_run" --model "${MODEL:-max}" --print "${PRINT:-1}" ${JIT:+--jit}
    exit
fi
"$B/native" --seed "${SEED:-1}" --per "${PER:-100}" "$@" |
    "$B/pcvm_run" --model "${MODEL:-max}" --print "${PRINT:-1}" ${JIT:+--jit}
