; MIPS probe: ITERATIONS passes over integer work, then exit through isa-debug-exit.
; Every pass executes exactly INSNS_PER_ITER instructions whichever way the branch goes
; (keep the count below in step with the code; bench/run.sh reads it from this file).
;   ALU (mov/add/xor/shl/and/lea/sub/inc/dec/cmp), a store, two loads, a conditional branch
;   taken on every other pass, a call and a ret, and the loop branch.
; INSNS_PER_ITER: 22
; Exit status: (0 << 1) | 1 = 1 on success, (1 << 1) | 1 = 3 if the checksum looks wrong.
%include "multiboot.inc"

%ifndef ITERATIONS
%define ITERATIONS 20000000
%endif

start:
        mov esp, stack_top
        mov ecx, ITERATIONS
        xor ebx, ebx
        xor edx, edx
        mov edi, buffer
        mov dx, COM1
        mov al, '!'
        out dx, al                  ; marks the start of the loop for the driver
        xor edx, edx
pass:                               ; ---- 22 instructions per pass ----
        mov eax, ecx                ; 1
        add eax, ebx                ; 2
        xor edx, eax                ; 3
        shl eax, 3                  ; 4
        mov [edi], eax              ; 5  store
        mov esi, [edi]              ; 6  load
        sub esi, edx                ; 7
        and esi, 0x3c               ; 8
        add [edi+esi+4], edx        ; 9  read-modify-write
        mov eax, [edi+esi+4]        ; 10 load
        test ecx, 1                 ; 11
        jz .even                    ; 12 taken on even passes
        add ebx, eax                ; 13 (odd)
        jmp .join                   ; 14 (odd)
.even:  sub ebx, eax                ; 13 (even)
        inc ebx                     ; 14 (even)
.join:  call mix                    ; 15
                                    ; 16, 17: lea and ret in mix
        xor ebx, edx                ; 18
        cmp ebx, edx                ; 19
        lea edx, [edx+ecx]          ; 20
        dec ecx                     ; 21
        jnz pass                    ; 22
        ; A cheap sanity check that the loop ran: the buffer was written.
        mov eax, [edi]
        xor ebx, ebx
        test eax, eax
        jnz .ok
        inc ebx
.ok:    mov dx, DEBUG_EXIT
        mov eax, ebx
        out dx, eax
.hang:  cli
        hlt
        jmp .hang

mix:    lea eax, [eax+ebx*2]
        ret

image_end:
        absolute image_end          ; zero-filled by the loader (bss), not in the file
        alignb 4096                 ; data and stack on their own pages: a store to a page that
buffer: resb 4096                   ; holds code would measure self-modifying-code handling
        resb 4096
stack_top:
bss_end:
