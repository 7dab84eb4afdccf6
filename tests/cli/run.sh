#!/usr/bin/env bash
# Command-line parity tests: every line of tests/cli/seed-lines.txt is run as
#   pcvm --dump-config ARGS        (parses, prints the config, never starts a VM)
# in a scratch directory holding the files the lines name, and its output (stdout, stderr,
# exit status; the scratch path shown as $TMP) is compared with tests/cli/expected/NNN.out.
#   bash tests/cli/run.sh            run from the repository root after `make`
#   bash tests/cli/run.sh --update   rewrite the expected files (review the diff!)
#   PCVM=/path/to/binary bash tests/cli/run.sh
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PCVM=${PCVM:-$ROOT/pcvm}
SEED=$ROOT/tests/cli/seed-lines.txt
EXPECTED=$ROOT/tests/cli/expected
UPDATE=0
[ "${1:-}" = "--update" ] && UPDATE=1

if [ ! -x "$PCVM" ]; then
    echo "tests/cli/run.sh: $PCVM not built"
    echo "0 passed, 1 failed"
    exit 1
fi

TMP=$(mktemp -d /tmp/pcvm-cli.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
mkdir -p "$TMP/build" "$EXPECTED"
for f in hurd.qcow2 minix.iso disk.qcow2 bios.bin build/kernel.elf build/fs.img; do
    : > "$TMP/$f"
done

passed=0
failed=0
n=0
while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in ''|'#'*) continue ;; esac
    n=$((n + 1))
    id=$(printf '%03d' "$n")
    line=${line//\$TMP/$TMP}
    read -r -a words <<< "$line"
    args=("${words[@]:1}")
    out=$(cd "$TMP" && "$PCVM" --dump-config "${args[@]}" 2>&1; echo "exit $?")
    out=${out//$TMP/\$TMP}
    exp="$EXPECTED/$id.out"
    if [ "$UPDATE" = 1 ]; then
        printf '%s\n' "# ${line//$TMP/\$TMP}" "$out" > "$exp"
    fi
    if [ -f "$exp" ] && [ "$(tail -n +2 "$exp")" = "$out" ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $id: ${line//$TMP/\$TMP}"
        if [ -f "$exp" ]; then
            diff <(tail -n +2 "$exp") <(printf '%s\n' "$out") | head -20
        else
            echo "  (no $exp)"
        fi
    fi
done < "$SEED"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
