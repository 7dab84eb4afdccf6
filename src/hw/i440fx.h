/* Intel 82441FX (i440FX) PCI and memory controller: the host bridge at 00.0 (8086:1237).
 *
 * It owns the shadowing of 0xC0000-0xFFFFF through the PAM registers (config 0x59-0x5F).
 * The device edits the physical map itself: the board hands it a 256 KiB host buffer with
 * what the bus shows in that window when it is not shadowed (option ROMs at offset 0, the
 * last 128 KiB of the BIOS at offset 0x20000).  Each of the 13 PAM regions is then either
 *   mode 0  reads and writes go to the ROM buffer (writes dropped),
 *   mode 1  reads from RAM, writes go to the ROM side (dropped),
 *   mode 2  reads from the ROM buffer, writes to RAM (an MMIO region does the split),
 *   mode 3  plain RAM.
 * After any remap it calls mem_changed so the board can flush the CPUs' TLBs and traces
 * (they cache host pointers of these pages).  SMRAM (0x72) is stored with its lock bit
 * (D_LCK) honoured; SMM memory itself is not modelled. */
#ifndef PCVM_HW_I440FX_H
#define PCVM_HW_I440FX_H

#include "hw/devmodel.h"

#include <stdbool.h>
#include <stdint.h>

#include "hw/pci.h"
#include "mem/memory.h"

#define I440FX_PAM_REGIONS 13   /* 0: 0xF0000-0xFFFFF, 1..12: 16 KiB each from 0xC0000 */
#define I440FX_ROM_AREA_BASE 0xC0000u
#define I440FX_ROM_AREA_SIZE 0x40000u

struct i440fx;
/* Identifies one PAM region to its MMIO callbacks (host side). */
struct i440fx_pam_ctx {
    struct i440fx *s;
    int region;
};

struct i440fx {
    struct pci_device dev;
    uint8_t pam_mode[I440FX_PAM_REGIONS];  /* mode applied to each region */
    uint8_t smram;                          /* 0x72 as last accepted (lock applied) */
    /* Host side (not state). */
    struct phys_mem *mem;
    uint8_t *rom_area;                      /* 256 KiB, page aligned */
    int pam_mmio[I440FX_PAM_REGIONS];       /* MMIO region index for mode 2, -1 before */
    struct i440fx_pam_ctx pam_ctx[I440FX_PAM_REGIONS];
    void (*mem_changed)(void *opaque);
    void *opaque;
};

/* Register the host bridge at devfn 0 and map the window as ROM (PAM reset state).
 * rom_area: 256 KiB page-aligned host buffer; mem_changed may be NULL. Returns 0 or -1. */
int i440fx_init(struct i440fx *s, struct pci_bus *bus, struct phys_mem *mem, uint8_t *rom_area,
                void (*mem_changed)(void *opaque), void *opaque);
/* RESET#: PAM back to 0 (ROM), SMRAM to 0x02. */
void i440fx_reset(struct i440fx *s);
/* Shadow the whole window as RAM (writable or read-only), as firmware does; for direct boot
 * so that tables written to 0xE0000-0xFFFFF land in RAM. */
void i440fx_shadow_ram(struct i440fx *s, bool writable);
/* The seven PAM registers (0x59-0x5F): read them, or set them and remap (the S3 wake-up keeps
 * the shadowed BIOS across its reset, as QEMU's reset does, so SeaBIOS takes its resume path). */
#define I440FX_PAM_BYTES 7
void i440fx_get_pam(const struct i440fx *s, uint8_t pam[I440FX_PAM_BYTES]);
void i440fx_set_pam(struct i440fx *s, const uint8_t pam[I440FX_PAM_BYTES]);
/* Physical base and size of PAM region r. */
void i440fx_pam_region(int r, uint32_t *base, uint32_t *size);

/* Saved state (device model). */
extern const struct vmstate_desc i440fx_vmstate;
#endif
