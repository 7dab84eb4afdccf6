; Hardware task switches (SDM vol. 3 ch. 7): CALL to a TSS (back link, NT, both busy),
; IRET back (busy cleared, NT cleared in the saved image), JMP through a task gate (old
; busy cleared, no back link), state saved in the outgoing TSS, CR0.TS set; INT n through
; a task gate in the IDT (a nested task: back link, NT, EIP after the INT saved); an
; exception (#GP with an error code) through a task gate (the faulting EIP saved, the error
; code pushed on the new task's stack); a JMP into a task whose EFLAGS image has VM set
; (virtual-8086 segments loaded from the TSS) and out of it again by INT n through a DPL 3
; task gate (VM saved in its EFLAGS image, the v86 IP after the INT, its segments).
%include "sys.inc"

test_main:
    ; TSS 1: flat ring 0, starts at task1_call.
    mov dword [tss1 + 0x20], task1_call
    mov dword [tss1 + 0x24], 0x2
    mov dword [tss1 + 0x38], tstack_top
    mov dword [tss1 + 0x48], SEL_DATA0     ; ES
    mov dword [tss1 + 0x4c], SEL_CODE0     ; CS
    mov dword [tss1 + 0x50], SEL_DATA0     ; SS
    mov dword [tss1 + 0x54], SEL_DATA0     ; DS
    mov dword [tss1 + 0x58], SEL_DATA0     ; FS
    mov dword [tss1 + 0x5c], SEL_DATA0     ; GS
    mov dword [tss1 + 0x28], 0x1111        ; EAX
    ; Task gate 0x40 -> TSS 1.
    mov word [gdt + SEL_TGATE + 2], SEL_TSS1
    mov byte [gdt + SEL_TGATE + 5], 0x85

    mov ebx, 0x12345678
    call SEL_TSS1:0
.back_from_call:
    CHECK dword [scratch], 1, "task 1 ran"
    CHECK dword [tss1 + 0x20], task1_call.after_iret, "IRET saves the EIP after itself"
    str ax
    movzx eax, ax
    CHECK eax, SEL_TSS0, "TR back to TSS 0 after IRET"
    movzx eax, byte [gdt + SEL_TSS1 + 5]
    CHECK eax, 0x89, "IRET clears the busy bit of the task left"
    movzx eax, byte [gdt + SEL_TSS0 + 5]
    CHECK eax, 0x8b, "TSS 0 busy again"
    pushf
    pop eax
    and eax, 0x4000
    CHECK eax, 0, "NT clear after the task return"
    mov eax, [tss1 + 0x24]
    and eax, 0x4000
    CHECK eax, 0, "IRET saved task 1's EFLAGS with NT cleared"
    mov eax, cr0
    and eax, 8
    CHECK eax, 8, "task switch sets CR0.TS"
    clts

    ; JMP through the task gate.
    mov dword [tss1 + 0x20], task1_jmp
    mov dword [tss1 + 0x38], tstack_top
    jmp SEL_TGATE:0
.back_from_jmp:
    CHECK dword [scratch], 2, "task 1 ran after the JMP"
    CHECK dword [tss1 + 0x20], task1_jmp.after_jmp, "JMP saves the EIP after itself"
    str ax
    movzx eax, ax
    CHECK eax, SEL_TSS0, "TR is TSS 0 again"
    movzx eax, byte [gdt + SEL_TSS1 + 5]
    CHECK eax, 0x89, "JMP away clears TSS 1 busy"

    ; INT n through a task gate: a nested task, like CALL.
    mov dword [tss1 + 0x20], task1_int
    mov dword [tss1 + 0x38], tstack_top
    mov dword [tss1 + 0x24], 0x2
    mov eax, 0x50
    mov ebx, SEL_TSS1
    call set_task_gate
    mov dword [scratch], 0
    int 0x50
.after_int:
    CHECK dword [scratch], 3, "task 1 ran for INT 0x50"
    CHECK dword [tss1 + 0x20], task1_int.after_iret, "IRET from the INT task saves the EIP after itself"
    movzx eax, byte [gdt + SEL_TSS1 + 5]
    CHECK eax, 0x89, "IRET clears the busy bit of the INT task"
    pushf
    pop eax
    and eax, 0x4000
    CHECK eax, 0, "NT clear after the INT task returned"
    clts

    ; An exception through a task gate: #GP(0x58) loading a selector past the GDT limit.
    mov dword [tss1 + 0x20], task1_gp
    mov dword [tss1 + 0x38], tstack_top
    mov dword [tss1 + 0x24], 0x2
    mov eax, 13
    mov ebx, SEL_TSS1
    call set_task_gate
    mov ax, 0x58
.gp_insn:
    mov ds, ax
    mov esi, msg_gp_missed
    jmp fail_with
.after_gp:
    mov eax, 13                     ; the framework's #GP stub again
    mov ebx, [exc_stubs + 13 * 4]
    mov ecx, 0x8e
    call set_gate
    mov ax, ds
    movzx eax, ax
    CHECK eax, SEL_DATA0, "DS as task 0 had it (reloaded from its TSS)"
    CHECK dword [scratch], 4, "the #GP task ran"
    movzx eax, byte [gdt + SEL_TSS1 + 5]
    CHECK eax, 0x89, "IRET clears the busy bit of the #GP task"
    clts

    ; Into virtual-8086 mode by a task switch, and out again by INT n through a task gate.
    mov esi, v86_blob
    mov edi, V86_CODE
    mov ecx, v86_blob_end - v86_blob
    rep movsb
    mov dword [tss1 + 0x20], 0x0000         ; IP in CS 0x0800
    mov dword [tss1 + 0x24], 0x23002        ; VM, IOPL 3
    mov dword [tss1 + 0x38], 0x0100         ; SP in SS 0x0900
    mov dword [tss1 + 0x48], 0x1000         ; ES
    mov dword [tss1 + 0x4c], 0x0800         ; CS
    mov dword [tss1 + 0x50], 0x0900         ; SS
    mov dword [tss1 + 0x54], 0x2000         ; DS
    mov dword [tss1 + 0x58], 0x3000         ; FS
    mov dword [tss1 + 0x5c], 0x4000         ; GS
    mov dword [tss1 + 0x28], 0              ; EAX
    mov eax, 0x51                           ; back to TSS 0; v86 code at IOPL 3 needs DPL 3
    mov ebx, SEL_TSS0
    call set_task_gate
    mov byte [idt + 0x51 * 8 + 5], 0xe5
    jmp SEL_TSS1:0
.back_from_v86:
    ; INT 0x51 from the v86 task switched here as a nested task: undo that by hand.
    CHECK dword [tss1 + 0x20], 0x0008, "v86 task saved with IP after its INT"
    mov eax, [tss1 + 0x24]
    and eax, 0x20000
    CHECK eax, 0x20000, "v86 task saved with VM in its EFLAGS image"
    CHECK dword [tss1 + 0x28], 0x5678, "v86 task's AX saved"
    CHECK dword [tss1 + 0x4c], 0x0800, "v86 task's CS saved as a segment value"
    CHECK dword [tss1 + 0x54], 0x2000, "v86 task's DS saved as a segment value"
    CHECK dword [tss1 + 0x50], 0x0900, "v86 task's SS saved as a segment value"
    CHECK dword [V86_DATA], 0x5678, "v86 code wrote through DS 0x2000"
    movzx eax, word [tss0]
    CHECK eax, SEL_TSS1, "INT through the task gate wrote the back link"
    movzx eax, byte [gdt + SEL_TSS1 + 5]
    CHECK eax, 0x8b, "the v86 task stays busy (nested)"
    mov byte [gdt + SEL_TSS1 + 5], 0x89
    pushf
    pop eax
    mov ebx, eax
    and ebx, 0x4000
    CHECK ebx, 0x4000, "NT set in the task entered by INT"
    and eax, ~0x4000
    push eax
    popf
    mov ax, ds
    movzx eax, ax
    CHECK eax, SEL_DATA0, "task 0's DS loaded again"
    clts
    ret

; set_task_gate: IDT entry eax = a task gate (DPL 0) to the TSS selector in ebx.
set_task_gate:
    shl ebx, 16
    mov [idt + eax * 8], ebx
    mov dword [idt + eax * 8 + 4], 0x8500
    ret

task1_call:
    CHECK eax, 0x1111, "EAX loaded from the new TSS"
    CHECK dword [tss0 + 0x34], 0x12345678, "EBX saved in the old TSS"
    CHECK dword [tss0 + 0x20], test_main.back_from_call, "EIP saved in the old TSS"
    movzx eax, word [tss1]
    CHECK eax, SEL_TSS0, "CALL writes the back link"
    pushf
    pop eax
    and eax, 0x4000
    CHECK eax, 0x4000, "CALL sets NT in the new task"
    movzx eax, byte [gdt + SEL_TSS0 + 5]
    CHECK eax, 0x8b, "CALL leaves the old TSS busy"
    movzx eax, byte [gdt + SEL_TSS1 + 5]
    CHECK eax, 0x8b, "new TSS busy"
    str ax
    movzx eax, ax
    CHECK eax, SEL_TSS1, "TR = TSS 1"
    mov dword [scratch], 1
    iret
.after_iret:
    hlt

task1_int:
    movzx eax, word [tss1]
    CHECK eax, SEL_TSS0, "INT through a task gate writes the back link"
    CHECK dword [tss0 + 0x20], test_main.after_int, "INT saves the EIP after itself in the old TSS"
    pushf
    pop eax
    and eax, 0x4000
    CHECK eax, 0x4000, "INT through a task gate sets NT"
    CHECK esp, tstack_top, "nothing pushed on the new task's stack for INT n"
    movzx eax, byte [gdt + SEL_TSS0 + 5]
    CHECK eax, 0x8b, "INT leaves the old TSS busy"
    mov dword [scratch], 3
    iret
.after_iret:
    hlt

task1_gp:
    CHECK esp, tstack_top - 4, "the error code pushed on the new task's stack"
    pop eax
    CHECK eax, 0x58, "#GP error code: the selector"
    CHECK dword [tss0 + 0x20], test_main.gp_insn, "a fault saves the EIP of the faulting instruction"
    movzx eax, word [tss1]
    CHECK eax, SEL_TSS0, "an exception through a task gate writes the back link"
    mov dword [tss0 + 0x20], test_main.after_gp
    mov dword [scratch], 4
    iret

task1_jmp:
    pushf
    pop eax
    and eax, 0x4000
    CHECK eax, 0, "JMP does not set NT"
    movzx eax, byte [gdt + SEL_TSS0 + 5]
    CHECK eax, 0x89, "JMP clears the old TSS busy bit"
    mov dword [scratch], 2
    jmp SEL_TSS0:0
.after_jmp:
    hlt

msg_gp_missed: db "MOV DS with selector 0x58 did not fault", 0

V86_CODE equ 0x8000                 ; 0800:0000
V86_DATA equ 0x20000                ; 2000:0000

v86_blob:
bits 16
    mov ax, 0x5678                  ; 0x00
    mov [0], ax                     ; 0x03: DS 0x2000
    int 0x51                        ; 0x06
    jmp $                           ; 0x08: never resumed
bits 32
v86_blob_end:

%include "sys_end.inc"
