; Virtual-8086 mode: entering it with IRET (VM=1 in the popped EFLAGS, segments popped as
; real-mode values), INT n with IOPL < 3 raising #GP(0) to the ring-0 handler, INT n with
; IOPL 3 going through a DPL 3 gate; both frames carry ES/DS/FS/GS and the handler finds
; the data segment registers nulled (SDM vol. 3 ch. 20 and 6.12.1).
%include "sys.inc"

V86_CODE equ 0x8000                 ; 0800:0000

test_main:
    mov esi, v86_blob
    mov edi, V86_CODE
    mov ecx, v86_blob_end - v86_blob
    rep movsb
    mov eax, 13
    mov ebx, v86_gp
    mov ecx, 0x8e
    call set_gate
    mov eax, 0x30
    mov ebx, v86_int30
    mov ecx, 0xee
    call set_gate
    mov eax, 0x20002                ; VM, IOPL 0
    mov ebx, 0
    call enter_v86
    CHECK dword [scratch], 1, "#GP handler ran for INT n at IOPL 0"
    CHECK word [scratch + 4], 0x1234, "v86 code ran before the INT"
    mov eax, 0x23002                ; VM, IOPL 3
    mov ebx, 0x10
    call enter_v86
    CHECK dword [scratch], 2, "INT 0x30 at IOPL 3 reached its gate"
    mov eax, 13
    mov ebx, [exc_stubs + 13 * 4]
    mov ecx, 0x8e
    call set_gate
    ret

; eax = EFLAGS, ebx = IP in segment 0x0800; returns when a handler calls back_to_ring0.
enter_v86:
    pop dword [ring0_ret]
    mov [saved_esp], esp
    push dword 0x4000               ; GS
    push dword 0x3000               ; FS
    push dword 0x2000               ; DS
    push dword 0x1000               ; ES
    push dword 0x0900               ; SS
    push dword 0x0100               ; ESP
    push eax                        ; EFLAGS
    push dword 0x0800               ; CS
    push ebx                        ; EIP
    iret

; Checks of the v86 part of a ring-0 frame at [esp + base].
%macro CHECK_V86_FRAME 1
    CHECK dword [esp + %1 + 4], 0x0800, "pushed CS"
    mov eax, [esp + %1 + 8]
    and eax, 0x20000
    CHECK eax, 0x20000, "pushed EFLAGS has VM"
    CHECK dword [esp + %1 + 12], 0x0100, "pushed ESP"
    CHECK dword [esp + %1 + 16], 0x0900, "pushed SS"
    CHECK dword [esp + %1 + 20], 0x1000, "pushed ES"
    CHECK dword [esp + %1 + 24], 0x2000, "pushed DS"
    CHECK dword [esp + %1 + 28], 0x3000, "pushed FS"
    CHECK dword [esp + %1 + 32], 0x4000, "pushed GS"
%endmacro

v86_gp:
    mov [ss:scratch + 4], eax
    mov ax, ds
    movzx ebx, ax
    mov ax, es
    movzx ecx, ax
    mov ax, SEL_DATA0
    mov ds, ax
    CHECK ebx, 0, "DS nulled on entry from v86"
    CHECK ecx, 0, "ES nulled on entry from v86"
    CHECK dword [esp], 0, "#GP(0)"
    CHECK dword [esp + 4], 3, "EIP of the faulting INT"
    CHECK_V86_FRAME 4
    CHECK esp, kstack_top - 40, "frame on the TSS ring-0 stack"
    mov dword [scratch], 1
    jmp back_to_ring0

v86_int30:
    mov ax, SEL_DATA0
    mov ds, ax
    CHECK dword [esp], 0x12, "EIP after INT 0x30"
    CHECK_V86_FRAME 0
    mov eax, [esp + 8]
    and eax, 0x3000
    CHECK eax, 0x3000, "pushed IOPL 3"
    mov dword [scratch], 2
    jmp back_to_ring0

v86_blob:
bits 16
    mov ax, 0x1234                  ; 0x00
    int 0x21                        ; 0x03
    jmp $                           ; 0x05
    times 0x10 - ($ - v86_blob) db 0x90
    int 0x30                        ; 0x10
    jmp $                           ; 0x12
bits 32
v86_blob_end:

%include "sys_end.inc"
