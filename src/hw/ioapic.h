/* Intel 82093AA I/O APIC at 0xFEC00000: IOREGSEL (+0x00) / IOWIN (+0x10), 24 redirection
 * entries, version 0x11.  Inputs are irq lines: irq_connect(&line, ioapic_set_irq, ioapic, pin).
 * On the pc board ISA IRQ n goes to pin n except IRQ 0 -> pin 2 (the MADT's override); PCI
 * interrupts arrive as the ISA IRQs the PIIX3 routes them to.  Input levels are logical
 * (1 = asserted): the polarity bit is stored but not applied, as on QEMU.  Level-triggered
 * entries keep Remote IRR until the local APIC's EOI broadcast for their vector. */
#ifndef PCVM_HW_IOAPIC_H
#define PCVM_HW_IOAPIC_H

#include "hw/devmodel.h"

#include <stdint.h>

#include "hw/lapic.h"

#define IOAPIC_PINS 24
#define IOAPIC_DEFAULT_BASE 0xfec00000u
#define IOAPIC_VERSION 0x11

struct ioapic {
    uint8_t id;
    uint8_t ioregsel;
    uint32_t levels;                 /* current input levels, one bit per pin */
    uint64_t redir[IOAPIC_PINS];
    /* Host side (not state). */
    struct apic_bus *bus;
    int mmio_index;
};

/* Map the registers at base and attach to the APIC bus (for delivery and EOI broadcast). */
void ioapic_init(struct ioapic *s, struct apic_bus *bus, struct phys_mem *mem, uint32_t base, uint8_t id);
/* RESET#: every entry masked. */
void ioapic_reset(struct ioapic *s);
/* irq_handler_fn: drive input pin n (opaque is the struct ioapic). */
void ioapic_set_irq(void *opaque, int n, int level);
/* EOI for vector from a local APIC (level-triggered entries clear Remote IRR). */
void ioapic_eoi(void *opaque, uint8_t vector);
/* Register access through the index/data window (what the MMIO does; for tests). */
uint32_t ioapic_read_reg(struct ioapic *s, uint8_t index);
void ioapic_write_reg(struct ioapic *s, uint8_t index, uint32_t value);

/* Saved state (device model). */
extern const struct vmstate_desc ioapic_vmstate;
#endif
