#!/usr/bin/env bash
# Fuzz smoke test for `make check`: every libFuzzer target builds and survives FUZZ_SECONDS
# (default 5) on its corpus.  Same output and exit status as run.sh.
cd "$(dirname "$0")/../.." || exit 1
export FUZZ_SECONDS=${FUZZ_SECONDS:-5}
exec bash tests/fuzz/run.sh "$@"
