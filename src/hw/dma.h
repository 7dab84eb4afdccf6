/* Guest-programmed DMA (descriptor rings, packet buffers) is confined to RAM: a device checks
 * the range here before phys_read_block/phys_write_block, so no guest value can make it touch
 * another device's registers or anything outside the guest. */
#ifndef PCVM_HW_DMA_H
#define PCVM_HW_DMA_H

#include <stdbool.h>
#include <stdint.h>

#include "mem/memory.h"

/* True when [addr, addr + len) lies inside the guest's RAM. */
static inline bool dma_in_ram(const struct phys_mem *pm, uint64_t addr, uint64_t len)
{
    return len <= pm->ram_below_4g && addr <= pm->ram_below_4g - len;
}

#endif
