/* isa-debug-exit status encoding, debugcon output and readback, port 0x92 A20 and reset. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hw/debugcon.h"
#include "hw/debugexit.h"
#include "hw/port92.h"

struct board {
    int exit_status;
    int exits;
    int a20;
    int resets;
    char out[64];
    size_t out_len;
};

static void on_exit_req(void *opaque, int status)
{
    struct board *b = opaque;
    b->exit_status = status;
    b->exits++;
}

static void on_a20(void *opaque, bool en) { ((struct board *)opaque)->a20 = en; }
static void on_reset(void *opaque) { ((struct board *)opaque)->resets++; }

static void cap_write(struct chardev *chr, const uint8_t *buf, size_t len)
{
    struct board *b = chr->priv;
    for (size_t i = 0; i < len && b->out_len < sizeof(b->out) - 1; i++)
        b->out[b->out_len++] = (char)buf[i];
}

static const struct chardev_ops cap_ops = { .write = cap_write, .close = NULL };

static void debug_exit_status(void **state)
{
    (void)state;
    static struct io_bus io;
    struct board b = { 0 };
    struct debugexit d;
    io_bus_init(&io);
    debugexit_init(&d, &io, 0xf4, 4, on_exit_req, &b);
    io_write(&io, 0xf4, 0x10, 1);
    assert_int_equal(b.exit_status, 0x21); /* (0x10 << 1) | 1 = 33 */
    io_write(&io, 0xf4, 0, 4);
    assert_int_equal(b.exit_status, 1);
    io_write(&io, 0xf5, 0x01, 1); /* any port in the range */
    assert_int_equal(b.exits, 3);
    assert_int_equal(b.exit_status, 3);
}

static void debugcon_output_and_readback(void **state)
{
    (void)state;
    static struct io_bus io;
    struct board b = { 0 };
    struct chardev chr = { .ops = &cap_ops, .priv = &b };
    struct debugcon e9, bios;
    io_bus_init(&io);
    debugcon_init(&e9, &io, 0xe9, &chr);
    debugcon_init(&bios, &io, 0x402, &chr);
    const char *msg = "SeaBIOS";
    for (size_t i = 0; msg[i]; i++)
        io_write(&io, 0x402, (uint8_t)msg[i], 1);
    io_write(&io, 0xe9, '!', 1);
    assert_string_equal(b.out, "SeaBIOS!");
    assert_int_equal(io_read(&io, 0xe9, 1), 0xe9);
    struct debugcon nul;
    debugcon_init(&nul, &io, 0x80, NULL); /* no chardev: dropped, no crash */
    io_write(&io, 0x80, 1, 1);
}

static void port92_a20_and_reset(void **state)
{
    (void)state;
    static struct io_bus io;
    struct board b = { 0 };
    struct port92 p;
    io_bus_init(&io);
    port92_init(&p, &io, on_a20, on_reset, &b);
    assert_int_equal(io_read(&io, 0x92, 1), 0);
    io_write(&io, 0x92, 0x02, 1);
    assert_int_equal(b.a20, 1);
    assert_int_equal(io_read(&io, 0x92, 1), 0x02);
    assert_int_equal(b.resets, 0);
    io_write(&io, 0x92, 0x03, 1); /* bit 0 rising: fast reset */
    assert_int_equal(b.resets, 1);
    io_write(&io, 0x92, 0x03, 1); /* no new edge */
    assert_int_equal(b.resets, 1);
    io_write(&io, 0x92, 0x00, 1);
    assert_int_equal(b.a20, 0);
    io_write(&io, 0x92, 0x01, 1);
    assert_int_equal(b.resets, 2);
    port92_reset(&p);
    assert_int_equal(io_read(&io, 0x92, 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(debug_exit_status),
        cmocka_unit_test(debugcon_output_and_readback),
        cmocka_unit_test(port92_a20_and_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
