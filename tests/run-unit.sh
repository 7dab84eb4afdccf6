#!/usr/bin/env bash
# Run each unit-test program; print one closing line "N passed, N failed" over all of them.
set -u
build=$1; shift
passed=0; failed=0; failed_names=()
for t in "$@"; do
  out=$("$t" 2>&1); rc=$?
  # cmocka prints "[  PASSED  ] N test(s)." and "[  FAILED  ] N test(s)..."
  p=$(printf '%s\n' "$out" | sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' | tail -1)
  f=$(printf '%s\n' "$out" | sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' | tail -1)
  passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0}))
  if [ $rc -ne 0 ]; then
    [ -z "$f" ] && failed=$((failed + 1))
    failed_names+=("$(basename "$t")")
    printf '%s\n' "$out" | tail -30
  fi
done
echo "unit tests ($build): $passed passed, $failed failed"
[ ${#failed_names[@]} -eq 0 ] || { echo "failing: ${failed_names[*]}"; exit 1; }
