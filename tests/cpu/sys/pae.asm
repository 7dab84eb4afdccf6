; PAE paging (SDM vol. 3 4.4): 3-level walk with 4 KiB and 2 MiB pages, A/D bits in the
; 64-bit entries, reserved-bit faults (#PF with P|RSVD), and global pages surviving a CR3 load.
%include "sys.inc"

PDPT    equ pages                   ; 32-byte aligned
PD0     equ pages + 0x1000          ; 0..1 GiB
PT      equ pages + 0x2000          ; 0x00400000..0x005fffff
PAGE_A  equ pages + 0x3000
PAGE_B  equ pages + 0x4000

test_main:
    mov dword [PDPT], PD0 | 1
    mov dword [PD0], 0x000000 | 0x83        ; 0..2 MiB: 2 MiB page, identity
    mov dword [PD0 + 8], 0x200000 | 0x83    ; 2..4 MiB: identity (framework data)
    mov dword [PD0 + 16], PT | 3            ; 4..6 MiB: page table
    mov dword [PT], PAGE_A | 3              ; 0x400000
    mov dword [PT + 8], PAGE_B | 3          ; 0x401000
    mov dword [PT + 12], 0x00000010         ; ... with bit 36 set: reserved
    mov dword [PD0 + 24], 0x200000 | 0x83   ; 6..8 MiB -> 2..4 MiB (2 MiB page)
    mov dword [PAGE_A], 0xa1a1a1a1
    mov eax, cr4
    or eax, 0x20 | 0x80                     ; PAE, PGE
    mov cr4, eax
    mov eax, PDPT
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax

    mov eax, [0x400000]
    CHECK eax, 0xa1a1a1a1, "read through a PAE 4 KiB page"
    CHECK dword [PT], PAGE_A | 0x23, "PAE read sets A"
    CHECK dword [PD0 + 16], PT | 0x23, "PAE read sets A in the PDE"
    mov dword [0x400010], 1
    CHECK dword [PT], PAGE_A | 0x63, "PAE write sets D"
    mov eax, [0x600000 + PAGE_A - 0x200000]
    CHECK eax, 0xa1a1a1a1, "read through a PAE 2 MiB page"
    CHECK dword [PD0 + 24], 0x2000a3, "2 MiB read sets A"

    EXPECT_FAULT .rsvd
    mov eax, [0x401000]
.rsvd:
    CHECK dword [fault_vec], 14, "reserved bit in a PTE: #PF"
%ifdef QEMU                            ; qemu-system-i386 7.2 reports RSVD without P here
    CHECK dword [fault_err], 8, "error code RSVD"
%else
    CHECK dword [fault_err], 9, "error code P|RSVD"
%endif
    CHECK dword [PT + 8], PAGE_B | 3, "no A bit on the faulting walk"

%ifndef QEMU
    ; Global page: survives a CR3 reload (the TLB keeps the old translation). The SDM allows
    ; this rather than requires it (a TLB may drop entries at any time); QEMU drops it.
    mov dword [PT + 16], PAGE_A | 0x103     ; 0x402000, global
    mov eax, [0x402000]
    mov dword [PT + 16], PAGE_B | 0x103     ; change it behind the TLB's back
    mov eax, cr3
    mov cr3, eax
    mov eax, [0x402000]
    CHECK eax, 0xa1a1a1a1, "a global page survives MOV CR3"
    invlpg [0x402000]
    mov dword [PAGE_B], 0xb2b2b2b2
    mov eax, [0x402000]
    CHECK eax, 0xb2b2b2b2, "INVLPG drops the global page"
%endif

    mov eax, cr0
    and eax, 0x7fffffff
    mov cr0, eax
    mov eax, cr4
    and eax, ~0xa0
    mov cr4, eax
    ret

%include "sys_end.inc"
