; cpu: EPYC
; qemu: qemu-system-x86_64
; SYSCALL and SYSRET outside long mode (AMD64 APM vol. 3, legacy mode), on an AMD model:
; #UD while EFER.SCE is clear; SYSCALL from ring 3 loads CS = STAR[47:32] and SS = CS + 8 as
; flat ring-0 segments, puts the return EIP in ECX, clears IF, leaves ESP alone and jumps to
; STAR[31:0]; SYSRET loads CS = STAR[63:48] | 3, SS = CS + 8 | 3, sets IF and returns to ECX;
; SYSRET outside ring 0 is #GP(0). The STAR and EFER MSRs read back.
; (qemu-system-i386 has no SYSCALL at all; its 64-bit build has it in legacy mode, so EMU=qemu
; runs this one there.)
%include "sys.inc"

MSR_EFER equ 0xc0000080
MSR_STAR equ 0xc0000081
got_ecx  equ scratch
got_cs   equ scratch + 4
got_ss   equ scratch + 8
got_fl   equ scratch + 12
got_esp  equ scratch + 16
ret_cs   equ scratch + 20
ret_ss   equ scratch + 24
ret_fl   equ scratch + 28

test_main:
    mov al, 0xff                    ; no PIC interrupts once ring 3 sets IF
    out 0x21, al
    out 0xa1, al
    mov eax, 0x80000001
    cpuid
    and edx, 1 << 11
    CHECK edx, 1 << 11, "CPUID.80000001H:EDX.SYSCALL[11] is set"

    ; STAR: SYSCALL at sys_entry with CS 0x08 (SS 0x10), SYSRET with CS 0x18 (SS 0x20).
    mov ecx, MSR_STAR
    mov eax, sys_entry
    mov edx, (SEL_CODE3 & ~3) << 16 | SEL_CODE0
    wrmsr
    xor eax, eax
    xor edx, edx
    rdmsr
    CHECK eax, sys_entry, "STAR[31:0] reads back"
    CHECK edx, 0x00180008, "STAR[63:32] reads back"

    ; EFER.SCE clear: both #UD.
    EXPECT_FAULT .ud1
    syscall
.ud1:
    CHECK dword [fault_vec], 6, "SYSCALL with EFER.SCE = 0: #UD"
    EXPECT_FAULT .ud2
    sysret
.ud2:
    CHECK dword [fault_vec], 6, "SYSRET with EFER.SCE = 0: #UD"

    mov ecx, MSR_EFER
    rdmsr
    or eax, 1
    wrmsr
    rdmsr
    and eax, 1
    CHECK eax, 1, "EFER.SCE reads back"

    RING3 0x80, .ring3

    CHECK dword [got_ecx], after_syscall, "SYSCALL: ECX = the EIP after it"
    CHECK dword [got_cs], SEL_CODE0, "SYSCALL: CS = STAR[47:32]"
    CHECK dword [got_ss], SEL_DATA0, "SYSCALL: SS = STAR[47:32] + 8"
    CHECK dword [got_fl], 0, "SYSCALL: IF cleared"
    CHECK dword [got_esp], ustack_top - 4, "SYSCALL: ESP unchanged"
    CHECK dword [ret_cs], SEL_CODE3, "SYSRET: CS = STAR[63:48] | 3"
    CHECK dword [ret_ss], SEL_DATA3, "SYSRET: SS = STAR[63:48] + 8 | 3"
    CHECK dword [ret_fl], 1 << 9, "SYSRET: IF set"
    ret

.ring3:
    DATA3
    EXPECT_FAULT .gp3
    sysret
.gp3:
    CHECK dword [fault_vec], 13, "SYSRET in ring 3: #GP"
    CHECK dword [fault_err], 0, "SYSRET in ring 3: error code 0"
    sti
    push dword 0x5a5a5a5a           ; ESP = ustack_top - 4 at the SYSCALL
    mov ecx, 0xdeadbeef
    syscall
after_syscall:
    jmp fail_sysret

; Ring 0 on the caller's stack: record what SYSCALL loaded, then SYSRET to .back.
sys_entry:
    mov [got_ecx], ecx
    mov [got_esp], esp
    mov ax, cs
    movzx eax, ax
    mov [got_cs], eax
    mov ax, ss
    movzx eax, ax
    mov [got_ss], eax
    pushfd
    pop eax
    and eax, 1 << 9
    mov [got_fl], eax
    mov ecx, sysret_back
    sysret

sysret_back:
    mov ax, cs
    movzx eax, ax
    mov [ret_cs], eax
    mov ax, ss
    movzx eax, ax
    mov [ret_ss], eax
    pushfd
    pop eax
    and eax, 1 << 9
    mov [ret_fl], eax
    cli
    int 0x80

fail_sysret:
    mov esi, msg_sysret
    jmp fail_with
msg_sysret: db "SYSCALL did not jump to STAR[31:0]", 0

%include "sys_end.inc"
