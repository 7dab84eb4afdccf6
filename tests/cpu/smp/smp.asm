; SMP bare-metal test: the bootstrap CPU starts every other CPU with INIT-SIPI-SIPI (the
; count comes from CMOS byte 0x5F, as SeaBIOS reads it); each CPU records its initial APIC ID
; (CPUID leaf 1) and its local APIC's ID register, then all of them add to shared counters
; LOOPS times with LOCK XADD, LOCK INC, a LOCK CMPXCHG retry loop, LOCK CMPXCHG8B and XCHG
;
; spinlock-protected plain increments, LOCK ADD/SUB (which the JIT must not inline as plain
; host arithmetic).  Then LOOPS_SLOW times, operands a LOCKed instruction cannot update with
; one host atomic (pcvm stops every other vCPU for them): a dword and a qword split across a
; page boundary (LOCK XADD, LOCK CMPXCHG8B), a dword in VGA memory (MMIO, chain-4: LOCK INC)
; and a dword on the page of the code the CPUs run (LOCK ADD).  The totals must be exact.
; Meanwhile the bootstrap
; CPU passes messages to the first AP with plain stores (data, then flag) and the AP checks
; that it never sees a flag newer than the data (x86 TSO).  Prints "apic N" per CPU for
; tests/cpu/smp/run.sh to compare with qemu-system-i386, then PASS or FAIL.
%include "sys.inc"
%include "smp.inc"

LOOPS       equ 200000
LOOPS_SLOW  equ 10000
MSGS        equ 20000

; Shared variables after smp.inc's (they live at shared, cleared below)
cnt_xadd    equ shared + 0x40           ; each on its own cache line
cnt_inc     equ shared + 0x80
cnt_cas     equ shared + 0xc0
cnt_lock    equ shared + 0x100          ; guarded by spin
spin        equ shared + 0x140
cnt8b       equ shared + 0x180          ; 64-bit
mp_data     equ shared + 0x1c0
mp_flag     equ shared + 0x200
mp_bad      equ shared + 0x240
apic_bad    equ shared + 0x280
cnt_add     equ shared + 0x2c0
cnt_sub     equ shared + 0x300
apic_ids    equ shared + 0x400          ; one dword per slot (0 = BSP)
cnt_split   equ 0x282ffe                ; straddles the page boundary at 0x283000
cnt8b_split equ 0x283ffc                ; straddles 0x284000
cnt_mmio    equ 0xa0000                 ; VGA window, chain-4

test_main:
    mov edi, shared
    mov ecx, 0x200
    xor eax, eax
    rep stosd
    mov dword [cnt_split], 0
    mov dword [cnt8b_split], 0
    mov dword [cnt8b_split + 4], 0
    ; VGA memory as plain bytes: chain-4 (SR4 bit 3), all planes written (SR2), graphics
    ; mode with the 64 KiB window at 0xA0000 (GR6).
    mov dx, 0x3c4
    mov ax, 0x0f02
    out dx, ax
    mov ax, 0x0804
    out dx, ax
    mov dx, 0x3ce
    mov ax, 0x0506
    out dx, ax
    mov dword [cnt_mmio], 0
    mov esi, msg_vga
    cmp dword [cnt_mmio], 0
    jne fail_with
    mov dword [cnt_mmio], 0x12345678
    cmp dword [cnt_mmio], 0x12345678
    jne fail_with
    mov dword [cnt_mmio], 0
    SMP_INIT
    call record_apic                    ; slot 0
    cmp dword [ncpus], 1
    je .started
    SMP_WAKE_APS
    ; Wait for every AP.
    mov ecx, 0x7fffffff
.wait_ready:
    mov eax, [ap_ready]
    inc eax
    cmp eax, [ncpus]
    je .started
    pause
    loop .wait_ready
    mov esi, msg_noap
    jmp fail_with
.started:
    mov dword [go], 1
    call work
    ; Message passing: BSP writes, the first AP reads.
    cmp dword [ncpus], 1
    je .no_msgs
    mov ecx, 1
.msg:
    mov [mp_data], ecx
    mov [mp_flag], ecx
    inc ecx
    cmp ecx, MSGS
    jbe .msg
.no_msgs:
    ; Wait for the APs to finish.
    mov ecx, 0x7fffffff
.wait_done:
    mov eax, [ap_done]
    inc eax
    cmp eax, [ncpus]
    je .check
    pause
    loop .wait_done
    mov esi, msg_nodone
    jmp fail_with
.check:
    ; Print the APIC IDs.
    xor ebx, ebx
.print:
    mov esi, msg_apic
    call puts
    mov eax, [apic_ids + ebx * 4]
    call puthex
    mov esi, msg_nl
    call puts
    inc ebx
    cmp ebx, [ncpus]
    jb .print
    mov esi, msg_apicbad
    cmp dword [apic_bad], 0
    jne fail_with
    mov esi, msg_tso
    cmp dword [mp_bad], 0
    jne fail_with
    mov eax, [ncpus]
    imul eax, LOOPS
    mov esi, msg_xadd
    cmp [cnt_xadd], eax
    jne fail_with
    mov esi, msg_inc
    cmp [cnt_inc], eax
    jne fail_with
    mov esi, msg_cas
    cmp [cnt_cas], eax
    jne fail_with
    mov esi, msg_spin
    cmp [cnt_lock], eax
    jne fail_with
    mov esi, msg_8b
    cmp [cnt8b], eax
    jne fail_with
    cmp dword [cnt8b + 4], 0
    jne fail_with
    mov esi, msg_add
    cmp [cnt_add], eax
    jne fail_with
    neg eax
    mov esi, msg_sub
    cmp [cnt_sub], eax
    jne fail_with
    mov eax, [ncpus]
    imul eax, LOOPS_SLOW
    mov esi, msg_split
    cmp [cnt_split], eax
    jne fail_with
    mov esi, msg_8bsplit
    cmp [cnt8b_split], eax
    jne fail_with
    cmp dword [cnt8b_split + 4], 0
    jne fail_with
    mov esi, msg_mmio
    cmp [cnt_mmio], eax
    jne fail_with
    mov esi, msg_code
    cmp [cnt_code], eax
    jne fail_with
    ret

; Every CPU: the counters.
work:
    mov ecx, LOOPS
.loop:
    mov eax, 1
    lock xadd [cnt_xadd], eax
    lock inc dword [cnt_inc]
    lock add dword [cnt_add], 1
    mov eax, 1
    lock sub [cnt_sub], eax
    mov eax, [cnt_cas]
.cas:
    lea edx, [eax + 1]
    lock cmpxchg [cnt_cas], edx
    jnz .cas
    ; spinlock with XCHG (no PAUSE), a plain increment inside
.spin:
    mov eax, 1
    xchg [spin], eax
    test eax, eax
    jnz .spin
    inc dword [cnt_lock]
    mov dword [spin], 0
    ; 64-bit counter with CMPXCHG8B
    push ecx
    push ebx
    LOCK_INC64 cnt8b
    pop ebx
    pop ecx
    dec ecx
    jnz .loop
    ; The operands no single host atomic covers.
    mov ecx, LOOPS_SLOW
.slow:
    mov eax, 1
    lock xadd [cnt_split], eax
    lock inc dword [cnt_mmio]
    lock add dword [cnt_code], 1
    push ecx
    push ebx
    LOCK_INC64 cnt8b_split
    pop ebx
    pop ecx
    dec ecx
    jnz .slow
    ret
    align 4, db 0
cnt_code: dd 0                          ; on the page of the loop above: written through the slow path

; Slot in edi... record this CPU's APIC ID in apic_ids[slot]; slot in ebx.
record_apic:
    push ebx
    mov eax, 1
    cpuid
    shr ebx, 24
    mov eax, [LAPIC + 0x20]
    shr eax, 24
    cmp eax, ebx
    je .same
    lock inc dword [apic_bad]
.same:
    mov eax, ebx
    pop ebx
    mov [apic_ids + ebx * 4], eax
    ret

; The APs arrive here in protected mode (flat segments from the framework's GDT).
ap_entry32:
    AP_ENTER
    inc ebx                             ; slot: 1.. (0 is the BSP)
    call record_apic
    lock inc dword [ap_ready]
.wait_go:
    cmp dword [go], 0
    je .wait_go
    push ebx
    call work
    pop ebx
    cmp ebx, 1
    jne .done
    ; The first AP reads the messages: flag first, then data; data must never be older.
.read:
    mov eax, [mp_flag]
    mov edx, [mp_data]
    cmp edx, eax
    jae .ok
    lock inc dword [mp_bad]
.ok:
    cmp eax, MSGS
    jb .read
.done:
    lock inc dword [ap_done]
.idle:
    cli
    hlt
    jmp .idle

msg_noap: db "the APs did not start", 0
msg_nodone: db "the APs did not finish", 0
msg_apic: db "apic ", 0
msg_apicbad: db "CPUID's initial APIC ID differs from the local APIC's ID register", 0
msg_tso: db "a message's flag was seen before its data (store or load order broken)", 0
msg_xadd: db "LOCK XADD lost updates", 0
msg_inc: db "LOCK INC lost updates", 0
msg_cas: db "LOCK CMPXCHG lost updates", 0
msg_spin: db "the XCHG spinlock let two CPUs in", 0
msg_8b: db "LOCK CMPXCHG8B lost updates", 0
msg_add: db "LOCK ADD lost updates", 0
msg_sub: db "LOCK SUB lost updates", 0
msg_split: db "LOCK XADD split across pages lost updates", 0
msg_8bsplit: db "LOCK CMPXCHG8B split across pages lost updates", 0
msg_mmio: db "LOCK INC on VGA memory (MMIO) lost updates", 0
msg_code: db "LOCK ADD on a code page lost updates", 0
msg_vga: db "VGA memory in chain-4 mode does not read back what was written", 0

SMP_CODE

%include "sys_end.inc"
