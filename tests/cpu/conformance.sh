#!/bin/bash
# Full CPU conformance run (make conformance): every form with PER cases (default 4000,
# ~10M cases, a few minutes), several seeds with SEEDS="1 2 3".  Prints per-form
# differences, the coverage (forms and cases per family) and "N passed, N failed".
set -o pipefail
cd "$(dirname "$0")/../.." || exit 2
bash tests/cpu/harness/build.sh >&2 || exit 1
. tests/lib/host-ia32.sh
if ! host_runs_ia32 build; then
    echo "conformance: cannot run: $IA32_SKIP_REASON" >&2
    exit 1
fi
B=build/tests/cpu/harness
status=0
for seed in ${SEEDS:-1}; do
    echo "== seed $seed"
    "$B/native" --seed "$seed" --per "${PER:-4000}" "$@" |
        "$B/pcvm_run" --model "${MODEL:-max}" --print "${PRINT:-1}" ${JIT:+--jit} || status=1
done
exit $status
