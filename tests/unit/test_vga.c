/* VGA: mode 3 text through odd/even access and the text snapshot, font plane loading, planar
 * write modes 0-3 with latches/logic/bit mask, read mode 1, chain-4, DAC, attribute flip-flop,
 * retrace toggling, CRTC protection, Bochs VBE dispi and the PCI function with its BAR.
 * Register values of mode 3 from the IBM VGA technical reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hw/vga.h"
#include "vga_fixture.h"

static void put_text(struct fixture *f, int row, int col, const char *s, uint8_t attr)
{
    for (int i = 0; s[i]; i++)
        phys_write(&f->mem, 0xb8000 + (uint32_t)((row * 80 + col + i) * 2),
                   (uint8_t)s[i] | (uint32_t)attr << 8, 2);
}

static void clear_screen(struct fixture *f)
{
    for (uint32_t i = 0; i < 80 * 25; i++)
        phys_write(&f->mem, 0xb8000 + i * 2, 0x0720, 2);
}

static void text_mode_snapshot(void **state)
{
    struct fixture *f = *state;
    set_mode3(f, true);
    assert_false(vga_is_graphics(&f->vga));
    clear_screen(f);
    put_text(f, 0, 0, "SeaBIOS (version 1.16)", 0x07);
    put_text(f, 2, 4, "\xc9\xcd\xbb", 0x1f); /* box drawing in code page 437 */
    char buf[4096];
    size_t n = vga_text_snapshot(&f->vga, buf, sizeof(buf));
    assert_int_equal(n, strlen(buf));
    const char *want = "SeaBIOS (version 1.16)\n\n    \xe2\x95\x94\xe2\x95\x90\xe2\x95\x97\n";
    assert_memory_equal(buf, want, strlen(want));
    /* 25 lines. */
    int lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += buf[i] == '\n';
    assert_int_equal(lines, 25);
    /* Characters land in plane 0, attributes in plane 1, at even offsets. */
    assert_int_equal(f->vga.vram[0 * 4 + 0], 'S');
    assert_int_equal(f->vga.vram[0 * 4 + 1], 0x07);
    assert_int_equal(f->vga.vram[2 * 4 + 0], 'e');
    assert_int_equal(phys_read(&f->mem, 0xb8002, 2), 0x0700 | 'e');
    /* The mode 3 window is 0xB8000-0xBFFFF only. */
    assert_int_equal(phys_read(&f->mem, 0xa0000, 1), 0xff);
    /* A small buffer gets a truncated, terminated string and the full length back. */
    char small[8];
    assert_int_equal(vga_text_snapshot(&f->vga, small, sizeof(small)), n);
    assert_string_equal(small, "SeaBIOS");
}

static void start_address_and_cursor(void **state)
{
    struct fixture *f = *state;
    set_mode3(f, true);
    clear_screen(f);
    put_text(f, 1, 0, "second row", 0x07);
    out8(f, 0x3d4, 0x0c);
    out8(f, 0x3d5, 0x00);
    out8(f, 0x3d4, 0x0d);
    out8(f, 0x3d5, 80); /* start one row down */
    char buf[4096];
    vga_text_snapshot(&f->vga, buf, sizeof(buf));
    assert_memory_equal(buf, "second row\n", 11);
    out8(f, 0x3d4, 0x0e);
    out8(f, 0x3d5, 0x00);
    out8(f, 0x3d4, 0x0f);
    out8(f, 0x3d5, 80 + 2 * 80 + 5);
    int cols, rows, cx, cy;
    vga_text_info(&f->vga, &cols, &rows, &cx, &cy);
    assert_int_equal(cols, 80);
    assert_int_equal(rows, 25);
    assert_int_equal(cx, 5);
    assert_int_equal(cy, 2);
    /* A wider virtual row (offset register 0x50 words = 160 characters). */
    out8(f, 0x3d4, 0x13);
    out8(f, 0x3d5, 0x50);
    put_text(f, 3, 0, "row two of 160", 0x07); /* character 240 = start 80 + one row of 160 */
    char wide[4096];
    vga_text_snapshot(&f->vga, wide, sizeof(wide));
    assert_memory_equal(wide, "second row\nrow two of 160\n", 26);
    out8(f, 0x3d4, 0x0e);
    out8(f, 0x3d5, 0x01);
    out8(f, 0x3d4, 0x0f);
    out8(f, 0x3d5, 0x40); /* 0x140 - start 80 = 240 = row 1, column 80: off screen */
    vga_text_info(&f->vga, &cols, &rows, &cx, &cy);
    assert_int_equal(cx, -1);
    out8(f, 0x3d4, 0x0f);
    out8(f, 0x3d5, 0x00); /* 0x100 - 80 = 176 = row 1, column 16 */
    vga_text_info(&f->vga, &cols, &rows, &cx, &cy);
    assert_int_equal(cx, 16);
    assert_int_equal(cy, 1);
    out8(f, 0x3d4, 0x0a);
    out8(f, 0x3d5, 0x20); /* cursor off */
    vga_text_info(&f->vga, &cols, &rows, &cx, &cy);
    assert_int_equal(cx, -1);
}

static void font_plane_loading(void **state)
{
    struct fixture *f = *state;
    set_mode3(f, true);
    clear_screen(f);
    put_text(f, 0, 0, "AB", 0x07);
    /* As a VGA BIOS loads fonts: sequential planar access to plane 2 at 0xA0000. */
    out8(f, 0x3c4, 2); out8(f, 0x3c5, 0x04);
    out8(f, 0x3c4, 4); out8(f, 0x3c5, 0x07);
    out8(f, 0x3ce, 4); out8(f, 0x3cf, 0x02);
    out8(f, 0x3ce, 5); out8(f, 0x3cf, 0x00);
    out8(f, 0x3ce, 6); out8(f, 0x3cf, 0x04);
    for (int i = 0; i < 16; i++)
        phys_write(&f->mem, 0xa0000 + 'A' * 32 + (uint32_t)i, (uint32_t)(0x80 | i), 1);
    assert_int_equal(phys_read(&f->mem, 0xa0000 + 'A' * 32 + 3, 1), 0x83);
    assert_int_equal(f->vga.vram[('A' * 32 + 3) * 4 + 2], 0x83);
    set_mode3(f, true);
    char buf[4096];
    vga_text_snapshot(&f->vga, buf, sizeof(buf));
    assert_memory_equal(buf, "AB\n", 3); /* text planes untouched */
}

static void planar_write_modes(void **state)
{
    struct fixture *f = *state;
    /* Mode 12h-like: planar, 64 KiB window at 0xA0000. */
    out8(f, 0x3c4, 4); out8(f, 0x3c5, 0x06);
    out8(f, 0x3c4, 2); out8(f, 0x3c5, 0x0f);
    out8(f, 0x3ce, 6); out8(f, 0x3cf, 0x05);
    out8(f, 0x3ce, 5); out8(f, 0x3cf, 0x00);
    out8(f, 0x3ce, 8); out8(f, 0x3cf, 0xff);
    assert_true(vga_is_graphics(&f->vga));
    /* Write mode 0, no set/reset: the byte goes to every enabled plane. */
    phys_write(&f->mem, 0xa0000, 0x5a, 1);
    for (int p = 0; p < 4; p++)
        assert_int_equal(f->vga.vram[p], 0x5a);
    /* Set/reset for planes 0 and 2 (value 0101b), enabled for all planes. */
    out8(f, 0x3ce, 0); out8(f, 0x3cf, 0x05);
    out8(f, 0x3ce, 1); out8(f, 0x3cf, 0x0f);
    phys_write(&f->mem, 0xa0001, 0x00, 1);
    assert_int_equal(f->vga.vram[4 + 0], 0xff);
    assert_int_equal(f->vga.vram[4 + 1], 0x00);
    assert_int_equal(f->vga.vram[4 + 2], 0xff);
    assert_int_equal(f->vga.vram[4 + 3], 0x00);
    out8(f, 0x3ce, 1); out8(f, 0x3cf, 0x00);
    /* Bit mask keeps latched bits: read to load latches, write with mask 0x0f. */
    (void)phys_read(&f->mem, 0xa0000, 1);
    out8(f, 0x3ce, 8); out8(f, 0x3cf, 0x0f);
    phys_write(&f->mem, 0xa0000, 0xff, 1);
    assert_int_equal(f->vga.vram[0], 0x5f);
    /* XOR with the latches. */
    out8(f, 0x3ce, 8); out8(f, 0x3cf, 0xff);
    out8(f, 0x3ce, 3); out8(f, 0x3cf, 0x18);
    (void)phys_read(&f->mem, 0xa0000, 1);
    phys_write(&f->mem, 0xa0000, 0xff, 1);
    assert_int_equal(f->vga.vram[0], 0xa0);
    out8(f, 0x3ce, 3); out8(f, 0x3cf, 0x00);
    /* Rotate count 4. */
    out8(f, 0x3ce, 3); out8(f, 0x3cf, 0x04);
    phys_write(&f->mem, 0xa0002, 0x0f, 1);
    assert_int_equal(f->vga.vram[8], 0xf0);
    out8(f, 0x3ce, 3); out8(f, 0x3cf, 0x00);
    /* Write mode 1 copies the latches (a VRAM-to-VRAM copy). */
    (void)phys_read(&f->mem, 0xa0001, 1);
    out8(f, 0x3ce, 5); out8(f, 0x3cf, 0x01);
    phys_write(&f->mem, 0xa0010, 0x00, 1);
    for (int p = 0; p < 4; p++)
        assert_int_equal(f->vga.vram[0x10 * 4 + p], f->vga.vram[4 + p]);
    /* Write mode 2: data bits 0-3 are colors per plane. */
    out8(f, 0x3ce, 5); out8(f, 0x3cf, 0x02);
    phys_write(&f->mem, 0xa0020, 0x09, 1);
    assert_int_equal(f->vga.vram[0x20 * 4 + 0], 0xff);
    assert_int_equal(f->vga.vram[0x20 * 4 + 1], 0x00);
    assert_int_equal(f->vga.vram[0x20 * 4 + 2], 0x00);
    assert_int_equal(f->vga.vram[0x20 * 4 + 3], 0xff);
    /* Write mode 3: set/reset color, rotated data ANDed with the bit mask. */
    (void)phys_read(&f->mem, 0xa0030, 1); /* latches 0 */
    out8(f, 0x3ce, 5); out8(f, 0x3cf, 0x03);
    out8(f, 0x3ce, 0); out8(f, 0x3cf, 0x02);
    phys_write(&f->mem, 0xa0030, 0x3c, 1);
    assert_int_equal(f->vga.vram[0x30 * 4 + 0], 0x00);
    assert_int_equal(f->vga.vram[0x30 * 4 + 1], 0x3c);
    /* Map mask limits planes. */
    out8(f, 0x3ce, 5); out8(f, 0x3cf, 0x00);
    out8(f, 0x3c4, 2); out8(f, 0x3c5, 0x02);
    phys_write(&f->mem, 0xa0040, 0x77, 1);
    assert_int_equal(f->vga.vram[0x40 * 4 + 0], 0x00);
    assert_int_equal(f->vga.vram[0x40 * 4 + 1], 0x77);
    /* Read mode 0 selects the plane with GR4. */
    out8(f, 0x3ce, 4); out8(f, 0x3cf, 0x01);
    assert_int_equal(phys_read(&f->mem, 0xa0040, 1), 0x77);
    /* Read mode 1: pixels of color 1001b at 0x20 all match. */
    out8(f, 0x3ce, 5); out8(f, 0x3cf, 0x08);
    out8(f, 0x3ce, 2); out8(f, 0x3cf, 0x09);
    out8(f, 0x3ce, 7); out8(f, 0x3cf, 0x0f);
    assert_int_equal(phys_read(&f->mem, 0xa0020, 1), 0xff);
    out8(f, 0x3ce, 2); out8(f, 0x3cf, 0x01);
    assert_int_equal(phys_read(&f->mem, 0xa0020, 1), 0x00);
    out8(f, 0x3ce, 7); out8(f, 0x3cf, 0x01); /* only plane 0 matters */
    assert_int_equal(phys_read(&f->mem, 0xa0020, 1), 0xff);
}

static void chain4_mode13(void **state)
{
    struct fixture *f = *state;
    out8(f, 0x3c4, 4); out8(f, 0x3c5, 0x0e);
    out8(f, 0x3c4, 2); out8(f, 0x3c5, 0x0f);
    out8(f, 0x3ce, 5); out8(f, 0x3cf, 0x40);
    out8(f, 0x3ce, 6); out8(f, 0x3cf, 0x05);
    for (uint32_t i = 0; i < 8; i++)
        phys_write(&f->mem, 0xa0000 + i, 0x10 + i, 1);
    phys_write(&f->mem, 0xa0000 + 320 * 199 + 319, 0xee, 1);
    for (uint32_t i = 0; i < 8; i++)
        assert_int_equal(f->vga.vram[i], 0x10 + i); /* plane i & 3, offset i >> 2 */
    assert_int_equal(phys_read(&f->mem, 0xa0005, 1), 0x15);
    assert_int_equal(phys_read(&f->mem, 0xa0000 + 320 * 199 + 319, 1), 0xee);
    assert_int_equal(phys_read(&f->mem, 0xa0004, 4), 0x17161514);
}

static void dac_palette(void **state)
{
    struct fixture *f = *state;
    out8(f, 0x3c8, 5);
    out8(f, 0x3c9, 0x3f);
    out8(f, 0x3c9, 0x20);
    out8(f, 0x3c9, 0xff); /* 6-bit DAC keeps the low six bits */
    out8(f, 0x3c9, 0x01);
    assert_int_equal(in8(f, 0x3c7) & 3, 3);
    assert_int_equal(in8(f, 0x3c8), 6);
    out8(f, 0x3c7, 5);
    assert_int_equal(in8(f, 0x3c7) & 3, 0);
    assert_int_equal(in8(f, 0x3c9), 0x3f);
    assert_int_equal(in8(f, 0x3c9), 0x20);
    assert_int_equal(in8(f, 0x3c9), 0x3f);
    assert_int_equal(in8(f, 0x3c9), 0x01); /* auto-increment to entry 6 */
    assert_int_equal(in8(f, 0x3c6), 0xff);
}

static void attribute_flipflop_and_retrace(void **state)
{
    struct fixture *f = *state;
    out8(f, 0x3c2, 0x67);
    in8(f, 0x3da);
    out8(f, 0x3c0, 0x11); /* index */
    out8(f, 0x3c0, 0x2a); /* data: overscan */
    out8(f, 0x3c0, 0x31); /* next is an index again (with PAS) */
    assert_int_equal(in8(f, 0x3c0), 0x31);
    assert_int_equal(in8(f, 0x3c1), 0x2a);
    out8(f, 0x3c0, 0x12);
    in8(f, 0x3da); /* resets the flip-flop: the next write is an index */
    out8(f, 0x3c0, 0x13);
    out8(f, 0x3c0, 0x08);
    assert_int_equal(f->vga.ar[0x13], 0x08);
    assert_int_equal(f->vga.ar[0x12], 0x00);
    /* Vertical retrace (bit 3) and display-disabled (bit 0) toggle with virtual time. */
    int seen_vr[2] = { 0, 0 }, seen_de[2] = { 0, 0 };
    for (int i = 0; i < 400; i++) {
        f->insns += 97000; /* ~0.1 ms steps over ~2.3 frames */
        uint8_t st = in8(f, 0x3da);
        seen_vr[(st >> 3) & 1] = 1;
        seen_de[st & 1] = 1;
        if (st & 8)
            assert_int_equal(st & 1, 1);
    }
    assert_true(seen_vr[0] && seen_vr[1] && seen_de[0] && seen_de[1]);
    /* Monochrome addressing: 0x3D4 no longer answers, 0x3B4 does. */
    out8(f, 0x3c2, 0x66);
    out8(f, 0x3b4, 0x0e);
    out8(f, 0x3b5, 0x12);
    assert_int_equal(in8(f, 0x3b5), 0x12);
    assert_int_equal(in8(f, 0x3d5), 0xff);
}

static void crtc_write_protect(void **state)
{
    struct fixture *f = *state;
    out8(f, 0x3c2, 0x67);
    out8(f, 0x3d4, 0x11);
    out8(f, 0x3d5, 0x80);
    out8(f, 0x3d4, 0x01);
    out8(f, 0x3d5, 0x4f);
    assert_int_equal(in8(f, 0x3d5), 0x00); /* protected */
    out8(f, 0x3d4, 0x07);
    out8(f, 0x3d5, 0xff);
    assert_int_equal(in8(f, 0x3d5), 0x10); /* only line compare bit 8 */
    out8(f, 0x3d4, 0x0c);
    out8(f, 0x3d5, 0x12);
    assert_int_equal(in8(f, 0x3d5), 0x12);
    io_write(&f->io, 0x3d4, 0x340e, 2); /* word write: index 0x0E, data 0x34 */
    assert_int_equal(f->vga.cr[0x0e], 0x34);
}

static uint16_t dispi_rd(struct fixture *f, uint16_t idx)
{
    io_write(&f->io, 0x1ce, idx, 2);
    return (uint16_t)io_read(&f->io, 0x1cf, 2);
}

static void dispi_wr(struct fixture *f, uint16_t idx, uint16_t v)
{
    io_write(&f->io, 0x1ce, idx, 2);
    io_write(&f->io, 0x1cf, v, 2);
}

static void bochs_vbe(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(dispi_rd(f, 0), 0xb0c5);
    dispi_wr(f, 0, 0xb0c0);
    assert_int_equal(dispi_rd(f, 0), 0xb0c0);
    dispi_wr(f, 0, 0x1234); /* not an ID: ignored */
    assert_int_equal(dispi_rd(f, 0), 0xb0c0);
    assert_int_equal(dispi_rd(f, 0x0a), 256); /* 16 MiB in 64 KiB units */
    dispi_wr(f, 4, 0x02);                      /* GETCAPS */
    assert_int_equal(dispi_rd(f, 1), 2560);
    assert_int_equal(dispi_rd(f, 3), 32);
    dispi_wr(f, 4, 0x00);
    dispi_wr(f, 1, 640);
    dispi_wr(f, 2, 480);
    dispi_wr(f, 3, 32);
    f->vga.vram[100] = 0xaa;
    dispi_wr(f, 4, 0x41); /* enabled, LFB */
    assert_true(vga_is_graphics(&f->vga));
    assert_int_equal(f->vga.vram[100], 0); /* cleared */
    assert_int_equal(dispi_rd(f, 6), 640);
    assert_int_equal(dispi_rd(f, 7), (16u << 20) / (640 * 4));
    assert_int_equal(dispi_rd(f, 4), 0x41);
    dispi_wr(f, 1, 800); /* ignored while enabled */
    assert_int_equal(dispi_rd(f, 1), 640);
    /* Banked window: bank 2 shows VRAM from 128 KiB. */
    dispi_wr(f, 5, 2);
    phys_write(&f->mem, 0xa0010, 0xcafe, 2);
    assert_int_equal(f->vga.vram[0x20010], 0xfe);
    assert_int_equal(f->vga.vram[0x20011], 0xca);
    char buf[64];
    assert_int_equal(vga_text_snapshot(&f->vga, buf, sizeof(buf)), 0);
    assert_string_equal(buf, "");
}

static void pci_function_and_framebuffer_bar(void **state)
{
    struct fixture *f = *state;
    uint8_t devfn = 2 << 3;
    assert_int_equal(pci_config_read(&f->bus, devfn, 0, 4), 0x11111234);
    assert_int_equal(pci_config_read(&f->bus, devfn, 0x0a, 2), 0x0300);
    assert_int_equal(pci_config_read(&f->bus, devfn, 0x2c, 4), 0x11001af4);
    pci_config_write(&f->bus, devfn, 0x10, 0xffffffff, 4);
    assert_int_equal(pci_config_read(&f->bus, devfn, 0x10, 4), 0xff000008); /* 16 MiB, prefetch */
    pci_config_write(&f->bus, devfn, 0x10, 0xfd000000, 4);
    pci_config_write(&f->bus, devfn, 0x04, 0x0002, 2); /* memory space on */
    f->vga.vram[0x1234] = 0x42;
    assert_int_equal(phys_read(&f->mem, 0xfd001234, 1), 0x42);
    phys_write(&f->mem, 0xfd000100, 0x11223344, 4);
    assert_int_equal(f->vga.vram[0x100], 0x44);
    assert_int_equal(f->vga.vram[0x103], 0x11);
}

static void expansion_rom_bar(void **state)
{
    struct fixture *f = *state;
    uint8_t devfn = 2 << 3;
    uint8_t image[40000];
    memset(image, 0, sizeof(image));
    image[0] = 0x55;
    image[1] = 0xaa;
    image[2] = (uint8_t)(sizeof(image) / 512 + 1);
    image[sizeof(image) - 1] = 0x77;
    assert_int_equal(pci_config_read(&f->bus, devfn, 0x30, 4), 0); /* no ROM yet */
    assert_int_equal(vga_set_rom(&f->vga, image, sizeof(image)), 0);
    pci_config_write(&f->bus, devfn, 0x30, 0xfffff800, 4);
    assert_int_equal(pci_config_read(&f->bus, devfn, 0x30, 4), 0xffff0000); /* 64 KiB */
    pci_config_write(&f->bus, devfn, 0x30, 0xfeb00001, 4);
    assert_int_equal(phys_read(&f->mem, 0xfeb00000, 2), 0xffff); /* memory decode still off */
    pci_config_write(&f->bus, devfn, 0x04, 0x0002, 2);
    assert_int_equal(phys_read(&f->mem, 0xfeb00000, 2), 0xaa55);
    assert_int_equal(phys_read(&f->mem, 0xfeb00000 + sizeof(image) - 1, 1), 0x77);
    phys_write(&f->mem, 0xfeb00000, 0, 2); /* read-only */
    assert_int_equal(phys_read(&f->mem, 0xfeb00000, 2), 0xaa55);
    pci_config_write(&f->bus, devfn, 0x30, 0xfeb00000, 4); /* enable bit off: unmapped */
    assert_int_equal(phys_read(&f->mem, 0xfeb00000, 2), 0xffff);
    pci_config_write(&f->bus, devfn, 0x30, 0xfec10001, 4); /* moved */
    assert_int_equal(phys_read(&f->mem, 0xfec10000, 2), 0xaa55);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(text_mode_snapshot, setup, teardown),
        cmocka_unit_test_setup_teardown(start_address_and_cursor, setup, teardown),
        cmocka_unit_test_setup_teardown(font_plane_loading, setup, teardown),
        cmocka_unit_test_setup_teardown(planar_write_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(chain4_mode13, setup, teardown),
        cmocka_unit_test_setup_teardown(dac_palette, setup, teardown),
        cmocka_unit_test_setup_teardown(attribute_flipflop_and_retrace, setup, teardown),
        cmocka_unit_test_setup_teardown(crtc_write_protect, setup, teardown),
        cmocka_unit_test_setup_teardown(bochs_vbe, setup, teardown),
        cmocka_unit_test_setup_teardown(pci_function_and_framebuffer_bar, setup, teardown),
        cmocka_unit_test_setup_teardown(expansion_rom_bar, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
