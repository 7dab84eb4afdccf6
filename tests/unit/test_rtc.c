/* MC146818 RTC: calendar registers, BCD/binary and 12/24h formats, the update cycle (UIP
 * window, update-ended interrupt), periodic rates, alarm, SET, register C/D, CMOS helpers.
 * Facts from the MC146818A datasheet. Time runs in icount mode (1 instruction = 1 ns). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hw/rtc.h"

struct fixture {
    struct io_bus io;
    struct vclock clock;
    uint64_t insns;
    struct rtc rtc;
    int irq;
    int rising;
};

static void on_irq8(void *opaque, int n, int level)
{
    struct fixture *f = opaque;
    (void)n;
    if (level && !f->irq)
        f->rising++;
    f->irq = level;
}

/* 2024-02-29 23:59:58 UTC, a Thursday (leap day). */
#define LEAP_EVE 1709251198LL

static struct fixture *setup(int64_t start)
{
    static struct fixture f;
    io_bus_init(&f.io);
    f.insns = 0;
    vclock_init(&f.clock, true, 0, &f.insns);
    struct irq_line l;
    irq_connect(&l, on_irq8, &f, 8);
    f.irq = 0;
    f.rising = 0;
    rtc_init(&f.rtc, &f.io, &f.clock, l, start, NULL);
    return &f;
}

static uint8_t rd(struct fixture *f, uint8_t idx)
{
    io_write(&f->io, 0x70, idx, 1);
    return (uint8_t)io_read(&f->io, 0x71, 1);
}

static void wr(struct fixture *f, uint8_t idx, uint8_t v)
{
    io_write(&f->io, 0x70, idx, 1);
    io_write(&f->io, 0x71, v, 1);
}

static void advance_to(struct fixture *f, int64_t t)
{
    f->insns = (uint64_t)t;
    vclock_run_timers(&f->clock);
}

static void calendar_in_bcd(void **state)
{
    (void)state;
    struct fixture *f = setup(LEAP_EVE);
    advance_to(f, 500000000);
    assert_int_equal(rd(f, 0x00), 0x58);
    assert_int_equal(rd(f, 0x02), 0x59);
    assert_int_equal(rd(f, 0x04), 0x23);
    assert_int_equal(rd(f, 0x06), 5); /* Thursday; Sunday = 1 */
    assert_int_equal(rd(f, 0x07), 0x29);
    assert_int_equal(rd(f, 0x08), 0x02);
    assert_int_equal(rd(f, 0x09), 0x24);
    assert_int_equal(rd(f, 0x32), 0x20);
    advance_to(f, 2500000000LL); /* two seconds later: 2024-03-01 00:00:00 Friday */
    assert_int_equal(rd(f, 0x00), 0x00);
    assert_int_equal(rd(f, 0x04), 0x00);
    assert_int_equal(rd(f, 0x06), 6);
    assert_int_equal(rd(f, 0x07), 0x01);
    assert_int_equal(rd(f, 0x08), 0x03);
    assert_int_equal(rd(f, 0x0d), 0x80); /* VRT */
}

static void binary_and_12_hour(void **state)
{
    (void)state;
    struct fixture *f = setup(LEAP_EVE);
    wr(f, 0x0b, 0x04); /* binary, 12-hour */
    advance_to(f, 500000000);
    assert_int_equal(rd(f, 0x00), 58);
    assert_int_equal(rd(f, 0x04), 0x80 | 11); /* 11 PM */
    assert_int_equal(rd(f, 0x07), 29);
    advance_to(f, 2500000000LL);
    assert_int_equal(rd(f, 0x04), 12); /* midnight is 12 AM */
}

static void uip_window(void **state)
{
    (void)state;
    struct fixture *f = setup(LEAP_EVE);
    advance_to(f, 500000000);
    assert_int_equal(rd(f, 0x0a) & 0x80, 0);
    advance_to(f, NS_PER_SEC - 200000); /* 200 us before the update: UIP (set 244 us early) */
    assert_int_equal(rd(f, 0x0a) & 0x80, 0x80);
    advance_to(f, NS_PER_SEC - 300000 + NS_PER_SEC); /* 300 us before the next one: clear */
    assert_int_equal(rd(f, 0x0a) & 0x80, 0);
    advance_to(f, 2 * NS_PER_SEC + 1000000); /* inside the 1984 us update cycle */
    assert_int_equal(rd(f, 0x0a) & 0x80, 0x80);
    advance_to(f, 2 * NS_PER_SEC + 2100000);
    assert_int_equal(rd(f, 0x0a) & 0x80, 0);
    assert_int_equal(rd(f, 0x0a) & 0x7f, 0x26);
}

static void update_ended_interrupt(void **state)
{
    (void)state;
    struct fixture *f = setup(LEAP_EVE);
    wr(f, 0x0b, 0x12); /* UIE, 24h, BCD */
    advance_to(f, NS_PER_SEC + 1000000);
    assert_int_equal(f->irq, 0); /* still inside the update cycle */
    advance_to(f, NS_PER_SEC + 2000000);
    assert_int_equal(f->irq, 1);
    assert_int_equal(rd(f, 0x0c) & 0xb0, 0x90); /* IRQF | UF (PF runs free) */
    assert_int_equal(f->irq, 0);                 /* reading C clears it */
    assert_int_equal(rd(f, 0x0c) & 0xf0, 0x00);
    for (int64_t t = 2; t <= 10; t++)
        advance_to(f, t * NS_PER_SEC + 2000000), rd(f, 0x0c);
    assert_int_equal(f->rising, 10); /* once per second */
}

static int periodic_count(struct fixture *f, uint8_t rs, int64_t span)
{
    wr(f, 0x0a, (uint8_t)(0x20 | rs));
    wr(f, 0x0b, 0x42); /* PIE */
    rd(f, 0x0c);
    f->rising = 0;
    int64_t t0 = vclock_now(&f->clock);
    for (int64_t t = 0; t <= span; t += 20000) {
        advance_to(f, t0 + t);
        if (f->irq)
            assert_int_equal(rd(f, 0x0c) & 0xc0, 0xc0);
    }
    wr(f, 0x0b, 0x02);
    return f->rising;
}

static void periodic_rates(void **state)
{
    (void)state;
    struct fixture *f = setup(0);
    assert_in_range(periodic_count(f, 6, NS_PER_SEC), 1023, 1025); /* RS=0110: 1024 Hz */
    assert_in_range(periodic_count(f, 15, 2 * NS_PER_SEC), 3, 5);  /* RS=1111: 2 Hz */
    assert_in_range(periodic_count(f, 1, NS_PER_SEC), 255, 257);   /* RS=0001: 256 Hz */
    assert_in_range(periodic_count(f, 3, NS_PER_SEC / 10), 818, 821); /* 8192 Hz */
    /* PF is set even with PIE clear (no IRQ then). */
    wr(f, 0x0a, 0x26);
    rd(f, 0x0c);
    advance_to(f, vclock_now(&f->clock) + 2000000);
    assert_int_equal(f->irq, 0);
    assert_int_equal(rd(f, 0x0c) & 0xc0, 0x40);
    /* RS=0: no periodic flag. */
    wr(f, 0x0a, 0x20);
    rd(f, 0x0c);
    advance_to(f, vclock_now(&f->clock) + 20000000);
    assert_int_equal(rd(f, 0x0c) & 0x40, 0);
}

static void alarm_interrupt(void **state)
{
    (void)state;
    struct fixture *f = setup(LEAP_EVE);
    /* Alarm at 00:00:01 (three seconds after start). */
    wr(f, 0x01, 0x01);
    wr(f, 0x03, 0x00);
    wr(f, 0x05, 0x00);
    wr(f, 0x0b, 0x22); /* AIE */
    advance_to(f, 2 * NS_PER_SEC + 3000000);
    assert_int_equal(f->irq, 0);
    advance_to(f, 3 * NS_PER_SEC + 3000000);
    assert_int_equal(f->irq, 1);
    assert_int_equal(rd(f, 0x0c) & 0xb0, 0xb0); /* IRQF | AF | UF */
    advance_to(f, 4 * NS_PER_SEC + 3000000);
    assert_int_equal(f->irq, 0);
    /* Don't-care values (0xC0-0xFF) match every second. */
    wr(f, 0x01, 0xff);
    wr(f, 0x03, 0xc0);
    wr(f, 0x05, 0xc0);
    advance_to(f, 5 * NS_PER_SEC + 3000000);
    assert_int_equal(f->irq, 1);
}

static void set_bit_and_time_write(void **state)
{
    (void)state;
    struct fixture *f = setup(LEAP_EVE);
    wr(f, 0x0b, 0x82 | 0x10); /* SET (clears UIE) */
    assert_int_equal(rd(f, 0x0b), 0x82);
    wr(f, 0x00, 0x30);
    wr(f, 0x02, 0x15);
    wr(f, 0x04, 0x10);
    wr(f, 0x07, 0x31);
    wr(f, 0x08, 0x12);
    wr(f, 0x09, 0x99);
    wr(f, 0x32, 0x19);
    advance_to(f, 5 * NS_PER_SEC); /* frozen while SET */
    assert_int_equal(rd(f, 0x00), 0x30);
    wr(f, 0x0b, 0x02);
    advance_to(f, 5 * NS_PER_SEC + NS_PER_SEC / 2);
    assert_int_equal(rd(f, 0x00), 0x30);
    advance_to(f, 7 * NS_PER_SEC + NS_PER_SEC / 2);
    assert_int_equal(rd(f, 0x00), 0x32);
    assert_int_equal(rd(f, 0x09), 0x99);
    assert_int_equal(rd(f, 0x06), 6); /* 1999-12-31 was a Friday */
    assert_int_equal(rtc_get_seconds(&f->rtc), 946635332LL);
    /* Writing one field while running keeps the others. */
    wr(f, 0x02, 0x45);
    assert_int_equal(rd(f, 0x02), 0x45);
    assert_int_equal(rd(f, 0x04), 0x10);
}

static void cmos_ram_nmi_and_helpers(void **state)
{
    (void)state;
    struct fixture *f = setup(0);
    io_write(&f->io, 0x70, 0x80 | 0x40, 1);
    assert_true(rtc_nmi_disabled(&f->rtc));
    io_write(&f->io, 0x71, 0x5a, 1);
    io_write(&f->io, 0x70, 0x40, 1);
    assert_false(rtc_nmi_disabled(&f->rtc));
    assert_int_equal(io_read(&f->io, 0x71, 1), 0x5a);
    rtc_cmos_set_memory(&f->rtc, 32u << 20, 0);
    assert_int_equal(rd(f, 0x15) | rd(f, 0x16) << 8, 640);
    assert_int_equal(rd(f, 0x30) | rd(f, 0x31) << 8, 31 * 1024);
    assert_int_equal(rd(f, 0x17) | rd(f, 0x18) << 8, 31 * 1024);
    assert_int_equal(rd(f, 0x34) | rd(f, 0x35) << 8, (16u << 20) >> 16);
    rtc_cmos_set_memory(&f->rtc, 0xe0000000u, 0x40000000u);
    assert_int_equal(rd(f, 0x30) | rd(f, 0x31) << 8, 0xffff); /* saturates */
    assert_int_equal(rd(f, 0x5b) | rd(f, 0x5c) << 8 | rd(f, 0x5d) << 16, 0x4000);
    assert_int_equal(rtc_cmos_set_boot_order(&f->rtc, "dca", true), 0);
    assert_int_equal(rd(f, 0x3d), 0x23);
    assert_int_equal(rd(f, 0x38), 0x10);
    assert_int_equal(rtc_cmos_set_boot_order(&f->rtc, "x", true), -1);
    rtc_cmos_set(&f->rtc, 0x10, 0x40);
    rtc_cmos_update_checksum(&f->rtc);
    unsigned sum = 0;
    for (uint8_t i = 0x10; i <= 0x2d; i++)
        sum += rd(f, i);
    assert_int_equal(rd(f, 0x2e) << 8 | rd(f, 0x2f), sum);
}

static void parse_base(void **state)
{
    (void)state;
    int64_t s;
    assert_int_equal(rtc_parse_base("utc", 1700000000LL * NS_PER_SEC + 5, &s), 0);
    assert_int_equal(s, 1700000000LL);
    assert_int_equal(rtc_parse_base("2006-06-17T16:01:21", 0, &s), 0);
    assert_int_equal(s, 1150560081LL);
    assert_int_equal(rtc_parse_base("2000-03-01", 0, &s), 0);
    assert_int_equal(s, 951868800LL);
    assert_int_equal(rtc_parse_base("2006-13-17", 0, &s), -1);
    assert_int_equal(rtc_parse_base("yesterday", 0, &s), -1);
    assert_int_equal(rtc_parse_base("localtime", 0, &s), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(calendar_in_bcd),
        cmocka_unit_test(binary_and_12_hour),
        cmocka_unit_test(uip_window),
        cmocka_unit_test(update_ended_interrupt),
        cmocka_unit_test(periodic_rates),
        cmocka_unit_test(alarm_interrupt),
        cmocka_unit_test(set_bit_and_time_write),
        cmocka_unit_test(cmos_ram_nmi_and_helpers),
        cmocka_unit_test(parse_base),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
