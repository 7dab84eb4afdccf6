/* VGA and Bochs VBE scan-out, following the IBM VGA reference for how the CRTC, sequencer,
 * attribute controller and DAC turn video memory into pixels. */
#include "ui/vga_render.h"

#include <stdlib.h>
#include <string.h>

#define MAX_WIDTH 2560
#define MAX_HEIGHT 1600
/* Host-time blink periods: the cursor toggles every 16 frames of 60 Hz, blinking text every 32. */
#define CURSOR_BLINK_NS 266666666LL
#define TEXT_BLINK_NS 533333333LL

enum { VBE_ENABLED = 0x01, VBE_8BIT_DAC = 0x20 };

void vga_render_init(struct vga_render *r)
{
    memset(r, 0, sizeof(*r));
    r->cursor_x = r->cursor_y = -1;
}

void vga_render_destroy(struct vga_render *r)
{
    free(r->surf.pixels);
    free(r->line_dirty);
    r->surf.pixels = NULL;
    r->line_dirty = NULL;
}

/* Make the surface width x height; returns 1 when reallocated, 0 when unchanged, -1 on OOM. */
static int surface_resize(struct vga_render *r, int width, int height)
{
    if (width < 1)
        width = 1;
    if (height < 1)
        height = 1;
    if (width > MAX_WIDTH)
        width = MAX_WIDTH;
    if (height > MAX_HEIGHT)
        height = MAX_HEIGHT;
    if (r->surf.pixels && r->surf.width == width && r->surf.height == height)
        return 0;
    uint32_t *px = calloc((size_t)width * (size_t)height, sizeof(uint32_t));
    if (!px)
        return -1;
    if (height > r->line_dirty_cap) {
        uint8_t *ld = realloc(r->line_dirty, (size_t)height);
        if (!ld) {
            free(px);
            return -1;
        }
        r->line_dirty = ld;
        r->line_dirty_cap = height;
    }
    free(r->surf.pixels);
    r->surf.pixels = px;
    r->surf.width = width;
    r->surf.height = height;
    r->valid = false;
    return 1;
}

int vga_render_blank(struct vga_render *r, int width, int height)
{
    int rc = surface_resize(r, width, height);
    if (rc < 0)
        return -1;
    memset(r->line_dirty, rc || !r->valid, (size_t)r->surf.height);
    int changed = rc ? 2 : !r->valid;
    r->valid = true;
    return changed;
}

/* ---- colors ---- */

static uint32_t dac_color(const struct vga *v, unsigned index)
{
    const uint8_t *c = &v->dac[(index & 0xff) * 3];
    if (v->vbe_regs[VBE_DISPI_INDEX_ENABLE] & VBE_8BIT_DAC)
        return (uint32_t)c[0] << 16 | (uint32_t)c[1] << 8 | c[2];
    uint32_t rr = (c[0] & 0x3f) << 2 | (c[0] & 0x3f) >> 4;
    uint32_t gg = (c[1] & 0x3f) << 2 | (c[1] & 0x3f) >> 4;
    uint32_t bb = (c[2] & 0x3f) << 2 | (c[2] & 0x3f) >> 4;
    return rr << 16 | gg << 8 | bb;
}

/* A 4-bit attribute color through the attribute controller's palette to the DAC. */
static uint32_t attr_color(const struct vga *v, unsigned index)
{
    unsigned c = v->ar[index & 0x0f] & 0x3f;
    if (v->ar[0x10] & 0x80)
        c = (c & 0x0f) | (v->ar[0x14] & 0x03) << 4;
    c |= (v->ar[0x14] & 0x0c) << 4;
    return dac_color(v, c & v->pel_mask);
}

/* ---- change detection ---- */

static void regs_capture(const struct vga *v, struct vga_render_regs *g)
{
    memset(g, 0, sizeof(*g));
    g->misc = v->misc;
    g->pel_mask = v->pel_mask;
    memcpy(g->sr, v->sr, sizeof(g->sr));
    memcpy(g->gr, v->gr, sizeof(g->gr));
    memcpy(g->ar, v->ar, sizeof(g->ar));
    memcpy(g->cr, v->cr, sizeof(g->cr));
    /* The cursor registers only move the cursor: the text renderer handles them alone. */
    g->cr[0x0a] = g->cr[0x0b] = g->cr[0x0e] = g->cr[0x0f] = 0;
    memcpy(g->dac, v->dac, sizeof(g->dac));
    memcpy(g->vbe, v->vbe_regs, sizeof(g->vbe));
}

/* Dirty bits taken from the VGA (and cleared there) for this frame. */
struct dirty_snapshot {
    uint64_t bits[VGA_DIRTY_WORDS];
};

static void dirty_take(struct vga *v, struct dirty_snapshot *d)
{
    memcpy(d->bits, v->dirty, sizeof(d->bits));
    memset(v->dirty, 0, sizeof(v->dirty));
    v->vram_dirty = false;
}

/* Was any VRAM byte in [start, start + len) written? */
static bool dirty_range(const struct dirty_snapshot *d, uint64_t start, uint64_t len)
{
    if (!len)
        return false;
    uint64_t first = start >> VGA_DIRTY_PAGE_SHIFT, last = (start + len - 1) >> VGA_DIRTY_PAGE_SHIFT;
    uint64_t pages = (uint64_t)VGA_DIRTY_WORDS * 64;
    if (first >= pages)
        return false;
    if (last >= pages)
        last = pages - 1;
    for (uint64_t p = first; p <= last; p++)
        if (d->bits[p >> 6] & (1ull << (p & 63)))
            return true;
    return false;
}

/* ---- text modes ---- */

/* Plane-2 offset of character map m (0-7), as SR3 numbers them. */
static uint32_t font_map_offset(unsigned m)
{
    return (m & 3) * 0x4000u + (m >> 2) * 0x2000u;
}

static void font_fetch(const struct vga *v, unsigned map, uint8_t out[256 * 32])
{
    uint32_t base = font_map_offset(map);
    for (unsigned i = 0; i < 256 * 32; i++)
        out[i] = vga_plane_byte(v, base + i, 2);
}

/* One scan line (gy) of a character cell: cw pixels into out. */
static void glyph_row(const struct vga_render *r, const struct vga *v, int cw, uint8_t c, uint8_t attr,
                      int gy, bool cursor_here, int cur_start, int cur_end, uint32_t *out)
{
    bool blink_enabled = v->ar[0x10] & 0x08;
    unsigned bg_index = blink_enabled ? (attr >> 4) & 7 : attr >> 4;
    uint32_t fg = attr_color(v, attr & 0x0f), bg = attr_color(v, bg_index);
    if (blink_enabled && (attr & 0x80) && !r->blink_phase)
        fg = bg;
    /* Attribute bit 3 picks map A when set, map B when clear. */
    const uint8_t *glyph = r->font[(attr & 0x08) ? 0 : 1] + (unsigned)c * 32;
    bool line_graphics = (v->ar[0x10] & 0x04) && c >= 0xc0 && c <= 0xdf;
    bool cursor_line = cursor_here && gy >= cur_start && gy <= cur_end;
    uint8_t bits = gy < 32 ? glyph[gy] : 0;
    if (cursor_line)
        bits = 0xff;
    for (int x = 0; x < 8; x++)
        out[x] = (bits & (0x80 >> x)) ? fg : bg;
    if (cw == 9)
        out[8] = (line_graphics || cursor_line) && (bits & 1) ? fg : bg;
}

static void draw_cell(struct vga_render *r, const struct vga *v, int col, int row, int cw, int ch,
                      uint8_t c, uint8_t attr, bool cursor_here, int cur_start, int cur_end)
{
    int x0 = col * cw, y0 = row * ch;
    uint32_t line[9];
    for (int y = 0; y < ch && y0 + y < r->surf.height; y++) {
        glyph_row(r, v, cw, c, attr, y, cursor_here, cur_start, cur_end, line);
        uint32_t *px = r->surf.pixels + (size_t)(y0 + y) * (size_t)r->surf.width + x0;
        for (int x = 0; x < cw && x0 + x < r->surf.width; x++)
            px[x] = line[x];
        r->line_dirty[y0 + y] = 1;
    }
}

/* Text with smooth scrolling: the preset row scan (CR08 bits 0-4) moves the picture up by
 * scan lines, byte panning (CR08 bits 5-6) and pixel panning (AR13) move it left by characters
 * and pixels; the rows after the line compare scan line show memory from address 0, without
 * the preset and, when AR10 bit 5 says so, without the pixel panning. Drawn whole, line by
 * line (guests pan rarely; the unpanned screen keeps its per-cell redraw). */
static void draw_text_panned(struct vga_render *r, const struct vga *v, int cw, int ch, unsigned start,
                             unsigned stride, unsigned line_compare, unsigned preset, int pan,
                             int cx, int cy, int cur_start, int cur_end)
{
    int w = r->surf.width;
    int cells = w / cw + 2;
    uint32_t *buf = malloc((size_t)cells * (size_t)cw * sizeof(uint32_t));
    if (!buf)
        return;
    for (int y = 0; y < r->surf.height; y++) {
        bool lower = (unsigned)y > line_compare;
        unsigned vy = lower ? (unsigned)y - line_compare - 1 : (unsigned)y + preset;
        int line_pan = lower && (v->ar[0x10] & 0x20) ? 0 : pan;
        unsigned row = vy / (unsigned)ch, gy = vy % (unsigned)ch;
        unsigned base = (lower ? 0 : start) + row * stride;
        int first = line_pan / cw;
        for (int i = 0; i < cells; i++) {
            int col = first + i;
            uint32_t off = ((base + (unsigned)col) * 2) & 0xffff;
            uint8_t c = vga_plane_byte(v, off, 0), attr = vga_plane_byte(v, off, 1);
            bool cursor_here = !lower && col == cx && (int)row == cy;
            glyph_row(r, v, cw, c, attr, (int)gy, cursor_here, cur_start, cur_end, buf + i * cw);
        }
        memcpy(r->surf.pixels + (size_t)y * (size_t)w, buf + line_pan % cw, (size_t)w * sizeof(uint32_t));
        r->line_dirty[y] = 1;
    }
    free(buf);
}

static int render_text(struct vga_render *r, struct vga *v, int64_t now_ns, bool full, bool vram_written)
{
    int cols, rows, cx, cy;
    vga_text_info(v, &cols, &rows, &cx, &cy);
    if (cols > VGA_RENDER_MAX_COLS)
        cols = VGA_RENDER_MAX_COLS;
    if (rows > VGA_RENDER_MAX_ROWS)
        rows = VGA_RENDER_MAX_ROWS;
    int cw = (v->sr[1] & 1) ? 8 : 9;
    int ch = (v->cr[9] & 0x1f) + 1;
    int rc = surface_resize(r, cols * cw, rows * ch);
    if (rc < 0)
        return -1;
    if (rc || !r->valid)
        full = true;

    /* Fonts: a new glyph anywhere redraws everything. */
    uint8_t sr3 = v->sr[3];
    unsigned map_a = ((sr3 >> 5) & 1) << 2 | ((sr3 >> 2) & 3);
    unsigned map_b = ((sr3 >> 4) & 1) << 2 | (sr3 & 3);
    if (full || vram_written) {
        uint8_t fresh[256 * 32];
        font_fetch(v, map_a, fresh);
        if (memcmp(fresh, r->font[0], sizeof(fresh))) {
            memcpy(r->font[0], fresh, sizeof(fresh));
            full = true;
        }
        font_fetch(v, map_b, fresh);
        if (memcmp(fresh, r->font[1], sizeof(fresh))) {
            memcpy(r->font[1], fresh, sizeof(fresh));
            full = true;
        }
    }

    bool cursor_phase = (now_ns / CURSOR_BLINK_NS) & 1;
    bool blink_phase = (now_ns / TEXT_BLINK_NS) & 1;
    bool blink_changed = blink_phase != r->blink_phase && (v->ar[0x10] & 0x08);
    r->blink_phase = blink_phase;
    int cur_start = v->cr[0x0a] & 0x1f, cur_end = v->cr[0x0b] & 0x1f;
    if (cur_end >= ch)
        cur_end = ch - 1;
    bool cursor_visible = cx >= 0 && cursor_phase && cur_start <= cur_end;
    int new_cx = cursor_visible ? cx : -1, new_cy = cursor_visible ? cy : -1;
    bool cursor_moved = new_cx != r->cursor_x || new_cy != r->cursor_y;

    unsigned start = (unsigned)v->cr[0x0c] << 8 | v->cr[0x0d];
    unsigned stride = v->cr[0x13] ? v->cr[0x13] * 2u : (unsigned)cols;
    /* Split screen: the rows below the line compare scan line restart at address 0 (drawn
     * from the first whole row after it). */
    unsigned line_compare = v->cr[0x18] | ((v->cr[7] & 0x10) << 4) | ((v->cr[9] & 0x40) << 3);
    unsigned split_row = (line_compare + 1 + (unsigned)ch - 1) / (unsigned)ch;
    memset(r->line_dirty, 0, (size_t)r->surf.height);
    /* Panning: AR13 counts pixels 0-7 in 8-dot text; in 9-dot text 8 means none and 0-7
     * one to eight. */
    unsigned preset = v->cr[8] & 0x1f, ar_pan = v->ar[0x13] & 0x0f;
    int pan = cw == 9 ? (ar_pan < 8 ? (int)ar_pan + 1 : 0) : (ar_pan < 8 ? (int)ar_pan : 0);
    pan += ((v->cr[8] >> 5) & 3) * cw;
    if (preset || pan) {
        if (full || vram_written || cursor_moved || blink_changed)
            draw_text_panned(r, v, cw, ch, start, stride, line_compare, preset, pan, new_cx, new_cy,
                             cur_start, cur_end);
        r->cursor_x = new_cx;
        r->cursor_y = new_cy;
        r->valid = true;    /* the cell cache is stale, but leaving panning is a register change:
                             * that redraws everything */
        return rc ? 2 : (full || vram_written || cursor_moved || blink_changed);
    }
    int changed = 0;
    for (int row = 0; row < rows; row++) {
        bool lower = (unsigned)row >= split_row;
        unsigned base = lower ? ((unsigned)row - split_row) * stride : start + (unsigned)row * stride;
        for (int col = 0; col < cols; col++) {
            uint32_t off = ((base + (unsigned)col) * 2) & 0xffff;
            uint8_t c = vga_plane_byte(v, off, 0), attr = vga_plane_byte(v, off, 1);
            uint16_t cell = (uint16_t)(c | attr << 8);
            uint16_t *cached = &r->cells[row * VGA_RENDER_MAX_COLS + col];
            bool is_cursor = col == new_cx && row == new_cy;
            bool was_cursor = col == r->cursor_x && row == r->cursor_y;
            bool blinks = blink_changed && (attr & 0x80);
            if (!full && *cached == cell && !blinks && !(cursor_moved && (is_cursor || was_cursor)))
                continue;
            *cached = cell;
            draw_cell(r, v, col, row, cw, ch, c, attr, is_cursor, cur_start, cur_end);
            changed = 1;
        }
    }
    r->cursor_x = new_cx;
    r->cursor_y = new_cy;
    r->valid = true;
    return rc ? 2 : changed;
}

/* ---- graphics modes ---- */

static int render_vbe(struct vga_render *r, struct vga *v, const struct dirty_snapshot *d, bool full)
{
    const uint16_t *regs = v->vbe_regs;
    int w = regs[VBE_DISPI_INDEX_XRES], h = regs[VBE_DISPI_INDEX_YRES];
    unsigned bpp = regs[VBE_DISPI_INDEX_BPP];
    unsigned bytes = bpp == 15 ? 2 : (bpp + 7) / 8;
    int rc = surface_resize(r, w, h);
    if (rc < 0)
        return -1;
    if (rc || !r->valid)
        full = true;
    w = r->surf.width;
    h = r->surf.height;
    uint64_t line = (uint64_t)regs[VBE_DISPI_INDEX_VIRT_WIDTH] * bytes;
    if (bpp == 4)
        line = regs[VBE_DISPI_INDEX_VIRT_WIDTH] / 2u;
    uint64_t base = (uint64_t)regs[VBE_DISPI_INDEX_Y_OFFSET] * line +
                    (uint64_t)regs[VBE_DISPI_INDEX_X_OFFSET] * bytes;
    uint32_t palette[256];
    if (bpp <= 8)
        for (int i = 0; i < 256; i++)
            palette[i] = dac_color(v, (unsigned)i & v->pel_mask);
    memset(r->line_dirty, 0, (size_t)h);
    int changed = 0;
    for (int y = 0; y < h; y++) {
        uint64_t a = base + (uint64_t)y * line;
        uint64_t span = bpp == 4 ? (uint64_t)w / 2 : (uint64_t)w * bytes;
        if (!full && !dirty_range(d, a, span))
            continue;
        uint32_t *px = r->surf.pixels + (size_t)y * (size_t)w;
        const uint8_t *m = v->vram;
        uint64_t size = v->vram_size;
        for (int x = 0; x < w; x++) {
            uint64_t o = a + (uint64_t)x * bytes;
            uint32_t c = 0;
            if (bpp == 4) {
                o = a + (uint64_t)x / 2;
                c = o < size ? palette[(x & 1) ? m[o] & 0x0f : m[o] >> 4] : 0;
            } else if (o + bytes > size) {
                c = 0;
            } else if (bpp == 8) {
                c = palette[m[o]];
            } else if (bpp == 15 || bpp == 16) {
                unsigned p = m[o] | m[o + 1] << 8;
                unsigned rr, gg, bb;
                if (bpp == 15) {
                    rr = (p >> 10) & 0x1f; gg = (p >> 5) & 0x1f; bb = p & 0x1f;
                    gg = gg << 3 | gg >> 2;
                } else {
                    rr = (p >> 11) & 0x1f; gg = (p >> 5) & 0x3f; bb = p & 0x1f;
                    gg = gg << 2 | gg >> 4;
                }
                rr = rr << 3 | rr >> 2;
                bb = bb << 3 | bb >> 2;
                c = rr << 16 | gg << 8 | bb;
            } else {
                c = (uint32_t)m[o + 2] << 16 | (uint32_t)m[o + 1] << 8 | m[o];
            }
            px[x] = c;
        }
        r->line_dirty[y] = 1;
        changed = 1;
    }
    r->valid = true;
    return rc ? 2 : changed;
}

/* The plane offset the CRTC fetches for character clock ma on row-scan line rs: byte mode uses
 * ma as is, word mode shifts it left and rotates MA13 (or MA15, CR17 bit 5) into bit 0; chain-4
 * memory is stored compactly here (host address / 4), so 256-color modes use ma as is.  With
 * CR17 bit 0 clear, row-scan bit 0 replaces address bit 13 (CGA: odd lines in the second
 * 8 KiB bank); with bit 1 clear, row-scan bit 1 replaces bit 14 (Hercules' four banks). */
static uint32_t crtc_address(const struct vga *v, unsigned ma, unsigned rs, bool compact)
{
    uint8_t mode = v->cr[0x17];
    uint32_t a = ma & 0xffff;
    if (!compact && !(mode & 0x40))
        a = (a << 1 | ((a >> ((mode & 0x20) ? 15 : 13)) & 1)) & 0xffff;
    if (!(mode & 0x01))
        a = (a & ~0x2000u) | (rs & 1) << 13;
    if (!(mode & 0x02))
        a = (a & ~0x4000u) | (rs & 2) << 13;
    return a;
}

/* Pixels of one scan line from character clock 0 on: 8 per clock (16-color planar, 2-bit CGA
 * interleave) or 4 (256-color); out holds at least w + 8. */
static void fetch_line(const struct vga *v, uint32_t *out, int w, unsigned ma, unsigned rs,
                       const uint32_t *palette)
{
    bool color256 = v->gr[5] & 0x40, cga = !color256 && (v->gr[5] & 0x20);
    uint8_t plane_enable = v->ar[0x12] & 0x0f;
    int per_clock = color256 ? 4 : 8;
    for (int c = 0; c * per_clock < w + 8; c++) {
        uint32_t a = crtc_address(v, ma + (unsigned)c, rs, color256);
        uint32_t *px = out + c * per_clock;
        if (color256) {
            for (int i = 0; i < 4; i++)
                px[i] = palette[vga_plane_byte(v, a, i)];
            continue;
        }
        uint8_t p[4];
        for (int pl = 0; pl < 4; pl++)
            p[pl] = vga_plane_byte(v, a, pl);
        for (int bit = 0; bit < 8; bit++) {
            unsigned idx;
            if (cga) {
                /* Shift register interleave (GR5 bit 5): pixels 0-3 take two bits each from
                 * plane 0 (plane 2 above them), pixels 4-7 from plane 1 (and 3). */
                unsigned lo = bit < 4 ? p[0] : p[1], hi = bit < 4 ? p[2] : p[3];
                unsigned s = 6 - 2 * (unsigned)(bit & 3);
                idx = ((lo >> s) & 3) | ((hi >> s) & 3) << 2;
            } else {
                unsigned s = 7 - (unsigned)bit;
                idx = ((p[0] >> s) & 1) | ((p[1] >> s) & 1) << 1 | ((p[2] >> s) & 1) << 2 |
                      ((p[3] >> s) & 1) << 3;
            }
            px[bit] = palette[idx & plane_enable];
        }
    }
}

/* Standard VGA graphics: 16-color planar, CGA 4-color (modes 4, 5) and 2-color (mode 6),
 * 256-color (chain-4 or unchained "mode X"); the line compare split screen (the lines below
 * it restart at address 0) and pixel panning (AR13). */
static int render_vga_graphics(struct vga_render *r, struct vga *v, const struct dirty_snapshot *d,
                               bool full)
{
    bool color256 = v->gr[5] & 0x40;
    int w = (v->cr[1] + 1) * 8;
    if (color256)
        w /= 2;
    unsigned vde = v->cr[0x12] | ((v->cr[7] & 0x02) << 7) | ((v->cr[7] & 0x40) << 3);
    unsigned line_compare = v->cr[0x18] | ((v->cr[7] & 0x10) << 4) | ((v->cr[9] & 0x40) << 3);
    unsigned row_lines = (v->cr[9] & 0x1f) + 1u;
    unsigned dbl = (v->cr[9] & 0x80) ? 2 : 1;
    /* The scan lines of a row show the same memory unless a line bank tells them apart:
     * draw such a row once (mode 13h's 200 lines, not 400). */
    bool banked = (v->cr[0x17] & 0x03) != 0x03;
    unsigned per_px = dbl * (banked ? 1 : row_lines);
    int h = (int)((vde + 1) / per_px);
    int rc = surface_resize(r, w, h);
    if (rc < 0)
        return -1;
    if (rc || !r->valid)
        full = true;
    w = r->surf.width;
    h = r->surf.height;
    uint32_t palette[256];
    for (int i = 0; i < 256; i++)
        palette[i] = color256 ? dac_color(v, (unsigned)i & v->pel_mask) : attr_color(v, (unsigned)i);
    unsigned start = (unsigned)v->cr[0x0c] << 8 | v->cr[0x0d];
    unsigned row_delta = v->cr[0x13] * 2u;
    unsigned pan = v->ar[0x13] & 0x0f;
    pan = color256 ? (pan & 6) >> 1 : (pan < 8 ? pan : 0);
    /* Lines past the line compare scan line come from address 0. */
    unsigned split_y = (line_compare + per_px) / per_px;
    uint32_t buf[MAX_WIDTH + 16];
    memset(r->line_dirty, 0, (size_t)h);
    int changed = 0;
    for (int y = 0; y < h; y++) {
        bool lower = (unsigned)y >= split_y;
        unsigned ly = lower ? (unsigned)y - split_y : (unsigned)y;
        unsigned row = banked ? ly / row_lines : ly, rs = banked ? ly % row_lines : 0;
        unsigned ma = (lower ? 0 : start) + row * row_delta;
        unsigned line_pan = lower && (v->ar[0x10] & 0x20) ? 0 : pan;
        if (!full) {
            unsigned clocks = (unsigned)(w + 8) / (color256 ? 4u : 8u) + 1;
            uint64_t a0 = crtc_address(v, ma, rs, color256) & ~1u;
            uint64_t a1 = crtc_address(v, ma + clocks, rs, color256) | 1u;
            bool hit = a1 >= a0 ? dirty_range(d, a0 * 4, (a1 - a0 + 1) * 4)
                                : dirty_range(d, a0 * 4, (0x10000 - a0) * 4) || dirty_range(d, 0, (a1 + 1) * 4);
            if (!hit)
                continue;
        }
        fetch_line(v, buf, w, ma, rs, palette);
        memcpy(r->surf.pixels + (size_t)y * (size_t)w, buf + line_pan, (size_t)w * sizeof(uint32_t));
        r->line_dirty[y] = 1;
        changed = 1;
    }
    r->valid = true;
    return rc ? 2 : changed;
}

int vga_render_update(struct vga_render *r, struct vga *v, int64_t now_ns, bool force)
{
    bool full = force || !r->valid;
    if (v->regs_dirty) {
        struct vga_render_regs now;
        regs_capture(v, &now);
        if (memcmp(&now, &r->regs, sizeof(now))) {
            r->regs = now;
            full = true;
        }
        v->regs_dirty = false;
    }
    bool text = !vga_is_graphics(v);
    /* Nothing written and no register changed: a graphics frame is as it was. Text still has
     * a blinking cursor and blinking characters. */
    if (!full && !v->vram_dirty && !text)
        return 0;
    bool vram_written = v->vram_dirty;
    struct dirty_snapshot d;
    dirty_take(v, &d);
    if (text)
        return render_text(r, v, now_ns, full, vram_written);
    if (v->vbe_regs[VBE_DISPI_INDEX_ENABLE] & VBE_ENABLED)
        return render_vbe(r, v, &d, full);
    return render_vga_graphics(r, v, &d, full);
}
