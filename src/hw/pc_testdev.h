/* pc-testdev (ISA, QEMU's "pc-testdev"), the device kvm-unit-tests style kernels drive:
 *   ports 0xE0-0xE3  a 32-bit scratch register, any access size, byte lanes by port;
 *   ports 0xE4-0xE7  "flush page": a 32-bit write names a guest page whose host mapping QEMU
 *                    re-protects (only visible to KVM); pcvm accepts it, nothing changes;
 *   ports 0xE8-0xEB  the same scratch register, every access split into byte accesses;
 *   ports 0x2000-0x2017  write V to 0x2000+n: drive ISA interrupt line n (0-15) to V != 0;
 *                    reads give 0. QEMU stops with an assertion on lines 16-23 (isa_get_irq);
 *                    pcvm ignores writes to them;
 *   0xFF000000-0xFF00FFFF  64 KiB of scratch memory behind MMIO. */
#ifndef PCVM_HW_PC_TESTDEV_H
#define PCVM_HW_PC_TESTDEV_H

#include <stdint.h>

#include "hw/devmodel.h"
#include "hw/irq.h"
#include "mem/memory.h"

#define PC_TESTDEV_IOMEM_BASE 0xff000000u
#define PC_TESTDEV_IOMEM_LEN 0x10000u
#define PC_TESTDEV_IRQ_PORT 0x2000
#define PC_TESTDEV_IRQ_PORTS 24
#define PC_TESTDEV_IRQS 16

struct pc_testdev {
    uint32_t ioport_data;
    uint8_t iomem[PC_TESTDEV_IOMEM_LEN];
    uint8_t irq_level[PC_TESTDEV_IRQS];   /* what the guest last drove each line to */

    /* ---- host side (not guest state) ---- */
    struct irq_line irq[PC_TESTDEV_IRQS];
    uint32_t flushes;                     /* flush-page writes seen (tests, info) */
};

/* Saved state (scratch register, scratch memory, line levels); post_load re-drives the lines. */
extern const struct vmstate_desc pc_testdev_vmstate;

/* Claim the ports and the MMIO window; irq[n] is ISA interrupt line n. Returns 0 or -1
 * (no MMIO slot left). */
int pc_testdev_init(struct pc_testdev *s, struct io_bus *io, struct phys_mem *mem,
                    const struct irq_line irq[PC_TESTDEV_IRQS]);
/* Reset: the lines go low; the scratch register and memory keep their contents (as QEMU). */
void pc_testdev_reset(void *opaque);

#endif
