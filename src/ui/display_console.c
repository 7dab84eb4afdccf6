/* Text consoles on the display: drawing a vc's grid and turning keys into bytes. */
#include "ui/display_console.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chardev/chardev_vc.h"

#define FG 0xaaaaaau   /* the VGA's light grey on black, as a text console shows */
#define BG 0x000000u

bool console_font_find(const uint8_t *rom, size_t size, uint8_t font[256 * CONSOLE_FONT_HEIGHT])
{
    /* Glyph 0 is blank and glyph 1 the smiley of code page 437: the font's first 32 bytes. */
    static const uint8_t start[32] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
                                       0x00, 0x00, 0x7e, 0x81, 0xa5, 0x81, 0x81, 0xbd,
                                       0x99, 0x81, 0x81, 0x7e, 0x00, 0x00, 0x00, 0x00 };
    size_t need = 256 * CONSOLE_FONT_HEIGHT;
    if (size < need)
        return false;
    for (size_t i = 0; i + need <= size; i++)
        if (rom[i] == 0 && !memcmp(rom + i, start, sizeof(start))) {
            memcpy(font, rom + i, need);
            return true;
        }
    return false;
}

bool console_font_load(const char *path, uint8_t font[256 * CONSOLE_FONT_HEIGHT])
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    static uint8_t rom[256 * 1024];
    size_t n = fread(rom, 1, sizeof(rom), f);
    fclose(f);
    return console_font_find(rom, n, font);
}

int console_render(struct vga_render *r, struct chardev *vc, const uint8_t *font, unsigned *drawn,
                   bool force)
{
    struct vc_view view;
    if (!chardev_vc_peek(vc, &view))
        return 0;
    int rc = vga_render_blank(r, view.cols * 8, view.rows * CONSOLE_FONT_HEIGHT);
    if (rc < 0)
        return -1;
    if (!rc && !force && view.generation == *drawn)
        return 0;
    uint8_t *grid = malloc((size_t)view.cols * (size_t)view.rows);
    if (!grid)
        return -1;
    chardev_vc_read(vc, &view, grid, (size_t)view.cols * (size_t)view.rows);
    *drawn = view.generation;
    int w = r->surf.width;
    for (int row = 0; row < view.rows && (row + 1) * CONSOLE_FONT_HEIGHT <= r->surf.height; row++) {
        for (int col = 0; col < view.cols && (col + 1) * 8 <= w; col++) {
            uint8_t c = grid[row * view.cols + col];
            bool cursor = row == view.cursor_y && col == view.cursor_x;
            for (int y = 0; y < CONSOLE_FONT_HEIGHT; y++) {
                uint8_t bits = font ? font[c * CONSOLE_FONT_HEIGHT + y] : (c != ' ' ? 0x7e : 0);
                if (cursor)
                    bits = (uint8_t)~bits;   /* a block cursor, the glyph in reverse */
                uint32_t *px = r->surf.pixels + (size_t)(row * CONSOLE_FONT_HEIGHT + y) * (size_t)w + col * 8;
                for (int x = 0; x < 8; x++)
                    px[x] = (bits & (0x80 >> x)) ? FG : BG;
            }
        }
        memset(r->line_dirty + row * CONSOLE_FONT_HEIGHT, 1, CONSOLE_FONT_HEIGHT);
    }
    free(grid);
    return rc ? 2 : 1;
}

/* Set-1 make codes 0x02-0x35 on a US keyboard, unshifted and shifted (0: no character). */
static const char us_plain[0x36] = {
    [0x02] = '1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '-', '=',
    [0x10] = 'q', 'w', 'e', 'r', 't', 'y', 'u', 'i', 'o', 'p', '[', ']',
    [0x1e] = 'a', 's', 'd', 'f', 'g', 'h', 'j', 'k', 'l', ';', '\'', '`',
    [0x2b] = '\\', 'z', 'x', 'c', 'v', 'b', 'n', 'm', ',', '.', '/',
};
static const char us_shift[0x36] = {
    [0x02] = '!', '@', '#', '$', '%', '^', '&', '*', '(', ')', '_', '+',
    [0x10] = 'Q', 'W', 'E', 'R', 'T', 'Y', 'U', 'I', 'O', 'P', '{', '}',
    [0x1e] = 'A', 'S', 'D', 'F', 'G', 'H', 'J', 'K', 'L', ':', '"', '~',
    [0x2b] = '|', 'Z', 'X', 'C', 'V', 'B', 'N', 'M', '<', '>', '?',
};

size_t console_key_bytes(uint16_t code, bool shift, bool ctrl, uint8_t out[4])
{
    switch (code) {
    case 0x1c: case 0xe01c: out[0] = '\r'; return 1;
    case 0x0e: out[0] = 0x7f; return 1;
    case 0x0f: out[0] = '\t'; return 1;
    case 0x01: out[0] = 0x1b; return 1;
    case 0x39: out[0] = ' '; return 1;
    case 0xe048: case 0xe050: case 0xe04d: case 0xe04b:
        out[0] = 0x1b;
        out[1] = '[';
        out[2] = code == 0xe048 ? 'A' : code == 0xe050 ? 'B' : code == 0xe04d ? 'C' : 'D';
        return 3;
    default:
        break;
    }
    if (code >= sizeof(us_plain) || !us_plain[code])
        return 0;
    char c = shift ? us_shift[code] : us_plain[code];
    if (ctrl) {
        char lower = us_plain[code];
        if (lower < 'a' || lower > 'z')
            return 0;
        c = (char)(lower & 0x1f);
    }
    out[0] = (uint8_t)c;
    return 1;
}
