/* Intel MultiProcessor Specification 1.4 tables for -kernel direct boot (no firmware): the MP
 * floating pointer and the configuration table with processors, buses (PCI 0, ISA 1), the
 * I/O APIC, I/O interrupt assignments (ISA IRQs, IRQ 0 on pin 2, PCI slots through PIRQs)
 * and local interrupts (ExtINT on LINT0, NMI on LINT1). */
#ifndef PCVM_HW_MPTABLE_H
#define PCVM_HW_MPTABLE_H

#include <stdint.h>

#include "mem/memory.h"

/* Zero fields take the pc defaults: addresses 0xFEE00000 / 0xFEC00000, PIRQs 10, 10, 11, 11,
 * every PCI slot 1-31 listed.  ioapic_id has no zero default (0 is valid): set it to what the
 * board passed to ioapic_init (mptable_config_pc_defaults uses cpus, like acpi_tables.h). */
struct mptable_config {
    unsigned cpus;             /* CPU 0 is the BSP */
    const uint8_t *apic_ids;   /* APIC ID of each CPU; NULL: 0..cpus-1 */
    uint32_t lapic_addr;       /* 0xFEE00000 */
    uint32_t ioapic_addr;      /* 0xFEC00000 */
    uint8_t ioapic_id;
    uint8_t pirq_irq[4];       /* ISA IRQ (= I/O APIC pin) of PIRQ A-D */
    uint32_t pci_slots;        /* bit n: PCI slot n gets interrupt entries */
    uint32_t cpu_signature;    /* CPUID(1).EAX stepping/model/family, 0: 0x681 */
    uint32_t cpu_features;     /* CPUID(1).EDX, 0: a P6 default with APIC */
};

/* The pc board's values for cpus processors (I/O APIC ID = cpus). */
void mptable_config_pc_defaults(struct mptable_config *cfg, unsigned cpus);
/* Size in bytes of the floating pointer plus configuration table for cfg. */
uint32_t mptable_size(const struct mptable_config *cfg);
/* Write the floating pointer at addr (16-byte aligned; the OS scans the last KiB of base
 * memory, the EBDA and 0xF0000-0xFFFFF) and the configuration table right after it.
 * Returns the bytes written, 0 on failure. */
uint32_t mptable_write(struct phys_mem *mem, const struct mptable_config *cfg, uint32_t addr);

#endif
