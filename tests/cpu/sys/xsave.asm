; cpu: SandyBridge
; XSAVE, XRSTOR, XSAVEOPT, XGETBV, XSETBV and CR4.OSXSAVE for the x87 and SSE components (SDM
; vol. 1 ch. 13, vol. 2 XSAVE/XRSTOR/XGETBV/XSETBV): #UD without CR4.OSXSAVE, the OSXSAVE bit
; of CPUID.1:ECX following CR4, XCR0's rules (x87 always, reserved components, ECX != 0, CPL 0
; only), the standard-format area (legacy image, MXCSR with either component, XSTATE_BV set
; for the requested components, everything else untouched), XRSTOR's init of components whose
; XSTATE_BV bit is clear, its header and MXCSR #GPs, alignment #GP and #NM with CR0.TS.
%include "sys.inc"

%include "xsave.inc"

test_main:
    mov eax, 1
    cpuid
    mov ebx, ecx
    and ecx, 1 << 26
    CHECK ecx, 1 << 26, "CPUID.1:ECX.XSAVE[26] is set"
    and ebx, 1 << 27
    CHECK ebx, 0, "CPUID.1:ECX.OSXSAVE[27] clear while CR4.OSXSAVE is"

    ; Without CR4.OSXSAVE every one of them is #UD.
    xor ecx, ecx
    XSAVE_FAULT xgetbv, 6, "XGETBV without CR4.OSXSAVE: #UD"
    XSAVE_FAULT xsetbv, 6, "XSETBV without CR4.OSXSAVE: #UD"
    XSAVE_FAULT {xsave [AREA]}, 6, "XSAVE without CR4.OSXSAVE: #UD"
    XSAVE_FAULT {xrstor [AREA]}, 6, "XRSTOR without CR4.OSXSAVE: #UD"

    mov eax, cr4
    or eax, OSXSAVE | OSFXSR
    mov cr4, eax
    mov eax, 1
    cpuid
    and ecx, 1 << 27
    CHECK ecx, 1 << 27, "CPUID.1:ECX.OSXSAVE[27] follows CR4.OSXSAVE"

    mov eax, 3
    xor edx, edx
    XSAVE_FAULT {xsavec [AREA]}, 6, "XSAVEC on a model without it: #UD"
    XSAVE_FAULT {xsaves [AREA]}, 6, "XSAVES on a model without it: #UD"
    XSAVE_FAULT {xrstors [AREA]}, 6, "XRSTORS on a model without it: #UD"

    mov eax, 0xd
    xor ecx, ecx
    cpuid
    and eax, 3
    CHECK eax, 3, "CPUID.0DH.0:EAX has x87 and SSE"
    CHECK ebx, 576, "CPUID.0DH.0:EBX: 576 bytes for XCR0 = x87"

    ; XCR0: 1 after reset; only XCR0 exists; x87 cannot be cleared; no undefined components.
    xor ecx, ecx
    xgetbv
    CHECK eax, 1, "XCR0 is 1 after reset"
    CHECK edx, 0, "XCR0[63:32] is 0 after reset"
    mov ecx, 2
    XSAVE_FAULT xgetbv, 13, "XGETBV ECX=2: #GP"
    xor edx, edx
    xor ecx, ecx
    mov eax, 2
    XSAVE_FAULT xsetbv, 13, "XSETBV without x87: #GP"
    mov eax, 0xb
    XSAVE_FAULT xsetbv, 13, "XSETBV with MPX BNDREGS (bit 3): #GP"
    mov eax, 3
    mov edx, 1
    XSAVE_FAULT xsetbv, 13, "XSETBV with bit 32: #GP"
    xor edx, edx
    mov ecx, 1
    XSAVE_FAULT xsetbv, 13, "XSETBV ECX=1: #GP"
    xor ecx, ecx
    mov eax, 3
    xsetbv
    xgetbv
    CHECK eax, 3, "XSETBV 3 then XGETBV reads 3"

    ; A known state: ST0 = pi, ST1 = 1, MXCSR with round-up, XMM0 and XMM7 patterns.
    fninit
    fld1
    fldpi
    mov dword [scratch], 0x5f80
    ldmxcsr [scratch]
    mov dword [scratch], 0x11111111
    mov dword [scratch + 4], 0x22222222
    mov dword [scratch + 8], 0x33333333
    mov dword [scratch + 12], 0x44444444
    movups xmm0, [scratch]
    pshufd xmm7, xmm0, 0x1b

    ; XSAVE with x87 only: the x87 fields, not MXCSR nor XMM; XSTATE_BV keeps bit 1 as it was;
    ; XCOMP_BV and the rest of the area untouched.
    FILL AREA, 0xaaaaaaaa
    mov dword [AREA + 512], 2
    mov dword [AREA + 516], 0
    mov dword [AREA + 520], 0x12345678
    mov eax, 1
    xor edx, edx
    xsave [AREA]
    CHECK word [AREA], 0x037f, "XSAVE: FCW"
    CHECK word [AREA + 2], 0x3000, "XSAVE: FSW with TOP = 6"
    CHECK byte [AREA + 4], 0xc0, "XSAVE: abridged FTW (R6, R7 valid)"
    CHECK dword [AREA + 24], 0xaaaaaaaa, "XSAVE x87 only: MXCSR untouched"
    CHECK dword [AREA + 32 + 4], 0xc90fdaa2, "XSAVE: ST0 = pi (mantissa high)"
    CHECK word [AREA + 32 + 8], 0x4000, "XSAVE: ST0 = pi (exponent)"
    CHECK dword [AREA + 48 + 4], 0x80000000, "XSAVE: ST1 = 1 (mantissa high)"
    CHECK word [AREA + 48 + 8], 0x3fff, "XSAVE: ST1 = 1 (exponent)"
    CHECK dword [AREA + 160], 0xaaaaaaaa, "XSAVE x87 only: XMM0 untouched"
    CHECK dword [AREA + 512], 3, "XSAVE x87 only: XSTATE_BV = old bit 1 | x87"
    CHECK dword [AREA + 520], 0x12345678, "XSAVE: XCOMP_BV untouched"

    ; XSAVE with both (EDX:EAX all ones, masked by XCR0).
    FILL AREA, 0xaaaaaaaa
    mov dword [AREA + 512], 0
    mov dword [AREA + 516], 0
    mov eax, -1
    mov edx, -1
    xsave [AREA]
    CHECK dword [AREA + 24], 0x5f80, "XSAVE: MXCSR"
    CHECK dword [AREA + 28], 0xffff, "XSAVE: MXCSR_MASK"
    CHECK dword [AREA + 160], 0x11111111, "XSAVE: XMM0"
    CHECK dword [AREA + 160 + 7 * 16], 0x44444444, "XSAVE: XMM7"
    CHECK dword [AREA + 288], 0xaaaaaaaa, "XSAVE in 32-bit mode: no XMM8"
    CHECK dword [AREA + 464], 0xaaaaaaaa, "XSAVE: bytes 464-511 untouched"
    CHECK dword [AREA + 512], 3, "XSAVE: XSTATE_BV = x87 | SSE"
    CHECK dword [AREA + 516], 0, "XSAVE: XSTATE_BV high half"
    CHECK dword [AREA + 524], 0xaaaaaaaa, "XSAVE: header past XSTATE_BV untouched"
    mov dword [AREA + 520], 0            ; a valid header for XRSTOR: bytes 8-63 zero
    mov dword [AREA + 524], 0
    mov dword [AREA + 528], 0
    mov dword [AREA + 532], 0

    ; XRSTOR restores both.
    fninit
    pxor xmm0, xmm0
    pxor xmm7, xmm7
    mov dword [scratch], 0x1f80
    ldmxcsr [scratch]
    mov eax, 3
    xor edx, edx
    xrstor [AREA]
    stmxcsr [scratch]
    CHECK dword [scratch], 0x5f80, "XRSTOR: MXCSR"
    movd eax, xmm0
    CHECK eax, 0x11111111, "XRSTOR: XMM0"
    movd eax, xmm7
    CHECK eax, 0x44444444, "XRSTOR: XMM7"
    fnstsw ax
    CHECK ax, 0x3000, "XRSTOR: FSW (TOP = 6)"
    fldz
    fstp st0
    fld1
    fcomip st1                           ; ST0 (1) vs ST1 (pi): below
    jb .pi_ok
    mov esi, msg_pi
    jmp fail_with
.pi_ok:

    ; XRSTOR with EDX:EAX = x87 only leaves XMM alone.
    pxor xmm0, xmm0
    mov eax, 1
    xor edx, edx
    xrstor [AREA]
    movd eax, xmm0
    CHECK eax, 0, "XRSTOR x87 only: XMM0 untouched"

    ; XSTATE_BV = 0: both components get their initial state, MXCSR still comes from memory.
    mov dword [AREA + 512], 0
    mov dword [AREA + 24], 0x7f80
    mov eax, 3
    xor edx, edx
    xrstor [AREA]
    stmxcsr [scratch]
    CHECK dword [scratch], 0x7f80, "XRSTOR with XSTATE_BV[1] = 0: MXCSR loaded"
    movd eax, xmm7
    CHECK eax, 0, "XRSTOR with XSTATE_BV[1] = 0: XMM7 zeroed"
    fnstenv [scratch]
    CHECK word [scratch], 0x037f, "XRSTOR x87 init: FCW"
    CHECK word [scratch + 4], 0, "XRSTOR x87 init: FSW"
    CHECK word [scratch + 8], 0xffff, "XRSTOR x87 init: all registers empty"
    fldcw [scratch]

    ; #GP cases, state unchanged.
    mov eax, 3
    xor edx, edx
    mov dword [AREA + 512], 4            ; XSTATE_BV bit beyond XCR0
    XSAVE_FAULT {xrstor [AREA]}, 13, "XRSTOR with XSTATE_BV[2] not in XCR0: #GP"
    mov dword [AREA + 512], 3
    mov dword [AREA + 520], 1            ; XCOMP_BV
    XSAVE_FAULT {xrstor [AREA]}, 13, "XRSTOR with XCOMP_BV != 0: #GP"
    mov dword [AREA + 520], 0
    mov dword [AREA + 528], 1            ; header bytes 16-23
    XSAVE_FAULT {xrstor [AREA]}, 13, "XRSTOR with header bytes 16-23 != 0: #GP"
    mov dword [AREA + 528], 0
%ifndef QEMU                            ; QEMU 7.2 loads the reserved bits without a #GP
    mov dword [AREA + 24], 0x10000       ; reserved MXCSR bit
    XSAVE_FAULT {xrstor [AREA]}, 13, "XRSTOR with a reserved MXCSR bit: #GP"
%endif
    mov dword [AREA + 24], 0x1f80
    XSAVE_FAULT {xsave [AREA + 16]}, 13, "XSAVE on a 16-byte boundary: #GP"
    XSAVE_FAULT {xrstor [AREA + 32]}, 13, "XRSTOR on a 32-byte boundary: #GP"
    CHECK dword [fault_err], 0, "alignment #GP error code 0"

%ifndef QEMU                            ; QEMU 7.2 ignores CR0.TS for XSAVE
    ; CR0.TS: #NM.
    mov eax, cr0
    or eax, 8
    mov cr0, eax
    mov eax, 3
    XSAVE_FAULT {xsave [AREA]}, 7, "XSAVE with CR0.TS: #NM"
    clts
%endif

    ; XSAVEOPT (CPUID.0DH.1:EAX[0]) stores what XSAVE stores.
    mov eax, 0xd
    mov ecx, 1
    cpuid
    test eax, 1
    jz .no_xsaveopt
    FILL AREA2, 0xaaaaaaaa
    mov dword [AREA2 + 512], 0
    mov dword [AREA2 + 516], 0
    mov dword [scratch], 0x55555555
    movd xmm3, [scratch]
    mov eax, 3
    xor edx, edx
    xsaveopt [AREA2]
    CHECK dword [AREA2 + 160 + 3 * 16], 0x55555555, "XSAVEOPT: XMM3"
    CHECK dword [AREA2 + 512], 3, "XSAVEOPT: XSTATE_BV"
.no_xsaveopt:

    ; Ring 3: XGETBV works, XSETBV is #GP(0).
    RING3 0x80, .ring3
    ret

.ring3:
    DATA3
    xor ecx, ecx
    xgetbv
    CHECK eax, 3, "XGETBV in ring 3"
    XSAVE_FAULT xsetbv, 13, "XSETBV in ring 3: #GP"
    int 0x80

msg_pi: db "XRSTOR: ST1 = pi", 0

%include "sys_end.inc"
