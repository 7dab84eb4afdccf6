; Hardware task switches (SDM vol. 3 ch. 7): CALL to a TSS (back link, NT, both busy),
; IRET back (busy cleared, NT cleared in the saved image), JMP through a task gate (old
; busy cleared, no back link), state saved in the outgoing TSS, CR0.TS set.
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

%include "sys_end.inc"
