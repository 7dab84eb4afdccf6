#!/usr/bin/env bash
# Build the gdb test kernel (a Multiboot ELF with DWARF symbols) into ${1:-build/tests/gdb}.
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
out=${1:-build/tests/gdb}
mkdir -p "$out"
gcc -m32 -ffreestanding -nostdlib -fno-pic -no-pie -fno-stack-protector \
    -fno-asynchronous-unwind-tables -O0 -g -Wall -Wextra -Werror \
    -Wl,-T,"$src/kernel.ld" -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
    -o "$out/kernel.elf" "$src/kernel.c"
