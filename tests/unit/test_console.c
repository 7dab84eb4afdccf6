/* Text consoles (vc): the spec forms, the character grid (printing, CR/LF, backspace, wrap,
 * scrolling, erase sequences), typed bytes reaching the front end, the key-to-byte table, the
 * font search in a VGA BIOS image and the drawing of a console. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "chardev/chardev_spec.h"
#include "chardev/chardev_vc.h"
#include "ui/display_console.h"

static void vc_specs(void **state)
{
    (void)state;
    struct chardev_spec s;
    char err[256];
    assert_int_equal(chardev_spec_parse("vc", &s, err, sizeof(err)), 0);
    assert_int_equal(s.kind, CHARDEV_VC);
    assert_int_equal(s.vc_cols, 0);
    assert_int_equal(chardev_spec_parse("vc:80Cx24C", &s, err, sizeof(err)), 0);
    assert_int_equal(s.kind, CHARDEV_VC);
    assert_int_equal(s.vc_cols, 80);
    assert_int_equal(s.vc_rows, 24);
    assert_int_equal(chardev_spec_parse("vc:640x480", &s, err, sizeof(err)), 0);
    assert_int_equal(s.vc_cols, 80);
    assert_int_equal(s.vc_rows, 30);
    assert_int_equal(chardev_spec_parse("vc:80Cx", &s, err, sizeof(err)), -1);
    assert_int_equal(chardev_spec_parse("vc:wide", &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "WIDTHxHEIGHT"));
    assert_int_equal(chardev_spec_parse_opts("vc,id=v0,cols=100,rows=40", &s, err, sizeof(err)), 0);
    assert_int_equal(s.kind, CHARDEV_VC);
    assert_int_equal(s.vc_cols, 100);
    assert_int_equal(s.vc_rows, 40);
}

static void write_str(struct chardev *c, const char *s)
{
    chardev_write(c, (const uint8_t *)s, strlen(s));
}

static void row_is(struct chardev *c, int row, const char *want)
{
    uint8_t grid[VC_MAX_COLS * VC_MAX_ROWS];
    struct vc_view v;
    assert_true(chardev_vc_read(c, &v, grid, sizeof(grid)));
    char line[VC_MAX_COLS + 1];
    memcpy(line, grid + row * v.cols, (size_t)v.cols);
    line[v.cols] = '\0';
    size_t n = strlen(want);
    assert_memory_equal(line, want, n);
    for (int i = (int)n; i < v.cols; i++)
        assert_int_equal(line[i], ' ');
}

static void grid_and_scrolling(void **state)
{
    (void)state;
    struct chardev *c = chardev_vc_open("monitor0", 10, 3);
    assert_true(chardev_is_vc(c));
    struct vc_view v;
    assert_true(chardev_vc_peek(c, &v));
    unsigned gen = v.generation;
    write_str(c, "(qemu) inf\b \bfo\r\n");
    row_is(c, 0, "(qemu) inf");      /* 11 characters: the 11th wrapped */
    row_is(c, 1, "o");
    assert_true(chardev_vc_peek(c, &v));
    assert_int_not_equal(v.generation, gen);
    write_str(c, "VM\tx\r\n");         /* the third line's LF scrolls */
    row_is(c, 1, "VM      x");
    /* The next line scrolls the top one away. */
    write_str(c, "last");
    row_is(c, 0, "o");
    row_is(c, 2, "last");
    assert_true(chardev_vc_peek(c, &v));
    assert_int_equal(v.cursor_x, 4);
    assert_int_equal(v.cursor_y, 2);
    /* Scrolling back shows the lines that left the top, without the cursor; it stops at the
     * oldest line and at the live screen. */
    chardev_vc_scroll(c, 1);
    row_is(c, 0, "(qemu) inf");
    row_is(c, 1, "o");
    row_is(c, 2, "VM      x");
    assert_true(chardev_vc_peek(c, &v));
    assert_int_equal(v.cursor_y, -1);
    assert_int_equal(v.back, 1);
    chardev_vc_scroll(c, 100);
    assert_true(chardev_vc_peek(c, &v));
    assert_int_equal(v.back, 1);                 /* one line of history so far */
    write_str(c, "\r\n");                        /* more output: the view stays put */
    row_is(c, 0, "(qemu) inf");
    chardev_vc_scroll(c, -100);
    row_is(c, 1, "last");
    row_is(c, 2, "");
    write_str(c, "\x1b[A");                       /* cursor keys echoed back: ignored */
    chardev_vc_scroll(c, 1);
    row_is(c, 2, "last");
    chardev_vc_scroll(c, -1);
    write_str(c, "\x1b[H");
    /* ESC [ K erases to the end of the line; colors are read and ignored; ESC [ 2 J clears. */
    write_str(c, "\x1b[1;31mla\x1b[0m\x1b[K");
    row_is(c, 0, "la");
    write_str(c, "\x1b[2J");
    row_is(c, 0, "");
    row_is(c, 2, "");
    assert_true(chardev_vc_peek(c, &v));
    assert_int_equal(v.cursor_x, 0);
    assert_int_equal(v.cursor_y, 0);
    chardev_close(c);
}

struct typed {
    uint8_t buf[16];
    size_t len;
};

static size_t can_read(void *opaque)
{
    struct typed *t = opaque;
    return sizeof(t->buf) - t->len;
}

static void got(void *opaque, const uint8_t *buf, size_t len)
{
    struct typed *t = opaque;
    memcpy(t->buf + t->len, buf, len);
    t->len += len;
}

static void typed_bytes_reach_the_front_end(void **state)
{
    (void)state;
    struct chardev *c = chardev_vc_open("serial0", 0, 0);   /* clamped to 1x1 */
    struct vc_view v;
    assert_true(chardev_vc_peek(c, &v));
    assert_int_equal(v.cols, 1);
    chardev_vc_input(c, (const uint8_t *)"x", 1);           /* nobody attached: dropped */
    struct typed t = { .len = 0 };
    chardev_attach(c, can_read, got, &t);
    chardev_vc_input(c, (const uint8_t *)"info\r", 5);
    assert_int_equal(t.len, 5);
    assert_memory_equal(t.buf, "info\r", 5);
    uint8_t many[32];
    memset(many, 'a', sizeof(many));
    chardev_vc_input(c, many, sizeof(many));                /* only what the front end takes */
    assert_int_equal(t.len, 16);
    chardev_close(c);
    assert_false(chardev_is_vc(NULL));
}

static void key_bytes(void **state)
{
    (void)state;
    uint8_t b[4];
    assert_int_equal(console_key_bytes(0x1e, false, false, b), 1);
    assert_int_equal(b[0], 'a');
    assert_int_equal(console_key_bytes(0x1e, true, false, b), 1);
    assert_int_equal(b[0], 'A');
    assert_int_equal(console_key_bytes(0x2e, false, true, b), 1);   /* Ctrl-C */
    assert_int_equal(b[0], 3);
    assert_int_equal(console_key_bytes(0x03, true, false, b), 1);   /* Shift-2 */
    assert_int_equal(b[0], '@');
    assert_int_equal(console_key_bytes(0x1c, false, false, b), 1);
    assert_int_equal(b[0], '\r');
    assert_int_equal(console_key_bytes(0x0e, false, false, b), 1);
    assert_int_equal(b[0], 0x7f);
    assert_int_equal(console_key_bytes(0xe048, false, false, b), 3);
    assert_memory_equal(b, "\x1b[A", 3);
    assert_int_equal(console_key_bytes(0x1d, false, false, b), 0);  /* Ctrl alone */
    assert_int_equal(console_key_bytes(0x3b, false, false, b), 0);  /* F1 */
    assert_int_equal(console_key_bytes(0xffff, false, false, b), 0);
}

static void font_search_and_drawing(void **state)
{
    (void)state;
    static uint8_t rom[8192], font[256 * 16];
    memset(rom, 0x55, sizeof(rom));
    assert_false(console_font_find(rom, sizeof(rom), font));
    /* A font at offset 1000: glyph 0 blank, glyph 1 the smiley, glyph 'X' a top-left dot. */
    uint8_t *f = rom + 1000;
    memset(f, 0, 256 * 16);
    static const uint8_t smiley[16] = { 0x00, 0x00, 0x7e, 0x81, 0xa5, 0x81, 0x81, 0xbd,
                                        0x99, 0x81, 0x81, 0x7e, 0x00, 0x00, 0x00, 0x00 };
    memcpy(f + 16, smiley, 16);
    f['X' * 16] = 0x80;
    assert_true(console_font_find(rom, sizeof(rom), font));
    assert_int_equal(font['X' * 16], 0x80);
    assert_false(console_font_find(rom, 100, font));

    struct chardev *c = chardev_vc_open("monitor0", 4, 2);
    write_str(c, "X\r\n");
    struct vga_render r;
    vga_render_init(&r);
    unsigned drawn = 0;
    assert_int_equal(console_render(&r, c, font, &drawn, false), 2);
    assert_int_equal(r.surf.width, 32);
    assert_int_equal(r.surf.height, 32);
    assert_int_equal(r.surf.pixels[0], 0xaaaaaa);          /* the dot of 'X' */
    assert_int_equal(r.surf.pixels[1], 0x000000);
    assert_int_equal(r.surf.pixels[16 * 32], 0xaaaaaa);    /* the block cursor at (0, 1) */
    assert_int_equal(console_render(&r, c, font, &drawn, false), 0);   /* unchanged */
    write_str(c, "X");
    assert_int_equal(console_render(&r, c, font, &drawn, false), 1);
    assert_int_equal(r.surf.pixels[16 * 32 + 1], 0x000000);  /* 'X' drawn, cursor moved on */
    assert_int_equal(r.surf.pixels[16 * 32 + 8], 0xaaaaaa);
    vga_render_destroy(&r);
    chardev_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(vc_specs),
        cmocka_unit_test(grid_and_scrolling),
        cmocka_unit_test(typed_bytes_reach_the_front_end),
        cmocka_unit_test(key_bytes),
        cmocka_unit_test(font_search_and_drawing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
