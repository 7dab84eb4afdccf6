/* 8042 keyboard controller and PS/2 devices: self test, interface tests, command byte, A20
 * through the output port, reset pulse, keyboard reset/ID/scan code sets with and without
 * translation, mouse commands and packets. Facts from the IBM PS/2 and PC/AT references. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hw/i8042.h"

struct fixture {
    struct io_bus io;
    struct i8042 kbc;
    int irq1, irq12, irq1_edges, irq12_edges;
    int a20;
    int resets;
};

static void on_irq(void *opaque, int n, int level)
{
    struct fixture *f = opaque;
    int *line = n == 1 ? &f->irq1 : &f->irq12;
    if (level && !*line)
        (*(n == 1 ? &f->irq1_edges : &f->irq12_edges))++;
    *line = level;
}

static void on_a20(void *opaque, bool en) { ((struct fixture *)opaque)->a20 = en; }
static void on_reset(void *opaque) { ((struct fixture *)opaque)->resets++; }

static struct fixture *setup(void)
{
    static struct fixture f;
    memset(&f, 0, sizeof(f));
    io_bus_init(&f.io);
    struct irq_line l1, l12;
    irq_connect(&l1, on_irq, &f, 1);
    irq_connect(&l12, on_irq, &f, 12);
    f.a20 = -1;
    i8042_init(&f.kbc, &f.io, l1, l12, on_a20, on_reset, &f, NULL);
    return &f;
}

static uint8_t status(struct fixture *f) { return (uint8_t)io_read(&f->io, 0x64, 1); }
static void cmd(struct fixture *f, uint8_t c) { io_write(&f->io, 0x64, c, 1); }
static void data(struct fixture *f, uint8_t d) { io_write(&f->io, 0x60, d, 1); }

static int read_data(struct fixture *f)
{
    if (!(status(f) & 1))
        return -1;
    return (int)io_read(&f->io, 0x60, 1);
}

static void set_ccb(struct fixture *f, uint8_t v)
{
    cmd(f, 0x60);
    data(f, v);
}

static void self_test_and_interface_tests(void **state)
{
    (void)state;
    struct fixture *f = setup();
    assert_int_equal(f->a20, 1); /* A20 on at power-on */
    assert_int_equal(status(f) & 0x01, 0);
    cmd(f, 0xaa);
    assert_int_equal(status(f) & 0x0d, 0x0d); /* OBF, SYS, last write was a command */
    assert_int_equal(read_data(f), 0x55);
    assert_int_equal(status(f) & 0x01, 0);
    cmd(f, 0xab);
    assert_int_equal(read_data(f), 0x00);
    cmd(f, 0xa9);
    assert_int_equal(read_data(f), 0x00);
    assert_int_equal(read_data(f), -1);
}

static void command_byte(void **state)
{
    (void)state;
    struct fixture *f = setup();
    set_ccb(f, 0x65);
    cmd(f, 0x20);
    assert_int_equal(read_data(f), 0x65);
    assert_int_equal(status(f) & 0x04, 0x04); /* SYS follows CCB bit 2 */
    set_ccb(f, 0x61);
    assert_int_equal(status(f) & 0x04, 0);
    /* Controller RAM beyond the command byte. */
    cmd(f, 0x65);
    data(f, 0x9c);
    cmd(f, 0x25);
    assert_int_equal(read_data(f), 0x9c);
    cmd(f, 0xad); /* disable keyboard sets CCB bit 4 */
    cmd(f, 0x20);
    assert_int_equal(read_data(f) & 0x10, 0x10);
    cmd(f, 0xae);
    cmd(f, 0x20);
    assert_int_equal(read_data(f) & 0x10, 0);
}

static void a20_through_output_port(void **state)
{
    (void)state;
    struct fixture *f = setup();
    cmd(f, 0xd1);
    data(f, 0xdd); /* A20 off, reset line high */
    assert_int_equal(f->a20, 0);
    assert_int_equal(f->resets, 0);
    cmd(f, 0xd0);
    assert_int_equal(read_data(f) & 0x03, 0x01);
    cmd(f, 0xd1);
    data(f, 0xdf); /* A20 on */
    assert_int_equal(f->a20, 1);
    cmd(f, 0xd0);
    assert_int_equal(read_data(f) & 0x03, 0x03);
    cmd(f, 0xdd);
    assert_int_equal(f->a20, 0);
    cmd(f, 0xdf);
    assert_int_equal(f->a20, 1);
}

static void reset_pulse(void **state)
{
    (void)state;
    struct fixture *f = setup();
    cmd(f, 0xfe);
    assert_int_equal(f->resets, 1);
    cmd(f, 0xff); /* pulses nothing */
    assert_int_equal(f->resets, 1);
    cmd(f, 0xd1);
    data(f, 0x02); /* output port bit 0 low: reset */
    assert_int_equal(f->resets, 2);
}

static void keyboard_reset_and_identify(void **state)
{
    (void)state;
    struct fixture *f = setup();
    set_ccb(f, 0x01); /* IRQ1, no translation */
    data(f, 0xff);
    assert_int_equal(f->irq1, 1);
    assert_int_equal(read_data(f), 0xfa);
    assert_int_equal(f->irq1, 1); /* next byte already in the buffer */
    assert_int_equal(read_data(f), 0xaa);
    assert_int_equal(f->irq1, 0);
    assert_int_equal(f->irq1_edges, 2);
    data(f, 0xf2);
    assert_int_equal(read_data(f), 0xfa);
    assert_int_equal(read_data(f), 0xab);
    assert_int_equal(read_data(f), 0x83);
    set_ccb(f, 0x41); /* with translation the ID reads AB 41 */
    data(f, 0xf2);
    assert_int_equal(read_data(f), 0xfa);
    assert_int_equal(read_data(f), 0xab);
    assert_int_equal(read_data(f), 0x41);
    data(f, 0xf0);
    data(f, 0x00);
    assert_int_equal(read_data(f), 0xfa);
    assert_int_equal(read_data(f), 0xfa);
    assert_int_equal(read_data(f), 0x41); /* set 2, translated */
    data(f, 0xed); /* LEDs */
    assert_int_equal(read_data(f), 0xfa);
    data(f, 0x07);
    assert_int_equal(read_data(f), 0xfa);
    assert_int_equal(f->kbc.kbd.leds, 7);
    data(f, 0xee);
    assert_int_equal(read_data(f), 0xee);
    data(f, 0x12); /* not a command */
    assert_int_equal(read_data(f), 0xfe);
}

static void scancodes_and_translation(void **state)
{
    (void)state;
    struct fixture *f = setup();
    set_ccb(f, 0x41);
    i8042_key_event(&f->kbc, 0x1e, true); /* A */
    assert_int_equal(read_data(f), 0x1e);
    i8042_key_event(&f->kbc, 0x1e, false);
    assert_int_equal(read_data(f), 0x9e);
    i8042_key_event(&f->kbc, 0xe048, false); /* up arrow release */
    assert_int_equal(read_data(f), 0xe0);
    assert_int_equal(read_data(f), 0xc8);
    set_ccb(f, 0x01); /* raw set 2 */
    i8042_key_event(&f->kbc, 0x1e, true);
    assert_int_equal(read_data(f), 0x1c);
    i8042_key_event(&f->kbc, 0x1e, false);
    assert_int_equal(read_data(f), 0xf0);
    assert_int_equal(read_data(f), 0x1c);
    i8042_key_event(&f->kbc, 0x01, true); /* Esc */
    assert_int_equal(read_data(f), 0x76);
    /* Scan code set 1 selected in the keyboard. */
    data(f, 0xf0);
    data(f, 0x01);
    read_data(f);
    read_data(f);
    i8042_key_event(&f->kbc, 0x1c, false);
    assert_int_equal(read_data(f), 0x9c);
    /* Translation table spot checks against set-1 codes. */
    assert_int_equal(ps2_set2_to_set1(0x5a), 0x1c);
    assert_int_equal(ps2_set2_to_set1(0x29), 0x39);
    assert_int_equal(ps2_set2_to_set1(0x83), 0x41);
    assert_int_equal(ps2_set2_to_set1(0xfa), 0xfa);
    /* Disabled scanning drops keys; a disabled interface holds them. */
    data(f, 0xf5);
    read_data(f);
    i8042_key_event(&f->kbc, 0x10, true);
    assert_int_equal(read_data(f), -1);
    data(f, 0xf4);
    read_data(f);
    cmd(f, 0xad);
    i8042_key_event(&f->kbc, 0x10, true);
    assert_int_equal(read_data(f), -1);
    cmd(f, 0xae);
    assert_int_equal(read_data(f), 0x15); /* Q in set 2 (set was reset to 2 by F5) */
}

static void mouse_commands_and_packets(void **state)
{
    (void)state;
    struct fixture *f = setup();
    set_ccb(f, 0x03); /* both IRQs, interfaces enabled */
    cmd(f, 0xd4);
    data(f, 0xff);
    assert_int_equal(status(f) & 0x21, 0x21); /* data from the aux device */
    assert_int_equal(f->irq12, 1);
    assert_int_equal(f->irq1, 0);
    assert_int_equal(read_data(f), 0xfa);
    assert_int_equal(read_data(f), 0xaa);
    assert_int_equal(read_data(f), 0x00);
    assert_int_equal(f->irq12, 0);
    cmd(f, 0xd4);
    data(f, 0xf2);
    assert_int_equal(read_data(f), 0xfa);
    assert_int_equal(read_data(f), 0x00); /* standard mouse */
    static const uint8_t knock[] = { 200, 100, 80 };
    for (int i = 0; i < 3; i++) {
        cmd(f, 0xd4);
        data(f, 0xf3);
        read_data(f);
        cmd(f, 0xd4);
        data(f, knock[i]);
        assert_int_equal(read_data(f), 0xfa);
    }
    cmd(f, 0xd4);
    data(f, 0xf2);
    read_data(f);
    assert_int_equal(read_data(f), 0x03); /* IntelliMouse */
    i8042_mouse_event(&f->kbc, 5, 5, 0, 0);
    assert_int_equal(read_data(f), -1); /* reporting disabled */
    cmd(f, 0xd4);
    data(f, 0xf4);
    assert_int_equal(read_data(f), 0xfa);
    i8042_mouse_event(&f->kbc, -3, 10, 1, 1);
    assert_int_equal(read_data(f), 0x08 | 0x10 | 0x01);
    assert_int_equal(read_data(f), 0xfd);
    assert_int_equal(read_data(f), 10);
    assert_int_equal(read_data(f), 1);
    cmd(f, 0xd4);
    data(f, 0xe9); /* status: reporting on, left button down */
    read_data(f);
    assert_int_equal(read_data(f), 0x20 | 0x04);
    assert_int_equal(read_data(f), 2);
    assert_int_equal(read_data(f), 80);
    /* Aux disabled in the CCB: packets wait. */
    cmd(f, 0xa7);
    i8042_mouse_event(&f->kbc, 1, 1, 0, 0);
    assert_int_equal(read_data(f), -1);
    cmd(f, 0xa8);
    assert_int_equal(read_data(f), 0x08);
    /* D2/D3 echo bytes as if from the devices. */
    read_data(f);
    read_data(f);
    read_data(f);
    cmd(f, 0xd3);
    data(f, 0x5a);
    assert_int_equal(status(f) & 0x21, 0x21);
    assert_int_equal(read_data(f), 0x5a);
    cmd(f, 0xd2);
    data(f, 0x6b);
    assert_int_equal(status(f) & 0x21, 0x01);
    assert_int_equal(read_data(f), 0x6b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(self_test_and_interface_tests),
        cmocka_unit_test(command_byte),
        cmocka_unit_test(a20_through_output_port),
        cmocka_unit_test(reset_pulse),
        cmocka_unit_test(keyboard_reset_and_identify),
        cmocka_unit_test(scancodes_and_translation),
        cmocka_unit_test(mouse_commands_and_packets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
