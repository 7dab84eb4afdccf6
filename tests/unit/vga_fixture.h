/* The fixture the VGA and display unit tests share: a VGA (PCI function 2) in 1 MiB of RAM
 * with an -icount clock and a renderer, and helpers that program its registers.  Header-only
 * (each unit test is one program); include it after cmocka.h. */
#ifndef PCVM_TESTS_VGA_FIXTURE_H
#define PCVM_TESTS_VGA_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "hw/vga.h"
#include "ui/vga_render.h"

struct fixture {
    struct io_bus io;
    struct phys_mem mem;
    struct vclock clock;
    uint64_t insns;
    struct pci_bus bus;
    struct vga vga;
    struct vga_render r;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    io_bus_init(&f->io);
    assert_int_equal(phys_mem_init(&f->mem, 1u << 20, 1u << 20), 0);
    vclock_init(&f->clock, true, 0, &f->insns);
    pci_bus_init(&f->bus, &f->mem, &f->io, NULL, NULL);
    assert_int_equal(vga_init(&f->vga, &f->io, &f->mem, &f->bus, 2 << 3, &f->clock, NULL), 0);
    vga_render_init(&f->r);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    vga_render_destroy(&f->r);
    vga_destroy(&f->vga);
    phys_mem_destroy(&f->mem);
    free(f);
    return 0;
}

static inline void out8(struct fixture *f, uint16_t port, uint8_t v) { io_write(&f->io, port, v, 1); }
static inline void out16(struct fixture *f, uint16_t port, uint16_t v) { io_write(&f->io, port, v, 2); }
static inline uint8_t in8(struct fixture *f, uint16_t port) { return (uint8_t)io_read(&f->io, port, 1); }

/* Registers 0..n-1 of an index/data pair (0x3c4 sequencer, 0x3d4 CRTC, 0x3ce graphics). */
static inline void set_regs(struct fixture *f, uint16_t index_port, const uint8_t *v, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        out8(f, index_port, (uint8_t)i);
        out8(f, (uint16_t)(index_port + 1), v[i]);
    }
}

/* Attribute registers 0..n-1 through the 0x3c0 flip-flop, then the screen on again. */
static inline void set_attr(struct fixture *f, const uint8_t *v, unsigned n)
{
    in8(f, 0x3da);
    for (unsigned i = 0; i < n; i++) {
        out8(f, 0x3c0, (uint8_t)i);
        out8(f, 0x3c0, v[i]);
    }
    out8(f, 0x3c0, 0x20);
}

/* One DAC entry, 6-bit components. */
static inline void set_dac(struct fixture *f, uint8_t index, uint8_t r, uint8_t g, uint8_t b)
{
    out8(f, 0x3c8, index);
    out8(f, 0x3c9, r);
    out8(f, 0x3c9, g);
    out8(f, 0x3c9, b);
}

/* Mode 3 (80x25, 9x16 cells) from the IBM VGA reference tables, the CRTC unprotected while
 * it is written; the text cursor on or off; DAC entries 0, 1 and 7 as the BIOS sets them. */
static inline void set_mode3(struct fixture *f, bool cursor)
{
    static const uint8_t seq[5] = { 0x03, 0x00, 0x03, 0x00, 0x02 };
    uint8_t crtc[25] = { 0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00,
                         0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x9c, 0x8e,
                         0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff };
    static const uint8_t attr[21] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39, 0x3a,
                                      0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x0c, 0x00, 0x0f, 0x08, 0x00 };
    static const uint8_t gfx[9] = { 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x00, 0xff };
    if (!cursor)
        crtc[0x0a] |= 0x20;          /* cursor start bit 5: cursor off */
    out8(f, 0x3c2, 0x67);
    set_regs(f, 0x3c4, seq, 5);
    out8(f, 0x3d4, 0x11);
    out8(f, 0x3d5, 0x00);            /* unprotect CRTC 0-7 */
    set_regs(f, 0x3d4, crtc, 25);
    set_attr(f, attr, 21);
    set_regs(f, 0x3ce, gfx, 9);
    set_dac(f, 0x00, 0, 0, 0);
    set_dac(f, 0x07, 0x2a, 0x2a, 0x2a);
    set_dac(f, 0x01, 0, 0, 0x2a);
}

/* The rendered pixel at (x, y), 0xRRGGBB. */
static inline uint32_t pixel(const struct fixture *f, int x, int y)
{
    return f->r.surf.pixels[(size_t)y * (size_t)f->r.surf.width + (size_t)x];
}

#endif
