; Multiboot ELF test kernel: the loader reads the ELF program headers.
; nasm -f elf32 mb_elf.asm && ld -m elf_i386 -Ttext-segment=0x100000 -e start.  Exit value 0x21 (status 67).
bits 32
MB_MAGIC   equ 0x1badb002
MB_FLAGS   equ 0x00000003          ; page-align modules, memory info
EXIT_VALUE equ 0x21

section .text
global start
    align 4
header:
    dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
start:
    jmp main

%include "common.inc"
kernel_kind: db "ELF", 0

section .bss
bss_start:  resb 4096
bss_end:
boot_magic: resd 1
mbi_addr:   resd 1
            resb 4096
stack_top:
