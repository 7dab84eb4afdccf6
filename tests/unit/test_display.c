/* The display pieces without a guest: the renderer (text cells with the plane-2 font, mode 13h,
 * text smooth scrolling, CGA modes 4 and 6, the mode 12h split screen and pixel panning, the VBE framebuffer) and its
 * dirty tracking, screendump files, the -vnc parser, keysym and
 * key-name tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "hw/vga.h"
#include "ui/keymap.h"
#include "ui/screendump.h"
#include "ui/vga_render.h"
#include "ui/vnc.h"
#include "vga_fixture.h"

static void test_text_cells(void **state)
{
    struct fixture *f = *state;
    set_mode3(f, false);
    /* Glyph 'A' in font map 0 (plane 2): line 3 has its leftmost and rightmost pixels set. */
    f->vga.vram[('A' * 32 + 3) * 4 + 2] = 0x81;
    /* Cell (1,0): 'A', grey on blue. Plane 0 holds characters, plane 1 attributes. */
    f->vga.vram[2 * 4 + 0] = 'A';
    f->vga.vram[2 * 4 + 1] = 0x17;
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 2); /* new 720x400 surface */
    assert_int_equal(f->r.surf.width, 720);
    assert_int_equal(f->r.surf.height, 400);
    assert_int_equal(pixel(f, 9, 3), 0xaaaaaa);      /* leftmost glyph pixel: foreground */
    assert_int_equal(pixel(f, 10, 3), 0x0000aa);     /* background */
    assert_int_equal(pixel(f, 16, 3), 0xaaaaaa);     /* rightmost of 8 */
    assert_int_equal(pixel(f, 17, 3), 0x0000aa);     /* 9th column of a letter: background */
    assert_int_equal(pixel(f, 9, 4), 0x0000aa);

    /* Nothing changed: nothing redrawn. */
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 0);

    /* A character written through the 0xB8000 window redraws its 16 lines only. */
    phys_write(&f->mem, 0xb8000 + (80 * 2 + 3) * 2, 0x1741, 2);
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 1);
    for (int y = 0; y < 400; y++)
        assert_int_equal(f->r.line_dirty[y], y >= 32 && y < 48);
    assert_int_equal(pixel(f, 27, 35), 0xaaaaaa);

    /* A palette change redraws everything. */
    set_dac(f, 0x01, 0x3f, 0, 0);
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 1);
    assert_int_equal(pixel(f, 10, 3), 0xff0000);
    assert_int_equal(f->r.line_dirty[399], 1);
}

/* vga_set_text_mode3 (-kernel boots, no VGA BIOS): from power-on registers to an 80x25 screen
 * whose font, palette and blank cells show what a kernel writes to 0xB8000. */
static void test_mode3_without_bios(void **state)
{
    struct fixture *f = *state;
    uint8_t font[256 * 16] = { 0 };
    font['H' * 16 + 5] = 0x81;
    vga_set_text_mode3(&f->vga, font);
    int cols, rows, cx, cy;
    vga_text_info(&f->vga, &cols, &rows, &cx, &cy);
    assert_int_equal(cols, 80);
    assert_int_equal(rows, 25);
    assert_int_equal(cx, 0);
    assert_int_equal(cy, 0);
    /* Row 2, column 4: 'H' in bright white on red, as a kernel writes it. */
    phys_write(&f->mem, 0xb8000 + (80 * 2 + 4) * 2, 0x4f48, 2);
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 2);
    assert_int_equal(f->r.surf.width, 720);
    assert_int_equal(f->r.surf.height, 400);
    assert_int_equal(pixel(f, 36, 37), 0xffffff);     /* the glyph's left pixel: color 15 */
    assert_int_equal(pixel(f, 37, 37), 0xaa0000);     /* background: color 4 */
    assert_int_equal(pixel(f, 43, 37), 0xffffff);
    assert_int_equal(pixel(f, 36, 36), 0xaa0000);
    assert_int_equal(pixel(f, 0, 0), 0x000000);       /* blank cells: black */
    assert_int_equal(pixel(f, 719, 399), 0x000000);
    char text[4096];
    vga_text_snapshot(&f->vga, text, sizeof(text));
    assert_non_null(strstr(text, "\n\n    H\n"));
}

/* Mode 3 with the start address at row 5 and the line compare at scan line 159: rows 0-9
 * show memory rows 5-14, rows 10 on memory from address 0. */
static void test_text_split_screen(void **state)
{
    struct fixture *f = *state;
    set_mode3(f, false);
    f->vga.vram[('A' * 32 + 3) * 4 + 2] = 0x81;
    f->vga.vram[(80 * 5 * 2) * 4 + 0] = 'A';          /* memory row 5, column 0 */
    f->vga.vram[(80 * 5 * 2) * 4 + 1] = 0x07;
    f->vga.vram[(1 * 2) * 4 + 0] = 'A';               /* memory row 0, column 1 */
    f->vga.vram[(1 * 2) * 4 + 1] = 0x07;
    out8(f, 0x3d4, 0x0c);
    out8(f, 0x3d5, (80 * 5) >> 8);
    out8(f, 0x3d4, 0x0d);
    out8(f, 0x3d5, (80 * 5) & 0xff);
    out8(f, 0x3d4, 0x18);
    out8(f, 0x3d5, 159);
    out8(f, 0x3d4, 0x07);
    out8(f, 0x3d5, 0x0f);                             /* line compare bit 8 clear */
    out8(f, 0x3d4, 0x09);
    out8(f, 0x3d5, 0x0f);                             /* bit 9 clear, 16 scan lines per row */
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 2);
    assert_int_equal(pixel(f, 0, 3), 0xaaaaaa);        /* row 0: memory row 5's 'A' */
    assert_int_equal(pixel(f, 9, 10 * 16 + 3), 0xaaaaaa);  /* row 10: memory row 0's column 1 */
    assert_int_equal(pixel(f, 0, 10 * 16 + 3), 0);
    assert_int_equal(pixel(f, 0, 5 * 16 + 3), 0);      /* memory row 10 is blank */
}

static void set_ar(struct fixture *f, uint8_t index, uint8_t value)
{
    in8(f, 0x3da);
    out8(f, 0x3c0, index);
    out8(f, 0x3c0, value);
    out8(f, 0x3c0, 0x20);
}

/* Text smooth scrolling: the preset row scan moves the picture up by scan lines, AR13 left
 * by pixels (9-dot text: 8 none, 0-7 one to eight), CR08's byte panning by characters. */
static void test_text_panning(void **state)
{
    struct fixture *f = *state;
    set_mode3(f, false);
    for (int g = 0; g < 16; g++)                        /* 'A': a different pattern per line */
        f->vga.vram[('A' * 32 + g) * 4 + 2] = (uint8_t)(0x80 >> (g % 8) | g);
    for (int cell = 0; cell < 80 * 25; cell += 7) {
        f->vga.vram[cell * 2 * 4 + 0] = 'A';
        f->vga.vram[cell * 2 * 4 + 1] = (uint8_t)(0x01 + cell % 0x0e);
    }
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 2);
    size_t n = 720 * 400;
    uint32_t *plain = malloc(n * 4);
    assert_non_null(plain);
    memcpy(plain, f->r.surf.pixels, n * 4);

    out8(f, 0x3d4, 0x08);
    out8(f, 0x3d5, 5);                                  /* preset row scan 5 */
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 1);
    for (int y = 0; y < 395; y++)
        assert_memory_equal(&f->r.surf.pixels[y * 720], &plain[(y + 5) * 720], 720 * 4);

    out8(f, 0x3d4, 0x08);
    out8(f, 0x3d5, 0x00);
    set_ar(f, 0x13, 2);                                 /* 9-dot text: three pixels */
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 1);
    for (int y = 0; y < 400; y++)
        assert_memory_equal(&f->r.surf.pixels[y * 720], &plain[y * 720 + 3], 717 * 4);

    set_ar(f, 0x13, 8);                                 /* none */
    out8(f, 0x3d4, 0x08);
    out8(f, 0x3d5, 0x20 | 3);                           /* one character and 3 scan lines */
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 1);
    for (int y = 0; y < 397; y++)
        assert_memory_equal(&f->r.surf.pixels[y * 720], &plain[(y + 3) * 720 + 9], 711 * 4);

    /* Back to no panning: the unpanned picture, redrawn cell by cell again. */
    out8(f, 0x3d4, 0x08);
    out8(f, 0x3d5, 0x00);
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 1);
    assert_memory_equal(f->r.surf.pixels, plain, n * 4);
    phys_write(&f->mem, 0xb8000, 0x1741, 2);
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 1);
    for (int y = 0; y < 400; y++)
        assert_int_equal(f->r.line_dirty[y], y < 16);
    free(plain);
}

static void test_mode13h(void **state)
{
    struct fixture *f = *state;
    static const uint8_t seq[5] = { 0x03, 0x01, 0x0f, 0x00, 0x0e };
    static const uint8_t crtc[25] = { 0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0xbf, 0x1f, 0x00,
                                      0x41, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x9c, 0x0e,
                                      0x8f, 0x28, 0x40, 0x96, 0xb9, 0xa3, 0xff };
    static const uint8_t gfx[9] = { 0x00, 0x00, 0x00, 0x00, 0x00, 0x40, 0x05, 0x0f, 0xff };
    static const uint8_t attr[21] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15,
                                      0x41, 0x00, 0x0f, 0x00, 0x00 };
    out8(f, 0x3c2, 0x63);
    set_regs(f, 0x3c4, seq, 5);
    set_regs(f, 0x3d4, crtc, 25);
    set_attr(f, attr, 21);
    set_regs(f, 0x3ce, gfx, 9);
    set_dac(f, 0x42, 0x3f, 0x3f, 0);
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 2);
    assert_int_equal(f->r.surf.width, 320);
    assert_int_equal(f->r.surf.height, 200);
    phys_write(&f->mem, 0xa0000 + 150 * 320 + 77, 0x42, 1);
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 1);
    assert_int_equal(pixel(f, 77, 150), 0xffff00);
    assert_int_equal(pixel(f, 78, 150), 0);
    assert_int_equal(f->r.line_dirty[150], 1);
    assert_int_equal(f->r.line_dirty[10], 0);
}

/* Register values of a standard mode from the IBM VGA technical reference. */
struct std_mode {
    uint8_t misc, seq[5], crtc[25], attr[21], gfx[9];
};

static void set_std_mode(struct fixture *f, const struct std_mode *m)
{
    out8(f, 0x3c2, m->misc);
    set_regs(f, 0x3c4, m->seq, 5);
    out8(f, 0x3d4, 0x11);
    out8(f, 0x3d5, 0x00);
    set_regs(f, 0x3d4, m->crtc, 25);
    set_attr(f, m->attr, 21);
    set_regs(f, 0x3ce, m->gfx, 9);
}

/* Mode 4, 320x200 in 4 colors: odd/even host writes at 0xB8000, even lines in the first 8 KiB,
 * odd lines in the second, four 2-bit pixels per byte (shift register interleave). */
static void test_cga_mode4(void **state)
{
    struct fixture *f = *state;
    static const struct std_mode mode4 = {
        0x63, { 0x03, 0x09, 0x03, 0x00, 0x02 },
        { 0x2d, 0x27, 0x28, 0x90, 0x2b, 0x80, 0xbf, 0x1f, 0x00, 0xc1, 0x00, 0x00, 0x00,
          0x00, 0x00, 0x00, 0x9c, 0x8e, 0x8f, 0x14, 0x00, 0x96, 0xb9, 0xa2, 0xff },
        { 0x00, 0x13, 0x15, 0x17, 0x02, 0x04, 0x06, 0x07, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
          0x16, 0x17, 0x01, 0x00, 0x03, 0x00, 0x00 },
        { 0x00, 0x00, 0x00, 0x00, 0x00, 0x30, 0x0f, 0x00, 0xff },
    };
    set_std_mode(f, &mode4);
    set_dac(f, 0x13, 0, 0x3f, 0);
    set_dac(f, 0x15, 0x3f, 0, 0);
    set_dac(f, 0x17, 0x3f, 0x3f, 0x3f);
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 2);
    assert_int_equal(f->r.surf.width, 320);
    assert_int_equal(f->r.surf.height, 200);
    phys_write(&f->mem, 0xb8000 + 80 * 10 + 1, 0xe4, 1);            /* line 20, x 4-7: 3 2 1 0 */
    phys_write(&f->mem, 0xb8000 + 0x2000 + 80 * 10 + 3, 0x1b, 1);   /* line 21, x 12-15: 0 1 2 3 */
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 1);
    assert_int_equal(pixel(f, 4, 20), 0xffffff);
    assert_int_equal(pixel(f, 5, 20), 0xff0000);
    assert_int_equal(pixel(f, 6, 20), 0x00ff00);
    assert_int_equal(pixel(f, 7, 20), 0);
    assert_int_equal(pixel(f, 12, 21), 0);
    assert_int_equal(pixel(f, 13, 21), 0x00ff00);
    assert_int_equal(pixel(f, 14, 21), 0xff0000);
    assert_int_equal(pixel(f, 15, 21), 0xffffff);
    assert_int_equal(pixel(f, 4, 21), 0);       /* the odd line is not a copy of the even one */
    assert_int_equal(pixel(f, 13, 20), 0);
    /* Only the lines of the written banks' pages were redrawn. */
    assert_true(f->r.line_dirty[20] && f->r.line_dirty[21]);
    assert_false(f->r.line_dirty[199]);
}

/* Mode 6, 640x200 in 2 colors: one bit per pixel in plane 0, CGA line banks. */
static void test_cga_mode6(void **state)
{
    struct fixture *f = *state;
    static const struct std_mode mode6 = {
        0x63, { 0x03, 0x01, 0x01, 0x00, 0x06 },
        { 0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0xbf, 0x1f, 0x00, 0xc1, 0x00, 0x00, 0x00,
          0x00, 0x00, 0x00, 0x9c, 0x8e, 0x8f, 0x28, 0x00, 0x96, 0xb9, 0xc2, 0xff },
        { 0x00, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17, 0x17,
          0x17, 0x17, 0x01, 0x00, 0x01, 0x00, 0x00 },
        { 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0d, 0x00, 0xff },
    };
    set_std_mode(f, &mode6);
    set_dac(f, 0x17, 0x3f, 0x3f, 0x3f);
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 2);
    assert_int_equal(f->r.surf.width, 640);
    assert_int_equal(f->r.surf.height, 200);
    phys_write(&f->mem, 0xb8000 + 0x2000 + 80 * 5 + 2, 0x81, 1);    /* line 11, x 16 and 23 */
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 1);
    assert_int_equal(pixel(f, 16, 11), 0xffffff);
    assert_int_equal(pixel(f, 17, 11), 0);
    assert_int_equal(pixel(f, 23, 11), 0xffffff);
    assert_int_equal(pixel(f, 16, 10), 0);
    assert_int_equal(pixel(f, 16, 12), 0);
}

static const struct std_mode mode12h = {
    0xe3, { 0x03, 0x01, 0x0f, 0x00, 0x06 },
    { 0x5f, 0x4f, 0x50, 0x82, 0x54, 0x80, 0x0b, 0x3e, 0x00, 0x40, 0x00, 0x00, 0x00,
      0x00, 0x00, 0x00, 0xea, 0x8c, 0xdf, 0x28, 0x00, 0xe7, 0x04, 0xe3, 0xff },
    { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d,
      0x0e, 0x0f, 0x01, 0x00, 0x0f, 0x00, 0x00 },
    { 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x0f, 0xff },
};

/* Mode 12h with the line compare at 99 and the start address at line 10: lines 0-99 show
 * memory from line 10 on, lines 100 on memory from address 0 (a split screen); pixel panning
 * shifts the upper part only once AR10 bit 5 asks for it. */
static void test_split_screen_and_panning(void **state)
{
    struct fixture *f = *state;
    set_std_mode(f, &mode12h);
    set_dac(f, 1, 0x3f, 0, 0);
    set_dac(f, 2, 0, 0x3f, 0);
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 2);
    assert_int_equal(f->r.surf.width, 640);
    assert_int_equal(f->r.surf.height, 480);
    f->vga.vram[(80 * 0) * 4 + 0] = 0x10;      /* memory line 0: pixel 3 in color 1 */
    f->vga.vram[(80 * 10) * 4 + 1] = 0x80;     /* memory line 10: pixel 0 in color 2 */
    out8(f, 0x3d4, 0x0c);
    out8(f, 0x3d5, (80 * 10) >> 8);
    out8(f, 0x3d4, 0x0d);
    out8(f, 0x3d5, (80 * 10) & 0xff);
    out8(f, 0x3d4, 0x18);
    out8(f, 0x3d5, 99);                         /* line compare bits 7-0 */
    out8(f, 0x3d4, 0x07);
    out8(f, 0x3d5, 0x2e);                       /* bit 8 (CR7 bit 4) clear */
    out8(f, 0x3d4, 0x09);
    out8(f, 0x3d5, 0x00);                       /* bit 9 (CR9 bit 6) clear */
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 1);
    assert_int_equal(pixel(f, 0, 0), 0x00ff00);     /* memory line 10 on top */
    assert_int_equal(pixel(f, 3, 0), 0);
    assert_int_equal(pixel(f, 0, 99), 0);           /* memory line 109 */
    assert_int_equal(pixel(f, 3, 100), 0xff0000);   /* memory line 0 below the split */
    assert_int_equal(pixel(f, 0, 110), 0x00ff00);   /* memory line 10 again, 10 lines lower */
    /* Pixel panning by 3: both parts move left (AR10 bit 5 clear). */
    in8(f, 0x3da);
    out8(f, 0x3c0, 0x13 | 0x20);
    out8(f, 0x3c0, 3);
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 1);
    assert_int_equal(pixel(f, 0, 100), 0xff0000);
    assert_int_equal(pixel(f, 3, 100), 0);
    /* AR10 bit 5: the split part is not panned. */
    in8(f, 0x3da);
    out8(f, 0x3c0, 0x10 | 0x20);
    out8(f, 0x3c0, 0x21);
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 1);
    assert_int_equal(pixel(f, 3, 100), 0xff0000);
    assert_int_equal(pixel(f, 0, 100), 0);
}

static void vbe(struct fixture *f, uint16_t index, uint16_t value)
{
    out16(f, 0x1ce, index);
    out16(f, 0x1cf, value);
}

static void test_vbe(void **state)
{
    struct fixture *f = *state;
    vbe(f, VBE_DISPI_INDEX_XRES, 640);
    vbe(f, VBE_DISPI_INDEX_YRES, 480);
    vbe(f, VBE_DISPI_INDEX_BPP, 32);
    vbe(f, VBE_DISPI_INDEX_ENABLE, 0x41);
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 2);
    assert_int_equal(f->r.surf.width, 640);
    assert_int_equal(f->r.surf.height, 480);
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 0);
    /* Pixel (5, 10) through the banked window: bytes are blue, green, red. */
    phys_write(&f->mem, 0xa0000 + (10 * 640 + 5) * 4, 0x00332211, 4);
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 1);
    assert_int_equal(pixel(f, 5, 10), 0x332211);
    /* Only the lines sharing its 4 KiB VRAM page (2560-byte lines) are redrawn. */
    int dirty = 0;
    for (int y = 0; y < 480; y++)
        dirty += f->r.line_dirty[y];
    assert_true(f->r.line_dirty[10]);
    assert_in_range(dirty, 1, 3);
    /* 16 bpp: a new mode, a new surface. */
    vbe(f, VBE_DISPI_INDEX_ENABLE, 0);
    vbe(f, VBE_DISPI_INDEX_BPP, 16);
    vbe(f, VBE_DISPI_INDEX_XRES, 800);
    vbe(f, VBE_DISPI_INDEX_YRES, 600);
    vbe(f, VBE_DISPI_INDEX_ENABLE, 0x41);
    phys_write(&f->mem, 0xa0000, 0xf800, 2); /* pure red in 5:6:5 */
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 2);
    assert_int_equal(f->r.surf.width, 800);
    assert_int_equal(pixel(f, 0, 0), 0xff0000);
}

static void test_screendump(void **state)
{
    struct fixture *f = *state;
    set_mode3(f, false);
    assert_int_equal(vga_render_update(&f->r, &f->vga, 0, false), 2);
    char dir[] = "/tmp/pcvm-test-display.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char ppm[64], png[64], err[256];
    snprintf(ppm, sizeof(ppm), "%s/a.ppm", dir);
    snprintf(png, sizeof(png), "%s/a.png", dir);
    assert_int_equal(screendump_write(&f->r.surf, ppm, SCREENDUMP_PPM, err, sizeof(err)), 0);
    assert_int_equal(screendump_write(&f->r.surf, png, SCREENDUMP_PNG, err, sizeof(err)), 0);
    char head[16] = { 0 };
    FILE *in = fopen(ppm, "rb");
    assert_non_null(in);
    assert_int_equal(fread(head, 1, 15, in), 15);
    fclose(in);
    assert_memory_equal(head, "P6\n720 400\n255\n", 15);
    in = fopen(png, "rb");
    assert_non_null(in);
    assert_int_equal(fread(head, 1, 8, in), 8);
    fclose(in);
    assert_memory_equal(head, "\x89PNG\r\n\x1a\n", 8);
    unlink(ppm);
    unlink(png);
    rmdir(dir);
    assert_int_equal(screendump_write(&f->r.surf, "/nonexistent/dir/x.ppm", SCREENDUMP_PPM, err,
                                      sizeof(err)), -1);
    assert_non_null(strstr(err, "could not open"));
}

static void test_vnc_spec(void **state)
{
    (void)state;
    struct vnc_spec s;
    char err[256];
    assert_int_equal(vnc_spec_parse(":1", &s, err, sizeof(err)), 0);
    assert_int_equal(s.display, 1);
    assert_string_equal(s.host, "");
    assert_int_equal(s.to, -1);
    assert_false(s.password);
    assert_int_equal(vnc_spec_parse("0.0.0.0:0", &s, err, sizeof(err)), 0);
    assert_string_equal(s.host, "0.0.0.0");
    assert_int_equal(vnc_spec_parse("localhost:5,password=on,to=9", &s, err, sizeof(err)), 0);
    assert_true(s.password);
    assert_int_equal(s.to, 9);
    assert_int_equal(vnc_spec_parse("[::1]:2", &s, err, sizeof(err)), 0);
    assert_string_equal(s.host, "::1");
    assert_int_equal(vnc_spec_parse("unix:/tmp/v.sock", &s, err, sizeof(err)), 0);
    assert_true(s.unix_socket);
    assert_string_equal(s.path, "/tmp/v.sock");
    assert_int_equal(vnc_spec_parse("none", &s, err, sizeof(err)), 0);
    assert_true(s.none);
    const char *bad[] = { "1", ":x", ":", ":1,foo=1", ":5,to=3", ":1,password=maybe", "unix:",
                          ":70000", ":-1" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(vnc_spec_parse(bad[i], &s, err, sizeof(err)), -1);
}

static void test_keymaps(void **state)
{
    (void)state;
    const struct keymap *us = keymap_find("en-us"), *de = keymap_find("de");
    assert_non_null(us);
    assert_non_null(de);
    assert_null(keymap_find("xx"));
    int mods;
    assert_int_equal(keymap_keysym(us, 'a', &mods), 0x1e);
    assert_int_equal(mods, 0);
    assert_int_equal(keymap_keysym(us, 'A', &mods), 0x1e);
    assert_int_equal(mods, KEYMAP_SHIFT);
    assert_int_equal(keymap_keysym(us, '@', &mods), 0x03);
    assert_int_equal(mods, KEYMAP_SHIFT);
    assert_int_equal(keymap_keysym(us, 0xff0d, &mods), 0x1c); /* Return */
    assert_int_equal(mods, -1);
    assert_int_equal(keymap_keysym(us, 0xff52, &mods), 0xe048); /* Up */
    assert_int_equal(keymap_keysym(de, 'z', &mods), 0x15);
    assert_int_equal(keymap_keysym(de, 'y', &mods), 0x2c);
    assert_int_equal(keymap_keysym(de, '@', &mods), 0x10);
    assert_int_equal(mods, KEYMAP_ALTGR);
    assert_int_equal(keymap_keysym(de, 0xe4, &mods), 0x28);   /* adiaeresis */
    assert_int_equal(mods, 0);
    assert_int_equal(keymap_keysym(de, '/', &mods), 0x08);
    assert_int_equal(mods, KEYMAP_SHIFT);
    assert_int_equal(keymap_keysym(de, 0x20ac, &mods), 0x12); /* EuroSign */
    assert_int_equal(mods, KEYMAP_ALTGR);
    assert_int_equal(keymap_keysym(de, 0x10000e4, &mods), 0x28); /* Unicode keysym */
    assert_int_equal(keymap_keysym(us, 0x123456, &mods), 0);
}

/* Layouts compiled from Debian's XKB data (xkb-data) with libxkbcommon. */
static void test_xkb_keymaps(void **state)
{
    (void)state;
    char err[256];
    assert_true(keymap_known("fr"));
    assert_true(keymap_known("en-us"));
    assert_false(keymap_known("xx"));
    assert_null(keymap_load("xx", err, sizeof(err)));
    assert_non_null(strstr(err, "unknown keyboard layout 'xx'"));
    assert_ptr_equal(keymap_load("de", err, sizeof(err)), keymap_find("de"));

    const struct keymap *fr = keymap_load("fr", err, sizeof(err));
    assert_non_null(fr);
    int mods;
    assert_int_equal(keymap_keysym(fr, 'a', &mods), 0x10);       /* AZERTY */
    assert_int_equal(mods, 0);
    assert_int_equal(keymap_keysym(fr, 'q', &mods), 0x1e);
    assert_int_equal(keymap_keysym(fr, 'm', &mods), 0x27);
    assert_int_equal(keymap_keysym(fr, '1', &mods), 0x02);
    assert_int_equal(mods, KEYMAP_SHIFT);
    assert_int_equal(keymap_keysym(fr, 0xe9, &mods), 0x03);      /* eacute */
    assert_int_equal(mods, 0);
    assert_int_equal(keymap_keysym(fr, '@', &mods), 0x0b);
    assert_int_equal(mods, KEYMAP_ALTGR);
    assert_int_equal(keymap_keysym(fr, '^', &mods), 0x1a);       /* nodeadkeys: a plain ^ */
    assert_int_equal(mods, 0);
    assert_int_equal(keymap_keysym(fr, 0xff0d, &mods), 0x1c);    /* Return, as everywhere */
    keymap_free(fr);

    const struct keymap *gb = keymap_load("en-gb", err, sizeof(err));
    assert_non_null(gb);
    assert_int_equal(keymap_keysym(gb, 0xa3, &mods), 0x04);      /* sterling */
    assert_int_equal(mods, KEYMAP_SHIFT);
    assert_int_equal(keymap_keysym(gb, '"', &mods), 0x03);
    assert_int_equal(keymap_keysym(gb, '@', &mods), 0x28);
    assert_int_equal(mods, KEYMAP_SHIFT);
    assert_int_equal(keymap_keysym(gb, '#', &mods), 0x2b);
    assert_int_equal(mods, 0);
    assert_int_equal(keymap_keysym(gb, '\\', &mods), 0x56);      /* the key left of Z */
    assert_int_equal(keymap_keysym(gb, 0xc6, &mods), 0x1e);      /* AE: Shift+AltGr+A */
    assert_int_equal(mods, KEYMAP_SHIFT | KEYMAP_ALTGR);
    keymap_free(gb);

    const struct keymap *ch = keymap_load("de-ch", err, sizeof(err));
    assert_non_null(ch);
    assert_int_equal(keymap_keysym(ch, 'z', &mods), 0x15);
    assert_int_equal(keymap_keysym(ch, '@', &mods), 0x03);
    assert_int_equal(mods, KEYMAP_ALTGR);
    keymap_free(ch);

    /* Every name -k offers loads, with a key for each digit. */
    char names[512];
    snprintf(names, sizeof(names), "%s", keymap_names());
    for (char *save = NULL, *name = strtok_r(names, ", ", &save); name; name = strtok_r(NULL, ", ", &save)) {
        const struct keymap *km = keymap_load(name, err, sizeof(err));
        if (!km)
            fail_msg("-k %s: %s", name, err);
        unsigned found = 0;
        for (uint32_t digit = '0'; digit <= '9'; digit++)
            found += keymap_keysym(km, digit, &mods) != 0;
        if (found != 10 && strcmp(name, "ar") && strcmp(name, "th"))
            fail_msg("-k %s: only %u of the 10 digits", name, found);
        keymap_free(km);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_text_cells, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mode3_without_bios, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_split_screen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_text_panning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mode13h, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cga_mode4, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cga_mode6, setup, teardown),
        cmocka_unit_test_setup_teardown(test_split_screen_and_panning, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vbe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_screendump, setup, teardown),
        cmocka_unit_test(test_vnc_spec),
        cmocka_unit_test(test_keymaps),
        cmocka_unit_test(test_xkb_keymaps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
