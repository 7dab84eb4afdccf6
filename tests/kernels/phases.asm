; Boot-phase test kernel for pcvm-profile (Multiboot a.out kludge, nasm -f bin).
; Prints three phase markers on COM1 and port 0xE9 with a fixed amount of work between them,
; then idles (cli; hlt) like a system waiting at its prompt.  The Multiboot command line
; changes the ending: "hang" stops after the first marker (a boot that never completes),
; "hang-smp" does so only with more than one CPU, "crash" triple-faults after the first
; marker (with -no-reboot pcvm exits: a boot that dies).
bits 32
org 0x100000
MB_MAGIC   equ 0x1badb002
MB_FLAGS   equ 0x00010003
COM1       equ 0x3f8
DEBUGCON   equ 0xe9
WORK       equ 3000000             ; loop iterations between markers

image_start:
    jmp short entry
    align 4, db 0
header:
    dd MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)
    dd header, image_start, load_end, bss_limit, entry
entry:
    mov esp, stack_top
    xor esi, esi                    ; ESI = command line (0: none)
    test dword [ebx], 4
    jz .no_cmdline
    mov esi, [ebx + 16]
.no_cmdline:
    mov [cmdline], esi
    mov esi, msg_start
    call puts
    call work
    mov eax, 'hang'
    call cmdline_has
    jz .no_hang
    mov eax, '-smp'                 ; "hang-smp": hang only with more than one CPU
    call cmdline_has
    jz idle
    mov al, 0x5f                    ; CMOS 0x5f: CPU count - 1 (pcvm sets it, as for SeaBIOS)
    out 0x70, al
    in al, 0x71
    test al, al
    jnz idle
.no_hang:
    mov eax, 'cras'
    call cmdline_has
    jnz crash
    mov esi, msg_init
    call puts
    call work
    call work
    mov esi, msg_shell
    call puts
idle:
    cli
    hlt
    jmp idle

crash:
    lidt [null_idt]                 ; no IDT: the next exception escalates to a triple fault
    int3

; work: a fixed number of instructions.
work:
    mov ecx, WORK
.loop:
    dec ecx
    jnz .loop
    ret

; cmdline_has: ZF clear when the 4 bytes in EAX occur in the command line.
cmdline_has:
    mov edi, [cmdline]
    test edi, edi
    jz .no
.next:
    cmp byte [edi], 0
    je .no
    cmp [edi], eax
    je .yes
    inc edi
    jmp .next
.yes:
    or edi, edi                     ; non-zero address: ZF clear
    ret
.no:
    cmp eax, eax                    ; ZF set
    ret

puts:
    lodsb
    test al, al
    jz .done
    mov dx, COM1 + 5
    mov ah, al
.wait:
    in al, dx                       ; wait for THR empty, as a real driver does
    test al, 0x20
    jz .wait
    mov al, ah
    mov dx, COM1
    out dx, al
    out DEBUGCON, al
    jmp puts
.done:
    ret

null_idt:  dw 0
           dd 0
msg_start: db "phases: kernel start", 10, 0
msg_init:  db "phases: init", 10, 0
msg_shell: db "phases: shell ready", 10, "# ", 0
    align 4, db 0
load_end:

absolute load_end
cmdline:    resd 1
            resb 4096
stack_top:
bss_limit:
