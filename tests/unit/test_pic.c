/* 8259A pair: priorities, EOI forms, AEOI, cascade, ELCR level mode, poll, rotation, special mask.
 * Facts from the 8259A datasheet (Intel 231468) and the PIIX3 datasheet (ELCR). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hw/pic.h"

struct fixture {
    struct io_bus io;
    struct pic pic;
    int intr;
};

static void on_intr(void *opaque, int n, int level)
{
    (void)n;
    ((struct fixture *)opaque)->intr = level;
}

/* The standard PC initialisation (as BIOSes and Linux do): vectors 0x08 and 0x70. */
static struct fixture *setup(bool aeoi)
{
    static struct fixture f; /* test-only storage; each test re-initialises it */
    io_bus_init(&f.io);
    struct irq_line out;
    irq_connect(&out, on_intr, &f, 0);
    f.intr = 0;
    pic_init(&f.pic, &f.io, out, NULL);
    io_write(&f.io, 0x20, 0x11, 1);
    io_write(&f.io, 0x21, 0x08, 1);
    io_write(&f.io, 0x21, 0x04, 1);
    io_write(&f.io, 0x21, aeoi ? 0x03 : 0x01, 1);
    io_write(&f.io, 0xa0, 0x11, 1);
    io_write(&f.io, 0xa1, 0x70, 1);
    io_write(&f.io, 0xa1, 0x02, 1);
    io_write(&f.io, 0xa1, aeoi ? 0x03 : 0x01, 1);
    io_write(&f.io, 0x21, 0x00, 1);
    io_write(&f.io, 0xa1, 0x00, 1);
    return &f;
}

static uint8_t read_isr(struct fixture *f, uint16_t port)
{
    io_write(&f->io, port, 0x0b, 1); /* OCW3: read ISR */
    uint8_t v = (uint8_t)io_read(&f->io, port, 1);
    io_write(&f->io, port, 0x0a, 1); /* back to IRR */
    return v;
}

static void fixed_priority_and_nonspecific_eoi(void **state)
{
    (void)state;
    struct fixture *f = setup(false);
    pic_set_irq(&f->pic, 3, 1);
    pic_set_irq(&f->pic, 1, 1);
    assert_int_equal(f->intr, 1);
    assert_int_equal(io_read(&f->io, 0x20, 1), 0x0a); /* IRR: IR1 and IR3 */
    assert_int_equal(pic_intr_ack(&f->pic), 0x09);    /* IR1 first */
    /* IR3 has lower priority than the in-service IR1: INTR drops. */
    assert_int_equal(f->intr, 0);
    assert_false(pic_intr_pending(&f->pic));
    assert_int_equal(read_isr(f, 0x20), 0x02);
    io_write(&f->io, 0x20, 0x20, 1); /* non-specific EOI */
    assert_int_equal(f->intr, 1);
    assert_int_equal(pic_intr_ack(&f->pic), 0x0b);
    io_write(&f->io, 0x20, 0x20, 1);
    assert_int_equal(read_isr(f, 0x20), 0);
    assert_false(pic_intr_pending(&f->pic));
}

static void higher_priority_nests(void **state)
{
    (void)state;
    struct fixture *f = setup(false);
    pic_set_irq(&f->pic, 5, 1);
    assert_int_equal(pic_intr_ack(&f->pic), 0x0d);
    pic_set_irq(&f->pic, 0, 1);
    assert_true(pic_intr_pending(&f->pic));
    assert_int_equal(pic_intr_ack(&f->pic), 0x08);
    assert_int_equal(read_isr(f, 0x20), 0x21);
    /* Non-specific EOI clears the highest-priority in-service bit (IR0). */
    io_write(&f->io, 0x20, 0x20, 1);
    assert_int_equal(read_isr(f, 0x20), 0x20);
    /* Specific EOI for IR5. */
    io_write(&f->io, 0x20, 0x65, 1);
    assert_int_equal(read_isr(f, 0x20), 0);
}

static void masked_requests_wait(void **state)
{
    (void)state;
    struct fixture *f = setup(false);
    io_write(&f->io, 0x21, 0x10, 1);
    assert_int_equal(io_read(&f->io, 0x21, 1), 0x10);
    pic_set_irq(&f->pic, 4, 1);
    assert_false(pic_intr_pending(&f->pic));
    io_write(&f->io, 0x21, 0x00, 1);
    assert_true(pic_intr_pending(&f->pic));
    assert_int_equal(pic_intr_ack(&f->pic), 0x0c);
}

static void spurious_irq7(void **state)
{
    (void)state;
    struct fixture *f = setup(false);
    assert_int_equal(pic_intr_ack(&f->pic), 0x0f);
    assert_int_equal(read_isr(f, 0x20), 0); /* spurious: no ISR bit */
}

static void cascade_through_ir2(void **state)
{
    (void)state;
    struct fixture *f = setup(false);
    pic_set_irq(&f->pic, 12, 1);
    assert_int_equal(f->intr, 1);
    assert_int_equal(pic_pending_irq(&f->pic), 12);
    assert_int_equal(pic_intr_ack(&f->pic), 0x74);
    assert_int_equal(read_isr(f, 0x20), 0x04);
    assert_int_equal(read_isr(f, 0xa0), 0x10);
    /* IRQ1 outranks the whole slave (on IR2); IRQ3 does not. */
    pic_set_irq(&f->pic, 3, 1);
    assert_false(pic_intr_pending(&f->pic));
    pic_set_irq(&f->pic, 1, 1);
    assert_int_equal(pic_intr_ack(&f->pic), 0x09);
    io_write(&f->io, 0x20, 0x20, 1);
    io_write(&f->io, 0xa0, 0x20, 1);
    io_write(&f->io, 0x20, 0x20, 1);
    assert_int_equal(pic_intr_ack(&f->pic), 0x0b);
    /* A slave request masked on the master's IR2 waits. */
    io_write(&f->io, 0x21, 0x04, 1);
    pic_set_irq(&f->pic, 8, 1);
    assert_false(pic_intr_pending(&f->pic));
}

static void aeoi_leaves_isr_clear(void **state)
{
    (void)state;
    struct fixture *f = setup(true);
    pic_set_irq(&f->pic, 6, 1);
    assert_int_equal(pic_intr_ack(&f->pic), 0x0e);
    assert_int_equal(read_isr(f, 0x20), 0);
    /* Edge input still high: no new request until a new edge. */
    assert_false(pic_intr_pending(&f->pic));
    pic_set_irq(&f->pic, 6, 0);
    pic_set_irq(&f->pic, 6, 1);
    assert_int_equal(pic_intr_ack(&f->pic), 0x0e);
}

static void elcr_level_mode(void **state)
{
    (void)state;
    struct fixture *f = setup(false);
    io_write(&f->io, 0x4d0, 0xff, 1);
    io_write(&f->io, 0x4d1, 0xff, 1);
    assert_int_equal(io_read(&f->io, 0x4d0, 1), 0xf8); /* IRQ0-2 cannot be level */
    assert_int_equal(io_read(&f->io, 0x4d1, 1), 0xde); /* nor IRQ8 and IRQ13 */
    io_write(&f->io, 0x4d1, 0x04, 1);                   /* IRQ10 level */
    pic_set_irq(&f->pic, 10, 1);
    assert_int_equal(pic_intr_ack(&f->pic), 0x72);
    io_write(&f->io, 0xa0, 0x20, 1);
    io_write(&f->io, 0x20, 0x20, 1);
    /* Still asserted: requests again after EOI. */
    assert_true(pic_intr_pending(&f->pic));
    pic_set_irq(&f->pic, 10, 0);
    assert_false(pic_intr_pending(&f->pic));
    /* An edge input that stays high does not request again after EOI. */
    io_write(&f->io, 0x4d0, 0x00, 1);
    pic_set_irq(&f->pic, 3, 1);
    assert_int_equal(pic_intr_ack(&f->pic), 0x0b);
    io_write(&f->io, 0x20, 0x20, 1);
    assert_false(pic_intr_pending(&f->pic));
}

static void edge_pulse_is_latched(void **state)
{
    (void)state;
    struct fixture *f = setup(false);
    pic_set_irq(&f->pic, 4, 1);
    pic_set_irq(&f->pic, 4, 0);
    assert_true(pic_intr_pending(&f->pic));
    assert_int_equal(pic_intr_ack(&f->pic), 0x0c);
}

static void poll_command(void **state)
{
    (void)state;
    struct fixture *f = setup(false);
    io_write(&f->io, 0x20, 0x0c, 1); /* OCW3 poll */
    assert_int_equal(io_read(&f->io, 0x20, 1), 0x00);
    pic_set_irq(&f->pic, 5, 1);
    io_write(&f->io, 0x20, 0x0c, 1);
    assert_int_equal(io_read(&f->io, 0x20, 1), 0x85);
    assert_int_equal(read_isr(f, 0x20), 0x20); /* poll acts as an acknowledge */
}

static void rotation_and_set_priority(void **state)
{
    (void)state;
    struct fixture *f = setup(false);
    io_write(&f->io, 0x20, 0xc3, 1); /* IR3 lowest: IR4 highest */
    pic_set_irq(&f->pic, 0, 1);
    pic_set_irq(&f->pic, 5, 1);
    assert_int_equal(pic_intr_ack(&f->pic), 0x0d);
    /* Rotate on non-specific EOI: IR5 becomes lowest, so IR6,7,0.. come first. */
    io_write(&f->io, 0x20, 0xa0, 1);
    pic_set_irq(&f->pic, 5, 0);
    pic_set_irq(&f->pic, 5, 1);
    assert_int_equal(pic_intr_ack(&f->pic), 0x08);
    io_write(&f->io, 0x20, 0x20, 1);
    assert_int_equal(pic_intr_ack(&f->pic), 0x0d);
}

static void special_mask_mode(void **state)
{
    (void)state;
    struct fixture *f = setup(false);
    pic_set_irq(&f->pic, 1, 1);
    assert_int_equal(pic_intr_ack(&f->pic), 0x09);
    pic_set_irq(&f->pic, 3, 1);
    assert_false(pic_intr_pending(&f->pic));
    io_write(&f->io, 0x21, 0x02, 1); /* mask IR1 */
    io_write(&f->io, 0x20, 0x68, 1); /* set special mask */
    assert_true(pic_intr_pending(&f->pic));
    assert_int_equal(pic_intr_ack(&f->pic), 0x0b);
    io_write(&f->io, 0x20, 0x48, 1); /* reset special mask */
}

static void icw1_clears_state(void **state)
{
    (void)state;
    struct fixture *f = setup(false);
    io_write(&f->io, 0x21, 0xff, 1);
    pic_set_irq(&f->pic, 4, 1);
    io_write(&f->io, 0x20, 0x11, 1);
    assert_int_equal(io_read(&f->io, 0x20, 1), 0); /* edge sense reset, IRR clear */
    io_write(&f->io, 0x21, 0x20, 1);
    io_write(&f->io, 0x21, 0x04, 1);
    io_write(&f->io, 0x21, 0x01, 1);
    assert_int_equal(io_read(&f->io, 0x21, 1), 0); /* IMR cleared by ICW1 */
    pic_set_irq(&f->pic, 4, 0);
    pic_set_irq(&f->pic, 4, 1);
    assert_int_equal(pic_intr_ack(&f->pic), 0x24);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(fixed_priority_and_nonspecific_eoi),
        cmocka_unit_test(higher_priority_nests),
        cmocka_unit_test(masked_requests_wait),
        cmocka_unit_test(spurious_irq7),
        cmocka_unit_test(cascade_through_ir2),
        cmocka_unit_test(aeoi_leaves_isr_clear),
        cmocka_unit_test(elcr_level_mode),
        cmocka_unit_test(edge_pulse_is_latched),
        cmocka_unit_test(poll_command),
        cmocka_unit_test(rotation_and_set_priority),
        cmocka_unit_test(special_mask_mode),
        cmocka_unit_test(icw1_clears_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
