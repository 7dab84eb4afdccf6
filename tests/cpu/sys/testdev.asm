; mini: skip
; args: -device pc-testdev -device pci-testdev
; QEMU's test devices as kvm-unit-tests drive them (QEMU's hw/misc/pc-testdev.c behaviour and
; docs/specs/pci-testdev.rst). pc-testdev: the scratch register at ports 0xE0-0xE3 (byte lanes
; by port, any size) and 0xE8-0xEB (the same register), the flush-page port, the 64 KiB
; scratch memory at 0xFF000000, interrupt lines by ports 0x2000+n (PIC IRR for ISA lines, an
; the I/O APIC delivering a vector for one). pci-testdev: IDs, class, BAR types and sizes,
; and the header protocol on both BARs (select, width, offset, data, names, write counting
; of the no-eventfd test, none for the eventfd tests, wider writes split into bytes).
%include "sys.inc"

PCI_ADDR    equ 0xcf8
PCI_DATA    equ 0xcfc
IOAPIC      equ 0xfec00000
LAPIC       equ 0xfee00000
TEST_VEC    equ 0x40
irq_count   equ scratch             ; interrupts taken on TEST_VEC
pci_bdf     equ scratch + 4         ; config address of pci-testdev (bit 31 set)
membase     equ scratch + 8
iobase      equ scratch + 12

%macro PCI_READ 1                   ; eax = dword at config offset %1 of pci-testdev
    mov eax, [pci_bdf]
    or eax, %1
    mov dx, PCI_ADDR
    out dx, eax
    mov dx, PCI_DATA
    in eax, dx
%endmacro

%macro PCI_WRITE 1                  ; dword ecx to config offset %1 of pci-testdev
    mov eax, [pci_bdf]
    or eax, %1
    mov dx, PCI_ADDR
    out dx, eax
    mov dx, PCI_DATA
    mov eax, ecx
    out dx, eax
%endmacro

test_main:
    ; ---- pc-testdev: scratch register ----
    mov dx, 0xe0
    mov eax, 0x12345678
    out dx, eax
    in eax, dx
    CHECK eax, 0x12345678, "port 0xE0: a dword reads back"
    mov dx, 0xe2
    mov al, 0xab
    out dx, al
    mov dx, 0xe0
    in eax, dx
    CHECK eax, 0x12ab5678, "port 0xE2: a byte write lands in byte lane 2"
    mov dx, 0xe2
    in ax, dx
    movzx eax, ax
    CHECK eax, 0x12ab, "port 0xE2: a word read gives lanes 2-3"
    mov dx, 0xeb
    in al, dx
    movzx eax, al
    CHECK eax, 0x12, "port 0xEB: lane 3 of the same register"
    ; (0xE9 is -debugcon's port in this test, so the byte-split twin is used around it)
    mov dx, 0xe8
    mov al, 0x0d
    out dx, al
    mov dx, 0xea
    mov ax, 0xcafe
    out dx, ax
    mov dx, 0xe0
    in eax, dx
    CHECK eax, 0xcafe560d, "port 0xE8 (byte) and 0xEA (word, split into bytes) write the same register"
    mov dx, 0xe1
    mov al, 0xf0
    out dx, al
    mov dx, 0xea
    in ax, dx
    movzx eax, ax
    CHECK eax, 0xcafe, "port 0xEA: a word read through the byte-split twin"
    mov dx, 0xe4
    mov eax, pages
    out dx, eax                     ; flush-page: accepted, nothing else changes
    in eax, dx
    CHECK eax, 0, "the flush-page port reads 0"
    mov dx, 0xe0
    in eax, dx
    CHECK eax, 0xcafef00d, "a flush-page write leaves the scratch register alone"

    ; ---- pc-testdev: scratch memory ----
    mov eax, [0xff008000]
    CHECK eax, 0, "scratch memory starts zeroed"
    mov dword [0xff000000], 0x11223344
    mov byte [0xff000001], 0xaa
    mov eax, [0xff000000]
    CHECK eax, 0x1122aa44, "scratch memory: dword then byte write"
    mov word [0xff00fffe], 0x5566
    movzx eax, word [0xff00fffe]
    CHECK eax, 0x5566, "scratch memory: its last word"
    mov esi, 0xff000100             ; a string copy through it
    mov edi, 0xff000100
    mov dword [esi], 'pcvm'
    mov eax, [edi]
    CHECK eax, 'pcvm', "scratch memory: rep-free copy"

    ; ---- pc-testdev: interrupt lines ----
    mov al, 0x0a                    ; OCW3: read IRR
    out 0x20, al
    out 0xa0, al
    in al, 0x20
    and al, 1 << 3
    CHECK al, 0, "IRQ3 idle before the test raises it"
    mov dx, 0x2003
    mov al, 1
    out dx, al
    in al, 0x20
    and al, 1 << 3
    CHECK al, 1 << 3, "port 0x2003 <- 1 raises IRQ3 (PIC IRR)"
    mov dx, 0x2003
    xor al, al
    out dx, al
    mov dx, 0x200a
    mov al, 1
    out dx, al
    in al, 0xa0
    and al, 1 << 2
    CHECK al, 1 << 2, "port 0x200A <- 1 raises IRQ10 (slave PIC IRR)"
    mov dx, 0x200a
    xor al, al
    out dx, al
    in al, dx
    movzx eax, al
    CHECK eax, 0, "the interrupt line ports read 0"

    ; Through the I/O APIC: both PICs masked, pin 3 (ISA IRQ3, no override) to TEST_VEC, edge,
    ; fixed, to this CPU. (QEMU asserts on lines 16-23, isa_get_irq; pcvm ignores them.)
    mov al, 0xff
    out 0x21, al
    out 0xa1, al
    mov eax, TEST_VEC
    mov ebx, vec_handler
    mov ecx, 0x8e
    call set_gate
    or dword [LAPIC + 0xf0], 0x100  ; software-enable the local APIC
    mov eax, [LAPIC + 0x20]
    mov dword [IOAPIC], 0x10 + 2 * 3 + 1
    and eax, 0xff000000
    mov [IOAPIC + 0x10], eax        ; destination: this CPU's APIC ID
    mov dword [IOAPIC], 0x10 + 2 * 3
    mov dword [IOAPIC + 0x10], TEST_VEC
    mov dword [irq_count], 0
    sti
    mov dx, 0x2003
    mov al, 1
    out dx, al
    mov ecx, 100000                 ; QEMU's TCG takes interrupts at block boundaries
.wait_irq:
    cmp dword [irq_count], 0
    jne .got_irq
    loop .wait_irq
.got_irq:
    cli
    CHECK dword [irq_count], 1, "port 0x2003 <- 1: I/O APIC pin 3 delivers its vector"
    mov dx, 0x2003
    xor al, al
    out dx, al
    mov dword [IOAPIC], 0x10 + 2 * 3
    mov dword [IOAPIC + 0x10], 1 << 16

    ; ---- pci-testdev: find it on bus 0 ----
    mov dword [pci_bdf], 0x80000000
.scan:
    PCI_READ 0
    cmp eax, 0x00051b36
    je .found
    add dword [pci_bdf], 0x800
    cmp dword [pci_bdf], 0x80010000
    jb .scan
    CHECK eax, 0x00051b36, "pci-testdev (1b36:0005) on bus 0"
.found:
    PCI_READ 0x08
    CHECK eax, 0x00ff0000, "class 00ff, prog-if 0, revision 0"
    PCI_READ 0x2c
    CHECK eax, 0x11001af4, "subsystem 1af4:1100"
    PCI_READ 0x3c
    and eax, 0xff00
    CHECK eax, 0, "no interrupt pin"
    PCI_READ 0x0c
    and eax, 0x00ff0000
    CHECK eax, 0, "header type 0, single function"
    PCI_READ 0x04
    and eax, 3
    CHECK eax, 3, "I/O and memory decoding enabled by the firmware"
    PCI_READ 0x10
    mov [membase], eax
    test eax, 1
    jz .mem_ok
    CHECK eax, 0, "BAR0 is a memory BAR"
.mem_ok:
    PCI_READ 0x14
    mov [iobase], eax
    and eax, 1
    CHECK eax, 1, "BAR1 is an I/O BAR"
    mov ecx, 0xffffffff             ; sizing (decoding off while the BARs hold all ones)
    mov esi, 0
    PCI_WRITE 0x04
    mov ecx, 0xffffffff
    PCI_WRITE 0x10
    PCI_READ 0x10
    mov ebx, eax
    mov ecx, [membase]
    PCI_WRITE 0x10
    CHECK ebx, 0xfffff000, "BAR0: 4 KiB, 32-bit, not prefetchable"
    mov ecx, 0xffffffff
    PCI_WRITE 0x14
    PCI_READ 0x14
    and eax, 0xffff
    mov ebx, eax
    mov ecx, [iobase]
    PCI_WRITE 0x14
    CHECK ebx, 0xff01, "BAR1: 256 ports"
    mov ecx, 0x103
    PCI_WRITE 0x04
    and dword [membase], 0xfffffff0
    and dword [iobase], 0xfffc

    ; ---- pci-testdev: the memory BAR's tests ----
    mov ebp, [membase]
    mov byte [ebp], 0
    CHECK dword [ebp + 12], 0, "mmio test 0: count 0 after selecting"
    CHECK byte [ebp + 1], 1, "mmio test 0: width 1"
    CHECK dword [ebp + 4], 2048, "mmio test 0: offset 2048"
    CHECK dword [ebp + 8], 0xfa, "mmio test 0: data 0xFA"
    mov esi, name_mmio0
    call mem_name
    mov ecx, 16
.m0:
    mov byte [ebp + 2048], 0xfa
    loop .m0
    CHECK dword [ebp + 12], 16, "mmio-no-eventfd: 16 matching writes counted"
    mov byte [ebp + 2048], 0x55
    mov byte [ebp + 2049], 0xfa
    CHECK dword [ebp + 12], 16, "mmio-no-eventfd: other data or offset not counted"
    mov word [ebp + 2048], 0x00fa
    CHECK dword [ebp + 12], 17, "mmio-no-eventfd: a word write is split into bytes"

    mov dword [ebp], 1              ; a dword select: only its low byte selects
    CHECK dword [ebp + 12], 0, "mmio test 1: count 0 after selecting"
    CHECK dword [ebp + 4], 2049, "mmio test 1: offset 2049"
    CHECK dword [ebp + 8], 0xce, "mmio test 1 (wildcard): data 0xCE"
    mov esi, name_mmio1
    call mem_name
    mov byte [ebp + 2049], 0xfa
    mov byte [ebp + 2049], 0x55
    CHECK dword [ebp + 12], 0, "mmio-wildcard-eventfd: count stays 0 (an eventfd takes the writes)"

    mov byte [ebp], 2
    CHECK dword [ebp + 4], 2050, "mmio test 2: offset 2050"
    CHECK dword [ebp + 8], 0xfa, "mmio test 2 (datamatch): data 0xFA"
    mov esi, name_mmio2
    call mem_name
    mov byte [ebp + 2050], 0x55
    mov byte [ebp + 2050], 0xfa
    CHECK dword [ebp + 12], 0, "mmio-datamatch-eventfd: count stays 0 (an eventfd takes the writes)"

    mov byte [ebp], 3
    CHECK dword [ebp], 0, "mmio test 3 does not exist: header reads 0"

    ; ---- pci-testdev: the I/O BAR's tests ----
    mov ebx, [iobase]
    xor edi, edi                    ; test number
.io_test:
    mov edx, ebx
    mov eax, edi
    out dx, al
    lea edx, [ebx + 1]
    in al, dx
    movzx eax, al
    CHECK eax, 1, "portio test: width 1"
    lea edx, [ebx + 4]
    in eax, dx
    lea ecx, [edi + 131]
    CHECK eax, ecx, "portio test: offset 128 + 3 + n"
    lea edx, [ebx + 8]
    in eax, dx
    mov ecx, 0xfa
    cmp edi, 1
    jne .io_data
    mov ecx, 0xce                   ; wildcard: a value no data match would take
.io_data:
    CHECK eax, ecx, "portio test: data 0xFA (0xCE for the wildcard test)"
    mov esi, [io_names + edi * 4]
    call io_name
    lea edx, [ebx + 131]
    add edx, edi
    mov ecx, 16
    mov al, 0xfa
.io_w:
    out dx, al
    loop .io_w
    mov al, 0x11
    out dx, al
    lea edx, [ebx + 12]
    in eax, dx
    mov ecx, 16
    test edi, edi
    jz .io_cmp
    xor ecx, ecx                    ; the eventfd tests: count stays 0
.io_cmp:
    CHECK eax, ecx, "portio test: matching writes counted"
    inc edi
    cmp edi, 3
    jb .io_test
    mov edx, ebx
    mov al, 3
    out dx, al
    lea edx, [ebx + 1]
    in al, dx
    movzx eax, al
    CHECK eax, 0, "portio test 3 does not exist: width 0"
    ret

; The selected test's name in the memory BAR at ebp+16 equals the string at esi.
mem_name:
    lea edi, [ebp + 16]
.c:
    mov al, [edi]
    cmp al, [esi]
    jne .bad
    inc esi
    inc edi
    test al, al
    jnz .c
    ret
.bad:
    mov esi, msg_name
    jmp fail_with

; The same through the I/O BAR at ebx+16 (one port read per byte).
io_name:
    push edx
    lea edx, [ebx + 16]
.c:
    in al, dx
    cmp al, [esi]
    jne mem_name.bad
    inc esi
    inc edx
    test al, al
    jnz .c
    pop edx
    ret

vec_handler:
    inc dword [irq_count]
    mov dword [LAPIC + 0xb0], 0     ; EOI
    iret

name_mmio0: db "mmio-no-eventfd", 0
name_mmio1: db "mmio-wildcard-eventfd", 0
name_mmio2: db "mmio-datamatch-eventfd", 0
name_io0: db "portio-no-eventfd", 0
name_io1: db "portio-wildcard-eventfd", 0
name_io2: db "portio-datamatch-eventfd", 0
io_names: dd name_io0, name_io1, name_io2
msg_name: db "a test's name differs", 0

%include "sys_end.inc"
