; Start-up probe: the first instruction prints one byte on COM1 (the driver timestamps it as
; "first guest instruction"), the next ones end the run through isa-debug-exit.
; Exit status of both emulators: (0 << 1) | 1 = 1.
%include "multiboot.inc"

start:
        mov dx, COM1
        mov al, '!'
        out dx, al                  ; THR: the 16550 sends it even before any set-up
        mov dx, DEBUG_EXIT
        xor eax, eax
        out dx, eax                 ; exits the emulator
.hang:  cli
        hlt
        jmp .hang

image_end:
bss_end:
