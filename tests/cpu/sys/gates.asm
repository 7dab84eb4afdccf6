; Privilege transfers: a 386 call gate from ring 3 with a parameter (stack switch through
; the TSS, SDM vol. 3 fig. 5-13), RETF n back, INT n with gate DPL checks, an interrupt gate
; from ring 3 and its frame, IRET back to ring 3 nulling DS.
%include "sys.inc"

test_main:
    ; Call gate 0x38: DPL 3, 386, 1 parameter, to SEL_CODE0:gate_target.
    mov eax, gate_target
    mov [gdt + SEL_GATE], ax
    mov word [gdt + SEL_GATE + 2], SEL_CODE0
    mov byte [gdt + SEL_GATE + 4], 1
    mov byte [gdt + SEL_GATE + 5], 0xec
    shr eax, 16
    mov [gdt + SEL_GATE + 6], ax
    ; INT 0x80: DPL 3 interrupt gate; INT 0x81: DPL 0 (forbidden from ring 3).
    mov eax, 0x80
    mov ebx, int80_target
    mov ecx, 0xee
    call set_gate
    mov eax, 0x81
    mov ebx, unexpected_int
    mov ecx, 0x8e
    call set_gate
    RING3 0x40, .ring3
    ret                             ; back from ring 3: PASS

.ring3:
    mov ax, cs
    and eax, 3
    CHECK eax, 3, "running at CPL 3"
    DATA3
    ; INT 0x81 from CPL 3 through a DPL 0 gate: #GP(0x81 * 8 + 2).
    EXPECT_FAULT .after81
    int 0x81
.after81:
    CHECK dword [fault_vec], 13, "INT n through a DPL 0 gate raises #GP"
    CHECK dword [fault_err], 0x81 * 8 + 2, "#GP error code names the IDT entry"
    ; Far call through the gate with one parameter.
    mov [scratch], esp
    push dword 0xabcd1234
    call SEL_GATE | 3:0
.after_call:
    CHECK esp, [scratch], "RETF 4 popped the parameter from the caller's stack"
    CHECK dword [scratch + 4], SEL_DATA0, "gate target saw SS from TSS.SS0"
    ; INT 0x80 from ring 3: stack switch, IRET back, DS (DPL 0) nulled on the way out.
    mov [scratch + 8], esp
    int 0x80
.after_int:
    mov ax, ds
    movzx eax, ax
    mov bx, SEL_DATA3
    mov ds, bx
    CHECK eax, 0, "IRET to ring 3 nulls a DS holding a DPL 0 segment"
    CHECK dword [scratch + 12], 1, "INT 0x80 handler ran"
    int 0x40                        ; finish in ring 0
    jmp .ring3                      ; not reached

gate_target:                        ; ring 0 via the call gate
    mov ax, ss
    movzx eax, ax
    mov [scratch + 4], eax
    mov ax, SEL_DATA0
    mov ds, ax
    CHECK dword [esp], test_main.after_call, "pushed EIP"
    CHECK dword [esp + 4], SEL_CODE3, "pushed CS"
    CHECK dword [esp + 8], 0xabcd1234, "copied parameter"
    mov eax, [scratch]
    sub eax, 4
    CHECK dword [esp + 12], eax, "pushed caller ESP"
    CHECK dword [esp + 16], SEL_DATA3, "pushed caller SS"
    CHECK esp, kstack_top - 20, "new ESP from TSS.ESP0"
    mov ax, SEL_DATA3
    mov ds, ax
    retf 4

int80_target:                       ; ring 0 via the DPL 3 interrupt gate
    mov ax, SEL_DATA0
    mov ds, ax
    CHECK dword [esp], test_main.after_int, "INT pushed the return EIP"
    CHECK dword [esp + 4], SEL_CODE3, "INT pushed CS"
    mov eax, [esp + 8]
    and eax, 0x200
    CHECK eax, 0, "pushed EFLAGS (IF clear in the test)"
    mov eax, [scratch + 8]
    CHECK dword [esp + 12], eax, "INT pushed the ring-3 ESP"
    CHECK dword [esp + 16], SEL_DATA3, "INT pushed the ring-3 SS"
    pushf
    pop eax
    and eax, 0x200
    CHECK eax, 0, "interrupt gate clears IF"
    mov dword [scratch + 12], 1
    iret

%include "sys_end.inc"
