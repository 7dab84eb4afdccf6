/* 8254 PIT: counter sequences and OUT edges for every mode, latch and read-back, byte access
 * modes, BCD, channel 2 gate and port 0x61. Facts from the Intel 82C54 datasheet.
 * Virtual time runs in icount mode (1 instruction = 1 ns) under the test's control. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hw/pit.h"

struct fixture {
    struct io_bus io;
    struct vclock clock;
    uint64_t insns;
    struct pit pit;
    int irq;
    int rising;
};

static void on_irq0(void *opaque, int n, int level)
{
    struct fixture *f = opaque;
    (void)n;
    if (level && !f->irq)
        f->rising++;
    f->irq = level;
}

static struct fixture *setup(void)
{
    static struct fixture f;
    io_bus_init(&f.io);
    f.insns = 0;
    vclock_init(&f.clock, true, 0, &f.insns);
    struct irq_line l;
    irq_connect(&l, on_irq0, &f, 0);
    f.irq = 0;
    f.rising = 0;
    pit_init(&f.pit, &f.io, &f.clock, l, NULL);
    return &f;
}

/* Virtual ns at which tick k after a load at time 0 begins (plus a little). */
static int64_t tick_ns(uint64_t k)
{
    return (int64_t)((k * 1000000000ull + PIT_FREQ_HZ - 1) / PIT_FREQ_HZ) + 1;
}

/* Advance virtual time to t ns (absolute) and run due timers. */
static void advance_to(struct fixture *f, int64_t t)
{
    f->insns = (uint64_t)t;
    vclock_run_timers(&f->clock);
}

static uint16_t latch_read(struct fixture *f, int ch)
{
    io_write(&f->io, 0x43, (uint32_t)(ch << 6), 1); /* counter latch */
    uint16_t lo = (uint16_t)io_read(&f->io, (uint16_t)(0x40 + ch), 1);
    uint16_t hi = (uint16_t)io_read(&f->io, (uint16_t)(0x40 + ch), 1);
    return (uint16_t)(lo | hi << 8);
}

static void load(struct fixture *f, int ch, uint8_t mode_bits, uint16_t count)
{
    io_write(&f->io, 0x43, (uint32_t)(ch << 6 | 0x30 | mode_bits), 1);
    io_write(&f->io, (uint16_t)(0x40 + ch), count & 0xff, 1);
    io_write(&f->io, (uint16_t)(0x40 + ch), count >> 8, 1);
}

static void mode0_interrupt_on_terminal_count(void **state)
{
    (void)state;
    struct fixture *f = setup();
    io_write(&f->io, 0x43, 0x30, 1);
    assert_int_equal(pit_get_out(&f->pit, 0), 0); /* OUT low after the mode 0 control word */
    io_write(&f->io, 0x40, 100, 1);
    io_write(&f->io, 0x40, 0, 1);
    assert_int_equal(latch_read(f, 0), 100);
    advance_to(f, tick_ns(1));
    assert_int_equal(latch_read(f, 0), 99);
    advance_to(f, tick_ns(99));
    assert_int_equal(latch_read(f, 0), 1);
    assert_int_equal(f->irq, 0);
    advance_to(f, tick_ns(100));
    assert_int_equal(f->irq, 1);
    assert_int_equal(f->rising, 1);
    /* The counter keeps counting down (wrapping) with OUT high. */
    advance_to(f, tick_ns(102));
    assert_int_equal(latch_read(f, 0), 0xfffe);
    assert_int_equal(f->irq, 1);
    assert_false(vtimer_pending(&f->pit.timer)); /* no further edge to wait for */
}

static void mode2_rate_generator(void **state)
{
    (void)state;
    struct fixture *f = setup();
    load(f, 0, 0x04, 10);
    assert_int_equal(f->irq, 1); /* OUT high in mode 2 */
    f->rising = 0;
    for (int k = 0; k < 10; k++) {
        advance_to(f, tick_ns((uint64_t)k));
        assert_int_equal(latch_read(f, 0), 10 - k);       /* 10, 9, ..., 1 */
        assert_int_equal(pit_get_out(&f->pit, 0), k != 9); /* low while the count is 1 */
    }
    advance_to(f, tick_ns(10));
    assert_int_equal(latch_read(f, 0), 10); /* reloaded */
    assert_int_equal(f->irq, 1);
    assert_int_equal(f->rising, 1);
    advance_to(f, tick_ns(100));
    assert_int_equal(f->rising, 10);
}

static void mode3_square_wave(void **state)
{
    (void)state;
    struct fixture *f = setup();
    load(f, 2, 0x06, 10);
    io_write(&f->io, 0x61, 0x01, 1); /* gate 2 high starts it */
    int64_t t0 = vclock_now(&f->clock);
    int high = 0;
    for (int k = 0; k < 10; k++) {
        advance_to(f, t0 + tick_ns((uint64_t)k));
        high += pit_get_out(&f->pit, 2);
    }
    assert_int_equal(high, 5);
    advance_to(f, t0 + tick_ns(1));
    assert_int_equal(latch_read(f, 2), 8); /* counts down by two */
    /* Odd count: high (N+1)/2, low (N-1)/2. */
    load(f, 2, 0x06, 11);
    t0 = vclock_now(&f->clock);
    high = 0;
    for (int k = 0; k < 11; k++) {
        advance_to(f, t0 + tick_ns((uint64_t)k));
        high += pit_get_out(&f->pit, 2);
    }
    assert_int_equal(high, 6);
}

static void mode3_irq0_frequency(void **state)
{
    (void)state;
    struct fixture *f = setup();
    load(f, 0, 0x06, 1193); /* ~1000.15 Hz */
    for (int64_t t = 0; t <= NS_PER_SEC; t += 50000)
        advance_to(f, t);
    assert_in_range(f->rising, 999, 1001);
}

static void mode4_software_strobe(void **state)
{
    (void)state;
    struct fixture *f = setup();
    load(f, 0, 0x08, 5);
    advance_to(f, tick_ns(4));
    assert_int_equal(f->irq, 1);
    advance_to(f, tick_ns(5));
    assert_int_equal(f->irq, 0); /* one-clock strobe */
    advance_to(f, tick_ns(6));
    assert_int_equal(f->irq, 1);
    advance_to(f, tick_ns(50));
    assert_int_equal(f->irq, 1);
}

static void late_timer_still_delivers_strobe(void **state)
{
    (void)state;
    struct fixture *f = setup();
    load(f, 0, 0x08, 100); /* mode 4, as Linux's one-shot clockevent */
    f->rising = 0;
    int lows = 0;
    f->insns = 50000000; /* the host was busy: 50 ms pass in one step */
    while (vclock_run_timers(&f->clock))
        lows += f->irq == 0;
    assert_int_equal(f->rising, 1); /* the strobe's rising edge still reached IRQ0 */
    assert_int_equal(f->irq, 1);
    /* A periodic mode far behind resumes from the present instead of replaying every edge. */
    load(f, 0, 0x04, 100);
    f->rising = 0;
    int runs = 0;
    f->insns += 100000000;
    while (vclock_run_timers(&f->clock))
        runs++;
    assert_in_range(runs, 1, 4);
    (void)lows;
}

static void mode1_and_mode5_need_gate_trigger(void **state)
{
    (void)state;
    struct fixture *f = setup();
    load(f, 2, 0x02, 20); /* mode 1 one-shot */
    assert_int_equal(pit_get_out(&f->pit, 2), 1);
    advance_to(f, 1000);
    assert_int_equal(pit_get_out(&f->pit, 2), 1); /* nothing until the gate rises */
    io_write(&f->io, 0x61, 0x01, 1);
    int64_t t0 = vclock_now(&f->clock);
    advance_to(f, t0 + tick_ns(1));
    assert_int_equal(pit_get_out(&f->pit, 2), 0);
    assert_int_equal(latch_read(f, 2), 19);
    advance_to(f, t0 + tick_ns(20));
    assert_int_equal(pit_get_out(&f->pit, 2), 1);
    io_write(&f->io, 0x61, 0x00, 1);
    load(f, 2, 0x0a, 3); /* mode 5 */
    io_write(&f->io, 0x61, 0x01, 1);
    t0 = vclock_now(&f->clock);
    advance_to(f, t0 + tick_ns(3));
    assert_int_equal(pit_get_out(&f->pit, 2), 0);
    advance_to(f, t0 + tick_ns(4));
    assert_int_equal(pit_get_out(&f->pit, 2), 1);
}

static void read_back_status_and_count(void **state)
{
    (void)state;
    struct fixture *f = setup();
    io_write(&f->io, 0x43, 0x34, 1); /* ch0 lsb/msb mode 2 */
    io_write(&f->io, 0x43, 0xe2, 1); /* read-back status of ch0 */
    assert_int_equal(io_read(&f->io, 0x40, 1), 0x80 | 0x40 | 0x34); /* OUT high, null count */
    io_write(&f->io, 0x40, 0x00, 1);
    io_write(&f->io, 0x40, 0x10, 1); /* 0x1000 */
    advance_to(f, tick_ns(0x10));
    io_write(&f->io, 0x43, 0xc2, 1); /* count and status of ch0 */
    advance_to(f, tick_ns(0x200)); /* latched values do not move */
    assert_int_equal(io_read(&f->io, 0x40, 1), 0x80 | 0x34); /* status first, count loaded */
    assert_int_equal(io_read(&f->io, 0x40, 1), 0xf0);
    assert_int_equal(io_read(&f->io, 0x40, 1), 0x0f);
    /* A second latch while one is unread is ignored. */
    io_write(&f->io, 0x43, 0x00, 1);
    advance_to(f, tick_ns(0x300));
    io_write(&f->io, 0x43, 0x00, 1);
    assert_int_equal(io_read(&f->io, 0x40, 1), 0x00);
    assert_int_equal(io_read(&f->io, 0x40, 1), 0x0e);
}

static void byte_access_modes(void **state)
{
    (void)state;
    struct fixture *f = setup();
    io_write(&f->io, 0x43, 0x10, 1); /* ch0 lsb only, mode 0 */
    io_write(&f->io, 0x40, 0x80, 1);
    assert_int_equal(pit_get_count(&f->pit, 0), 0x80);
    assert_int_equal(io_read(&f->io, 0x40, 1), 0x80);
    io_write(&f->io, 0x43, 0x20, 1); /* msb only */
    io_write(&f->io, 0x40, 0x12, 1);
    assert_int_equal(pit_get_count(&f->pit, 0), 0x1200);
    assert_int_equal(io_read(&f->io, 0x40, 1), 0x12);
    /* Count 0 means 65536 in binary. */
    load(f, 1, 0x04, 0);
    assert_int_equal(pit_get_count(&f->pit, 1), 0);
    advance_to(f, vclock_now(&f->clock) + tick_ns(1));
    assert_int_equal(latch_read(f, 1), 0xffff);
}

static void bcd_counting(void **state)
{
    (void)state;
    struct fixture *f = setup();
    io_write(&f->io, 0x43, 0x31, 1); /* mode 0 BCD */
    io_write(&f->io, 0x40, 0x00, 1);
    io_write(&f->io, 0x40, 0x01, 1); /* 0100 = one hundred */
    advance_to(f, tick_ns(1));
    assert_int_equal(latch_read(f, 0), 0x0099);
    advance_to(f, tick_ns(100));
    assert_int_equal(f->irq, 1);
    advance_to(f, tick_ns(101));
    assert_int_equal(latch_read(f, 0), 0x9999); /* wraps in decimal */
}

static void gate2_and_port61(void **state)
{
    (void)state;
    struct fixture *f = setup();
    load(f, 2, 0x00, 50); /* mode 0, gate low: counting disabled */
    advance_to(f, tick_ns(100));
    assert_int_equal(latch_read(f, 2), 50);
    assert_int_equal(io_read(&f->io, 0x61, 1) & 0x20, 0);
    io_write(&f->io, 0x61, 0x03, 1);
    int64_t t0 = vclock_now(&f->clock);
    assert_int_equal(io_read(&f->io, 0x61, 1) & 0x03, 0x03);
    advance_to(f, t0 + tick_ns(20));
    io_write(&f->io, 0x61, 0x02, 1); /* gate low suspends at 30 */
    t0 = vclock_now(&f->clock);
    advance_to(f, t0 + tick_ns(1000));
    assert_int_equal(latch_read(f, 2), 30);
    io_write(&f->io, 0x61, 0x03, 1);
    t0 = vclock_now(&f->clock);
    advance_to(f, t0 + tick_ns(29));
    assert_int_equal(io_read(&f->io, 0x61, 1) & 0x20, 0);
    advance_to(f, t0 + tick_ns(31));
    assert_int_equal(io_read(&f->io, 0x61, 1) & 0x20, 0x20); /* OUT2 */
    /* Refresh request toggle (bit 4) changes with time. */
    int seen[2] = { 0, 0 };
    for (int i = 0; i < 8; i++) {
        advance_to(f, vclock_now(&f->clock) + 7000);
        seen[(io_read(&f->io, 0x61, 1) >> 4) & 1] = 1;
    }
    assert_true(seen[0] && seen[1]);
}

static void mode0_first_byte_stops_count(void **state)
{
    (void)state;
    struct fixture *f = setup();
    load(f, 0, 0x00, 10);
    advance_to(f, tick_ns(20));
    assert_int_equal(f->irq, 1);
    io_write(&f->io, 0x40, 5, 1); /* lsb of a new count: OUT low at once */
    assert_int_equal(f->irq, 0);
    int64_t t0 = vclock_now(&f->clock);
    advance_to(f, t0 + tick_ns(50));
    assert_int_equal(f->irq, 0);
    io_write(&f->io, 0x40, 0, 1);
    t0 = vclock_now(&f->clock);
    advance_to(f, t0 + tick_ns(5));
    assert_int_equal(f->irq, 1);
}

/* Channel 0 as a rate generator is a periodic tick the clock must not jump over (the run
 * loop's catch-up reads vclock_periodic_armed); Linux's shutdown (mode 0, count 0) once the
 * local APIC takes over the tick leaves a one-shot, and fast catch-up is allowed again. */
static void rate_generator_marks_periodic_tick(void **state)
{
    (void)state;
    struct fixture *f = setup();
    assert_false(vclock_periodic_armed(&f->clock));
    load(f, 0, 0x04, 1193);                 /* mode 2, ~1 kHz */
    assert_true(vclock_periodic_armed(&f->clock));
    advance_to(f, tick_ns(5000));
    assert_true(vclock_periodic_armed(&f->clock));
    load(f, 0, 0x00, 0);                    /* mode 0, count 0: Linux's pit_shutdown */
    assert_false(vclock_periodic_armed(&f->clock));
    load(f, 0, 0x06, 100);                  /* mode 3 */
    assert_true(vclock_periodic_armed(&f->clock));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mode0_interrupt_on_terminal_count),
        cmocka_unit_test(mode2_rate_generator),
        cmocka_unit_test(mode3_square_wave),
        cmocka_unit_test(mode3_irq0_frequency),
        cmocka_unit_test(mode4_software_strobe),
        cmocka_unit_test(late_timer_still_delivers_strobe),
        cmocka_unit_test(mode1_and_mode5_need_gate_trigger),
        cmocka_unit_test(read_back_status_and_count),
        cmocka_unit_test(byte_access_modes),
        cmocka_unit_test(bcd_counting),
        cmocka_unit_test(gate2_and_port61),
        cmocka_unit_test(mode0_first_byte_stops_count),
        cmocka_unit_test(rate_generator_marks_periodic_tick),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
