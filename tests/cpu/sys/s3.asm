; mini: skip
; S3 suspend to RAM and wake-up by the RTC alarm, as an OS does it (ACPI 6.x 7.4, 16.1.3;
; QEMU's PIIX4 and DSDT: \_S3's SLP_TYP is 1): find the FADT through the RSDP and RSDT, point
; the FACS waking vector at a real-mode stub below 1 MiB, enable the RTC wake event
; (PM1_EN.RTC_EN) and the RTC alarm interrupt (AIE) a few seconds ahead, write SLP_TYP | SLP_EN
; to PM1a_CNT. The CPU must stop there; the alarm wakes the machine, which resumes at the
; waking vector in real mode (through the firmware, or directly without one) with RAM intact
; and PM1_STS showing WAK_STS and RTC_STS. The stub returns to 32-bit protected mode.
%include "sys.inc"

STUB        equ 0x7000              ; the waking vector (real mode 0700:0000)
pm1_evt     equ scratch + 32        ; ports found in the FADT, kept across the suspend
pm1_cnt     equ scratch + 36
marker      equ scratch + 40
MARK        equ 0x5eed5eed
SLP_EN      equ 1 << 13
RTC_EN      equ 1 << 10
WAK_STS     equ 1 << 15

%macro CMOS_READ 1                  ; al = CMOS[%1]
    mov al, %1
    out 0x70, al
    in al, 0x71
%endmacro
%macro CMOS_WRITE 2                 ; CMOS[%1] = %2 (a register other than al, or imm)
    mov al, %1
    out 0x70, al
    mov al, %2
    out 0x71, al
%endmacro

test_main:
    ; RSDP: "RSD PTR " on a 16-byte boundary in 0xE0000-0xFFFFF.
    mov esi, 0xe0000
.find_rsdp:
    cmp dword [esi], 'RSD '
    jne .next_rsdp
    cmp dword [esi + 4], 'PTR '
    je .rsdp
.next_rsdp:
    add esi, 16
    cmp esi, 0x100000
    jb .find_rsdp
    mov esi, msg_no_rsdp
    jmp fail_with
.rsdp:
    mov ebx, [esi + 16]             ; RSDT
    CHECK dword [ebx], 'RSDT', "RSDT signature"
    mov ecx, [ebx + 4]
    sub ecx, 36
    shr ecx, 2
    lea esi, [ebx + 36]
.find_fadt:
    mov edx, [esi]
    cmp dword [edx], 'FACP'
    je .fadt
    add esi, 4
    loop .find_fadt
    mov esi, msg_no_fadt
    jmp fail_with
.fadt:
    mov eax, [edx + 56]             ; PM1a_EVT_BLK
    mov [pm1_evt], eax
    mov eax, [edx + 64]             ; PM1a_CNT_BLK
    mov [pm1_cnt], eax
    mov ebx, [edx + 36]             ; FIRMWARE_CTRL: the FACS
    CHECK dword [ebx], 'FACS', "FACS signature"
    mov dword [ebx + 12], STUB      ; FIRMWARE_WAKING_VECTOR

    ; The DSDT offers \_S3 (the state this test enters with SLP_TYP 1).
    mov esi, [edx + 40]
    mov ecx, [esi + 4]
.find_s3:
    cmp dword [esi], '_S3_'
    je .have_s3
    inc esi
    loop .find_s3
    mov esi, msg_no_s3
    jmp fail_with
.have_s3:

    ; The real-mode stub at the waking vector.
    mov esi, stub16
    mov edi, STUB
    mov ecx, stub16_end - stub16
    rep movsb
    mov dword [marker], MARK

    mov al, 0xff                    ; no PIC interrupts
    out 0x21, al
    out 0xa1, al

    ; RTC alarm 4 seconds ahead (BCD, 24 h), AIE on, hours and minutes "don't care".
.uip:
    CMOS_READ 0x0a
    test al, 0x80
    jnz .uip
    CMOS_READ 0x00
    movzx eax, al
    mov ebx, eax
    shr ebx, 4
    and eax, 15
    imul ebx, ebx, 10
    add eax, ebx                    ; seconds, binary
    add eax, 4
    xor edx, edx
    mov ecx, 60
    div ecx                         ; edx = (s + 4) mod 60
    mov eax, edx
    mov cl, 10
    div cl                          ; al = tens, ah = units
    shl al, 4
    or al, ah
    mov bl, al
    CMOS_WRITE 0x01, bl             ; seconds alarm
    CMOS_WRITE 0x03, 0xff           ; minutes alarm: any
    CMOS_WRITE 0x05, 0xff           ; hours alarm: any
    CMOS_READ 0x0b
    or al, 0x20                     ; AIE
    mov bl, al
    CMOS_WRITE 0x0b, bl
    CMOS_READ 0x0c                  ; clear pending flags

    ; PM1: clear the status bits, enable the RTC wake event, then SLP_TYP 1 | SLP_EN.
    mov edx, [pm1_evt]
    mov ax, 0xffff
    out dx, ax
    add edx, 2
    mov ax, RTC_EN
    out dx, ax
    mov edx, [pm1_cnt]
    in ax, dx
    and ax, ~(7 << 10)
    or ax, (1 << 10) | SLP_EN
    out dx, ax
    ; The CPU stops here until the wake-up, which resumes at STUB instead.
    mov ecx, 400000000
.still:
    dec ecx
    jnz .still
    mov esi, msg_running
    jmp fail_with

    bits 16
stub16:                             ; CS = 0x0700, IP = 0
    cli
    o32 lgdt [cs:stub_gdtr - stub16]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp dword SEL_CODE0:resume32
stub_gdtr:
    dw gdt_end - gdt - 1
    dd gdt
stub16_end:
    bits 32

resume32:
    mov ax, SEL_DATA0
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov fs, ax
    mov gs, ax
    mov esp, stack_top
    lidt [idt_desc]
    CHECK dword [marker], MARK, "RAM kept across S3"
    mov edx, [pm1_evt]
    in ax, dx
    movzx eax, ax
    and eax, WAK_STS | RTC_EN
    CHECK eax, WAK_STS | RTC_EN, "PM1_STS after the RTC wake-up: WAK_STS and RTC_STS"
    CMOS_READ 0x0f
    CHECK al, 0, "CMOS shutdown status cleared after the resume"
    jmp pass

msg_no_rsdp: db "no RSDP in 0xE0000-0xFFFFF", 0
msg_no_fadt: db "no FADT in the RSDT", 0
msg_no_s3: db "no _S3_ in the DSDT", 0
msg_running: db "still running after SLP_TYP 1 | SLP_EN", 0

%include "sys_end.inc"
