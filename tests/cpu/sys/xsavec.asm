; cpu: Skylake-Client-v4
; qemu: skip
; XSAVEC, XSAVES, XRSTORS and XRSTOR's compacted form for the x87 and SSE components (SDM vol. 1
; 13.8-13.11, vol. 2), on a model that has them (CPUID.(EAX=0DH,ECX=1):EAX XSAVEC and XSAVES):
; leaf 0xD.1, XSTATE_BV = RFBM & XINUSE with every bit written, XCOMP_BV = RFBM | bit 63, header
; bytes 16-63 untouched, MXCSR saved only with SSE; compacted XRSTOR initialising MXCSR (1F80H)
; for a clear XSTATE_BV[1] where the standard form loads it; the compacted form's #GPs; XRSTORS
; refusing the standard form; IA32_XSS (no supervisor components); XSAVES/XRSTORS #GP in ring 3
; while XSAVEC runs there. The values agree with xsavec_host.c run on the host CPU (run.sh).
; QEMU 7.2's TCG has no XSAVEC/XSAVES (it drops them from every model), hence "qemu: skip".
%include "sys.inc"

%include "xsave.inc"

HDR     equ 512
MSR_XSS equ 0xda0

%macro RFBM 1
    mov eax, %1
    xor edx, edx
%endmacro

test_main:
    mov eax, 0xd
    mov ecx, 1
    cpuid
    and eax, 0xf
    CHECK eax, 0xf, "CPUID.0DH.1:EAX: XSAVEOPT, XSAVEC, XGETBV1, XSAVES"
    CHECK ebx, 576, "CPUID.0DH.1:EBX: 576 bytes (compacted, XCR0 | IA32_XSS)"
    CHECK ecx, 0, "CPUID.0DH.1:ECX: no IA32_XSS components"
    CHECK edx, 0, "CPUID.0DH.1:EDX: no IA32_XSS components"

    RFBM 3
    XSAVE_FAULT {xsavec [AREA]}, 6, "XSAVEC without CR4.OSXSAVE: #UD"
    XSAVE_FAULT {xsaves [AREA]}, 6, "XSAVES without CR4.OSXSAVE: #UD"
    mov eax, cr4
    or eax, OSXSAVE | OSFXSR
    mov cr4, eax
    xor ecx, ecx
    RFBM 3
    xsetbv

    ; IA32_XSS: readable, only 0 writable.
    mov ecx, MSR_XSS
    rdmsr
    CHECK eax, 0, "IA32_XSS reads 0"
    xor eax, eax
    xor edx, edx
    wrmsr
    mov eax, 1 << 8                 ; PT: not a component this CPU has
    XSAVE_FAULT wrmsr, 13, "IA32_XSS bit 8: #GP"

    ; Some state: x87 FCW 037FH with 1 and pi loaded, MXCSR 7F80H, XMM0 = 11223344H.
    fninit
    fld1
    fldpi
    mov dword [scratch], 0x7f80
    ldmxcsr [scratch]
    mov dword [scratch], 0x11223344
    movd xmm0, [scratch]

    FILL AREA, 0xcccccccc
    RFBM 1
    xsavec [AREA]
    CHECK dword [AREA + HDR], 1, "XSAVEC x87: XSTATE_BV = 1"
    CHECK dword [AREA + HDR + 4], 0, "XSAVEC x87: XSTATE_BV[63:32] written (0)"
    CHECK dword [AREA + HDR + 8], 1, "XSAVEC x87: XCOMP_BV = 1"
    CHECK dword [AREA + HDR + 12], 0x80000000, "XSAVEC: XCOMP_BV bit 63"
    CHECK dword [AREA + HDR + 16], 0xcccccccc, "XSAVEC leaves header bytes 16-63 alone"
    CHECK dword [AREA + HDR + 60], 0xcccccccc, "XSAVEC leaves header byte 60 alone"
    CHECK word [AREA], 0x037f, "XSAVEC x87: FCW"
    CHECK dword [AREA + 24], 0xcccccccc, "XSAVEC x87 only: MXCSR not written"
    CHECK dword [AREA + 160], 0xcccccccc, "XSAVEC x87 only: XMM0 not written"

    FILL AREA, 0xcccccccc
    RFBM 2
    xsavec [AREA]
    CHECK dword [AREA + HDR], 2, "XSAVEC SSE: XSTATE_BV = 2"
    CHECK dword [AREA + HDR + 8], 2, "XSAVEC SSE: XCOMP_BV = 2"
    CHECK dword [AREA + 24], 0x7f80, "XSAVEC SSE: MXCSR"
    CHECK dword [AREA + 160], 0x11223344, "XSAVEC SSE: XMM0"
    CHECK word [AREA], 0xcccc, "XSAVEC SSE only: FCW not written"

    FILL AREA, 0xcccccccc
    mov eax, 0xffffffff
    mov edx, 0xffffffff
    xsavec [AREA]
    CHECK dword [AREA + HDR], 3, "XSAVEC all: XSTATE_BV = RFBM & XCR0 = 3"
    CHECK dword [AREA + HDR + 4], 0, "XSAVEC all: XSTATE_BV[63:32] = 0"
    CHECK dword [AREA + HDR + 8], 3, "XSAVEC all: XCOMP_BV = 3"
    CHECK dword [AREA + HDR + 12], 0x80000000, "XSAVEC all: XCOMP_BV[63:32] = bit 63"
    CHECK dword [AREA + 464], 0xcccccccc, "XSAVEC leaves bytes 464-511 alone"

    ; XSAVES in ring 0 stores the same as XSAVEC here (no supervisor components).
    FILL AREA2, 0xcccccccc
    RFBM 3
    xsaves [AREA2]
    mov esi, AREA
    mov edi, AREA2
    mov ecx, (HDR + 64) / 4
    repe cmpsd
    CHECK ecx, 0, "XSAVES stores what XSAVEC stores"

    mov edi, AREA + HDR + 16        ; the rest of the header must be zero for XRSTOR
    xor eax, eax
    mov ecx, 12
    rep stosd

    ; Compacted XRSTOR, XSTATE_BV = x87 only: SSE initialised, MXCSR to 1F80H whatever the
    ; area's MXCSR says; the standard form loads MXCSR from memory (here 3F80H).
    mov dword [AREA + 24], 0x3f80
    mov dword [AREA + HDR], 1
    RFBM 3
    xrstor [AREA]
    stmxcsr [scratch]
    CHECK dword [scratch], 0x1f80, "compacted XRSTOR, XSTATE_BV[1] = 0: MXCSR initialised"
    movd eax, xmm0
    CHECK eax, 0, "compacted XRSTOR, XSTATE_BV[1] = 0: XMM0 initialised"
    fnstcw [scratch]
    CHECK word [scratch], 0x037f, "compacted XRSTOR: FCW loaded"
    mov dword [AREA + HDR + 8], 0
    mov dword [AREA + HDR + 12], 0
    RFBM 3
    xrstor [AREA]
    stmxcsr [scratch]
    CHECK dword [scratch], 0x3f80, "standard XRSTOR, XSTATE_BV[1] = 0: MXCSR loaded"

    ; Compacted XRSTOR of everything brings XMM0 back.
    mov dword [AREA + HDR], 3
    mov dword [AREA + HDR + 8], 3
    mov dword [AREA + HDR + 12], 0x80000000
    RFBM 3
    xrstor [AREA]
    movd eax, xmm0
    CHECK eax, 0x11223344, "compacted XRSTOR: XMM0 loaded"
    stmxcsr [scratch]
    CHECK dword [scratch], 0x3f80, "compacted XRSTOR, XSTATE_BV[1] = 1: MXCSR loaded"

    ; The compacted form's #GPs: XCOMP_BV beyond XCR0, XSTATE_BV beyond XCOMP_BV, header bytes
    ; 16-63 not zero, a reserved MXCSR bit when SSE is loaded. XRSTORS wants XCOMP_BV[63].
    mov dword [AREA + HDR + 8], 7
    RFBM 3
    XSAVE_FAULT {xrstor [AREA]}, 13, "compacted XRSTOR, XCOMP_BV bit 2 not in XCR0: #GP"
    mov dword [AREA + HDR + 8], 1
    RFBM 3
    XSAVE_FAULT {xrstor [AREA]}, 13, "compacted XRSTOR, XSTATE_BV beyond XCOMP_BV: #GP"
    mov dword [AREA + HDR + 8], 3
    mov dword [AREA + HDR + 40], 1
    RFBM 3
    XSAVE_FAULT {xrstor [AREA]}, 13, "compacted XRSTOR, header byte 40 set: #GP"
    mov dword [AREA + HDR + 40], 0
    mov dword [AREA + 24], 0x80001f80
    RFBM 3
    XSAVE_FAULT {xrstor [AREA]}, 13, "compacted XRSTOR, reserved MXCSR bit: #GP"
    mov dword [AREA + HDR], 1       ; SSE not loaded: MXCSR not looked at
    RFBM 3
    xrstor [AREA]
    mov dword [AREA + 24], 0x1f80
    mov dword [AREA + HDR], 3
    mov dword [AREA + HDR + 12], 0
    RFBM 3
    XSAVE_FAULT {xrstors [AREA]}, 13, "XRSTORS of the standard form: #GP"
    mov dword [AREA + HDR + 12], 0x80000000
    RFBM 3
    xrstors [AREA]
    movd eax, xmm0
    CHECK eax, 0x11223344, "XRSTORS: XMM0 loaded"

    ; Ring 3: XSAVEC runs, XSAVES and XRSTORS are #GP(0).
    mov eax, 0x80
    mov ebx, back_to_ring0
    mov ecx, 0xee
    call set_gate
    mov eax, .ring3
    call to_ring3
    ret

.ring3:
    mov ax, SEL_DATA3
    mov ds, ax
    mov es, ax
    RFBM 3
    xsavec [AREA2]
    CHECK dword [AREA2 + HDR], 3, "XSAVEC in ring 3"
    XSAVE_FAULT {xsaves [AREA2]}, 13, "XSAVES in ring 3: #GP"
    CHECK dword [fault_err], 0, "XSAVES in ring 3: #GP(0)"
    RFBM 3
    XSAVE_FAULT {xrstors [AREA2]}, 13, "XRSTORS in ring 3: #GP"
    int 0x80

%include "sys_end.inc"
