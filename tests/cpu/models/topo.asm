; Prints the CPUID leaves that describe the -smp topology (0, 1, 4.0-4.4, 0xB.0-2, 0x1F.0-3,
; 0x80000001, 0x80000008) on port 0xE9 as cpuid.asm does, then exits through isa-debug-exit.
; tests/cpu/models/run.sh compares them with qemu-system-i386's under several -smp layouts.
%include "sys.inc"

%macro LEAF 2
    mov eax, %1
    mov ecx, %2
    call dump_leaf
%endmacro

test_main:
    LEAF 0, 0
    LEAF 1, 0
    LEAF 4, 0
    LEAF 4, 1
    LEAF 4, 2
    LEAF 4, 3
    LEAF 4, 4
    LEAF 0xb, 0
    LEAF 0xb, 1
    LEAF 0xb, 2
    LEAF 0x1f, 0
    LEAF 0x1f, 1
    LEAF 0x1f, 2
    LEAF 0x1f, 3
    LEAF 0x80000000, 0
    LEAF 0x80000001, 0
    LEAF 0x80000008, 0
    ret

dump_leaf:                          ; eax = leaf, ecx = subleaf
    push eax
    call puthex
    mov esi, msg_sp
    call puts
    mov eax, ecx
    call puthex
    pop eax
    cpuid
    push edx
    push ecx
    push ebx
    mov esi, msg_sp
    call puts
    call puthex
    pop eax
    call puts
    call puthex
    pop eax
    call puts
    call puthex
    pop eax
    call puts
    call puthex
    mov esi, msg_nl
    call puts
    ret

msg_sp: db " ", 0

%include "sys_end.inc"
