/* PIIX3: PIRQ routing of PCI INTx to ISA IRQs, and the 0xCF9 reset control register. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hw/piix3.h"

struct fixture {
    struct phys_mem mem;
    struct io_bus io;
    struct pci_bus bus;
    struct piix3 sb;
    struct irq_line lines[16];
    int level[16];
    int resets;
    bool last_hard;
    struct pci_device devs[4];
};

static void on_irq(void *opaque, int n, int level)
{
    struct fixture *f = opaque;
    f->level[n] = level;
}

static void on_reset(void *opaque, bool hard)
{
    struct fixture *f = opaque;
    f->resets++;
    f->last_hard = hard;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_int_equal(phys_mem_init(&f->mem, 1 << 20, 1 << 20), 0);
    io_bus_init(&f->io);
    for (int i = 0; i < 16; i++)
        irq_connect(&f->lines[i], on_irq, f, i);
    pci_bus_init(&f->bus, &f->mem, &f->io, piix3_pci_set_irq, &f->sb);
    assert_int_equal(piix3_init(&f->sb, &f->bus, &f->io, f->lines, on_reset, f), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    phys_mem_destroy(&f->mem);
    free(f);
    return 0;
}

static void cfg_write8(struct fixture *f, unsigned devfn, unsigned off, uint8_t v)
{
    io_write(&f->io, 0xCF8, 0x80000000u | devfn << 8 | (off & 0xfc), 4);
    io_write(&f->io, (uint16_t)(0xCFC + (off & 3)), v, 1);
}

static uint32_t cfg_read(struct fixture *f, unsigned devfn, unsigned off, unsigned size)
{
    io_write(&f->io, 0xCF8, 0x80000000u | devfn << 8 | (off & 0xfc), 4);
    return io_read(&f->io, (uint16_t)(0xCFC + (off & 3)), size);
}

static struct pci_device *add_dev(struct fixture *f, int i, int slot, uint8_t pin)
{
    assert_int_equal(pci_register_device(&f->bus, &f->devs[i], (uint8_t)(slot << 3), "d", 0x1af4, 0x1000,
                                         0, 0x020000, 0, pin), 0);
    return &f->devs[i];
}

static void identity_and_defaults(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(cfg_read(f, PIIX3_DEVFN, 0, 4), 0x70008086);
    assert_int_equal(cfg_read(f, PIIX3_DEVFN, 0x0a, 2), 0x0601);     /* ISA bridge */
    assert_int_equal(cfg_read(f, PIIX3_DEVFN, 0x0e, 1) & 0x80, 0x80); /* multi-function */
    assert_int_equal(cfg_read(f, PIIX3_DEVFN, 0x60, 4), 0x80808080);  /* routing disabled */
}

static void slot_pin_to_pirq_like_qemu_pc(void **state)
{
    (void)state;
    /* Slot 1 INTA -> PIRQA, slot 2 INTA -> PIRQB, slot 3 INTB -> PIRQD, slot 4 INTD -> PIRQC. */
    assert_int_equal(piix3_slot_pirq(1, 0), 0);
    assert_int_equal(piix3_slot_pirq(2, 0), 1);
    assert_int_equal(piix3_slot_pirq(3, 1), 3);
    assert_int_equal(piix3_slot_pirq(4, 3), 2);
}

static void pirq_routing_and_sharing(void **state)
{
    struct fixture *f = *state;
    struct pci_device *a = add_dev(f, 0, 3, 1);  /* slot 3 INTA -> PIRQC */
    struct pci_device *b = add_dev(f, 1, 7, 1);  /* slot 7 INTA -> PIRQC too */
    struct pci_device *c = add_dev(f, 2, 4, 1);  /* slot 4 INTA -> PIRQD */
    pci_set_irq(a, 1);
    for (int i = 0; i < 16; i++)
        assert_int_equal(f->level[i], 0);       /* not routed yet */
    cfg_write8(f, PIIX3_DEVFN, 0x62, 11);
    assert_int_equal(f->level[11], 1);
    pci_set_irq(b, 1);
    pci_set_irq(a, 0);
    assert_int_equal(f->level[11], 1);           /* b still holds the shared line */
    pci_set_irq(b, 0);
    assert_int_equal(f->level[11], 0);
    /* PIRQD to IRQ 11 as well: wire-OR across PIRQs. */
    cfg_write8(f, PIIX3_DEVFN, 0x63, 11);
    pci_set_irq(c, 1);
    assert_int_equal(f->level[11], 1);
    /* Re-route while asserted: the old IRQ falls, the new rises. */
    cfg_write8(f, PIIX3_DEVFN, 0x63, 10);
    assert_int_equal(f->level[11], 0);
    assert_int_equal(f->level[10], 1);
    /* Disable bit: line released. */
    cfg_write8(f, PIIX3_DEVFN, 0x63, 0x8a);
    assert_int_equal(f->level[10], 0);
    assert_int_equal(cfg_read(f, PIIX3_DEVFN, 0x63, 1), 0x8a);
    /* IRQ 2, 8 and 13 cannot be PIRQ targets. */
    cfg_write8(f, PIIX3_DEVFN, 0x63, 8);
    assert_int_equal(f->level[8], 0);
    piix3_set_pirq_route(&f->sb, 3, 5);
    assert_int_equal(f->level[5], 1);
    piix3_reset(&f->sb);
    assert_int_equal(f->level[5], 0);
}

static void reset_control_register(void **state)
{
    struct fixture *f = *state;
    io_write(&f->io, 0xCF9, 0x02, 1);
    assert_int_equal(f->resets, 0);
    assert_int_equal(io_read(&f->io, 0xCF9, 1), 0x02);
    io_write(&f->io, 0xCF9, 0x06, 1);
    assert_int_equal(f->resets, 1);
    assert_true(f->last_hard);
    io_write(&f->io, 0xCF9, 0x04, 1);
    assert_int_equal(f->resets, 2);
    assert_false(f->last_hard);
    /* Dword accesses to 0xCF8 still reach the PCI address latch. */
    io_write(&f->io, 0xCF8, 0x80000800, 4);
    assert_int_equal(io_read(&f->io, 0xCF8, 4), 0x80000800);
    assert_int_equal(f->resets, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(identity_and_defaults, setup, teardown),
        cmocka_unit_test(slot_pin_to_pirq_like_qemu_pc),
        cmocka_unit_test_setup_teardown(pirq_routing_and_sharing, setup, teardown),
        cmocka_unit_test_setup_teardown(reset_control_register, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
