; cpu: qemu32,+nx,+smep,+umip
; IA32_EFER.NXE with PAE's execute-disable bit (SDM vol. 3 4.6): a fetch from an NX page is a
; #PF with P|I/D; reads still work; without NXE bit 63 is reserved. CR4.SMEP: a ring-0 fetch
; from a user page is a #PF with P|I/D. CR4.UMIP: SGDT, SIDT, SLDT, STR, SMSW #GP(0) in ring 3.
; The "cpu:" line above gives run.sh the -cpu argument (EMU=mini uses pcvm's max).
%include "sys.inc"

PDPT    equ pages                   ; 32-byte aligned
PD0     equ pages + 0x1000          ; 0..1 GiB
PT      equ pages + 0x2000          ; 0x00400000..0x005fffff
PAGE_A  equ pages + 0x3000
PAGE_B  equ pages + 0x4000
EFER    equ 0xc0000080

test_main:
    ; EFER reads as 0, NXE can be set; bit 8 (LME, no long mode here) cannot.
    mov ecx, EFER
    rdmsr
    CHECK eax, 0, "EFER is 0 after reset"
%ifndef QEMU                            ; qemu-system-i386 7.2 accepts LME without long mode
    EXPECT_FAULT .lme
    mov ecx, EFER
    mov eax, 0x100
    xor edx, edx
    wrmsr
.lme:
    CHECK dword [fault_vec], 13, "EFER.LME without long mode: #GP"
%endif

    mov dword [PDPT], PD0 | 1
    mov dword [PD0], 0x000000 | 0x83        ; 0..2 MiB: 2 MiB page, identity
    mov dword [PD0 + 8], 0x200000 | 0x83    ; 2..4 MiB: identity (framework data)
    mov dword [PD0 + 16], PT | 7            ; 4..6 MiB: page table (user)
    mov dword [PT], PAGE_A | 3              ; 0x400000: supervisor, NX
    mov dword [PT + 4], 0x80000000
    mov dword [PT + 8], PAGE_B | 7          ; 0x401000: user, executable
    mov dword [PT + 16], PAGE_A | 3         ; 0x402000: supervisor, executable
    mov byte [PAGE_A], 0xc3                 ; ret
    mov byte [PAGE_B], 0xc3
    mov eax, cr4
    or eax, 0x20                            ; PAE
    mov cr4, eax
    mov eax, PDPT
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax

    ; NXE clear: bit 63 is reserved.
    EXPECT_FAULT .rsvd
    mov eax, [0x400000]
.rsvd:
    CHECK dword [fault_vec], 14, "NX bit without EFER.NXE: #PF"
%ifndef QEMU                            ; qemu-system-i386 7.2 reports RSVD without P here
    CHECK dword [fault_err], 9, "error code P|RSVD"
%endif

    mov ecx, EFER
    rdmsr
    or eax, 0x800                           ; NXE
    wrmsr
    rdmsr
    CHECK eax, 0x800, "EFER.NXE reads back"
    mov eax, [0x400000]
    CHECK eax, 0xc3, "an NX page can be read"
    EXPECT_FAULT .nx
    jmp 0x400000                            ; (jumps: a faulting call would leave its return address)
.nx:
    CHECK dword [fault_vec], 14, "a fetch from an NX page: #PF"
    CHECK dword [fault_err], 0x11, "error code P|I/D"
    CHECK dword [fault_cr2], 0x400000, "CR2 is the fetched address"
    call 0x402000                           ; the same frame, executable mapping
    ; A not-present fetch reports I/D too (NXE set).
    mov dword [PT + 24], 0                  ; 0x403000 not present
    EXPECT_FAULT .np
    jmp 0x403000
.np:
    CHECK dword [fault_err], 0x10, "not-present fetch: error code I/D"

    ; SMEP: a ring-0 fetch from a user page faults; without SMEP it runs.
    call 0x401000
    mov eax, cr4
    or eax, 1 << 20
    mov cr4, eax
    EXPECT_FAULT .smep
    jmp 0x401000
.smep:
    CHECK dword [fault_vec], 14, "SMEP: ring-0 fetch from a user page: #PF"
    CHECK dword [fault_err], 0x11, "SMEP error code P|I/D"
    mov eax, [0x401000]
    CHECK eax, 0xc3, "SMEP leaves ring-0 reads of user pages alone"
    mov eax, cr4
    and eax, ~(1 << 20)
    mov cr4, eax

    mov eax, cr0
    and eax, 0x7fffffff
    mov cr0, eax
    mov eax, cr4
    and eax, ~0x20
    mov cr4, eax
    mov ecx, EFER
    xor eax, eax
    xor edx, edx
    wrmsr

    ; UMIP: fine in ring 0, #GP(0) in ring 3.
    mov eax, cr4
    or eax, 1 << 11
    mov cr4, eax
    sgdt [scratch]
    RING3 0x80, .ring3
    mov eax, cr4
    and eax, ~(1 << 11)
    mov cr4, eax
    ret

.ring3:
    DATA3
    EXPECT_FAULT .sgdt
    sgdt [scratch]
.sgdt:
    CHECK dword [fault_vec], 13, "UMIP: SGDT in ring 3: #GP"
    CHECK dword [fault_err], 0, "UMIP: #GP(0)"
    EXPECT_FAULT .sidt
    sidt [scratch]
.sidt:
    CHECK dword [fault_vec], 13, "UMIP: SIDT in ring 3: #GP"
    EXPECT_FAULT .sldt
    sldt eax
.sldt:
    CHECK dword [fault_vec], 13, "UMIP: SLDT in ring 3: #GP"
    EXPECT_FAULT .str
    str eax
.str:
    CHECK dword [fault_vec], 13, "UMIP: STR in ring 3: #GP"
    EXPECT_FAULT .smsw
    smsw eax
.smsw:
    CHECK dword [fault_vec], 13, "UMIP: SMSW in ring 3: #GP"
    int 0x80

%include "sys_end.inc"
