/* Local APIC: registers, timer (one-shot, periodic, divider) on an icount clock, priorities,
 * EOI, IPIs (fixed, logical, lowest priority, INIT/SIPI, NMI) and ExtINT from the PIC. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hw/lapic.h"

struct fixture {
    struct phys_mem mem;
    struct vclock clock;
    uint64_t insns;               /* 1 instruction = 1 ns */
    struct apic_bus bus;
    struct cpu *cpu[2];
    struct lapic apic[2];
    int pic_acks;
};

static int fake_pic_ack(void *opaque)
{
    struct fixture *f = opaque;
    f->pic_acks++;
    return 0x08;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_int_equal(phys_mem_init(&f->mem, 1 << 20, 1 << 20), 0);
    vclock_init(&f->clock, true, 0, &f->insns);
    apic_bus_init(&f->bus, &f->mem);
    for (int i = 0; i < 2; i++) {
        f->cpu[i] = calloc(1, sizeof(struct cpu));
        f->cpu[i]->index = i;
        assert_int_equal(lapic_init(&f->apic[i], &f->bus, f->cpu[i], &f->clock, (uint8_t)i, i == 0,
                                    fake_pic_ack, f), 0);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    for (int i = 0; i < 2; i++)
        free(f->cpu[i]);
    phys_mem_destroy(&f->mem);
    free(f);
    return 0;
}

static bool intr(struct fixture *f, int i) { return f->cpu[i]->interrupt_request & CPU_REQ_INTR; }

static void enable(struct lapic *s)
{
    lapic_write(s, 0xf0, 0x1ff);   /* software enable, spurious vector 0xFF */
}

static void reset_values_and_mmio(void **state)
{
    struct fixture *f = *state;
    struct lapic *a = &f->apic[0];
    assert_int_equal(lapic_get_base(a), 0xfee00900u);          /* enabled + BSP */
    assert_int_equal(lapic_get_base(&f->apic[1]), 0xfee00800u);
    assert_int_equal(lapic_read(a, 0x30), 0x00050014);
    assert_int_equal(lapic_read(a, 0xf0), 0xff);
    assert_int_equal(lapic_read(a, 0xe0), 0xffffffffu);
    assert_int_equal(lapic_read(a, 0x350), 0x700);             /* BSP LINT0: ExtINT */
    assert_int_equal(lapic_read(&f->apic[1], 0x350), 0x10000);
    assert_int_equal(lapic_read(a, 0x320), 0x10000);
    /* The MMIO page serves the current CPU's APIC. */
    apic_bus_set_current(&f->bus, 1);
    assert_int_equal(phys_read(&f->mem, 0xfee00020, 4), 0x01000000);
    apic_bus_set_current(&f->bus, 0);
    assert_int_equal(phys_read(&f->mem, 0xfee00020, 4), 0x00000000);
    assert_int_equal(phys_read(&f->mem, 0xfee00030, 4), 0x00050014);
    phys_write(&f->mem, 0xfee00080, 0x20, 4);
    assert_int_equal(lapic_read(a, 0x80), 0x20);
    /* With software disabled, LVT writes stay masked. */
    lapic_write(a, 0x320, 0x40);
    assert_int_equal(lapic_read(a, 0x320), 0x10040);
    /* Relocation moves the page. */
    lapic_set_base(a, 0xfed00800);
    assert_int_equal(phys_read(&f->mem, 0xfed00030, 4), 0x00050014);
    assert_int_equal(lapic_get_base(a), 0xfed00900u);
}

static void timer_one_shot(void **state)
{
    struct fixture *f = *state;
    struct lapic *a = &f->apic[0];
    enable(a);
    lapic_write(a, 0x3e0, 0x0b);        /* divide by 1 */
    lapic_write(a, 0x320, 0x40);        /* one-shot, vector 0x40 */
    f->insns = 5000;
    lapic_write(a, 0x380, 1000);
    assert_int_equal(lapic_read(a, 0x380), 1000);
    f->insns = 5300;
    assert_int_equal(lapic_read(a, 0x390), 700);
    assert_int_equal(vclock_next_deadline(&f->clock), 6000);
    /* A one-shot deadline may be taken late by idle coalescing (the guest reads its clock). */
    assert_int_equal(vclock_next_strict_deadline(&f->clock), INT64_MAX);
    f->insns = 5999;
    vclock_run_timers(&f->clock);
    assert_false(intr(f, 0));
    f->insns = 6000;
    vclock_run_timers(&f->clock);
    assert_true(intr(f, 0));
    assert_int_equal(lapic_read(a, 0x390), 0);
    assert_int_equal(lapic_read(a, 0x200 + 0x20), 1u);       /* IRR bit 0x40 */
    assert_int_equal(lapic_intr_ack(a), 0x40);
    assert_false(intr(f, 0));
    assert_int_equal(lapic_read(a, 0x100 + 0x20), 1u);       /* ISR bit 0x40 */
    assert_int_equal(lapic_read(a, 0xa0), 0x40);             /* PPR follows ISR */
    lapic_write(a, 0xb0, 0);
    assert_int_equal(lapic_read(a, 0x100 + 0x20), 0);
    assert_int_equal(vclock_next_deadline(&f->clock), INT64_MAX);  /* one-shot: done */

    /* A divider write after the count ran out but before the timer was served (the vCPU's
     * slice went on past the deadline) keeps the interrupt: Linux rewrites TDCR whenever it
     * puts the timer in one-shot mode. */
    lapic_write(a, 0x380, 100);                               /* at 6000: due at 6100 */
    f->insns = 6200;
    lapic_write(a, 0x3e0, 0x0b);
    vclock_run_timers(&f->clock);
    assert_true(intr(f, 0));
    assert_int_equal(lapic_intr_ack(a), 0x40);
    lapic_write(a, 0xb0, 0);

    /* Divide by 16: the count drops once every 16 ns. */
    lapic_write(a, 0x3e0, 0x03);
    f->insns = 10000;
    lapic_write(a, 0x380, 100);
    f->insns = 10000 + 16 * 10 + 5;
    assert_int_equal(lapic_read(a, 0x390), 90);
    assert_int_equal(vclock_next_deadline(&f->clock), 10000 + 1600);
    /* Masked: the count still runs out, no interrupt. */
    lapic_write(a, 0x320, 0x10040);
    f->insns = 20000;
    vclock_run_timers(&f->clock);
    assert_false(intr(f, 0));
    /* Writing 0 to the initial count stops the timer. */
    lapic_write(a, 0x380, 50);
    lapic_write(a, 0x380, 0);
    assert_int_equal(vclock_next_deadline(&f->clock), INT64_MAX);
}

static void timer_periodic(void **state)
{
    struct fixture *f = *state;
    struct lapic *a = &f->apic[0];
    enable(a);
    lapic_write(a, 0x3e0, 0x00);        /* divide by 2 */
    lapic_write(a, 0x320, 0x20000 | 0x41);
    lapic_write(a, 0x380, 500);         /* period 1000 ns */
    /* A periodic tick may be a guest's only clock: never deferred. */
    assert_int_equal(vclock_next_strict_deadline(&f->clock), 1000);
    int fired = 0;
    for (int k = 1; k <= 5; k++) {
        f->insns = (uint64_t)k * 1000 - 1;
        vclock_run_timers(&f->clock);
        assert_false(intr(f, 0));
        f->insns = (uint64_t)k * 1000;
        vclock_run_timers(&f->clock);
        assert_true(intr(f, 0));
        assert_int_equal(lapic_intr_ack(a), 0x41);
        lapic_write(a, 0xb0, 0);
        fired++;
    }
    assert_int_equal(fired, 5);
    f->insns = 5500;
    assert_int_equal(lapic_read(a, 0x390), 250);
    /* Back to one-shot: no further period after the current one. */
    lapic_write(a, 0x320, 0x41);
    f->insns = 7000;
    vclock_run_timers(&f->clock);
    assert_true(intr(f, 0));           /* the running count still expires at 6000 */
    assert_int_equal(lapic_intr_ack(a), 0x41);
    lapic_write(a, 0xb0, 0);
    assert_int_equal(lapic_read(a, 0x390), 0);
    f->insns = 9000;
    vclock_run_timers(&f->clock);
    assert_false(intr(f, 0));
}

static void priorities_tpr_and_eoi(void **state)
{
    struct fixture *f = *state;
    struct lapic *a = &f->apic[0];
    enable(a);
    /* Self IPIs, fixed. */
    lapic_write(a, 0x300, 0x40000 | 0x31);
    lapic_write(a, 0x300, 0x40000 | 0x52);
    lapic_write(a, 0x80, 0x40);
    assert_true(intr(f, 0));
    assert_int_equal(lapic_intr_ack(a), 0x52);
    assert_int_equal(lapic_read(a, 0xa0), 0x50);
    assert_false(intr(f, 0));          /* 0x31 is below TPR and ISR */
    /* A higher class than the one in service nests. */
    lapic_write(a, 0x300, 0x40000 | 0x61);
    assert_true(intr(f, 0));
    assert_int_equal(lapic_intr_ack(a), 0x61);
    lapic_write(a, 0xb0, 0);           /* EOI ends 0x61 (the highest in service) */
    assert_int_equal(lapic_read(a, 0xa0), 0x50);
    lapic_write(a, 0xb0, 0);
    assert_int_equal(lapic_read(a, 0xa0), 0x40);
    assert_false(intr(f, 0));
    lapic_write(a, 0x80, 0x00);
    assert_true(intr(f, 0));
    assert_int_equal(lapic_intr_ack(a), 0x31);
    lapic_write(a, 0xb0, 0);
    /* The same class as TPR is blocked too (PPR compares classes). */
    lapic_write(a, 0x80, 0x35);
    lapic_write(a, 0x300, 0x40000 | 0x3f);
    assert_false(intr(f, 0));
    /* If TPR rises between INTR and INTA, the spurious vector comes back. */
    lapic_write(a, 0x80, 0x00);
    assert_true(intr(f, 0));
    lapic_write(a, 0x80, 0xf0);
    assert_int_equal(lapic_intr_ack(a), 0xff);
    /* Illegal vectors (< 16) are rejected with an error. */
    lapic_write(a, 0x80, 0);
    lapic_write(a, 0x300, 0x40000 | 0x05);
    lapic_write(a, 0x280, 0);
    assert_int_equal(lapic_read(a, 0x280) & 0x20, 0x20);
    /* With the error LVT unmasked, an error interrupts. */
    lapic_write(a, 0x370, 0xfe);
    lapic_write(a, 0x300, 0x40000 | 0x03);
    assert_true(intr(f, 0));
    assert_int_equal(lapic_intr_ack(a), 0xfe);
}

static void ipis_between_cpus(void **state)
{
    struct fixture *f = *state;
    struct lapic *a = &f->apic[0], *b = &f->apic[1];
    enable(a);
    enable(b);
    /* Physical destination 1. */
    lapic_write(a, 0x310, 0x01000000);
    lapic_write(a, 0x300, 0x60);
    assert_true(intr(f, 1));
    assert_false(intr(f, 0));
    assert_int_equal(lapic_intr_ack(b), 0x60);
    lapic_write(b, 0xb0, 0);
    /* Logical flat: LDR bit 1 on CPU 1. */
    lapic_write(a, 0x0d0, 0x01000000);
    lapic_write(b, 0x0d0, 0x02000000);
    lapic_write(a, 0x310, 0x02000000);
    lapic_write(a, 0x300, 0x800 | 0x61);
    assert_false(intr(f, 0));
    assert_int_equal(lapic_intr_ack(b), 0x61);
    lapic_write(b, 0xb0, 0);
    /* Lowest priority among both: CPU 0 has the higher TPR, so CPU 1 gets it. */
    lapic_write(a, 0x80, 0x20);
    lapic_write(b, 0x80, 0x10);
    lapic_write(a, 0x310, 0x03000000);
    lapic_write(a, 0x300, 0x800 | 0x100 | 0x70);
    assert_true(intr(f, 1));
    assert_false(intr(f, 0));
    assert_int_equal(lapic_intr_ack(b), 0x70);
    lapic_write(b, 0xb0, 0);
    /* NMI. */
    lapic_write(a, 0x310, 0x01000000);
    lapic_write(a, 0x300, 0x400);
    assert_true(f->cpu[1]->interrupt_request & CPU_REQ_NMI);
    /* SeaBIOS's AP wake-up: INIT then SIPI to all excluding self. */
    lapic_write(a, 0x300, 0x000c4500);
    assert_true(f->cpu[1]->interrupt_request & CPU_REQ_INIT);
    assert_false(f->cpu[0]->interrupt_request & CPU_REQ_INIT);
    assert_int_equal(lapic_read(b, 0xf0), 0xff);     /* INIT reset the target APIC */
    lapic_write(a, 0x300, 0x000c4600 | 0x9a);
    assert_true(f->cpu[1]->interrupt_request & CPU_REQ_SIPI);
    assert_int_equal(f->cpu[1]->sipi_vector, 0x9a);
    /* INIT level de-assert does nothing. */
    f->cpu[1]->interrupt_request = 0;
    lapic_write(a, 0x300, 0x000c8500);
    assert_int_equal(f->cpu[1]->interrupt_request, 0);
    /* A software-disabled APIC holds a fixed interrupt until it is enabled. */
    lapic_write(a, 0x310, 0x01000000);
    lapic_write(a, 0x300, 0x66);
    assert_false(intr(f, 1));
    enable(b);
    assert_true(intr(f, 1));
    assert_int_equal(lapic_intr_ack(b), 0x66);
    lapic_write(b, 0xb0, 0);
    /* Broadcast including self, fixed. */
    lapic_write(a, 0x80, 0);
    lapic_write(b, 0x80, 0);
    lapic_write(a, 0x300, 0x00080000 | 0x77);
    assert_true(intr(f, 0));
    assert_true(intr(f, 1));
    /* The delivery status bit always reads idle. */
    assert_int_equal(lapic_read(a, 0x300) & 0x1000, 0);
}

static void extint_from_pic(void **state)
{
    struct fixture *f = *state;
    struct lapic *a = &f->apic[0];
    /* After reset LINT0 is ExtINT on the BSP: the PIC's INTR goes straight through. */
    lapic_lint_irq(a, 0, 1);
    assert_true(intr(f, 0));
    assert_int_equal(lapic_intr_ack(a), 0x08);
    assert_int_equal(f->pic_acks, 1);
    lapic_lint_irq(a, 0, 0);
    assert_false(intr(f, 0));
    /* Masking LINT0 (as an OS in APIC mode does) stops it. */
    enable(a);
    lapic_write(a, 0x350, 0x10700);
    lapic_lint_irq(a, 0, 1);
    assert_false(intr(f, 0));
    /* With the APIC disabled in the MSR the pin is plain INTR again. */
    lapic_set_base(a, 0xfee00000);
    assert_true(intr(f, 0));
    lapic_lint_irq(a, 0, 0);
    assert_false(intr(f, 0));
    /* LINT1 as NMI. */
    lapic_set_base(a, 0xfee00800);
    enable(a);
    lapic_write(a, 0x360, 0x400);
    lapic_lint_irq(a, 1, 1);
    assert_true(f->cpu[0]->interrupt_request & CPU_REQ_NMI);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(reset_values_and_mmio, setup, teardown),
        cmocka_unit_test_setup_teardown(timer_one_shot, setup, teardown),
        cmocka_unit_test_setup_teardown(timer_periodic, setup, teardown),
        cmocka_unit_test_setup_teardown(priorities_tpr_and_eoi, setup, teardown),
        cmocka_unit_test_setup_teardown(ipis_between_cpus, setup, teardown),
        cmocka_unit_test_setup_teardown(extint_from_pic, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
