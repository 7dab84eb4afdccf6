; SMP spinlock benchmark kernel (bench/smp.py): the bootstrap CPU starts every other CPU with
; INIT-SIPI-SIPI (count from CMOS 0x5F), then all CPUs share JOBS jobs taken under one XCHG
; spinlock without PAUSE, like a small teaching kernel's big lock: each job does WORK_IN
; iterations inside the lock and WORK_OUT outside.  The total work is the same at any CPU
; count, so -smp 2 must take no longer than -smp 1.  Prints PASS when the jobs add up; the
; host times the run (exit through isa-debug-exit).
; Build: nasm -I tests/cpu/sys/ -f bin -o spinlock.bin bench/kernels/spinlock.asm
%include "sys.inc"

JOBS        equ 100000
WORK_IN     equ 200
WORK_OUT    equ 200
TRAMP       equ 0x8000
LAPIC       equ 0xfee00000
AP_STACKS   equ 0x300000

shared      equ 0x280000
ap_next     equ shared + 0x00
ap_ready    equ shared + 0x04
ap_done     equ shared + 0x08
go          equ shared + 0x0c
lock_word   equ shared + 0x40
jobs_left   equ shared + 0x80               ; guarded by lock_word
jobs_done   equ shared + 0xc0               ; guarded by lock_word

test_main:
    mov edi, shared
    mov ecx, 0x100
    xor eax, eax
    rep stosd
    mov dword [jobs_left], JOBS
    mov al, 0x5f
    out 0x70, al
    in al, 0x71
    movzx eax, al
    inc eax
    mov [ncpus], eax
    mov dword [LAPIC + 0xf0], 0x1ff
    mov esi, tramp_start
    mov edi, TRAMP
    mov ecx, tramp_end - tramp_start
    rep movsb
    mov eax, [gdt_desc]
    mov [TRAMP + (tramp_gdtd - tramp_start)], eax
    mov ax, [gdt_desc + 4]
    mov [TRAMP + (tramp_gdtd - tramp_start) + 4], ax
    cmp dword [ncpus], 1
    je .started
    mov dword [LAPIC + 0x310], 0
    mov dword [LAPIC + 0x300], 0x000c4500
    call delay
    mov dword [LAPIC + 0x300], 0x000c4600 | (TRAMP >> 12)
    call delay
    mov dword [LAPIC + 0x300], 0x000c4600 | (TRAMP >> 12)
.wait_ready:
    mov eax, [ap_ready]
    inc eax
    cmp eax, [ncpus]
    jne .wait_ready
.started:
    mov dword [go], 1
    call work
.wait_done:
    mov eax, [ap_done]
    inc eax
    cmp eax, [ncpus]
    jne .wait_done
    mov esi, msg_jobs
    cmp dword [jobs_done], JOBS
    jne fail_with
    ret

; Take jobs until none is left.
work:
.next:
    mov eax, 1
    xchg [lock_word], eax
    test eax, eax
    jnz .next                           ; spin, no PAUSE
    cmp dword [jobs_left], 0
    je .empty
    dec dword [jobs_left]
    mov ecx, WORK_IN
.in:
    imul eax, ecx, 7
    dec ecx
    jnz .in
    inc dword [jobs_done]
    mov dword [lock_word], 0
    mov ecx, WORK_OUT
.out:
    imul eax, ecx, 7
    dec ecx
    jnz .out
    jmp .next
.empty:
    mov dword [lock_word], 0
    ret

delay:
    mov ecx, 200000
.d: loop .d
    ret

ap_entry32:
    mov ax, SEL_DATA0
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov ebx, 1
    lock xadd [ap_next], ebx
    mov esp, ebx
    add esp, 2
    shl esp, 12
    add esp, AP_STACKS
    lock inc dword [ap_ready]
.wait_go:
    cmp dword [go], 0
    je .wait_go
    call work
    lock inc dword [ap_done]
.idle:
    cli
    hlt
    jmp .idle

ncpus: dd 0
msg_jobs: db "the jobs did not add up", 0

bits 16
tramp_start:
    cli
    xor ax, ax
    mov ds, ax
    o32 lgdt [TRAMP + (tramp_gdtd - tramp_start)]
    mov eax, cr0
    or al, 1
    mov cr0, eax
    jmp dword SEL_CODE0:ap_entry32
tramp_gdtd:
    dw 0
    dd 0
tramp_end:
bits 32

%include "sys_end.inc"
