; SMP spinlock benchmark kernel (bench/smp.py): the bootstrap CPU starts every other CPU with
; INIT-SIPI-SIPI (count from CMOS 0x5F), then all CPUs share JOBS jobs taken under one XCHG
; spinlock without PAUSE, like a small teaching kernel's big lock: each job does WORK_IN
; iterations inside the lock and WORK_OUT outside.  The total work is the same at any CPU
; count, so -smp 2 must take no longer than -smp 1.  Prints PASS when the jobs add up; the
; host times the run (exit through isa-debug-exit).
; Build: nasm -I tests/cpu/sys/ -f bin -o spinlock.bin bench/kernels/spinlock.asm
%include "sys.inc"
%include "smp.inc"

JOBS        equ 100000
WORK_IN     equ 200
WORK_OUT    equ 200

lock_word   equ shared + 0x40
jobs_left   equ shared + 0x80               ; guarded by lock_word
jobs_done   equ shared + 0xc0               ; guarded by lock_word

test_main:
    mov edi, shared
    mov ecx, 0x100
    xor eax, eax
    rep stosd
    mov dword [jobs_left], JOBS
    SMP_INIT
    cmp dword [ncpus], 1
    je .started
    SMP_WAKE_APS
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

ap_entry32:
    AP_ENTER
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

msg_jobs: db "the jobs did not add up", 0

SMP_CODE

%include "sys_end.inc"
