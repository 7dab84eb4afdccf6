; A 512-byte MBR boot sector for the SeaBIOS disk-boot test (tests/guests/seabios.py).
; The BIOS loads it at 0:7C00 and jumps there with DL = the boot drive.  It prints a line
; through int 10h AH=0Eh (teletype; SeaBIOS mirrors the screen to the serial port under
; -nographic), reports DL, then writes EXIT_VALUE to isa-debug-exit at port 0xF4 so the
; emulator exits with status (EXIT_VALUE << 1) | 1.
        bits 16
        org 0x7c00
EXIT_VALUE equ 0x2a

start:
        cli
        xor ax, ax
        mov ds, ax
        mov es, ax
        mov ss, ax
        mov sp, 0x7c00
        sti
        mov [boot_drive], dl
        mov si, msg
        call puts
        mov al, [boot_drive]            ; "drive=80" for the first hard disk
        call puthex8
        mov si, crlf
        call puts
        ; SeaBIOS's serial console buffers the screen lazily and flushes it from its timer:
        ; wait 0.2 s (int 15h AH=86h, CX:DX microseconds) so the whole line reaches the port.
        mov ah, 0x86
        mov cx, 0x0003
        mov dx, 0x0d40
        int 0x15
        mov al, EXIT_VALUE
        out 0xf4, al
        ; Without isa-debug-exit the write is ignored: say so and halt for the test to see.
        mov si, nodev
        call puts
.halt:  hlt
        jmp .halt

puts:                                   ; DS:SI -> NUL-terminated string
        lodsb
        test al, al
        jz .done
        mov ah, 0x0e
        mov bx, 0x0007
        int 0x10
        jmp puts
.done:  ret

puthex8:                                ; AL as two hex digits
        push ax
        shr al, 4
        call .nib
        pop ax
        and al, 0x0f
.nib:   add al, '0'
        cmp al, '9'
        jbe .out
        add al, 'a' - '0' - 10
.out:   mov ah, 0x0e
        mov bx, 0x0007
        int 0x10
        ret

msg:    db 'pcvm-mbr: hello from the boot sector, drive=', 0
crlf:   db 13, 10, 0
nodev:  db 'pcvm-mbr: isa-debug-exit did not stop the machine', 13, 10, 0
boot_drive: db 0

        times 510 - ($ - $$) db 0
        dw 0xaa55
