; Faults and error codes: segment limits (expand-up, expand-down), read-only and execute-only
; segments, null selectors, #NP/#SS on segment loads, #DE, and the double fault that a
; contributory fault during delivery of another produces (SDM vol. 3 table 6-5).
; Assembled with -DQEMU it skips what qemu-system-i386 is known to get wrong (data segment
; limits, EXT in error codes of faults during exception delivery), to check the test itself.
%include "sys.inc"

test_main:
    ; 0x48: data, base 0x300000, limit 0xfff, read-only.  0x50: expand-down RW, limit 0xfff.
    mov dword [gdt + SEL_SPARE1], 0x0000_0fff
    mov dword [gdt + SEL_SPARE1 + 4], 0x0040_9030
    mov dword [gdt + SEL_SPARE2], 0x0000_0fff
    mov dword [gdt + SEL_SPARE2 + 4], 0x0040_9630
%ifndef QEMU                           ; qemu-system-i386 (TCG) does not check these
    mov ax, SEL_SPARE1
    mov es, ax
    mov eax, [es:0xffc]             ; last dword inside the limit
    EXPECT_FAULT .lim
    mov eax, [es:0xffd]
.lim:
    CHECK dword [fault_vec], 13, "read past the limit: #GP"
    CHECK dword [fault_err], 0, "limit #GP has error code 0"
    EXPECT_FAULT .ro
    mov byte [es:0], 1
.ro:
    CHECK dword [fault_vec], 13, "write to read-only data: #GP"
    mov ax, SEL_SPARE2
    mov es, ax
    mov byte [es:0x1000], 1         ; expand-down: 0x1000..0xffffffff (B=1) valid
    EXPECT_FAULT .ed
    mov byte [es:0xfff], 1
.ed:
    CHECK dword [fault_vec], 13, "expand-down below limit+1: #GP"
    ; Null selector in ES: the load works, the access faults.
    xor eax, eax
    mov es, ax
    EXPECT_FAULT .null
    mov eax, [es:0]
.null:
    CHECK dword [fault_vec], 13, "access through a null selector: #GP"
    CHECK dword [fault_err], 0, "null selector #GP(0)"
%endif
    ; Not present: #NP(sel) for DS, #SS(sel) for SS.
    and byte [gdt + SEL_SPARE2 + 5], 0x7f
    EXPECT_FAULT .np
    mov ax, SEL_SPARE2
    mov ds, ax
.np:
    CHECK dword [fault_vec], 11, "not-present data segment: #NP"
    CHECK dword [fault_err], SEL_SPARE2, "#NP error code is the selector"
    EXPECT_FAULT .ss
    mov ax, SEL_SPARE2
    mov ss, ax
.ss:
    CHECK dword [fault_vec], 12, "not-present stack segment: #SS"
    CHECK dword [fault_err], SEL_SPARE2, "#SS error code is the selector"
%ifndef QEMU
    ; Stack limit: SS with limit 0xfff (expand-up), an SS-relative read beyond it.
    mov dword [gdt + SEL_SPARE2], 0x0000_0fff
    mov dword [gdt + SEL_SPARE2 + 4], 0x0040_9230
    mov [scratch], esp
    mov ax, SEL_SPARE2
    mov ss, ax
    mov esp, 0xff0                  ; the handler's frame still fits below
    EXPECT_FAULT .sslim
    mov eax, [ss:0x1000]
.sslim:
    mov ax, SEL_DATA0
    mov ss, ax
    mov esp, [scratch]
    CHECK dword [fault_vec], 12, "push beyond the SS limit: #SS"
    CHECK dword [fault_err], 0, "#SS(0) for a limit violation"
%endif
    ; Execute-only code cannot be loaded into DS.
    mov dword [gdt + SEL_SPARE1 + 4], 0x00cf9800
    mov dword [gdt + SEL_SPARE1], 0x0000ffff
    EXPECT_FAULT .xo
    mov ax, SEL_SPARE1
    mov ds, ax
.xo:
    CHECK dword [fault_vec], 13, "execute-only code into DS: #GP"
    CHECK dword [fault_err], SEL_SPARE1, "#GP(selector)"
    ; #DE.
    EXPECT_FAULT .de
    xor edx, edx
    xor ecx, ecx
    mov eax, 1
    div ecx
.de:
    CHECK dword [fault_vec], 0, "divide by zero: #DE"
    ; Double fault: #GP handler not present -> #NP during delivery -> #DF(0).
    and byte [idt + 13 * 8 + 5], 0x7f
    EXPECT_FAULT .df
    mov ax, 0x0800                  ; beyond the GDT limit
    mov ds, ax
.df:
    or byte [idt + 13 * 8 + 5], 0x80
    mov ax, SEL_DATA0
    mov ds, ax
    CHECK dword [fault_vec], 8, "contributory fault while delivering #GP: #DF"
    CHECK dword [fault_err], 0, "#DF error code 0"
    ; A benign exception (#UD) whose handler is missing just turns into #NP(EXT), no #DF.
    and byte [idt + 6 * 8 + 5], 0x7f
    EXPECT_FAULT .ud
    ud2
.ud:
    or byte [idt + 6 * 8 + 5], 0x80
    CHECK dword [fault_vec], 11, "#UD with a not-present gate: #NP"
%ifdef QEMU                            ; QEMU sets EXT only for external interrupts
    CHECK dword [fault_err], 6 * 8 + 2, "#NP(IDT entry | IDT)"
%else
    CHECK dword [fault_err], 6 * 8 + 2 + 1, "#NP(IDT entry | IDT | EXT)"
%endif
    ret

%include "sys_end.inc"
