; Paging: accessed/dirty bits as the SDM describes them (never set by a walk that faults),
; #PF error codes and CR2, CR0.WP, 4 MiB pages (PSE).
%include "sys.inc"

PD      equ pages
PT0     equ pages + 0x1000          ; identity map of 0..4 MiB (the kernel lives at 1 MiB)
PT1     equ pages + 0x2000          ; 0x400000..0x7fffff
PAGE_A  equ pages + 0x3000
PAGE_B  equ pages + 0x4000

test_main:
    xor ecx, ecx
.ident:
    mov eax, ecx
    shl eax, 12
    or eax, 3
    mov [PT0 + ecx * 4], eax
    inc ecx
    cmp ecx, 1024
    jb .ident
    mov dword [PD], PT0 | 3
    mov dword [PD + 4], PT1 | 3
    mov dword [PT1], PAGE_A | 3     ; 0x400000: read/write
    mov dword [PT1 + 4], PAGE_B | 1 ; 0x401000: read-only
    ; 0x402000: not present
    mov dword [PAGE_A], 0x11111111
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax

    ; A read sets A in the PDE and the PTE, not D.
    mov eax, [0x400000]
    CHECK eax, 0x11111111, "read through the page table"
    CHECK dword [PT1], PAGE_A | 0x23, "read sets A only in the PTE"
    CHECK dword [PD + 4], PT1 | 0x23, "read sets A in the PDE"
    ; A write sets D in the PTE (never in a 4 KiB page's PDE).
    mov dword [0x400008], 5
    CHECK dword [PT1], PAGE_A | 0x63, "write sets D in the PTE"
    CHECK dword [PD + 4], PT1 | 0x23, "no D in the PDE"

    ; Not present, read: error code 0, CR2 = address.
    EXPECT_FAULT .np_read
    mov eax, [0x402010]
.np_read:
    CHECK dword [fault_vec], 14, "#PF on a not-present page"
    CHECK dword [fault_err], 0, "error code 0 for a supervisor read of a not-present page"
    CHECK dword [fault_cr2], 0x402010, "CR2 holds the faulting address"

    ; Supervisor write to a read-only page: allowed while CR0.WP = 0 ...
    mov dword [0x401000], 7
    CHECK dword [PAGE_B], 7, "WP=0 lets ring 0 write a read-only page"
    CHECK dword [PT1 + 4], PAGE_B | 0x61, "the write set A and D"
    ; ... and #PF(3) once WP = 1, with no A/D change on a fresh entry.
    mov dword [PT1 + 8], PAGE_B | 1  ; 0x402000 -> PAGE_B, read-only, A clear
    invlpg [0x402000]
    mov eax, cr0
    or eax, 0x10000
    mov cr0, eax
    EXPECT_FAULT .wp
    mov dword [0x402004], 9
.wp:
    CHECK dword [fault_vec], 14, "#PF for a write with WP=1"
    CHECK dword [fault_err], 3, "error code P|W"
    CHECK dword [fault_cr2], 0x402004, "CR2 for the WP fault"
    CHECK dword [PT1 + 8], PAGE_B | 1, "a faulting walk sets no A bit"

    ; From ring 3: supervisor page -> #PF(5); user read-only page write -> #PF(7).
    mov dword [PD], PT0 | 7         ; the kernel's first 4 MiB user-accessible
    or dword [PT0 + 0x100 * 4], 4   ; so ring-3 code at 1 MiB runs ...
    mov ecx, 0x100
.user:
    or dword [PT0 + ecx * 4], 4     ; ... with its data and stacks
    inc ecx
    cmp ecx, 0x220
    jb .user
    mov dword [PD + 4], PT1 | 7
    mov dword [PT1 + 12], PAGE_A | 1       ; 0x403000: supervisor read-only
    mov dword [PT1 + 16], PAGE_A | 5       ; 0x404000: user read-only
    mov eax, cr3
    mov cr3, eax
    RING3 0x40, .ring3
    jmp .after_ring3
.ring3:
    DATA3
    EXPECT_FAULT .r3a
    mov eax, [0x403000]
.r3a:
    CHECK dword [fault_err], 5, "user read of a supervisor page: P|U"
    EXPECT_FAULT .r3b
    mov dword [0x404000], 1
.r3b:
    CHECK dword [fault_err], 7, "user write of a read-only page: P|W|U"
    mov eax, [0x404000]             ; a user read works
    int 0x40                        ; back to ring 0
.after_ring3:

    ; 4 MiB page with CR4.PSE: A and D in the PDE.
    mov eax, cr4
    or eax, 0x10
    mov cr4, eax
    mov dword [PD + 8], 0x83        ; 0x800000 -> 0 (4 MiB)
    mov dword [PAGE_A], 0x22222222
    mov eax, [0x800000 + PAGE_A]
    CHECK eax, 0x22222222, "read through a 4 MiB page"
    CHECK dword [PD + 8], 0xa3, "4 MiB read sets A"
    mov dword [0x800000 + PAGE_A + 4], 1
    CHECK dword [PD + 8], 0xe3, "4 MiB write sets D"

    mov eax, cr0
    and eax, 0x7fffffff
    mov cr0, eax
    ret

%include "sys_end.inc"
