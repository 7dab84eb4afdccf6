/* HMP monitor: line editing, prompt and commands, driven through a capturing chardev. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "chardev/chardev.h"
#include "chardev/chardev_fd.h"
#include "chardev/chardev_mux.h"
#include "monitor/monitor.h"
#include "capture_chardev.h"

/* A machine stand-in that counts what the monitor asked for. */
struct machine {
    bool running;
    int stops, conts, resets, powerdowns, quits, regs;
};

static const char *m_status(void *o)
{
    return ((struct machine *)o)->running ? "running" : "paused";
}
static void m_stop(void *o) { ((struct machine *)o)->running = false; ((struct machine *)o)->stops++; }
static void m_cont(void *o) { ((struct machine *)o)->running = true; ((struct machine *)o)->conts++; }
static void m_reset(void *o) { ((struct machine *)o)->resets++; }
static void m_powerdown(void *o) { ((struct machine *)o)->powerdowns++; }
static void m_quit(void *o) { ((struct machine *)o)->quits++; }
static void m_regs(void *o, struct monitor *mon)
{
    ((struct machine *)o)->regs++;
    monitor_printf(mon, "EAX=%08x EBX=%08x\n", 0x12345678u, 0u);
}

static const struct monitor_ops full_ops = {
    .status = m_status, .stop = m_stop, .cont = m_cont, .system_reset = m_reset,
    .system_powerdown = m_powerdown, .quit = m_quit, .info_registers = m_regs,
};

struct fixture {
    struct capture cap;
    struct chardev chr;
    struct machine m;
    struct monitor *mon;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    f->chr.ops = &capture_ops;
    f->chr.priv = &f->cap;
    f->m.running = true;
    f->mon = monitor_new(&f->chr, &full_ops, &f->m);
    *state = f;
    return f->mon ? 0 : -1;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    monitor_free(f->mon);
    free(f);
    return 0;
}

/* Type text through the chardev, as a user would; returns what the monitor wrote back. */
static const char *type(struct fixture *f, const char *text)
{
    f->cap.len = 0;
    f->cap.out[0] = '\0';
    /* the chardev path: the monitor attached itself as the front end */
    assert_non_null(f->chr.fe_read);
    assert_true(f->chr.fe_can_read(f->chr.fe_opaque) > 0);
    f->chr.fe_read(f->chr.fe_opaque, (const uint8_t *)text, strlen(text));
    return f->cap.out;
}

static void test_info_status_and_prompt(void **state)
{
    struct fixture *f = *state;
    const char *out = type(f, "info status\r");
    assert_non_null(strstr(out, "info status\r\n"));   /* echo, then Enter */
    assert_non_null(strstr(out, "VM status: running\r\n"));
    size_t n = strlen(out);
    assert_true(n >= 7);
    assert_string_equal(out + n - 7, "(qemu) ");           /* QEMU's prompt, last */
    out = type(f, "stop\r");
    assert_int_equal(f->m.stops, 1);
    out = type(f, "info status\n");
    assert_non_null(strstr(out, "VM status: paused\r\n"));
    out = type(f, "c\r\n");                                /* alias; \r\n is one Enter */
    assert_int_equal(f->m.conts, 1);
    const char *first = strstr(out, "(qemu) ");
    assert_non_null(first);
    assert_null(strstr(first + 1, "(qemu) "));
}

static void test_commands_reach_the_machine(void **state)
{
    struct fixture *f = *state;
    type(f, "system_reset\r");
    type(f, "system_powerdown\r");
    type(f, "cont\r");
    type(f, "q\r");
    type(f, "quit\r");
    assert_int_equal(f->m.resets, 1);
    assert_int_equal(f->m.powerdowns, 1);
    assert_int_equal(f->m.conts, 1);
    assert_int_equal(f->m.quits, 2);
    const char *out = type(f, "info registers\r");
    assert_int_equal(f->m.regs, 1);
    assert_non_null(strstr(out, "EAX=12345678 EBX=00000000\r\n"));
    out = type(f, "info qtree\r");
    assert_non_null(strstr(out, "info qtree: not available"));
    out = type(f, "info version\r");
    assert_non_null(strstr(out, "pcvm"));
}

static void test_errors(void **state)
{
    struct fixture *f = *state;
    const char *out = type(f, "foo bar\r");
    assert_non_null(strstr(out, "unknown command: 'foo'\r\n"));
    out = type(f, "savevm snap1\r");
    assert_non_null(strstr(out, "not supported yet"));
    out = type(f, "loadvm snap1\r");
    assert_non_null(strstr(out, "not supported yet"));
    out = type(f, "info nonsense\r");
    assert_non_null(strstr(out, "nonsense"));
    out = type(f, "help\r");
    assert_non_null(strstr(out, "system_reset"));
    assert_non_null(strstr(out, "quit|q"));
    out = type(f, "\r");                 /* empty line: just a new prompt */
    assert_string_equal(out, "\r\n(qemu) ");
}

static void test_line_editing(void **state)
{
    struct fixture *f = *state;
    /* backspace and DEL both erase */
    type(f, "stxp\x7f\x7fop\r");
    assert_int_equal(f->m.stops, 1);
    type(f, "xx\b\bcont\r");
    assert_int_equal(f->m.conts, 1);
    /* Ctrl-U drops the line */
    type(f, "quit\x15stop\r");
    assert_int_equal(f->m.quits, 0);
    assert_int_equal(f->m.stops, 2);
    /* up arrow recalls the last command */
    type(f, "\x1b[A\r");
    assert_int_equal(f->m.stops, 3);
    type(f, "\x1b[A\x1b[A\r");            /* two back: "stop" again (history: stop, cont, stop, stop) */
    assert_int_equal(f->m.stops, 4);
    /* an over-long line is cut, not overflowed */
    char big[2000];
    memset(big, 'a', sizeof(big) - 2);
    big[sizeof(big) - 2] = '\r';
    big[sizeof(big) - 1] = '\0';
    const char *out = type(f, big);
    assert_non_null(strstr(out, "unknown command"));
}

static void test_no_ops(void **state)
{
    (void)state;
    struct capture cap = { .len = 0 };
    struct chardev chr = { .ops = &capture_ops, .priv = &cap };
    struct monitor *mon = monitor_new(&chr, NULL, NULL);
    /* alone on its chardev: banner and prompt at once */
    assert_true(cap.len > 7);
    assert_string_equal(cap.out + cap.len - 7, "(qemu) ");
    monitor_input(mon, (const uint8_t *)"stop\rinfo status\r", 17);
    assert_non_null(strstr(cap.out, "stop: not available"));
    assert_non_null(strstr(cap.out, "VM status: unknown"));
    monitor_free(mon);
    assert_null(chr.fe_read);   /* detached */
}

static void test_on_mux(void **state)
{
    (void)state;
    static struct capture cap;
    struct chardev *be = calloc(1, sizeof(*be));
    be->ops = &capture_ops;
    be->priv = &cap;
    struct chardev *mux = chardev_mux_open(be, NULL);
    struct chardev *serial = chardev_mux_frontend(mux, "serial0");
    struct chardev *monchr = chardev_mux_frontend(mux, "monitor0");
    struct machine m = { .running = true };
    struct monitor *mon = monitor_new(monchr, &full_ops, &m);
    (void)serial;
    assert_int_equal(cap.len, 0);   /* nothing until it has the focus */
    chardev_mux_input(mux, (const uint8_t *)"\x01" "c", 2);
    assert_non_null(strstr(cap.out, "(qemu) "));
    assert_non_null(strstr(cap.out, "monitor"));
    chardev_mux_input(mux, (const uint8_t *)"stop\r", 5);
    assert_int_equal(m.stops, 1);
    monitor_free(mon);
    chardev_close(mux);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_info_status_and_prompt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commands_reach_the_machine, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_line_editing, setup, teardown),
        cmocka_unit_test(test_no_ops),
        cmocka_unit_test(test_on_mux),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
