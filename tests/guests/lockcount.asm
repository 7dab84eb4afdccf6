; lockcount: a 32-bit Linux program (static, no libc) for linux_smp.py.  One thread per CPU
; in its affinity mask (clone with CLONE_VM|CLONE_THREAD, each thread pinned to its CPU with
; sched_setaffinity) adds 1 to three shared counters LOOPS times: with LOCK XADD, with LOCK INC
; and with a LOCK CMPXCHG8B retry loop on a 64-bit counter.  When every thread is done it
; prints "lockcount cpus=N xadd=X inc=I cmpxchg8b=H:L expect=E" and exits 0; no update may be
; lost, so X, I and L must equal E = N * LOOPS (H = 0).
; Build: nasm -I tests/cpu/sys/ -f elf32 lockcount.asm && ld -m elf_i386 -N -s -o lockcount lockcount.o
bits 32
global _start
%include "lock64.inc"                   ; LOCK_INC64 (tests/cpu/sys/)

LOOPS       equ 50000
STACK       equ 8192
MAX_CPUS    equ 32
SYS_exit    equ 1
SYS_write   equ 4
SYS_clone   equ 120
SYS_sched_yield equ 158
SYS_sched_setaffinity equ 241
SYS_sched_getaffinity equ 242
SYS_exit_group equ 252
; CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM
CLONE_FLAGS equ 0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000

section .bss
alignb 64
cnt_xadd:   resd 16                     ; each counter on its own cache line
cnt_inc:    resd 16
cnt8b:      resd 16                     ; 64-bit
done:       resd 16                     ; threads finished
go:         resd 16                     ; set once every thread exists
mask:       resd MAX_CPUS / 32
ncpus:      resd 1
digits:     resb 16
stacks:     resb STACK * (MAX_CPUS + 1)

section .text
_start:
    mov eax, SYS_sched_getaffinity
    xor ebx, ebx
    mov ecx, MAX_CPUS / 8
    mov edx, mask
    int 0x80
    test eax, eax
    js fail
    ; A thread for every CPU in the mask but the first (this thread's).  The child starts on
    ; its own stack (ecx) with the parent's registers: esi is its CPU number.
    xor esi, esi                        ; CPU number
    xor edi, edi                        ; CPUs seen
.each:
    bt [mask], esi
    jnc .next
    inc edi
    cmp edi, 1
    je .next
    mov ecx, edi
    imul ecx, STACK
    add ecx, stacks
    mov eax, SYS_clone
    mov ebx, CLONE_FLAGS
    int 0x80
    test eax, eax
    jz thread_main
    js fail
.next:
    inc esi
    cmp esi, MAX_CPUS
    jb .each
    mov [ncpus], edi
    bsf esi, [mask]
    mov dword [go], 1
    call work
.wait:
    mov eax, [done]
    cmp eax, [ncpus]
    je report
    mov eax, SYS_sched_yield
    int 0x80
    jmp .wait

thread_main:
    call work
    mov eax, SYS_exit                   ; this thread only
    xor ebx, ebx
    int 0x80

; Pin to CPU esi, wait for go, add to the counters, count as done.
work:
    sub esp, MAX_CPUS / 8
    mov dword [esp], 0
    bts [esp], esi
    mov eax, SYS_sched_setaffinity
    xor ebx, ebx
    mov ecx, MAX_CPUS / 8
    mov edx, esp
    int 0x80
    add esp, MAX_CPUS / 8
    test eax, eax
    jnz fail
.wait_go:
    cmp dword [go], 0
    jne .run
    mov eax, SYS_sched_yield
    int 0x80
    jmp .wait_go
.run:
    mov ebp, LOOPS
.loop:
    mov eax, 1
    lock xadd [cnt_xadd], eax
    lock inc dword [cnt_inc]
    LOCK_INC64 cnt8b
    dec ebp
    jnz .loop
    lock inc dword [done]
    ret

report:
    mov esi, s_cpus
    call puts
    mov eax, [ncpus]
    call putu
    mov esi, s_xadd
    call puts
    mov eax, [cnt_xadd]
    call putu
    mov esi, s_inc
    call puts
    mov eax, [cnt_inc]
    call putu
    mov esi, s_8b
    call puts
    mov eax, [cnt8b + 4]
    call putu
    mov esi, s_colon
    call puts
    mov eax, [cnt8b]
    call putu
    mov esi, s_expect
    call puts
    mov eax, [ncpus]
    imul eax, LOOPS
    call putu
    mov esi, s_nl
    call puts
    mov eax, SYS_exit_group
    xor ebx, ebx
    int 0x80

fail:
    mov esi, s_fail
    call puts
    mov eax, SYS_exit_group
    mov ebx, 1
    int 0x80

; Write the zero-terminated string at esi to stdout.
puts:
    mov edx, esi
.len:
    cmp byte [edx], 0
    je .write
    inc edx
    jmp .len
.write:
    sub edx, esi
    mov eax, SYS_write
    mov ebx, 1
    mov ecx, esi
    int 0x80
    ret

; Write eax in decimal.
putu:
    mov edi, digits + 15
    mov byte [edi], 0
    mov ecx, 10
.digit:
    xor edx, edx
    div ecx
    add dl, '0'
    dec edi
    mov [edi], dl
    test eax, eax
    jnz .digit
    mov esi, edi
    jmp puts

section .data
s_cpus:   db "lockcount cpus=", 0
s_xadd:   db " xadd=", 0
s_inc:    db " inc=", 0
s_8b:     db " cmpxchg8b=", 0
s_colon:  db ":", 0
s_expect: db " expect=", 0
s_nl:     db 10, 0
s_fail:   db "lockcount: a system call failed", 10, 0

section .note.GNU-stack noalloc noexec nowrite progbits
