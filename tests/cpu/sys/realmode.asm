; Leaving and re-entering protected mode: 16-bit protected-mode code, clearing CR0.PE, real
; mode with a cached 4 GiB DS limit ("unreal" mode: real-mode loads change only the base),
; the 64 KiB limit of a real-mode segment (#GP through the IVT), INT n and IRET through the
; IVT, and back to 32-bit protected mode (SDM vol. 3 9.9, 20.1).
%include "sys.inc"

RM_BASE   equ 0x7000                ; the 16-bit blob runs at 0700:0000
RM_RESULT equ 0x7f00                ; results written by real-mode code

test_main:
    mov esi, rm_blob
    mov edi, RM_BASE
    mov ecx, rm_blob_end - rm_blob
    rep movsb
    mov dword [gdt + SEL_SPARE1], 0x0000ffff        ; 16-bit code, base 0, 64 KiB
    mov dword [gdt + SEL_SPARE1 + 4], 0x00009a00
    mov dword [gdt + SEL_SPARE2], 0x0000ffff        ; 16-bit data, base 0, 64 KiB
    mov dword [gdt + SEL_SPARE2 + 4], 0x00009200
    mov dword [0x300000], 0x600dbeef
    mov dword [RM_RESULT], 0
    mov dword [RM_RESULT + 0x10], 0
    mov dword [RM_RESULT + 0x20], 0
    mov [saved_esp], esp
    sidt [scratch]
    jmp SEL_SPARE1:RM_BASE + (rm_entry16 - rm_blob)
pm_back:
    mov ax, SEL_DATA0
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov fs, ax
    mov gs, ax
    mov esp, [saved_esp]
    lidt [scratch]
    CHECK dword [RM_RESULT], 0x600dbeef, "unreal mode: DS kept its 4 GiB limit in real mode"
%ifndef QEMU                           ; QEMU does not check real-mode segment limits
    CHECK byte [RM_RESULT + 0x10], 1, "real mode: ES beyond 64 KiB raises #GP through the IVT"
%endif
    CHECK byte [RM_RESULT + 0x11], 1, "real mode: execution resumed after the #GP handler"
    CHECK byte [RM_RESULT + 0x20], 1, "real mode: INT 0x60 ran its IVT handler"
    CHECK word [RM_RESULT + 0x22], 0x0700, "real mode: INT pushed CS"
    CHECK byte [RM_RESULT + 0x24], 1, "real mode: IRET restored the carry flag"
    ret

rm_blob:
bits 16
rm_entry16:                         ; 16-bit protected mode, CS base 0
    mov ax, SEL_SPARE2
    mov es, ax
    mov ss, ax
    mov sp, 0x6ff0
    lidt [RM_BASE + (rm_ivt_desc - rm_blob)]
    mov eax, cr0
    and al, 0xfe
    mov cr0, eax
    jmp 0x0700:(rm_real - rm_blob)
rm_real:
    xor ax, ax
    mov ss, ax
    mov ds, ax                      ; base 0, limit stays 4 GiB
    mov es, ax                      ; base 0, limit stays 64 KiB
    mov eax, [dword 0x300000]
    mov [RM_RESULT], eax
    mov word [13 * 4], rm_gp - rm_blob
    mov word [13 * 4 + 2], 0x0700
    mov eax, [es:dword 0x10000]     ; beyond ES's 64 KiB limit
rm_after_gp:
    mov byte [RM_RESULT + 0x11], 1
    mov word [0x60 * 4], rm_int60 - rm_blob
    mov word [0x60 * 4 + 2], 0x0700
    stc
    int 0x60
    setc byte [RM_RESULT + 0x24]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp dword SEL_CODE0:pm_back

rm_gp:                              ; no error code in real mode
    mov byte [RM_RESULT + 0x10], 1
    push bp
    mov bp, sp
    mov word [bp + 2], rm_after_gp - rm_blob
    pop bp
    iret

rm_int60:
    mov byte [RM_RESULT + 0x20], 1
    push bp
    mov bp, sp
    mov ax, [bp + 4]
    mov [RM_RESULT + 0x22], ax
    pop bp
    iret

rm_ivt_desc:
    dw 0x3ff
    dd 0
bits 32
rm_blob_end:

%include "sys_end.inc"
