/* The BIOS E820 memory map entry types, shared by fw_cfg (etc/e820) and the boot loaders. */
#ifndef PCVM_MEM_E820_H
#define PCVM_MEM_E820_H

#include <stdint.h>

enum { E820_RAM = 1, E820_RESERVED = 2, E820_ACPI = 3, E820_NVS = 4, E820_UNUSABLE = 5 };

struct e820_entry {
    uint64_t addr, len;
    uint32_t type;
};

#endif
