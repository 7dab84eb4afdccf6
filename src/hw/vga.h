/* Standard VGA with Bochs VBE extensions, as QEMU's "-vga std": PCI function 1234:1111 (class
 * 0x0300) with a 16 MiB prefetchable framebuffer BAR 0, the legacy registers at 0x3B0-0x3DF, the
 * VBE "dispi" registers at 0x1CE/0x1CF, and the 0xA0000-0xBFFFF window (chain-4, odd/even and
 * planar memory modes, write modes 0-3, read modes 0-1). Works with SeaBIOS's
 * vgabios-stdvga.bin, which the board loads at 0xC0000.
 *
 * There is no window yet: vga_text_snapshot() renders the text screen for tests and the
 * monitor. */
#ifndef PCVM_HW_VGA_H
#define PCVM_HW_VGA_H

#include "hw/devmodel.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hw/pci.h"
#include "mem/memory.h"
#include "util/log.h"
#include "util/vclock.h"

#define VGA_VRAM_SIZE (16u << 20)
/* Granule of the VRAM dirty bitmap the display uses to redraw only what changed. */
#define VGA_DIRTY_PAGE_SHIFT 12
#define VGA_DIRTY_WORDS (VGA_VRAM_SIZE >> VGA_DIRTY_PAGE_SHIFT >> 6)

/* Bochs VBE dispi register indexes (port 0x1CE). */
enum {
    VBE_DISPI_INDEX_ID, VBE_DISPI_INDEX_XRES, VBE_DISPI_INDEX_YRES, VBE_DISPI_INDEX_BPP,
    VBE_DISPI_INDEX_ENABLE, VBE_DISPI_INDEX_BANK, VBE_DISPI_INDEX_VIRT_WIDTH,
    VBE_DISPI_INDEX_VIRT_HEIGHT, VBE_DISPI_INDEX_X_OFFSET, VBE_DISPI_INDEX_Y_OFFSET,
    VBE_DISPI_INDEX_VIDEO_MEMORY_64K, VBE_DISPI_INDEX_NB
};

struct vga {
    uint8_t misc;            /* miscellaneous output register */
    uint8_t feature;         /* feature control */
    uint8_t sr_index, sr[8];
    uint8_t gr_index, gr[16];
    uint8_t ar_index, ar[32];
    bool ar_flipflop;        /* false: next 0x3C0 write is an index */
    uint8_t cr_index, cr[64];
    uint8_t dac_write_index, dac_read_index, dac_sub, dac_state;
    uint8_t pel_mask;
    uint8_t dac[768];        /* 6-bit RGB triplets (8-bit with the VBE 8BIT_DAC flag) */
    uint32_t latch;          /* the four plane latches, plane p in bits 8p..8p+7 */
    uint16_t vbe_index;
    uint16_t vbe_regs[VBE_DISPI_INDEX_NB];
    uint32_t vram_size;
    struct pci_device pci;   /* config space; the bus keeps a pointer to it */

    /* ---- host side (not guest state) ---- */
    uint8_t *vram;           /* guest video memory, vram_size bytes; plane p of offset o is
                              * vram[o * 4 + p] so chain-4 addresses index it directly */
    struct phys_mem *mem;
    struct vclock *clock;
    int window_index;        /* phys_mem MMIO index of the 0xA0000 window (for SMRAM remaps) */
    uint8_t *rom;            /* expansion ROM image (vga_set_rom), rom_size bytes, or NULL */
    uint32_t rom_size;       /* power of two */
    int rom_index;           /* phys_mem MMIO index of the mapped ROM BAR, -1 before */
    uint32_t rom_mapped_addr;
    struct pcvm_log *log;    /* may be NULL */
    /* What changed since the display last looked: one bit per 4 KiB of VRAM written, and
     * whether any register was written (mode, palette, start address, cursor ...). */
    uint64_t dirty[VGA_DIRTY_WORDS];
    bool vram_dirty;         /* some bit in dirty[] is set */
    bool regs_dirty;
};

/* Allocate VRAM, claim the legacy ports, the dispi ports and 0xA0000-0xBFFFF, and (with bus
 * non-NULL) register the PCI function at devfn with its framebuffer BAR. Returns 0 or -1. */
int vga_init(struct vga *s, struct io_bus *io, struct phys_mem *mem, struct pci_bus *bus,
             uint8_t devfn, struct vclock *clock, struct pcvm_log *log);
/* Give the PCI function an expansion ROM BAR (config 0x30) holding image (e.g. Debian's
 * /usr/share/seabios/vgabios-stdvga.bin), which SeaBIOS finds, copies to 0xC0000 and runs as
 * QEMU's rombar does. Needs a PCI bus at init. Returns 0 or -1. */
int vga_set_rom(struct vga *s, const uint8_t *image, size_t len);
/* Free VRAM and the ROM image. */
void vga_destroy(struct vga *s);
/* Registers back to their power-on values (the VGA BIOS programs a mode). */
void vga_reset(struct vga *s);
/* Leave the VGA as a VGA BIOS leaves it after setting mode 3 (80x25 text, 9x16 cells): the
 * IBM mode-3 register values, the EGA text palette in the DAC, font (256 glyphs of 16 bytes;
 * NULL: blank glyphs) in plane 2, a blank screen, the cursor at the top left. For guests
 * started without firmware (-kernel), which write to 0xB8000 expecting that mode. */
void vga_set_text_mode3(struct vga *s, const uint8_t *font);
/* Render the text screen (when in an alphanumeric mode) as UTF-8 (code page 437), one line per
 * row with trailing blanks removed, each ending in '\n'. Writes at most size bytes including a
 * terminating NUL; returns the length it wanted to write (like snprintf), 0 in graphics modes. */
size_t vga_text_snapshot(struct vga *s, char *buf, size_t size);
/* Text geometry and cursor: columns, rows, cursor column/row (-1 when the cursor is off). */
void vga_text_info(const struct vga *s, int *cols, int *rows, int *cursor_x, int *cursor_y);
/* True when a graphics mode (VGA or VBE) is active. */
bool vga_is_graphics(const struct vga *s);
/* Byte at plane p of plane offset off (0xff beyond VRAM): what the CRTC scans out. */
static inline uint8_t vga_plane_byte(const struct vga *s, uint32_t off, int plane)
{
    uint64_t i = (uint64_t)off * 4 + (unsigned)plane;
    return i < s->vram_size ? s->vram[i] : 0xff;
}
/* Record a guest write to VRAM bytes [index, index + len) for the display. */
static inline void vga_mark_dirty(struct vga *s, uint64_t index, uint64_t len)
{
    if (!len || index >= s->vram_size)
        return;
    uint64_t last = index + len - 1;
    if (last >= s->vram_size)
        last = s->vram_size - 1;
    for (uint64_t p = index >> VGA_DIRTY_PAGE_SHIFT; p <= last >> VGA_DIRTY_PAGE_SHIFT; p++)
        s->dirty[p >> 6] |= 1ull << (p & 63);
    s->vram_dirty = true;
}

/* Saved state (device model). */
extern const struct vmstate_desc vga_vmstate;
#endif
