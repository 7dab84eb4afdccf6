/* Intel 82371SB (PIIX3) PCI-to-ISA bridge, function 01.0 (8086:7000), and the reset control
 * register at port 0xCF9.
 *
 * PCI INTx routing: the board passes piix3_pci_set_irq (with the struct as opaque) to
 * pci_bus_init.  Device slot S pin P (0 = INTA) drives PIRQ ((S + P - 1) & 3), as on QEMU's pc;
 * PIRQ A-D are routed by config 0x60-0x63 (bit 7 = disabled, bits 3:0 = ISA IRQ) to the ISA
 * IRQ lines the board gives (isa_irq[0..15], typically fanned out to the PIC and I/O APIC).
 * Several PIRQs on one IRQ are wire-ORed. */
#ifndef PCVM_HW_PIIX3_H
#define PCVM_HW_PIIX3_H

#include "hw/devmodel.h"

#include <stdbool.h>
#include <stdint.h>

#include "hw/irq.h"
#include "hw/pci.h"
#include "mem/memory.h"

#define PIIX3_DEVFN 0x08   /* 01.0 */
#define PIIX3_PIRQRC 0x60

struct piix3 {
    struct pci_device dev;
    uint8_t rcr;                 /* 0xCF9 reset control (bit 1 SYS_RST kept) */
    uint8_t pirq_count[4];       /* asserted INTx sources per PIRQ */
    uint16_t isa_level;          /* ISA IRQs this bridge currently drives high */
    /* Host side (not state). */
    const struct irq_line *isa_irq;  /* 16 lines */
    void (*reset_request)(void *opaque, bool hard);
    void *opaque;
};

/* Register the bridge at 01.0 (multi-function header) and claim port 0xCF9 (call after
 * pci_bus_init). reset_request(opaque, hard) is called when the guest writes 0xCF9 with
 * bit 2 set (hard = bit 1).  Returns 0 or -1. */
int piix3_init(struct piix3 *s, struct pci_bus *bus, struct io_bus *io, const struct irq_line isa_irq[16],
               void (*reset_request)(void *opaque, bool hard), void *opaque);
/* RESET#: PIRQ routing disabled, other registers to their datasheet defaults. */
void piix3_reset(struct piix3 *s);
/* pci_set_irq_fn for pci_bus_init: opaque is the struct piix3; pin 0 = INTA. */
void piix3_pci_set_irq(void *opaque, struct pci_device *dev, int pin, int level);
/* PIRQ (0-3 for A-D) that slot/pin (pin 0 = INTA) is wired to. */
int piix3_slot_pirq(int slot, int pin);
/* Route PIRQ n to ISA irq (0x80 = disabled), as firmware would; for direct boot. */
void piix3_set_pirq_route(struct piix3 *s, int pirq, uint8_t route);

/* Saved state (device model). */
extern const struct vmstate_desc piix3_vmstate;
#endif
