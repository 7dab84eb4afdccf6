#!/usr/bin/env bash
# libFuzzer targets (what `make fuzz` runs): build every tests/fuzz/fuzz_*.c with clang
# -fsanitize=fuzzer,address,undefined and run each for FUZZ_SECONDS on a corpus under
# build/fuzz/corpus/NAME (kept between runs, seeded from tests/fuzz/NAME_corpus/ when present).
# Closing line "fuzz: N passed, N failed"; non-zero exit when a target did not build, crashed,
# leaked or timed out.  Reproducers are kept in build/fuzz/artifacts/.
#   FUZZ_SECONDS=60        seconds per target (default 60)
#   FUZZ_TARGETS="cli mux" only targets whose name contains one of these words
#   FUZZ_JOBS=1            libFuzzer -fork (0/1: one process)
#   CLANG=clang            compiler
# Each target names what it links in its leading comment: the src/*.c files (globs allowed)
# and -l libraries it needs, e.g. " * Sources: src/cli/options.c src/util/log.c -lpthread".
set -u
cd "$(dirname "$0")/../.." || exit 1
secs=${FUZZ_SECONDS:-60}
CLANG=${CLANG:-clang}
out=build/fuzz
mkdir -p "$out/corpus" "$out/artifacts" "$out/logs" "$out/seeds"

if ! command -v "$CLANG" >/dev/null 2>&1; then
  echo "fuzz: $CLANG not found (make deps installs it)"
  echo "fuzz: 0 passed, 1 failed"
  exit 1
fi
# shellcheck disable=SC2054  # the commas belong to -fsanitize=
FLAGS=(-std=c11 -D_GNU_SOURCE -g -O1 -Isrc -fno-omit-frame-pointer
       -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined)
# shellcheck disable=SC2207
PKG=($(pkg-config --cflags zlib libzstd slirp jansson sdl2 libpng libvncserver 2>/dev/null))

# The sources and libraries a target names in its leading comment (up to the first "*/").
sources_of() {
  awk '{ print } /\*\// { exit }' "$1" |
    grep -oE '(src/[][A-Za-z0-9_./*-]+\.c|-l[A-Za-z0-9_]+)' | sort -u
}

# Seeds for a target: its checked-in corpus, and for fuzz_cli the CLI seed lines as argv.
seed_dirs() {
  local name=$1
  [ -d "tests/fuzz/${name}_corpus" ] && echo "tests/fuzz/${name}_corpus"
  if [ "$name" = fuzz_cli ] && [ -f tests/cli/seed-lines.txt ]; then
    local d=$out/seeds/fuzz_cli
    mkdir -p "$d"
    python3 - tests/cli/seed-lines.txt "$d" <<'PY'
import os, shlex, sys
n = 0
for line in open(sys.argv[1]):
    line = line.strip()
    if not line or line.startswith('#'):
        continue
    try:
        args = shlex.split(line)
    except ValueError:
        continue
    if args and os.path.basename(args[0]).startswith(('pcvm', 'qemu')):
        args = args[1:]
    with open(os.path.join(sys.argv[2], 'seed%03d' % n), 'wb') as f:
        f.write(b'\0'.join(a.encode() for a in args))
    n += 1
PY
    echo "$d"
  fi
}

passed=0; failed=0; failing=()
fail() { echo "FAIL $1: $2"; failed=$((failed + 1)); failing+=("$1"); }

for src in tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  if [ -n "${FUZZ_TARGETS:-}" ]; then
    hit=0
    for w in ${FUZZ_TARGETS//,/ }; do case $name in *"$w"*) hit=1 ;; esac; done
    [ $hit -eq 1 ] || continue
  fi
  files=(); libs=()
  while read -r tok; do
    case $tok in
      -l*) libs+=("$tok") ;;
      *) for f in $tok; do [ -f "$f" ] && files+=("$f"); done ;;
    esac
  done < <(sources_of "$src")
  if [ ${#files[@]} -eq 0 ]; then
    fail "$name" "its leading comment names no src/*.c files"
    continue
  fi
  bin=$out/$name
  log=$out/logs/$name.log
  if ! "$CLANG" "${FLAGS[@]}" "${PKG[@]}" -o "$bin" "$src" "${files[@]}" "${libs[@]}" >"$log" 2>&1; then
    fail "$name" "does not build ($log):"
    grep -E 'error|undefined reference' "$log" | head -5
    continue
  fi
  corpus=$out/corpus/$name
  mkdir -p "$corpus"
  mapfile -t seeds < <(seed_dirs "$name")
  start=$(date +%s)
  opts=(-max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=65536
        -artifact_prefix="$out/artifacts/$name-" -print_final_stats=1)
  [ "${FUZZ_JOBS:-1}" -gt 1 ] 2>/dev/null && opts+=(-fork="$FUZZ_JOBS" -ignore_crashes=0)
  timeout --kill-after=10 $((secs + 300)) "$bin" "${opts[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1
  rc=$?
  took=$(( $(date +%s) - start ))
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    echo "PASS $name (${took}s, ${runs:-?} runs, corpus $(find "$corpus" -type f | wc -l))"
    passed=$((passed + 1))
  else
    what="exit status $rc"
    grep -q 'ERROR: LeakSanitizer' "$log" && what="memory leak"
    grep -q 'ERROR: AddressSanitizer' "$log" && what="AddressSanitizer: $(grep -m1 -oE 'AddressSanitizer: [a-z-]+' "$log" | cut -d' ' -f2)"
    grep -q 'runtime error:' "$log" && what="UBSan: $(grep -m1 -oE 'runtime error: .*' "$log" | cut -c16-90)"
    grep -q 'ERROR: libFuzzer: timeout' "$log" && what="timeout (an input ran over 10 s)"
    grep -q 'ERROR: libFuzzer: out-of-memory' "$log" && what="out of memory"
    grep -q 'ERROR: libFuzzer: deadly signal' "$log" && [ "$what" = "exit status $rc" ] && what="crash (abort or signal)"
    [ $rc -eq 124 ] || [ $rc -eq 137 ] && what="did not stop within $((secs + 300)) s"
    art=$(sed -n "s/^.*Test unit written to \(.*\)$/\1/p" "$log" | tail -1)
    fail "$name" "$what after ${took}s (log: $log)"
    [ -n "$art" ] && echo "  reproducer: $art  (rerun: $bin $art)"
    grep -vE '^(#|INFO:|	NEW_FUNC|MS:|stat::)' "$log" | grep -E 'ERROR|SUMMARY|runtime error|^    #[0-9] |^[a-z].*:' | head -12 | sed 's/^/  /'
  fi
done
echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ] || { echo "failing fuzz targets: ${failing[*]}"; exit 1; }
