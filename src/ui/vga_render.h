/* Turns the VGA's state into pixels: text modes drawn with the font the guest loaded into
 * plane 2 (attributes, blink, cursor), 16-color planar and 256-color (chained or unchained)
 * graphics modes, and the Bochs VBE linear framebuffer (8/15/16/24/32 bpp). Only what changed
 * since the previous frame is redrawn: text cells are compared with a copy, graphics lines
 * are redrawn when a VRAM page they scan was written, everything when a register changed. */
#ifndef PCVM_UI_VGA_RENDER_H
#define PCVM_UI_VGA_RENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/vga.h"

/* A picture in host memory: 0x00RRGGBB pixels, width per line. */
struct display_surface {
    uint32_t *pixels;
    int width, height;
};

#define VGA_RENDER_MAX_COLS 132
#define VGA_RENDER_MAX_ROWS 64

/* The registers a frame depends on, compared as a block to detect a mode or palette change. */
struct vga_render_regs {
    uint8_t misc, pel_mask;
    uint8_t sr[8], gr[16], ar[32], cr[64];
    uint8_t dac[768];
    uint16_t vbe[VBE_DISPI_INDEX_NB];
};

struct vga_render {
    struct display_surface surf;  /* owned; reallocated when the resolution changes */
    uint8_t *line_dirty;          /* per surface line: changed by the last update */
    int line_dirty_cap;
    bool valid;                   /* surf holds a complete previous frame */
    struct vga_render_regs regs;  /* as of the previous frame */
    uint16_t cells[VGA_RENDER_MAX_COLS * VGA_RENDER_MAX_ROWS]; /* char | attr << 8 drawn */
    uint8_t font[2][256 * 32];    /* glyphs of character maps A and B as drawn */
    int cursor_x, cursor_y;       /* cell the cursor was drawn in, -1 none */
    bool cursor_phase, blink_phase;
};

/* Prepare an empty renderer (no surface until the first update). */
void vga_render_init(struct vga_render *r);
/* Free the surface. */
void vga_render_destroy(struct vga_render *r);
/* Bring r->surf up to date with the VGA at host time now_ns (for blinking). Returns 0 when
 * nothing changed, 1 when lines changed (r->line_dirty[y] set for each), 2 when the surface
 * was reallocated (a new size: everything changed), -1 when out of memory. force redraws all. */
int vga_render_update(struct vga_render *r, struct vga *vga, int64_t now_ns, bool force);
/* Fill the surface with a blank picture of this size (the display without a VGA). 0 or -1. */
int vga_render_blank(struct vga_render *r, int width, int height);

#endif
