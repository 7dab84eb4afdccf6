#!/usr/bin/env bash
# Build the test kernels into ${1:-build/tests/kernels}: mb_aout.bin, mb_elf.elf, and the MBR
# boot sector mbr.bin with its 1 MiB raw disk image mbr-disk.img.
set -euo pipefail
src=$(cd "$(dirname "$0")" && pwd)
out=${1:-build/tests/kernels}
mkdir -p "$out"
nasm -f bin -I "$src/" -o "$out/mb_aout.bin" "$src/mb_aout.asm"
nasm -f elf32 -I "$src/" -o "$out/mb_elf.o" "$src/mb_elf.asm"
ld -m elf_i386 -Ttext-segment=0x100000 -e start -o "$out/mb_elf.elf" "$out/mb_elf.o"
# A raw disk image: the MBR boot sector followed by zeros (1 MiB, so the BIOS sees a real disk).
nasm -f bin -o "$out/mbr.bin" "$src/mbr.asm"
cp "$out/mbr.bin" "$out/mbr-disk.img.tmp"
truncate -s 1M "$out/mbr-disk.img.tmp"
mv "$out/mbr-disk.img.tmp" "$out/mbr-disk.img"
# The boot-phase kernel for pcvm-profile's tests.
nasm -f bin -o "$out/phases.bin" "$src/phases.asm"
