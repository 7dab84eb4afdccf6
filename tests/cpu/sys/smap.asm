; cpu: qemu32,+smap
; CR4.SMAP (SDM vol. 3 4.6.1): a supervisor-mode data access to a user page is a #PF (P, W
; for writes) unless it is explicit, at CPL < 3, with EFLAGS.AC = 1; implicit supervisor
; accesses (here an LDT descriptor read) fault whatever AC says. STAC/CLAC set and clear AC
; in ring 0 and are #UD in ring 3. Fetches are SMEP's business, not SMAP's.
%include "sys.inc"

PD      equ pages                   ; 4 KiB aligned
PT      equ pages + 0x1000          ; 0x00400000..0x007fffff
PAGE_A  equ pages + 0x2000          ; user page at 0x400000
PAGE_B  equ pages + 0x3000          ; supervisor page at 0x401000
SMAP    equ 1 << 21

test_main:
    mov eax, 7
    xor ecx, ecx
    cpuid
    and ebx, 1 << 20
    CHECK ebx, 1 << 20, "CPUID.7.0:EBX.SMAP[20] is set"

    mov dword [PD], 0x000000 | 0x83         ; 0..4 MiB: 4 MiB supervisor page, identity
    mov dword [PD + 4], PT | 7              ; 4..8 MiB: user page table
    mov dword [PT], PAGE_A | 7              ; 0x400000: user
    mov dword [PT + 4], PAGE_B | 3          ; 0x401000: supervisor
    mov dword [PAGE_A], 0x12345678
    mov dword [PAGE_B], 0x9abcdef0
    ; An LDT in the user page: entry 1 (selector 0x0c) is flat data, accessed.
    mov dword [PAGE_A + 8], 0x0000ffff
    mov dword [PAGE_A + 12], 0x00cf9300
    mov dword [gdt + SEL_SPARE1], 0x0000000f        ; LDT at 0x400000, limit 15
    mov dword [gdt + SEL_SPARE1 + 4], 0x00008240
    mov eax, cr4
    or eax, 0x10                            ; PSE
    mov cr4, eax
    mov eax, PD
    mov cr3, eax
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    mov ax, SEL_SPARE1
    lldt ax

    ; Without SMAP ring 0 reads user pages, and STAC/CLAC work (the model has SMAP).
    mov eax, [0x400000]
    CHECK eax, 0x12345678, "no SMAP: ring 0 reads a user page"
    mov ax, 0x0c
    mov fs, ax                              ; implicit read of the LDT in the user page
    stac
    pushfd
    pop eax
    and eax, 1 << 18
    CHECK eax, 1 << 18, "STAC sets EFLAGS.AC"
    clac
    pushfd
    pop eax
    and eax, 1 << 18
    CHECK eax, 0, "CLAC clears EFLAGS.AC"

    mov eax, cr4
    or eax, SMAP
    mov cr4, eax
    mov eax, cr4
    and eax, SMAP
    CHECK eax, SMAP, "CR4.SMAP reads back"

    ; AC = 0: reads and writes of the user page fault; the supervisor page is fine.
    EXPECT_FAULT .rd
    mov eax, [0x400000]
.rd:
    CHECK dword [fault_vec], 14, "SMAP: ring-0 read of a user page: #PF"
    CHECK dword [fault_err], 1, "SMAP read: error code P"
    CHECK dword [fault_cr2], 0x400000, "SMAP: CR2 is the address"
    EXPECT_FAULT .wr
    mov dword [0x400004], 1
.wr:
    CHECK dword [fault_vec], 14, "SMAP: ring-0 write to a user page: #PF"
    CHECK dword [fault_err], 3, "SMAP write: error code P|W"
    mov eax, [0x401000]
    CHECK eax, 0x9abcdef0, "SMAP: ring-0 reads a supervisor page"

    ; AC = 1 (STAC): explicit accesses are allowed, with no TLB flush in between.
    stac
    mov eax, [0x400000]
    CHECK eax, 0x12345678, "SMAP with AC=1: ring-0 read of a user page"
    mov dword [0x400004], 0x55aa55aa
    CHECK dword [0x400004], 0x55aa55aa, "SMAP with AC=1: ring-0 write to a user page"
    movzx eax, word [0x400ffe]              ; word access at the end of the page (slow path)
    CHECK eax, 0, "SMAP with AC=1: word read"
    clac
    EXPECT_FAULT .rd2
    mov eax, [0x400000]
.rd2:
    CHECK dword [fault_vec], 14, "CLAC: the user page faults again"
    ; POPF sets AC as well.
    pushfd
    or dword [esp], 1 << 18
    popfd
    mov eax, [0x400000]
    CHECK eax, 0x12345678, "POPF with AC: ring-0 read of a user page"
    pushfd
    and dword [esp], ~(1 << 18)
    popfd
    EXPECT_FAULT .rd3
    push dword [0x400000]
.rd3:
    CHECK dword [fault_vec], 14, "POPF without AC: PUSH m32 from a user page faults"

    ; Implicit supervisor access (LDT descriptor read): faults with AC = 0.
    EXPECT_FAULT .ldt
    mov ax, 0x0c
    mov fs, ax
.ldt:
    CHECK dword [fault_vec], 14, "SMAP: LDT descriptor read from a user page: #PF"
    CHECK dword [fault_err], 1, "SMAP implicit read: error code P"
%ifndef QEMU                            ; qemu-system-i386 7.2 lets AC cover implicit accesses
    stac
    EXPECT_FAULT .ldt2
    mov ax, 0x0c
    mov fs, ax
.ldt2:
    clac
    CHECK dword [fault_vec], 14, "SMAP: implicit read with AC=1 still faults"
%endif

    mov eax, cr4
    and eax, ~SMAP
    mov cr4, eax
    xor eax, eax
    lldt ax
    mov eax, cr0
    and eax, 0x7fffffff
    mov cr0, eax

    ; Ring 3 (the framework's pages are supervisor pages, so without paging): STAC and CLAC
    ; are #UD.
    RING3 0x80, .ring3
    ret

.ring3:
    DATA3
    EXPECT_FAULT .stac3
    stac
.stac3:
    CHECK dword [fault_vec], 6, "STAC in ring 3: #UD"
    EXPECT_FAULT .clac3
    clac
.clac3:
    CHECK dword [fault_vec], 6, "CLAC in ring 3: #UD"
    int 0x80

%include "sys_end.inc"
