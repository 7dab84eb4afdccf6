/* Standard VGA + Bochs VBE. Register semantics from the IBM VGA technical reference (sequencer,
 * graphics controller, attribute controller, CRTC, DAC) and the Bochs VBE "dispi" interface. */
#include "hw/vga.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bochs VBE constants. */
#define VBE_DISPI_ID0 0xb0c0
#define VBE_DISPI_ID5 0xb0c5
#define VBE_DISPI_MAX_XRES 2560
#define VBE_DISPI_MAX_YRES 1600
#define VBE_DISPI_MAX_BPP 32
enum { VBE_ENABLED = 0x01, VBE_GETCAPS = 0x02, VBE_8BIT_DAC = 0x20, VBE_LFB_ENABLED = 0x40,
       VBE_NOCLEARMEM = 0x80 };

/* Display timing for the input status register: 60 Hz frames of 525 lines (640x480). */
#define FRAME_NS 16683333
#define LINE_NS 31778
#define VRETRACE_NS 1000000     /* generous vertical retrace at the end of each frame */
#define HBLANK_NS (LINE_NS / 5) /* display disabled for the last fifth of each line */

/* ---- memory window ---- */

static bool vbe_enabled(const struct vga *s)
{
    return s->vbe_regs[VBE_DISPI_INDEX_ENABLE] & VBE_ENABLED;
}

bool vga_is_graphics(const struct vga *s)
{
    return vbe_enabled(s) || (s->gr[6] & 1);
}

/* Offset of physical address addr inside the window GR6 selects, or -1 outside it. */
static int64_t window_offset(const struct vga *s, uint32_t addr)
{
    uint32_t off = addr - 0xa0000;
    switch ((s->gr[6] >> 2) & 3) {
    case 0:
        return off;
    case 1:
        return off < 0x10000 ? (int64_t)off : -1;
    case 2:
        return off >= 0x10000 && off < 0x18000 ? (int64_t)(off - 0x10000) : -1;
    default:
        return off >= 0x18000 ? (int64_t)(off - 0x18000) : -1;
    }
}

static uint8_t plane_byte(const struct vga *s, uint32_t off, int plane)
{
    uint64_t i = (uint64_t)off * 4 + (unsigned)plane;
    return i < s->vram_size ? s->vram[i] : 0xff;
}

static void plane_store(struct vga *s, uint32_t off, int plane, uint8_t v)
{
    uint64_t i = (uint64_t)off * 4 + (unsigned)plane;
    if (i < s->vram_size && s->vram[i] != v) {
        s->vram[i] = v;
        vga_mark_dirty(s, i, 1);
    }
}

static uint8_t vga_mem_readb(struct vga *s, uint32_t addr)
{
    if (vbe_enabled(s) && s->vbe_regs[VBE_DISPI_INDEX_BPP] > 4) {
        uint32_t off = addr - 0xa0000;
        if (off >= 0x10000)
            return 0xff;
        uint64_t i = ((uint64_t)s->vbe_regs[VBE_DISPI_INDEX_BANK] << 16) + off;
        return i < s->vram_size ? s->vram[i] : 0xff;
    }
    int64_t w = window_offset(s, addr);
    if (w < 0)
        return 0xff;
    uint32_t off = (uint32_t)w;
    if (s->sr[4] & 0x08) /* chain-4: the low two address bits select the plane */
        return plane_byte(s, off >> 2, off & 3);
    if (s->gr[5] & 0x10) /* host odd/even: address bit 0 selects plane 0/1 (or 2/3) */
        return plane_byte(s, off & ~1u, (s->gr[4] & 2) | (off & 1));
    /* Planar: load the latches from all four planes. */
    s->latch = 0;
    for (int p = 0; p < 4; p++)
        s->latch |= (uint32_t)plane_byte(s, off, p) << (8 * p);
    if (!(s->gr[5] & 0x08)) /* read mode 0 */
        return (uint8_t)(s->latch >> (8 * (s->gr[4] & 3)));
    /* Read mode 1: color compare, ignoring planes not in the color don't-care register. */
    uint8_t result = 0xff;
    for (int p = 0; p < 4; p++) {
        if (!(s->gr[7] & (1 << p)))
            continue;
        uint8_t want = (s->gr[2] & (1 << p)) ? 0xff : 0x00;
        result &= (uint8_t)~((uint8_t)(s->latch >> (8 * p)) ^ want);
    }
    return result;
}

static uint8_t rotate_right(uint8_t v, unsigned n)
{
    n &= 7;
    return (uint8_t)((v >> n) | (v << ((8 - n) & 7)));
}

static void vga_mem_writeb(struct vga *s, uint32_t addr, uint8_t v)
{
    if (vbe_enabled(s) && s->vbe_regs[VBE_DISPI_INDEX_BPP] > 4) {
        uint32_t off = addr - 0xa0000;
        if (off >= 0x10000)
            return;
        uint64_t i = ((uint64_t)s->vbe_regs[VBE_DISPI_INDEX_BANK] << 16) + off;
        if (i < s->vram_size && s->vram[i] != v) {
            s->vram[i] = v;
            vga_mark_dirty(s, i, 1);
        }
        return;
    }
    int64_t w = window_offset(s, addr);
    if (w < 0)
        return;
    uint32_t off = (uint32_t)w;
    uint8_t map_mask = s->sr[2] & 0x0f;
    if (s->sr[4] & 0x08) {
        if (map_mask & (1 << (off & 3)))
            plane_store(s, off >> 2, off & 3, v);
        return;
    }
    if (!(s->sr[4] & 0x04)) { /* odd/even writes */
        for (int p = off & 1; p < 4; p += 2)
            if (map_mask & (1 << p))
                plane_store(s, off & ~1u, p, v);
        return;
    }
    /* Planar write modes. */
    unsigned mode = s->gr[5] & 3;
    uint8_t bit_mask = s->gr[8];
    uint8_t rot = rotate_right(v, s->gr[3] & 7);
    unsigned func = (s->gr[3] >> 3) & 3;
    uint8_t data[4];
    if (mode == 1) {
        for (int p = 0; p < 4; p++)
            data[p] = (uint8_t)(s->latch >> (8 * p));
    } else {
        for (int p = 0; p < 4; p++) {
            uint8_t sr_bits = (s->gr[0] & (1 << p)) ? 0xff : 0x00;
            uint8_t d;
            if (mode == 0)
                d = (s->gr[1] & (1 << p)) ? sr_bits : rot;
            else if (mode == 2)
                d = (v & (1 << p)) ? 0xff : 0x00;
            else
                d = sr_bits;
            uint8_t latch = (uint8_t)(s->latch >> (8 * p));
            switch (func) {
            case 1: d &= latch; break;
            case 2: d |= latch; break;
            case 3: d ^= latch; break;
            default: break;
            }
            uint8_t m = mode == 3 ? (uint8_t)(bit_mask & rot) : bit_mask;
            data[p] = (uint8_t)((d & m) | (latch & ~m));
        }
    }
    for (int p = 0; p < 4; p++)
        if (map_mask & (1 << p))
            plane_store(s, off, p, data[p]);
}

static uint32_t window_read(void *opaque, uint32_t offset, unsigned size)
{
    struct vga *s = opaque;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)vga_mem_readb(s, 0xa0000 + offset + i) << (8 * i);
    return v;
}

static void window_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    struct vga *s = opaque;
    for (unsigned i = 0; i < size; i++)
        vga_mem_writeb(s, 0xa0000 + offset + i, (uint8_t)(value >> (8 * i)));
}

/* The linear framebuffer (PCI BAR 0) sees VRAM bytes as they are stored. */
static uint32_t lfb_read(void *opaque, uint32_t offset, unsigned size)
{
    struct vga *s = opaque;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        if (offset + i < s->vram_size)
            v |= (uint32_t)s->vram[offset + i] << (8 * i);
    return v;
}

static void lfb_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    struct vga *s = opaque;
    for (unsigned i = 0; i < size; i++)
        if (offset + i < s->vram_size)
            s->vram[offset + i] = (uint8_t)(value >> (8 * i));
    vga_mark_dirty(s, offset, size);
}

/* ---- legacy registers ---- */

static bool color_crtc(const struct vga *s)
{
    return s->misc & 1;
}

static uint8_t input_status1(struct vga *s)
{
    int64_t now = s->clock ? vclock_now(s->clock) : 0;
    int64_t in_frame = now % FRAME_NS, in_line = now % LINE_NS;
    bool vretrace = in_frame >= FRAME_NS - VRETRACE_NS;
    bool blank = vretrace || in_line >= LINE_NS - HBLANK_NS;
    s->ar_flipflop = false; /* reading input status 1 resets the attribute index flip-flop */
    return (uint8_t)((vretrace ? 0x08 : 0) | (blank ? 0x01 : 0));
}

static uint8_t crtc_read(struct vga *s)
{
    return s->cr_index < 0x19 ? s->cr[s->cr_index] : 0xff;
}

static void crtc_write(struct vga *s, uint8_t v)
{
    uint8_t i = s->cr_index;
    if (i > 0x18) {
        log_printf(s->log, LOG_GUEST_ERRORS, "vga: write CRTC index 0x%02x\n", i);
        return;
    }
    if ((s->cr[0x11] & 0x80) && i <= 7) {
        /* CR11 bit 7 write-protects CR00-CR07, except CR07 bit 4 (line compare bit 8). */
        if (i == 7)
            s->cr[7] = (uint8_t)((s->cr[7] & ~0x10) | (v & 0x10));
        return;
    }
    s->cr[i] = v;
}

static uint8_t dac_read_data(struct vga *s)
{
    uint8_t v = s->dac[(s->dac_read_index * 3 + s->dac_sub) % 768];
    if (++s->dac_sub == 3) {
        s->dac_sub = 0;
        s->dac_read_index++;
    }
    return v;
}

static void dac_write_data(struct vga *s, uint8_t v)
{
    bool eight = s->vbe_regs[VBE_DISPI_INDEX_ENABLE] & VBE_8BIT_DAC;
    s->dac[(s->dac_write_index * 3 + s->dac_sub) % 768] = eight ? v : (v & 0x3f);
    if (++s->dac_sub == 3) {
        s->dac_sub = 0;
        s->dac_write_index++;
    }
}

static uint32_t vga_io_read(void *opaque, uint16_t port, unsigned size)
{
    struct vga *s = opaque;
    if (size == 2)
        return vga_io_read(s, port, 1) | vga_io_read(s, (uint16_t)(port + 1), 1) << 8;
    /* The CRTC and status ports answer only at the address misc output selects. */
    if ((port >= 0x3b0 && port <= 0x3bf && color_crtc(s)) ||
        (port >= 0x3d0 && port <= 0x3df && !color_crtc(s)))
        return 0xff;
    switch (port) {
    case 0x3c0:
        return s->ar_index;
    case 0x3c1:
        return s->ar[s->ar_index & 0x1f];
    case 0x3c2:
        return 0x10; /* input status 0: switch sense (a color monitor is attached) */
    case 0x3c3:
        return 1; /* VGA enable */
    case 0x3c4:
        return s->sr_index;
    case 0x3c5:
        return s->sr_index < 8 ? s->sr[s->sr_index] : 0xff;
    case 0x3c6:
        return s->pel_mask;
    case 0x3c7:
        return s->dac_state;
    case 0x3c8:
        return s->dac_write_index;
    case 0x3c9:
        return dac_read_data(s);
    case 0x3ca:
        return s->feature;
    case 0x3cc:
        return s->misc;
    case 0x3ce:
        return s->gr_index;
    case 0x3cf:
        return s->gr_index < 9 ? s->gr[s->gr_index] : 0xff;
    case 0x3b4:
    case 0x3d4:
        return s->cr_index;
    case 0x3b5:
    case 0x3d5:
        return crtc_read(s);
    case 0x3ba:
    case 0x3da:
        return input_status1(s);
    default:
        return 0xff;
    }
}

static void vga_io_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct vga *s = opaque;
    uint8_t v = (uint8_t)value;
    s->regs_dirty = true;
    if (size == 2) {
        /* A word write is two byte writes: index then data for the indexed registers. */
        vga_io_write(s, port, v, 1);
        vga_io_write(s, (uint16_t)(port + 1), (uint8_t)(value >> 8), 1);
        return;
    }
    if ((port >= 0x3b0 && port <= 0x3bf && color_crtc(s)) ||
        (port >= 0x3d0 && port <= 0x3df && !color_crtc(s)))
        return;
    switch (port) {
    case 0x3c0:
        if (!s->ar_flipflop) {
            s->ar_index = v & 0x3f;
        } else {
            uint8_t i = s->ar_index & 0x1f;
            if (i < 0x15)
                s->ar[i] = i < 0x10 ? (v & 0x3f) : v;
        }
        s->ar_flipflop = !s->ar_flipflop;
        break;
    case 0x3c2:
        s->misc = v;
        break;
    case 0x3c3:
        break;
    case 0x3c4:
        s->sr_index = v & 7;
        break;
    case 0x3c5:
        s->sr[s->sr_index & 7] = v;
        break;
    case 0x3c6:
        s->pel_mask = v;
        break;
    case 0x3c7:
        s->dac_read_index = v;
        s->dac_sub = 0;
        s->dac_state = 0; /* DAC in read mode */
        break;
    case 0x3c8:
        s->dac_write_index = v;
        s->dac_sub = 0;
        s->dac_state = 3; /* DAC in write mode */
        break;
    case 0x3c9:
        dac_write_data(s, v);
        break;
    case 0x3ce:
        s->gr_index = v & 0x0f;
        break;
    case 0x3cf:
        if (s->gr_index < 9)
            s->gr[s->gr_index] = v;
        break;
    case 0x3b4:
    case 0x3d4:
        s->cr_index = v & 0x3f;
        break;
    case 0x3b5:
    case 0x3d5:
        crtc_write(s, v);
        break;
    case 0x3ba:
    case 0x3da:
        s->feature = v;
        break;
    default:
        log_printf(s->log, LOG_UNIMP, "vga: write 0x%02x to port 0x%x\n", v, port);
        break;
    }
}

/* ---- Bochs VBE dispi ---- */

static unsigned vbe_bytes_per_pixel(unsigned bpp)
{
    return bpp == 15 ? 2 : (bpp + 7) / 8;
}

static void vbe_update_virtual(struct vga *s)
{
    uint16_t *r = s->vbe_regs;
    unsigned bpp = r[VBE_DISPI_INDEX_BPP];
    unsigned width = r[VBE_DISPI_INDEX_VIRT_WIDTH];
    if (width < r[VBE_DISPI_INDEX_XRES])
        width = r[VBE_DISPI_INDEX_XRES];
    uint32_t line = bpp == 4 ? width / 2 : width * vbe_bytes_per_pixel(bpp);
    if (!line)
        return;
    uint32_t height = s->vram_size / line;
    if (height > 0xffff)
        height = 0xffff;
    r[VBE_DISPI_INDEX_VIRT_WIDTH] = (uint16_t)width;
    r[VBE_DISPI_INDEX_VIRT_HEIGHT] = (uint16_t)height;
}

static uint32_t vbe_read(struct vga *s)
{
    uint16_t *r = s->vbe_regs;
    bool caps = r[VBE_DISPI_INDEX_ENABLE] & VBE_GETCAPS;
    switch (s->vbe_index) {
    case VBE_DISPI_INDEX_XRES:
        return caps ? VBE_DISPI_MAX_XRES : r[VBE_DISPI_INDEX_XRES];
    case VBE_DISPI_INDEX_YRES:
        return caps ? VBE_DISPI_MAX_YRES : r[VBE_DISPI_INDEX_YRES];
    case VBE_DISPI_INDEX_BPP:
        return caps ? VBE_DISPI_MAX_BPP : r[VBE_DISPI_INDEX_BPP];
    case VBE_DISPI_INDEX_ENABLE:
        return r[VBE_DISPI_INDEX_ENABLE] & ~VBE_GETCAPS;
    case VBE_DISPI_INDEX_VIDEO_MEMORY_64K:
        return s->vram_size >> 16;
    default:
        return s->vbe_index < VBE_DISPI_INDEX_NB ? r[s->vbe_index] : 0;
    }
}

static void vbe_write(struct vga *s, uint16_t v)
{
    uint16_t *r = s->vbe_regs;
    switch (s->vbe_index) {
    case VBE_DISPI_INDEX_ID:
        if (v >= VBE_DISPI_ID0 && v <= VBE_DISPI_ID5)
            r[VBE_DISPI_INDEX_ID] = v;
        break;
    case VBE_DISPI_INDEX_XRES:
    case VBE_DISPI_INDEX_YRES:
        if (!vbe_enabled(s)) {
            unsigned max = s->vbe_index == VBE_DISPI_INDEX_XRES ? VBE_DISPI_MAX_XRES : VBE_DISPI_MAX_YRES;
            r[s->vbe_index] = v <= max ? v : (uint16_t)max;
        }
        break;
    case VBE_DISPI_INDEX_BPP:
        if (!vbe_enabled(s)) {
            if (v == 0)
                v = 8;
            if (v == 4 || v == 8 || v == 15 || v == 16 || v == 24 || v == 32)
                r[VBE_DISPI_INDEX_BPP] = v;
            else
                log_printf(s->log, LOG_GUEST_ERRORS, "vga: VBE bpp %u\n", v);
        }
        break;
    case VBE_DISPI_INDEX_BANK:
        r[VBE_DISPI_INDEX_BANK] = (uint16_t)(v & ((s->vram_size >> 16) - 1));
        break;
    case VBE_DISPI_INDEX_ENABLE: {
        bool was = vbe_enabled(s);
        r[VBE_DISPI_INDEX_ENABLE] = v;
        if ((v & VBE_ENABLED) && !was) {
            r[VBE_DISPI_INDEX_VIRT_WIDTH] = r[VBE_DISPI_INDEX_XRES];
            r[VBE_DISPI_INDEX_X_OFFSET] = 0;
            r[VBE_DISPI_INDEX_Y_OFFSET] = 0;
            r[VBE_DISPI_INDEX_BANK] = 0;
            vbe_update_virtual(s);
            if (!(v & VBE_NOCLEARMEM)) {
                uint64_t len = (uint64_t)r[VBE_DISPI_INDEX_VIRT_HEIGHT] *
                               (r[VBE_DISPI_INDEX_BPP] == 4 ? r[VBE_DISPI_INDEX_VIRT_WIDTH] / 2u
                                : r[VBE_DISPI_INDEX_VIRT_WIDTH] * vbe_bytes_per_pixel(r[VBE_DISPI_INDEX_BPP]));
                memset(s->vram, 0, len < s->vram_size ? len : s->vram_size);
                vga_mark_dirty(s, 0, len);
            }
            /* Graphics mode, 64 KiB window at 0xA0000, as the dispi interface implies. */
            s->gr[6] = (uint8_t)((s->gr[6] & ~0x0c) | 0x05);
        }
        break;
    }
    case VBE_DISPI_INDEX_VIRT_WIDTH:
        r[VBE_DISPI_INDEX_VIRT_WIDTH] = v;
        vbe_update_virtual(s);
        break;
    case VBE_DISPI_INDEX_X_OFFSET:
    case VBE_DISPI_INDEX_Y_OFFSET:
        r[s->vbe_index] = v;
        break;
    default:
        log_printf(s->log, LOG_GUEST_ERRORS, "vga: write to VBE register %u\n", s->vbe_index);
        break;
    }
}

static uint32_t dispi_read(void *opaque, uint16_t port, unsigned size)
{
    struct vga *s = opaque;
    (void)size;
    return port == 0x1ce ? s->vbe_index : vbe_read(s);
}

static void dispi_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct vga *s = opaque;
    (void)size;
    s->regs_dirty = true;
    if (port == 0x1ce)
        s->vbe_index = (uint16_t)value;
    else
        vbe_write(s, (uint16_t)value);
}

/* ---- text rendering ---- */

/* Code page 437 in Unicode; 0x00 shows as a blank. */
static const uint16_t cp437[256] = {
    0x0020, 0x263a, 0x263b, 0x2665, 0x2666, 0x2663, 0x2660, 0x2022, 0x25d8, 0x25cb, 0x25d9, 0x2642,
    0x2640, 0x266a, 0x266b, 0x263c, 0x25ba, 0x25c4, 0x2195, 0x203c, 0x00b6, 0x00a7, 0x25ac, 0x21a8,
    0x2191, 0x2193, 0x2192, 0x2190, 0x221f, 0x2194, 0x25b2, 0x25bc,
    [0x20] = 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d,
    0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x3a, 0x3b, 0x3c, 0x3d,
    0x3e, 0x3f, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c, 0x4d,
    0x4e, 0x4f, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58, 0x59, 0x5a, 0x5b, 0x5c, 0x5d,
    0x5e, 0x5f, 0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b, 0x6c, 0x6d,
    0x6e, 0x6f, 0x70, 0x71, 0x72, 0x73, 0x74, 0x75, 0x76, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7c, 0x7d,
    0x7e, 0x2302,
    0x00c7, 0x00fc, 0x00e9, 0x00e2, 0x00e4, 0x00e0, 0x00e5, 0x00e7, 0x00ea, 0x00eb, 0x00e8, 0x00ef,
    0x00ee, 0x00ec, 0x00c4, 0x00c5, 0x00c9, 0x00e6, 0x00c6, 0x00f4, 0x00f6, 0x00f2, 0x00fb, 0x00f9,
    0x00ff, 0x00d6, 0x00dc, 0x00a2, 0x00a3, 0x00a5, 0x20a7, 0x0192, 0x00e1, 0x00ed, 0x00f3, 0x00fa,
    0x00f1, 0x00d1, 0x00aa, 0x00ba, 0x00bf, 0x2310, 0x00ac, 0x00bd, 0x00bc, 0x00a1, 0x00ab, 0x00bb,
    0x2591, 0x2592, 0x2593, 0x2502, 0x2524, 0x2561, 0x2562, 0x2556, 0x2555, 0x2563, 0x2551, 0x2557,
    0x255d, 0x255c, 0x255b, 0x2510, 0x2514, 0x2534, 0x252c, 0x251c, 0x2500, 0x253c, 0x255e, 0x255f,
    0x255a, 0x2554, 0x2569, 0x2566, 0x2560, 0x2550, 0x256c, 0x2567, 0x2568, 0x2564, 0x2565, 0x2559,
    0x2558, 0x2552, 0x2553, 0x256b, 0x256a, 0x2518, 0x250c, 0x2588, 0x2584, 0x258c, 0x2590, 0x2580,
    0x03b1, 0x00df, 0x0393, 0x03c0, 0x03a3, 0x03c3, 0x00b5, 0x03c4, 0x03a6, 0x0398, 0x03a9, 0x03b4,
    0x221e, 0x03c6, 0x03b5, 0x2229, 0x2261, 0x00b1, 0x2265, 0x2264, 0x2320, 0x2321, 0x00f7, 0x2248,
    0x00b0, 0x2219, 0x00b7, 0x221a, 0x207f, 0x00b2, 0x25a0, 0x00a0,
};

static unsigned utf8_encode(uint16_t cp, char out[3])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    out[0] = (char)(0xe0 | (cp >> 12));
    out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
}

/* Characters from one text row to the next: the CRTC offset register counts words. */
static int text_stride(const struct vga *s, int cols)
{
    return s->cr[0x13] ? s->cr[0x13] * 2 : cols;
}

void vga_text_info(const struct vga *s, int *cols, int *rows, int *cursor_x, int *cursor_y)
{
    int c = s->cr[1] + 1;
    unsigned vde = s->cr[0x12] | ((s->cr[7] & 0x02) << 7) | ((s->cr[7] & 0x40) << 3);
    unsigned char_h = (s->cr[9] & 0x1f) + 1;
    int r = (int)((vde + 1) / char_h);
    /* An unprogrammed CRTC (before the VGA BIOS ran) shows the usual 80x25. */
    if (s->cr[1] == 0 || c > 132)
        c = 80;
    if (vde == 0 || r < 1 || r > 60)
        r = 25;
    *cols = c;
    *rows = r;
    unsigned start = (unsigned)s->cr[0x0c] << 8 | s->cr[0x0d];
    unsigned cur = (unsigned)s->cr[0x0e] << 8 | s->cr[0x0f];
    int pos = (int)cur - (int)start;
    int stride = text_stride(s, c);
    if ((s->cr[0x0a] & 0x20) || pos < 0 || pos % stride >= c || pos / stride >= r) {
        *cursor_x = *cursor_y = -1;
    } else {
        *cursor_x = pos % stride;
        *cursor_y = pos / stride;
    }
}

size_t vga_text_snapshot(struct vga *s, char *buf, size_t size)
{
    if (size)
        buf[0] = '\0';
    if (vga_is_graphics(s))
        return 0;
    int cols, rows, cx, cy;
    vga_text_info(s, &cols, &rows, &cx, &cy);
    unsigned start = (unsigned)s->cr[0x0c] << 8 | s->cr[0x0d];
    unsigned stride = (unsigned)text_stride(s, cols);
    size_t len = 0;
    for (int y = 0; y < rows; y++) {
        char line[132 * 3];
        size_t ll = 0, keep = 0;
        for (int x = 0; x < cols; x++) {
            /* Word mode: character cell n is at plane offset 2n (char in plane 0). */
            uint32_t off = ((start + (unsigned)y * stride + (unsigned)x) * 2) & 0xffff;
            uint8_t ch = plane_byte(s, off, 0);
            char u[3];
            unsigned n = utf8_encode(cp437[ch], u);
            memcpy(line + ll, u, n);
            ll += n;
            if (ch != ' ' && ch != 0 && ch != 0xff)
                keep = ll;
        }
        for (size_t i = 0; i <= keep; i++) {
            char c = i < keep ? line[i] : '\n';
            if (len + 1 < size)
                buf[len] = c;
            len++;
        }
    }
    if (size)
        buf[len < size ? len : size - 1] = '\0';
    /* Don't leave a cut multi-byte sequence at the end. */
    if (len >= size && size > 1) {
        size_t end = size - 1;
        while (end > 0 && ((unsigned char)buf[end - 1] & 0xc0) == 0x80)
            end--;
        if (end > 0 && ((unsigned char)buf[end - 1] & 0x80))
            end--;
        buf[end] = '\0';
    }
    return len;
}

/* ---- setup ---- */

void vga_reset(struct vga *s)
{
    s->misc = 0;
    s->feature = 0;
    s->sr_index = s->gr_index = s->ar_index = s->cr_index = 0;
    memset(s->sr, 0, sizeof(s->sr));
    memset(s->gr, 0, sizeof(s->gr));
    memset(s->ar, 0, sizeof(s->ar));
    memset(s->cr, 0, sizeof(s->cr));
    s->ar_flipflop = false;
    s->dac_write_index = s->dac_read_index = s->dac_sub = s->dac_state = 0;
    s->pel_mask = 0xff;
    s->latch = 0;
    s->vbe_index = 0;
    memset(s->vbe_regs, 0, sizeof(s->vbe_regs));
    s->vbe_regs[VBE_DISPI_INDEX_ID] = VBE_DISPI_ID5;
    s->vbe_regs[VBE_DISPI_INDEX_BPP] = 8;
    /* Until the VGA BIOS sets a mode: the 128 KiB window, odd/even text-style access. */
    s->sr[2] = 0x0f;
    s->regs_dirty = true;
}

/* Indexed registers index 0..n-1 through their index/data port pair. */
static void write_indexed(struct vga *s, uint16_t port, const uint8_t *v, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        vga_io_write(s, port, i, 1);
        vga_io_write(s, (uint16_t)(port + 1), v[i], 1);
    }
}

void vga_set_text_mode3(struct vga *s, const uint8_t *font)
{
    /* Mode 3's sequencer, CRTC, attribute and graphics values (IBM VGA reference tables). */
    static const uint8_t seq[5] = { 0x03, 0x00, 0x03, 0x00, 0x02 };
    static const uint8_t crtc[25] = { 0x5f, 0x4f, 0x50, 0x82, 0x55, 0x81, 0xbf, 0x1f, 0x00,
                                      0x4f, 0x0d, 0x0e, 0x00, 0x00, 0x00, 0x00, 0x9c, 0x8e,
                                      0x8f, 0x28, 0x1f, 0x96, 0xb9, 0xa3, 0xff };
    static const uint8_t attr[21] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x14, 0x07, 0x38, 0x39,
                                      0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x0c, 0x00, 0x0f, 0x08,
                                      0x00 };
    static const uint8_t gfx[9] = { 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x0e, 0x00, 0xff };
    vga_io_write(s, 0x3c2, 0x67, 1);
    write_indexed(s, 0x3c4, seq, 5);
    vga_io_write(s, 0x3d4, 0x11, 1);
    vga_io_write(s, 0x3d5, 0x00, 1); /* CRTC 0-7 writable while they are set */
    write_indexed(s, 0x3d4, crtc, 25);
    (void)vga_io_read(s, 0x3da, 1);  /* the attribute flip-flop to "index" */
    for (unsigned i = 0; i < 21; i++) {
        vga_io_write(s, 0x3c0, i, 1);
        vga_io_write(s, 0x3c0, attr[i], 1);
    }
    vga_io_write(s, 0x3c0, 0x20, 1); /* the palette back to the display */
    write_indexed(s, 0x3ce, gfx, 9);
    /* The EGA's 64 colors: bits 2/1/0 add 2/3 red/green/blue, bits 5/4/3 add 1/3. */
    vga_io_write(s, 0x3c8, 0, 1);
    for (unsigned i = 0; i < 64; i++) {
        vga_io_write(s, 0x3c9, ((i >> 2) & 1) * 0x2a + ((i >> 5) & 1) * 0x15, 1);
        vga_io_write(s, 0x3c9, ((i >> 1) & 1) * 0x2a + ((i >> 4) & 1) * 0x15, 1);
        vga_io_write(s, 0x3c9, (i & 1) * 0x2a + ((i >> 3) & 1) * 0x15, 1);
    }
    /* Glyphs in plane 2 at 32-byte steps; blank cells (space, light grey on black). */
    for (unsigned c = 0; c < 256; c++)
        for (unsigned y = 0; y < 32; y++)
            plane_store(s, c * 32 + y, 2, font && y < 16 ? font[c * 16 + y] : 0);
    for (uint32_t off = 0; off < 0x4000; off++) {
        plane_store(s, off, 0, ' ');
        plane_store(s, off, 1, 0x07);
    }
}

int vga_init(struct vga *s, struct io_bus *io, struct phys_mem *mem, struct pci_bus *bus,
             uint8_t devfn, struct vclock *clock, struct pcvm_log *log)
{
    memset(s, 0, sizeof(*s));
    s->vram_size = VGA_VRAM_SIZE;
    s->vram = calloc(1, s->vram_size);
    if (!s->vram)
        return -1;
    s->mem = mem;
    s->clock = clock;
    s->log = log;
    s->rom_index = -1;
    vga_reset(s);
    io_register(io, 0x3b0, 0x30, s, vga_io_read, vga_io_write, IO_SIZE_1 | IO_SIZE_2, "vga");
    io_register(io, 0x1ce, 3, s, dispi_read, dispi_write, IO_SIZE_1 | IO_SIZE_2, "vbe-dispi");
    s->window_index = mem ? phys_map_mmio(mem, 0xa0000, 0x20000, s, window_read, window_write,
                                          "vga-window")
                          : -1;
    if (bus) {
        if (pci_register_device(bus, &s->pci, devfn, "vga", 0x1234, 0x1111, 0x02, 0x030000, 0, 0) < 0)
            return -1;
        s->pci.opaque = s;
        pci_set_word(&s->pci.config[0x2c], 0x1af4); /* subsystem vendor, as QEMU's std VGA */
        pci_set_word(&s->pci.config[0x2e], 0x1100);
        struct pci_bar fb = {
            .size = s->vram_size,
            .prefetchable = true,
            .opaque = s,
            .mmio_read = lfb_read,
            .mmio_write = lfb_write,
        };
        pci_register_bar(&s->pci, 0, &fb);
    }
    return 0;
}

void vga_destroy(struct vga *s)
{
    free(s->vram);
    s->vram = NULL;
    free(s->rom);
    s->rom = NULL;
}

/* ---- expansion ROM BAR ---- */

static uint32_t rom_read(void *opaque, uint32_t offset, unsigned size)
{
    struct vga *s = opaque;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        if (offset + i < s->rom_size)
            v |= (uint32_t)s->rom[offset + i] << (8 * i);
    return v;
}

static void rom_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    struct vga *s = opaque;
    (void)offset;
    (void)value;
    (void)size;
    log_printf(s->log, LOG_GUEST_ERRORS, "vga: write to the expansion ROM\n");
}

/* Map or unmap the ROM as config 0x30 (address, enable bit 0) and memory decode say. */
static void rom_update(struct vga *s)
{
    uint32_t bar = pci_get_long(&s->pci.config[0x30]);
    uint16_t cmd = pci_get_word(&s->pci.config[0x04]);
    uint32_t mask = ~(s->rom_size - 1) & 0xfffff800u;
    uint32_t addr = bar & mask;
    uint32_t target = (bar & 1) && (cmd & 2) && addr && addr != mask ? addr : 0;
    if (target == s->rom_mapped_addr || !s->mem)
        return;
    if (s->rom_index < 0) {
        if (target)
            s->rom_index = phys_map_mmio(s->mem, target, s->rom_size, s, rom_read, rom_write, "vga-rom");
    } else {
        phys_remap_mmio(s->mem, s->rom_index, target, target ? s->rom_size : 0);
    }
    s->rom_mapped_addr = s->rom_index >= 0 ? target : 0;
}

static void vga_pci_config_write(struct pci_device *dev, unsigned offset, uint32_t value, unsigned size)
{
    struct vga *s = dev->opaque;
    (void)value;
    bool touches_rom = offset < 0x34 && offset + size > 0x30;
    bool touches_cmd = offset < 0x06 && offset + size > 0x04;
    if (s->rom && (touches_rom || touches_cmd))
        rom_update(s);
}

int vga_set_rom(struct vga *s, const uint8_t *image, size_t len)
{
    if (!s->pci.bus || !len || len > (16u << 20))
        return -1;
    uint32_t size = PHYS_PAGE_SIZE;
    while (size < len)
        size <<= 1;
    uint8_t *rom = calloc(1, size);
    if (!rom)
        return -1;
    memcpy(rom, image, len);
    free(s->rom);
    s->rom = rom;
    s->rom_size = size;
    pci_set_long(&s->pci.config[0x30], 0);
    pci_set_long(&s->pci.wmask[0x30], (~(size - 1) & 0xfffff800u) | 1);
    s->pci.config_write = vga_pci_config_write;
    return 0;
}

/* ---- saved state ---- */

static int vga_post_load(void *opaque, char *err, size_t errlen)
{
    struct vga *s = opaque;
    if (s->vram_size != VGA_VRAM_SIZE) {
        snprintf(err, errlen, "VGA: saved video memory size %u differs", s->vram_size);
        return -1;
    }
    pci_device_post_load(&s->pci);
    return 0;
}

static const struct vmstate_field vga_fields[] = {
    VMF(struct vga, misc), VMF(struct vga, feature), VMF_MAX(struct vga, sr_index, 7), VMF_ARRAY(struct vga, sr),
    VMF(struct vga, gr_index), VMF_ARRAY(struct vga, gr), VMF_MAX(struct vga, ar_index, 63), VMF_ARRAY(struct vga, ar),
    VMF(struct vga, ar_flipflop), VMF(struct vga, cr_index), VMF_ARRAY(struct vga, cr),
    VMF(struct vga, dac_write_index), VMF(struct vga, dac_read_index), VMF_MAX(struct vga, dac_sub, 2),
    VMF(struct vga, dac_state), VMF(struct vga, pel_mask), VMF_ARRAY(struct vga, dac), VMF(struct vga, latch),
    VMF(struct vga, vbe_index), VMF_ARRAY(struct vga, vbe_regs), VMF(struct vga, vram_size),
    VMF_STRUCT(struct vga, pci, pci_device_vmstate), VMF_BUFFER(struct vga, vram, VGA_VRAM_SIZE),
    VMF_END_OF_LIST,
};
const struct vmstate_desc vga_vmstate = { .name = "VGA", .version = 1, .fields = vga_fields,
                                          .post_load = vga_post_load };
