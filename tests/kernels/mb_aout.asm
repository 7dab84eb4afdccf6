; Multiboot a.out-kludge test kernel (flag 16: the loader takes addresses from the header).
; nasm -f bin -o mb_aout.bin mb_aout.asm.  Exits via isa-debug-exit with 0x22 (status 69).
bits 32
org 0x100000
MB_MAGIC   equ 0x1badb002
MB_FLAGS   equ 0x00010003          ; page-align modules, memory info, address fields
EXIT_VALUE equ 0x22

image_start:
    jmp short entry                ; the header may sit anywhere in the first 8 KiB
    align 4, db 0
header:
    dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
    dd header                      ; header_addr
    dd image_start                 ; load_addr
    dd load_end                    ; load_end_addr
    dd bss_limit                   ; bss_end_addr
    dd entry                       ; entry_addr
entry:
    jmp main

%include "common.inc"
kernel_kind: db "a.out kludge", 0
    align 4, db 0
load_end:

absolute load_end
bss_start:  resb 4096               ; must read as zero (the loader clears bss)
bss_end:
boot_magic: resd 1
mbi_addr:   resd 1
            resb 4096
stack_top:
bss_limit:
