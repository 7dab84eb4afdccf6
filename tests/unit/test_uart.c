/* 16550A UART: divisor latch, transmit to the chardev, THRE interrupt rules, receive FIFO
 * trigger levels, character timeout, interrupt priority, overrun, loopback and modem lines.
 * Facts from the PC16550D datasheet. Time runs in icount mode (1 instruction = 1 ns). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "hw/uart.h"

struct capture {
    uint8_t buf[256];
    size_t len;
};

static void cap_write(struct chardev *chr, const uint8_t *buf, size_t len)
{
    struct capture *c = chr->priv;
    for (size_t i = 0; i < len && c->len < sizeof(c->buf); i++)
        c->buf[c->len++] = buf[i];
}

static const struct chardev_ops cap_ops = { .write = cap_write, .close = NULL };

struct fixture {
    struct io_bus io;
    struct vclock clock;
    uint64_t insns;
    struct chardev chr;
    struct capture cap;
    struct uart uart;
    int irq;
};

static void on_irq(void *opaque, int n, int level)
{
    (void)n;
    ((struct fixture *)opaque)->irq = level;
}

#define COM1 0x3f8

static struct fixture *setup(void)
{
    static struct fixture f;
    memset(&f, 0, sizeof(f));
    io_bus_init(&f.io);
    vclock_init(&f.clock, true, 0, &f.insns);
    f.chr.ops = &cap_ops;
    f.chr.priv = &f.cap;
    struct irq_line l;
    irq_connect(&l, on_irq, &f, 4);
    uart_init(&f.uart, &f.io, COM1, l, &f.chr, &f.clock, NULL);
    return &f;
}

static uint8_t rd(struct fixture *f, int reg) { return (uint8_t)io_read(&f->io, (uint16_t)(COM1 + reg), 1); }
static void wr(struct fixture *f, int reg, uint8_t v) { io_write(&f->io, (uint16_t)(COM1 + reg), v, 1); }

static void feed(struct fixture *f, const char *s)
{
    /* As the chardev does: deliver what can_read allows. */
    size_t n = strlen(s), can = f->chr.fe_can_read(f->chr.fe_opaque);
    f->chr.fe_read(f->chr.fe_opaque, (const uint8_t *)s, n < can ? n : can);
}

static void divisor_latch_and_scratch(void **state)
{
    (void)state;
    struct fixture *f = setup();
    wr(f, 3, 0x83);
    wr(f, 0, 0x01);
    wr(f, 1, 0x02);
    assert_int_equal(rd(f, 0), 0x01);
    assert_int_equal(rd(f, 1), 0x02);
    wr(f, 3, 0x03);
    assert_int_equal(rd(f, 1), 0x00); /* IER, not DLM */
    assert_int_equal(f->uart.divisor, 0x0201);
    wr(f, 7, 0xa5);
    assert_int_equal(rd(f, 7), 0xa5);
    assert_int_equal(rd(f, 5), 0x60); /* THRE | TEMT */
    assert_int_equal(rd(f, 2), 0x01); /* no interrupt, FIFOs off */
    assert_int_equal(rd(f, 6) & 0xf0, 0xb0); /* DCD, DSR, CTS */
}

static void transmit_goes_to_chardev(void **state)
{
    (void)state;
    struct fixture *f = setup();
    wr(f, 3, 0x03);
    wr(f, 0, 'h');
    wr(f, 0, 'i');
    assert_int_equal(f->cap.len, 2);
    assert_memory_equal(f->cap.buf, "hi", 2);
    assert_int_equal(rd(f, 5) & 0x60, 0x60);
}

static void thre_interrupt_rules(void **state)
{
    (void)state;
    struct fixture *f = setup();
    wr(f, 3, 0x03);
    assert_int_equal(f->irq, 0);
    wr(f, 1, 0x02); /* enabling ETBEI with THR empty interrupts at once */
    assert_int_equal(f->irq, 1);
    assert_int_equal(rd(f, 2), 0x02);
    /* Reading IIR cleared it. */
    assert_int_equal(f->irq, 0);
    assert_int_equal(rd(f, 2), 0x01);
    /* A THR write empties again: a new THRE interrupt. */
    wr(f, 0, 'x');
    assert_int_equal(f->irq, 1);
    wr(f, 1, 0x00);
    assert_int_equal(f->irq, 0);
    /* Re-enabling raises it again (THR is empty). */
    wr(f, 1, 0x02);
    assert_int_equal(f->irq, 1);
}

static void receive_without_fifo(void **state)
{
    (void)state;
    struct fixture *f = setup();
    wr(f, 1, 0x05); /* RDA and line status */
    assert_int_equal(f->uart.irq_level, 0);
    assert_int_equal(uart_can_receive(&f->uart), 1);
    feed(f, "a");
    assert_int_equal(f->irq, 1);
    assert_int_equal(rd(f, 2), 0x04);
    assert_int_equal(rd(f, 5) & 0x01, 0x01);
    assert_int_equal(rd(f, 0), 'a');
    assert_int_equal(f->irq, 0);
    assert_int_equal(rd(f, 5) & 0x01, 0);
    /* A second character before the first is read overruns. */
    uart_receive(&f->uart, (const uint8_t *)"bc", 2);
    assert_int_equal(rd(f, 2), 0x06); /* line status outranks received data */
    assert_int_equal(rd(f, 5) & 0x03, 0x03);
    assert_int_equal(rd(f, 2), 0x04); /* LSR read cleared OE */
    assert_int_equal(rd(f, 0), 'c');
}

static void fifo_trigger_levels(void **state)
{
    (void)state;
    struct fixture *f = setup();
    wr(f, 3, 0x03);
    wr(f, 2, 0xc7); /* enable, clear, trigger 14 */
    wr(f, 1, 0x01);
    assert_int_equal(rd(f, 2), 0xc1);
    assert_int_equal(uart_can_receive(&f->uart), 16);
    feed(f, "0123456789abc"); /* 13 bytes */
    assert_int_equal(f->irq, 0);
    assert_int_equal(rd(f, 2), 0xc1);
    feed(f, "d");
    assert_int_equal(f->irq, 1);
    assert_int_equal(rd(f, 2), 0xc4);
    assert_int_equal(rd(f, 0), '0');
    assert_int_equal(f->irq, 0); /* 13 left, below 14 */
    for (int i = 1; i < 14; i++)
        rd(f, 0);
    assert_int_equal(rd(f, 5) & 1, 0);
    /* Trigger level 4. */
    wr(f, 2, 0x41);
    feed(f, "xyz");
    assert_int_equal(f->irq, 0);
    feed(f, "w");
    assert_int_equal(f->irq, 1);
    /* FIFO overflow: 16 bytes max, then overrun. */
    wr(f, 2, 0xc3);
    uart_receive(&f->uart, (const uint8_t *)"0123456789abcdefgh", 18);
    assert_int_equal(f->uart.rx_count, 16);
    assert_int_equal(rd(f, 5) & 0x02, 0x02);
    assert_int_equal(uart_can_receive(&f->uart), 0);
}

static void character_timeout(void **state)
{
    (void)state;
    struct fixture *f = setup();
    wr(f, 3, 0x83);
    wr(f, 0, 0x01); /* 115200 baud: 10 bits = 86.8 us */
    wr(f, 1, 0x00);
    wr(f, 3, 0x03);
    wr(f, 2, 0xc1);
    wr(f, 1, 0x01);
    feed(f, "abc");
    f->insns += 300000; /* 3.5 character times */
    vclock_run_timers(&f->clock);
    assert_int_equal(f->irq, 0);
    f->insns += 60000; /* past 4 character times */
    vclock_run_timers(&f->clock);
    assert_int_equal(f->irq, 1);
    assert_int_equal(rd(f, 2), 0xcc);
    assert_int_equal(rd(f, 0), 'a'); /* reading clears the timeout and restarts it */
    assert_int_equal(f->irq, 0);
    f->insns += 400000;
    vclock_run_timers(&f->clock);
    assert_int_equal(rd(f, 2), 0xcc);
    rd(f, 0);
    rd(f, 0);
    f->insns += 400000;
    vclock_run_timers(&f->clock);
    assert_int_equal(f->irq, 0); /* FIFO empty: no timeout */
}

static void interrupt_priority(void **state)
{
    (void)state;
    struct fixture *f = setup();
    wr(f, 3, 0x03);
    wr(f, 1, 0x0f);
    assert_int_equal(rd(f, 2), 0x02); /* THRE (and it is cleared by this read) */
    wr(f, 0, 'z');                    /* THRE pending again */
    uart_receive(&f->uart, (const uint8_t *)"12", 2); /* data + overrun */
    assert_int_equal(rd(f, 2), 0x06);
    rd(f, 5);
    assert_int_equal(rd(f, 2), 0x04);
    rd(f, 0);
    assert_int_equal(rd(f, 2), 0x02);
    assert_int_equal(rd(f, 2), 0x01);
}

static void loopback_and_modem_status(void **state)
{
    (void)state;
    struct fixture *f = setup();
    wr(f, 3, 0x03);
    wr(f, 1, 0x08); /* modem status interrupt */
    wr(f, 4, 0x10); /* loopback, all outputs off */
    assert_int_equal(rd(f, 6) & 0xf0, 0x00);
    assert_int_equal(rd(f, 2), 0x01);
    wr(f, 4, 0x10 | 0x01 | 0x02); /* DTR, RTS -> DSR, CTS */
    assert_int_equal(f->irq, 1);
    assert_int_equal(rd(f, 2), 0x00);
    assert_int_equal(rd(f, 6), 0x30 | 0x03); /* CTS DSR, DCTS DDSR */
    assert_int_equal(rd(f, 6), 0x30);        /* deltas cleared by the read */
    assert_int_equal(f->irq, 0);
    wr(f, 4, 0x10 | 0x04); /* OUT1 -> RI */
    rd(f, 6);
    wr(f, 4, 0x10);        /* RI trailing edge -> TERI */
    assert_int_equal(rd(f, 6) & 0x04, 0x04);
    wr(f, 4, 0x10 | 0x08); /* OUT2 -> DCD */
    assert_int_equal(rd(f, 6) & 0x88, 0x88);
    /* Transmitted bytes come back, not to the chardev. */
    wr(f, 0, 'L');
    assert_int_equal(f->cap.len, 0);
    assert_int_equal(rd(f, 5) & 1, 1);
    assert_int_equal(rd(f, 0), 'L');
    assert_int_equal(uart_can_receive(&f->uart), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(divisor_latch_and_scratch),
        cmocka_unit_test(transmit_goes_to_chardev),
        cmocka_unit_test(thre_interrupt_rules),
        cmocka_unit_test(receive_without_fifo),
        cmocka_unit_test(fifo_trigger_levels),
        cmocka_unit_test(character_timeout),
        cmocka_unit_test(interrupt_priority),
        cmocka_unit_test(loopback_and_modem_status),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
