#!/usr/bin/env bash
# gdb stub tests: Debian's gdb in batch mode against pcvm running tests/gdb/kernel.c.
#   1. -s -S -smp 2: break, hbreak, bt, finish, next, watch/rwatch/awatch with their values,
#      info registers (segments, control, SSE), x, stepi, set var, info threads with both
#      vCPUs, monitor info registers, detach; the guest then runs to completion and its exit
#      status shows the variable gdb set.
#   2. attach over -gdb unix:PATH,server=on,wait=off to a guest already running; detach.
#   3. -S without gdb: nothing runs until the monitor's cont.
#   4. -gdb on a port already taken: one error line, exit status 1.
#   5. the raw protocol (protocol.py): Ctrl-C, bad checksum, unknown and oversized packets, k.
#   6. -gdb chardev:ID on a -chardev socket; physical-memory mode and qqemu.sstep; kill.
# Closing line "gdb: N passed, N failed". PCVM=path picks the emulator (default ./pcvm).
set -u
cd "$(dirname "$0")/../.." || exit 1
PCVM=${PCVM:-$PWD/pcvm}
passed=0; failed=0; failing=()
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

ok() { echo "PASS $1"; passed=$((passed + 1)); }
bad() { echo "FAIL $1: $2"; failed=$((failed + 1)); failing+=("$1"); }

if ! command -v gdb >/dev/null; then
  echo "gdb: gdb not found (make deps installs it)"; echo "gdb: 0 passed, 1 failed"; exit 1
fi
if ! bash tests/gdb/build.sh build/tests/gdb; then
  echo "gdb: cannot build the test kernel"; echo "gdb: 0 passed, 1 failed"; exit 1
fi
KERNEL=build/tests/gdb/kernel.elf
EXIT_DEV=(-device isa-debug-exit,iobase=0xf4,iosize=4)

# check NAME FILE PATTERN...: every extended regex appears in FILE.
check() {
  local name=$1 file=$2; shift 2
  local miss=()
  for pat in "$@"; do grep -Eq -- "$pat" "$file" || miss+=("$pat"); done
  if [ ${#miss[@]} -eq 0 ]; then ok "$name"; else bad "$name" "missing: ${miss[*]} (output: $file)"; tail -40 "$file"; fi
}

# wait_for FILE REGEX SECONDS
wait_for() {
  local i
  for ((i = 0; i < $3 * 10; i++)); do grep -Eq -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
  return 1
}

# wait_exit PID SECONDS: the exit status, or 124 after SECONDS (then killed).
wait_exit() {
  local i
  for ((i = 0; i < $2 * 10; i++)); do
    if ! kill -0 "$1" 2>/dev/null; then wait "$1"; return $?; fi
    sleep 0.1
  done
  kill "$1" 2>/dev/null; wait "$1" 2>/dev/null; return 124
}

# ---- 1. The kernel developer's session: -s -S -smp 2 ----
cat > "$work/session.gdb" <<GDB
set pagination off
set confirm off
file $KERNEL
target remote localhost:1234
info threads
break main
continue
hbreak add
continue
bt
finish
delete 2
next
finish
next
watch counter
continue
delete
rwatch shared_value
continue
delete
awatch shared_value
continue
delete
break load_done
continue
thread apply all bt
disas /r add
x/16xw \$cr3
watch *(int*)0x200000
hbreak *0x100000
delete
info registers
info registers xmm0
p/x \$cr0
x/4xw &pattern
stepi
set var magic = 42
set var release = 1
info threads
monitor info registers
detach
GDB
"$PCVM" -kernel "$KERNEL" -smp 2 -display none -serial "file:$work/serial1.txt" -monitor none \
  "${EXIT_DEV[@]}" -s -S 2>"$work/pcvm1.err" &
pid=$!; pids+=("$pid")
sleep 0.3
timeout 120 gdb -nx -batch -x "$work/session.gdb" >"$work/gdb1.txt" 2>&1
wait_exit "$pid" 60; rc=$?
check "gdb session" "$work/gdb1.txt" \
  '\* 1 +Thread 1 \(CPU#0 \[running\]\)' '2 +Thread 2 \(CPU#1 \[halted\]\)' \
  'hit Breakpoint 1, main \(\) at .*kernel\.c:[0-9]+' \
  'hit Breakpoint 2, add \(a=0, b=0\)' \
  '^#1  0x[0-9a-f]+ in compute \(n=4\)' '^#2  0x[0-9a-f]+ in main \(\)' \
  'Value returned is \$1 = 0' 'Value returned is \$2 = 6' \
  'counter = r;' \
  'hit Hardware watchpoint 3: counter' 'Old value = 1' 'New value = 6' \
  'hit Hardware read watchpoint 4: shared_value' 'Value = 7' \
  'hit Hardware access \(read/write\) watchpoint 5: shared_value' 'Old value = 7' 'New value = 8' \
  'hit Breakpoint 6, load_done' \
  '^eip +0x[0-9a-f]+ +0x[0-9a-f]+ <load_done\+[0-9]+>' \
  '^cs +0x10 ' '^ss +0x18 ' '^ds +0x18 ' '^fs_base +0x0 ' '^cr4 +0x600 ' \
  'uint128 = 0x44444444333333332222222211111111' '^\$3 = 0x13$' \
  '<pattern>:[[:space:]]+0x11111111[[:space:]]+0x22222222[[:space:]]+0x33333333[[:space:]]+0x44444444' \
  '^0x[0-9a-f]+[[:space:]]+[0-9]+[[:space:]]+serial_puts\("kernel: sse loaded' \
  '^CPU#1$' 'CR4=00000600' \
  '^Thread 2 \(Thread 2 \(CPU#1 \[halted\]\)\):' '^Thread 1 \(Thread 1 \(CPU#0 \[running\]\)\):' '^#0  load_done \(\) at ' \
  'Dump of assembler code for function add:' '^   0x[0-9a-f]+ <\+0>:[[:space:]]+55[[:space:]]+push +%ebp' \
  '^0x0:[[:space:]]+0x[0-9a-f]{8}' 'Hardware watchpoint 7: \*\(int\*\)0x200000' \
  'Hardware assisted breakpoint 8 at 0x100000' \
  '\[Inferior 1 \(Remote target\) detached\]'
if [ "$rc" = 3 ] && grep -q 'kernel: magic set' "$work/serial1.txt"; then
  ok "gdb detach: the guest runs on with the variable gdb set"
else
  bad "gdb detach" "exit status $rc (want 3), serial: $(tr '\n' '|' < "$work/serial1.txt")"
fi

# ---- 2. Attach to a running guest over a unix socket ----
sock=$work/gdb.sock
"$PCVM" -kernel "$KERNEL" -smp 2 -display none -serial "file:$work/serial2.txt" -monitor none \
  "${EXIT_DEV[@]}" -gdb "unix:$sock,server=on,wait=off" 2>"$work/pcvm2.err" &
pid=$!; pids+=("$pid")
if wait_for "$work/serial2.txt" 'sse loaded' 60; then
  cat > "$work/attach.gdb" <<GDB
set pagination off
set confirm off
file $KERNEL
target remote $sock
info threads
p spins > 0
p counter
set var release = 1
detach
GDB
  timeout 60 gdb -nx -batch -x "$work/attach.gdb" >"$work/gdb2.txt" 2>&1
  wait_exit "$pid" 60; rc=$?
  check "gdb attach over unix socket" "$work/gdb2.txt" 'Thread 1 \(CPU#0' 'Thread 2 \(CPU#1' \
    '^\$1 = 1$' '^\$2 = 6$' 'detached'
  if [ "$rc" = 1 ] && grep -q 'kernel: magic unset' "$work/serial2.txt"; then
    ok "gdb attach: detach lets the guest finish"
  else
    bad "gdb attach" "exit status $rc (want 1)"
  fi
else
  bad "gdb attach over unix socket" "the guest did not start: $(cat "$work/pcvm2.err")"
fi

# ---- 3. -S without gdb: the monitor's cont starts the guest ----
mon=$work/mon.sock
"$PCVM" -kernel "$KERNEL" -display none -serial "file:$work/serial3.txt" \
  -monitor "unix:$mon,server=on,wait=off" "${EXIT_DEV[@]}" -S 2>"$work/pcvm3.err" &
pid=$!; pids+=("$pid")
wait_for "$work/pcvm3.err" . 1 >/dev/null   # give it a moment to listen
sleep 1
if [ -s "$work/serial3.txt" ]; then
  bad "-S without gdb" "the guest ran before cont"
else
  printf 'cont\n' | timeout 10 socat - "UNIX-CONNECT:$mon" >/dev/null 2>&1
  if wait_for "$work/serial3.txt" 'sse loaded' 30; then ok "-S without gdb: cont on the monitor"; else bad "-S without gdb" "no output after cont"; fi
  printf 'quit\n' | timeout 10 socat - "UNIX-CONNECT:$mon" >/dev/null 2>&1
fi
wait_exit "$pid" 20 >/dev/null

# ---- 4. The port is taken ----
python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", 43001)); s.listen(1)
print("ready", flush=True); time.sleep(30)' > "$work/holder.txt" &
holder=$!; pids+=("$holder")
wait_for "$work/holder.txt" ready 10
timeout 20 "$PCVM" -kernel "$KERNEL" -display none -serial none -monitor none -gdb tcp::43001 \
  >"$work/taken.out" 2>"$work/taken.err"; rc=$?
kill "$holder" 2>/dev/null
if [ "$rc" = 1 ] && [ "$(wc -l < "$work/taken.err")" = 1 ] &&
   grep -q '^pcvm: -gdb tcp::43001: .*Address already in use' "$work/taken.err"; then
  ok "-gdb on a taken port: one line"
else
  bad "-gdb on a taken port" "status $rc, stderr: $(cat "$work/taken.err")"
fi

# ---- 5. The raw protocol ----
"$PCVM" -kernel "$KERNEL" -smp 2 -display none -serial none -monitor none \
  -gdb tcp:127.0.0.1:43002 -S 2>"$work/pcvm5.err" &
pid=$!; pids+=("$pid")
if timeout 60 python3 tests/gdb/protocol.py 43002 >"$work/protocol.txt" 2>&1; then
  wait_exit "$pid" 20; rc=$?
  if [ "$rc" = 0 ]; then ok "raw protocol: Ctrl-C, errors, k"; else bad "raw protocol" "k: exit status $rc"; fi
else
  bad "raw protocol" "$(cat "$work/protocol.txt")"
  kill "$pid" 2>/dev/null
fi

# ---- 6. -gdb chardev:ID, Qqemu.PhyMemMode, qqemu.sstep, kill ----
"$PCVM" -kernel "$KERNEL" -display none -serial none -monitor none \
  -chardev "socket,id=g0,path=$work/g0.sock,server=on,wait=off" -gdb chardev:g0 -S \
  2>"$work/pcvm6.err" &
pid=$!; pids+=("$pid")
sleep 0.3
timeout 60 gdb -nx -batch -ex "file $KERNEL" -ex "target remote $work/g0.sock" \
  -ex 'maintenance packet qqemu.sstep' -ex 'maintenance packet Qqemu.PhyMemMode:1' \
  -ex 'x/2xw 0x100000' -ex 'maintenance packet qqemu.PhyMemMode' -ex kill >"$work/gdb6.txt" 2>&1
wait_exit "$pid" 20; rc=$?
check "-gdb chardev:ID, physical memory, sstep flags" "$work/gdb6.txt" 'received: "0x7"' \
  '<multiboot_header>:[[:space:]]+0x1badb002[[:space:]]+0x00000003' 'received: "1"' \
  '\[Inferior 1 \(Remote target\) killed\]'
[ "$rc" = 0 ] || bad "gdb kill" "pcvm exit status $rc (want 0)"

echo "gdb: $passed passed, $failed failed"
[ ${#failing[@]} -eq 0 ] || { echo "failing: ${failing[*]}"; exit 1; }
