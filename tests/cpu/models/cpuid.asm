; Prints the CPUID leaves a guest reads to tell its CPU (0, 1, 7.0, 0xD.0-1, 0x80000000..0x80000004,
; 0x80000008) on port 0xE9 as "LEAF SUB EAX EBX ECX EDX" lines, then exits through
; isa-debug-exit.  tests/cpu/models/run.sh compares pcvm's lines with qemu-system-i386's.
%include "sys.inc"

%macro LEAF 2
    mov eax, %1
    mov ecx, %2
    call dump_leaf
%endmacro

test_main:
    LEAF 0, 0
    LEAF 1, 0
    xor eax, eax
    cpuid
    cmp eax, 7
    jb .ext
    LEAF 7, 0
    xor eax, eax
    cpuid
    cmp eax, 0xd
    jb .ext
    LEAF 0xd, 0                 ; XSAVE components and sizes
    LEAF 0xd, 1
.ext:
    mov eax, 0x80000000
    cpuid
    mov edi, eax
    cmp edi, 0x80000000
    jbe .done
    mov ebp, 0x80000001
.loop:
    cmp ebp, edi
    ja .done
    cmp ebp, 0x80000005       ; only the identity leaves and 0x80000008
    jb .print
    cmp ebp, 0x80000008
    jne .next
.print:
    mov eax, ebp
    xor ecx, ecx
    call dump_leaf
.next:
    inc ebp
    jmp .loop
.done:
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
