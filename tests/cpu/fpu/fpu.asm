; x87/MMX/SSE through the whole CPU core (decoder -> fpu): results, status words, environment
; images and the CR0/CR4 exception rules (#NM, #MF, #UD, #XM), with expected values from the
; Intel SDM and IEEE 754. Uses sys's bare-metal framework (tests/cpu/sys/sys.inc).
; Assembled with -DQEMU it skips what qemu-system-i386 is known to get wrong, to check the test.
%include "sys.inc"

buf     equ pages                   ; 4 KiB scratch, page aligned
fxarea  equ pages + 0x1000          ; 512-byte FXSAVE area (16-byte aligned)
envarea equ pages + 0x1400

test_main:
    ; ---- x87 basics ----
    mov eax, cr0
    and eax, ~(CR0_EM | CR0_TS)
    or eax, CR0_NE | CR0_MP
    mov cr0, eax
    fninit
    fnstsw ax
    CHECK ax, 0, "FNINIT: status word 0"
    fnstcw [buf]
    CHECK word [buf], 0x037f, "FNINIT: control word 037F"
    fld1
    fld1
    faddp st1, st0
    fistp dword [buf]
    CHECK dword [buf], 2, "1 + 1 = 2"
    fldpi
    fstp qword [buf]
    CHECK dword [buf], 0x54442d18, "FLDPI as double (low)"
    CHECK dword [buf + 4], 0x400921fb, "FLDPI as double (high)"
    mov dword [buf], 10
    mov dword [buf + 4], 3
    fild dword [buf]
    fidiv dword [buf + 4]
    fstp dword [buf]
    CHECK dword [buf], 0x40555555, "10/3 as float"
    fnstsw ax
    CHECK ax, 0x0020, "10/3 sets PE only (C1 cleared by the rounding-down store)"
    fninit
    fld1
    fadd st0, st0
    fsqrt
    fstp qword [buf]
    CHECK dword [buf], 0x667f3bcd, "sqrt(2) as double (low)"
    CHECK dword [buf + 4], 0x3ff6a09e, "sqrt(2) as double (high)"
%ifndef QEMU                           ; qemu's x87 does not detect stack faults
    ; Stack underflow: IE+SF, C1=0, the masked response stores the indefinite.
    fninit
    fadd st0, st1
    fnstsw ax
    and ax, 0x02ff
    CHECK ax, 0x0041, "underflow: IE and SF"
    fstp qword [buf]
    CHECK dword [buf + 4], 0xfff80000, "underflow result is the QNaN indefinite"
%endif
    ; FCOMI: 1 < 2 sets CF only.
    fninit
    fld1
    fld1
    fadd st0, st0
    fld1
    fcomi st0, st1
    mov eax, 0
    setc al
    CHECK eax, 1, "FCOMI 1 vs 2: CF"
fcomip_at:
    fcomip st0, st2                 ; 1 vs 1: ZF
    mov eax, 0
    setz al
    CHECK eax, 1, "FCOMIP 1 vs 1: ZF"
    ; FNSTENV in 32-bit protected mode: tag word of {2, 1} and FOP/FIP of the last FCOMIP.
    fnstenv [envarea]
    CHECK word [envarea + 8], 0x0fff, "FNSTENV tag word: R6, R7 valid"
%ifndef QEMU                           ; qemu does not record FOP/FCS
    CHECK word [envarea + 18], 0x07f2, "FNSTENV FOP = DF F2"
    CHECK word [envarea + 16], SEL_CODE0, "FNSTENV FCS"
%endif
    CHECK dword [envarea + 12], fcomip_at, "FNSTENV FIP: the last non-control instruction"

    ; 16-bit protected-mode image (operand-size prefix): 14 bytes, FCS at offset 8.
    mov dword [envarea + 14], 0x12345678
    o16 fnstenv [envarea]
    CHECK word [envarea + 4], 0x0fff, "16-bit FNSTENV tag word at offset 4"
    CHECK dword [envarea + 14], 0x12345678, "16-bit FNSTENV writes 14 bytes"
%ifndef QEMU
    CHECK word [envarea + 8], SEL_CODE0, "16-bit FNSTENV FCS at offset 8"
%endif

    ; ---- FSAVE / FRSTOR ----
    fninit
    fldpi
    fld1
    fnsave [envarea]
    fnstsw ax
    CHECK ax, 0, "FNSAVE reinitialises"
    frstor [envarea]
    fstp qword [buf]
    CHECK dword [buf + 4], 0x3ff00000, "FRSTOR: ST0 = 1"
    fstp qword [buf]
    CHECK dword [buf + 4], 0x400921fb, "FRSTOR: ST1 = pi"

    ; ---- CR0.TS / EM / MP ----
    mov eax, cr0
    or eax, CR0_TS
    mov cr0, eax
    EXPECT_FAULT .nm1
    fld1
.nm1:
    CHECK dword [fault_vec], 7, "CR0.TS: x87 -> #NM"
    EXPECT_FAULT .nm2
    fwait
.nm2:
    CHECK dword [fault_vec], 7, "CR0.TS+MP: WAIT -> #NM"
    clts
    fwait
    mov eax, cr0
    or eax, CR0_EM
    mov cr0, eax
    EXPECT_FAULT .nm3
    fninit
.nm3:
    CHECK dword [fault_vec], 7, "CR0.EM: x87 -> #NM"
    fwait                           ; EM does not affect WAIT
    EXPECT_FAULT .ud1
    paddb mm0, mm1
.ud1:
    CHECK dword [fault_vec], 6, "CR0.EM: MMX -> #UD"
    and eax, ~CR0_EM
    mov cr0, eax

    ; ---- #MF: an unmasked divide by zero is reported at the next waiting instruction ----
    fninit
    mov word [buf], 0x037b
    fldcw [buf]
    fld1
    fldz
    fdivp st1, st0
    fnstsw ax                       ; non-waiting: no fault
    and ax, 0x80ff
    CHECK ax, 0x8084, "1/0 unmasked: ZE, ES, B"
    EXPECT_FAULT .mf
    fwait
.mf:
    CHECK dword [fault_vec], 16, "pending unmasked exception -> #MF"
    fnclex
    fwait
    fninit

    ; ---- MMX ----
    fld1
    mov eax, 0x01020304
    movd mm1, eax
    mov eax, 0x10ff2030
    movd mm2, eax
    paddb mm1, mm2
    movd eax, mm1
    CHECK eax, 0x11012334, "PADDB"
    fxsave [fxarea]
    CHECK byte [fxarea + 4], 0xff, "after MMX: every tag valid"
    CHECK word [fxarea + 2], 0, "after MMX: TOP = 0"
    emms
    fnstenv [envarea]
    CHECK word [envarea + 8], 0xffff, "EMMS empties every tag"
    fninit

    ; ---- SSE ----
    mov eax, cr4
    and eax, ~(CR4_OSFXSR | CR4_OSXMMEXCPT)
    mov cr4, eax
    EXPECT_FAULT .ud2
    addps xmm0, xmm1
.ud2:
    CHECK dword [fault_vec], 6, "CR4.OSFXSR clear: SSE -> #UD"
    or eax, CR4_OSFXSR
    mov cr4, eax
    mov eax, 7
    cvtsi2ss xmm0, eax
    mov eax, 2
    cvtsi2ss xmm1, eax
    divss xmm0, xmm1
    cvttss2si eax, xmm0
    CHECK eax, 3, "CVTTSS2SI(7/2) = 3"
    cvtss2si eax, xmm0
    CHECK eax, 4, "CVTSS2SI(3.5) rounds to even: 4"
    stmxcsr [buf]
    CHECK dword [buf], 0x1fa0, "7/2 is exact, converting 3.5 to an integer is not: PE"
%ifndef QEMU                           ; qemu never raises SIMD floating-point exceptions
    ; Unmasked divide by zero: #UD without OSXMMEXCPT, #XM with it.
    mov dword [buf], 0x1f80 & ~0x200
    ldmxcsr [buf]
    xorps xmm1, xmm1
    EXPECT_FAULT .ud3
    divss xmm0, xmm1
.ud3:
    CHECK dword [fault_vec], 6, "unmasked SIMD exception without OSXMMEXCPT: #UD"
    mov eax, cr4
    or eax, CR4_OSXMMEXCPT
    mov cr4, eax
    EXPECT_FAULT .xm
    divss xmm0, xmm1
.xm:
    CHECK dword [fault_vec], 19, "unmasked SIMD exception: #XM"
    cvttss2si eax, xmm0
    CHECK eax, 3, "#XM leaves the destination alone"
%endif
    mov dword [buf], 0x1f80
    ldmxcsr [buf]
%ifndef QEMU                           ; qemu does not check MXCSR reserved bits
    ; LDMXCSR with a reserved bit: #GP(0).
    mov dword [buf], 0x11f80
    EXPECT_FAULT .gp
    ldmxcsr [buf]
.gp:
    CHECK dword [fault_vec], 13, "LDMXCSR reserved bit: #GP"
%endif
    ; Misaligned MOVAPS: #GP(0); MOVUPS works.
    EXPECT_FAULT .gp2
    movaps xmm2, [buf + 4]
.gp2:
    CHECK dword [fault_vec], 13, "misaligned MOVAPS: #GP"
    movups xmm2, [buf + 4]

%ifndef QEMU                           ; qemu lets them run
    ; SSE2 and SSE3 forms do not exist on a Pentium III.
    EXPECT_FAULT .ud4
    addpd xmm0, xmm1
.ud4:
    CHECK dword [fault_vec], 6, "Pentium III: ADDPD -> #UD"
    fld1
    EXPECT_FAULT .ud5
    fisttp dword [buf]
.ud5:
    CHECK dword [fault_vec], 6, "Pentium III: FISTTP -> #UD"
%endif

    ; ---- FXSAVE / FXRSTOR ----
    fninit
    fld1
    mov dword [buf], 0x3f80
    ldmxcsr [buf]
    fxsave [fxarea]
    CHECK word [fxarea], 0x037f, "FXSAVE FCW"
    CHECK word [fxarea + 2], 0x3800, "FXSAVE FSW (TOP = 7)"
    CHECK byte [fxarea + 4], 0x80, "FXSAVE abridged tag: R7"
    CHECK dword [fxarea + 24], 0x3f80, "FXSAVE MXCSR"
    fninit
    mov dword [buf], 0x1f80
    ldmxcsr [buf]
    fxrstor [fxarea]
    stmxcsr [buf]
    CHECK dword [buf], 0x3f80, "FXRSTOR MXCSR"
    fistp dword [buf]
    CHECK dword [buf], 1, "FXRSTOR ST0"
%ifndef QEMU
    mov byte [fxarea + 24], 0xff    ; DAZ (bit 6) is reserved on a Pentium III
    mov byte [fxarea + 25], 0xff
    mov byte [fxarea + 26], 0x01
    EXPECT_FAULT .gp3
    fxrstor [fxarea]
.gp3:
    CHECK dword [fault_vec], 13, "FXRSTOR reserved MXCSR bits: #GP"
%endif
    ret

CR0_MP equ 1 << 1
CR0_EM equ 1 << 2
CR0_TS equ 1 << 3
CR0_NE equ 1 << 5
CR4_OSFXSR equ 1 << 9
CR4_OSXMMEXCPT equ 1 << 10

%include "sys_end.inc"
