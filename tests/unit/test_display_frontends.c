/* The display core with two front ends (as a VNC server and an SDL window): each shows its own
 * console (Ctrl-Alt-n in one does not change the other, as in QEMU), keys go to the console
 * the sending front end shows or to the guest, keys without a front end (sendkey) always reach
 * the guest, screendump stays the guest's screen, and a vc behind a mux (mon:vc) is one
 * console, not two. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "chardev/chardev_fd.h"
#include "chardev/chardev_mux.h"
#include "chardev/chardev_vc.h"
#include "hw/i8042.h"
#include "ui/display.h"

/* A front end that keeps a copy of what it was given. */
struct fake_frontend {
    int width, height;
    unsigned publishes;
    uint32_t *pixels;
};

static bool fake_publish(void *opaque, const struct display_surface *s, bool resized, int y0, int y1)
{
    struct fake_frontend *f = opaque;
    (void)y0;
    (void)y1;
    if (resized || s->width != f->width || s->height != f->height) {
        free(f->pixels);
        f->pixels = calloc((size_t)s->width * (size_t)s->height, 4);
        f->width = s->width;
        f->height = s->height;
    }
    memcpy(f->pixels, s->pixels, (size_t)s->width * (size_t)s->height * 4);
    f->publishes++;
    return true;
}

static bool fake_watching(void *opaque)
{
    (void)opaque;
    return true;
}

static void fake_destroy(void *opaque)
{
    struct fake_frontend *f = opaque;
    free(f->pixels);
    f->pixels = NULL;
}

static const struct display_frontend_ops fake_ops = {
    .publish = fake_publish, .watching = fake_watching, .destroy = fake_destroy,
};

/* Lit pixels in the picture a front end holds. */
static unsigned lit(const struct fake_frontend *f)
{
    unsigned n = 0;
    for (size_t i = 0; i < (size_t)f->width * (size_t)f->height; i++)
        n += f->pixels[i] != 0;
    return n;
}

struct typed {
    char bytes[64];
    size_t len;
};

static size_t typed_room(void *opaque)
{
    struct typed *t = opaque;
    return sizeof(t->bytes) - t->len;
}

static void typed_read(void *opaque, const uint8_t *buf, size_t len)
{
    struct typed *t = opaque;
    memcpy(t->bytes + t->len, buf, len);
    t->len += len;
}

static void no_irq(void *opaque, int n, int level)
{
    (void)opaque;
    (void)n;
    (void)level;
}

static void no_a20(void *opaque, bool en)
{
    (void)opaque;
    (void)en;
}

static void no_reset(void *opaque)
{
    (void)opaque;
}

struct fixture {
    struct mainloop ml;
    struct vclock clock;
    struct io_bus io;
    struct i8042 kbc;
    struct display d;
    struct fake_frontend vnc, sdl;
    struct chardev *monitor_vc, *serial_vc;
    struct typed monitor_in, serial_in;
};

/* The guest's keyboard output, translated set 1; -1 when empty. */
static int guest_byte(struct fixture *f)
{
    if (!(io_read(&f->io, 0x64, 1) & 1))
        return -1;
    return (int)io_read(&f->io, 0x60, 1);
}

static void drain_guest(struct fixture *f)
{
    while (guest_byte(f) >= 0) {
    }
}

static void press(struct fixture *f, const void *origin, uint16_t code)
{
    display_key(&f->d, origin, code, true);
    display_key(&f->d, origin, code, false);
}

static void ctrl_alt(struct fixture *f, const void *origin, uint16_t code)
{
    display_key(&f->d, origin, 0x1d, true);
    display_key(&f->d, origin, 0x38, true);
    press(f, origin, code);
    display_key(&f->d, origin, 0x38, false);
    display_key(&f->d, origin, 0x1d, false);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(mainloop_init(&f->ml), 0);
    vclock_init(&f->clock, false, 0, NULL);
    io_bus_init(&f->io);
    struct irq_line l1, l12;
    irq_connect(&l1, no_irq, f, 1);
    irq_connect(&l12, no_irq, f, 12);
    i8042_init(&f->kbc, &f->io, l1, l12, no_a20, no_reset, f, NULL);
    assert_int_equal(display_init(&f->d, NULL, &f->kbc, &f->clock, &f->ml), 0);
    assert_int_equal(display_add_frontend(&f->d, &fake_ops, &f->vnc), 0);
    assert_int_equal(display_add_frontend(&f->d, &fake_ops, &f->sdl), 0);
    f->monitor_vc = chardev_vc_open("monitor0", 80, 24);
    f->serial_vc = chardev_vc_open("serial0", 80, 24);
    chardev_attach(f->monitor_vc, typed_room, typed_read, &f->monitor_in);
    chardev_attach(f->serial_vc, typed_room, typed_read, &f->serial_in);
    assert_int_equal(display_add_console(&f->d, f->monitor_vc), 0);
    assert_int_equal(display_add_console(&f->d, f->serial_vc), 0);
    const char *banner = "QEMU monitor banner on the first console";
    chardev_write(f->monitor_vc, (const uint8_t *)banner, strlen(banner));
    /* Both viewers appear and get the guest's (blank, -vga none) screen. */
    struct display_event ev = { .kind = DISPLAY_EV_REFRESH };
    display_post_event(&f->d, &ev);
    mainloop_poll(&f->ml, 0);
    drain_guest(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    display_destroy(&f->d);
    chardev_close(f->monitor_vc);
    chardev_close(f->serial_vc);
    mainloop_destroy(&f->ml);
    free(f);
    return 0;
}

static void each_front_end_has_its_console(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(f->vnc.width, 640);
    assert_int_equal(f->vnc.height, 480);
    assert_int_equal(f->sdl.height, 480);
    unsigned sdl_publishes = f->sdl.publishes;

    /* Ctrl-Alt-2 in the VNC front end: it shows the monitor's console, the window does not
     * change. */
    ctrl_alt(f, &f->vnc, 0x03);
    assert_int_equal(display_active_console(&f->d, &f->vnc), 1);
    assert_int_equal(display_active_console(&f->d, &f->sdl), 0);
    assert_int_equal(f->vnc.width, 640);
    assert_int_equal(f->vnc.height, 384);
    assert_true(lit(&f->vnc) > 8 * 16);          /* the banner, not just the cursor */
    assert_int_equal(f->sdl.height, 480);
    assert_int_equal(f->sdl.publishes, sdl_publishes);
    drain_guest(f);                               /* Ctrl, Alt and their releases */

    /* Keys typed there go to the monitor; keys typed in the window go to the guest. */
    press(f, &f->vnc, 0x2d);                      /* x */
    assert_int_equal(f->monitor_in.len, 1);
    assert_int_equal(f->monitor_in.bytes[0], 'x');
    assert_int_equal(guest_byte(f), -1);
    press(f, &f->sdl, 0x15);                      /* y */
    assert_int_equal(guest_byte(f), 0x15);
    assert_int_equal(guest_byte(f), 0x95);
    assert_int_equal(f->monitor_in.len, 1);

    /* Ctrl-Alt-3 in the window: the serial console there, the monitor still over VNC. */
    ctrl_alt(f, &f->sdl, 0x04);
    assert_int_equal(display_active_console(&f->d, &f->sdl), 2);
    assert_int_equal(display_active_console(&f->d, &f->vnc), 1);
    assert_int_equal(f->sdl.height, 384);
    assert_int_equal(lit(&f->sdl), 8 * 16);       /* an empty console: its cursor only */
    drain_guest(f);
    press(f, &f->sdl, 0x2c);                      /* z */
    assert_int_equal(f->serial_in.len, 1);
    assert_int_equal(f->serial_in.bytes[0], 'z');
    assert_int_equal(f->monitor_in.len, 1);

    /* Keys with no front end (the monitor's sendkey) reach the guest whatever is shown. */
    display_key(&f->d, NULL, 0x1e, true);
    assert_int_equal(guest_byte(f), 0x1e);
    display_key(&f->d, NULL, 0x1e, false);
    assert_int_equal(guest_byte(f), 0x9e);

    /* screendump is the guest's screen. */
    const struct display_surface *s = display_snapshot(&f->d);
    assert_int_equal(s->width, 640);
    assert_int_equal(s->height, 480);

    /* Ctrl-Alt-1 over VNC: the guest again there; the window keeps the serial console. */
    ctrl_alt(f, &f->vnc, 0x02);
    assert_int_equal(display_active_console(&f->d, &f->vnc), 0);
    assert_int_equal(f->vnc.height, 480);
    assert_int_equal(display_active_console(&f->d, &f->sdl), 2);
    assert_int_equal(f->sdl.height, 384);
    /* The switch key's release did not reach the guest; only the modifiers' releases did. */
    for (int b; (b = guest_byte(f)) >= 0;)
        assert_true(b == 0x9d || b == 0xb8 || b == 0x1d || b == 0x38);
}

static void a_console_that_does_not_exist_is_ignored(void **state)
{
    struct fixture *f = *state;
    ctrl_alt(f, &f->vnc, 0x05);                   /* Ctrl-Alt-4: only two consoles */
    assert_int_equal(display_active_console(&f->d, &f->vnc), 0);
    display_select_console(&f->d, &f->vnc, 3);
    assert_int_equal(display_active_console(&f->d, &f->vnc), 0);
    display_select_console(&f->d, NULL, 1);       /* no front end: nothing to switch */
    assert_int_equal(display_active_console(&f->d, &f->vnc), 0);
    assert_int_equal(display_active_console(&f->d, NULL), 0);
}

static void mon_vc_is_one_console(void **state)
{
    struct fixture *f = *state;
    /* mon:vc: the serial port and the monitor are front ends of one mux on one vc. */
    struct chardev *vc = chardev_vc_open("serial1", 80, 24);
    struct chardev *mux = chardev_mux_open(vc, &f->ml);
    struct chardev *serial = chardev_mux_frontend(mux, "serial1");
    struct chardev *monitor = chardev_mux_frontend(mux, "monitor1");
    assert_ptr_equal(chardev_underlying(serial), vc);
    assert_ptr_equal(chardev_underlying(monitor), vc);
    assert_ptr_equal(chardev_underlying(mux), vc);
    assert_ptr_equal(chardev_underlying(f->serial_vc), f->serial_vc);
    assert_int_equal(display_add_console(&f->d, chardev_underlying(monitor)), 0);
    assert_int_equal(display_add_console(&f->d, chardev_underlying(serial)), 0);
    assert_int_equal(f->d.n_consoles, 3);
    assert_int_equal(display_add_console(&f->d, serial), -1);   /* a mux front end is no vc */
    /* Typed on that console, the bytes go through the mux: Ctrl-A c moves them to the
     * monitor's front end. */
    struct typed to_serial = { .len = 0 }, to_monitor = { .len = 0 };
    chardev_attach(serial, typed_room, typed_read, &to_serial);
    chardev_attach(monitor, typed_room, typed_read, &to_monitor);
    ctrl_alt(f, &f->sdl, 0x05);                   /* Ctrl-Alt-4 */
    assert_int_equal(display_active_console(&f->d, &f->sdl), 3);
    press(f, &f->sdl, 0x17);                      /* i */
    display_key(&f->d, &f->sdl, 0x1d, true);
    press(f, &f->sdl, 0x1e);                      /* Ctrl-A */
    display_key(&f->d, &f->sdl, 0x1d, false);
    press(f, &f->sdl, 0x2e);                      /* c */
    press(f, &f->sdl, 0x31);                      /* n */
    assert_int_equal(to_serial.len, 1);
    assert_int_equal(to_serial.bytes[0], 'i');
    assert_int_equal(to_monitor.len, 1);
    assert_int_equal(to_monitor.bytes[0], 'n');
    chardev_close(mux);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(each_front_end_has_its_console, setup, teardown),
        cmocka_unit_test_setup_teardown(a_console_that_does_not_exist_is_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(mon_vc_is_one_console, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
