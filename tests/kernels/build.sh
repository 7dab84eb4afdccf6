#!/usr/bin/env bash
# Build the test kernels into ${1:-build/tests/kernels}: mb_aout.bin, mb_elf.elf.
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
out=${1:-build/tests/kernels}
mkdir -p "$out"
nasm -f bin -I "$src/" -o "$out/mb_aout.bin" "$src/mb_aout.asm"
nasm -f elf32 -I "$src/" -o "$out/mb_elf.o" "$src/mb_elf.asm"
ld -m elf_i386 -Ttext-segment=0x100000 -e start -o "$out/mb_elf.elf" "$out/mb_elf.o"
