/* I/O APIC: registers through IOREGSEL/IOWIN, edge and level delivery to the local APIC,
 * Remote IRR and the EOI broadcast, masking. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hw/ioapic.h"
#include "hw/piix3.h"

struct fixture {
    struct phys_mem mem;
    struct vclock clock;
    uint64_t insns;
    struct apic_bus bus;
    struct cpu *cpu;
    struct lapic apic;
    struct ioapic io;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_int_equal(phys_mem_init(&f->mem, 1 << 20, 1 << 20), 0);
    vclock_init(&f->clock, true, 0, &f->insns);
    apic_bus_init(&f->bus, &f->mem);
    f->cpu = calloc(1, sizeof(struct cpu));
    assert_int_equal(lapic_init(&f->apic, &f->bus, f->cpu, &f->clock, 0, true, NULL, NULL), 0);
    lapic_write(&f->apic, 0xf0, 0x1ff);
    ioapic_init(&f->io, &f->bus, &f->mem, IOAPIC_DEFAULT_BASE, 2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    free(f->cpu);
    phys_mem_destroy(&f->mem);
    free(f);
    return 0;
}

static uint32_t reg_read(struct fixture *f, uint8_t index)
{
    phys_write(&f->mem, IOAPIC_DEFAULT_BASE, index, 4);
    return phys_read(&f->mem, IOAPIC_DEFAULT_BASE + 0x10, 4);
}

static void reg_write(struct fixture *f, uint8_t index, uint32_t v)
{
    phys_write(&f->mem, IOAPIC_DEFAULT_BASE, index, 4);
    phys_write(&f->mem, IOAPIC_DEFAULT_BASE + 0x10, v, 4);
}

static bool irr(struct fixture *f, uint8_t v)
{
    return lapic_read(&f->apic, 0x200 + (v >> 5) * 0x10) >> (v & 31) & 1;
}

static void registers(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(reg_read(f, 0x01), 0x00170011);     /* 24 entries, version 0x11 */
    assert_int_equal(reg_read(f, 0x00), 0x02000000);
    reg_write(f, 0x00, 0x05000000);
    assert_int_equal(reg_read(f, 0x00), 0x05000000);
    for (uint8_t pin = 0; pin < 24; pin++)
        assert_int_equal(reg_read(f, (uint8_t)(0x10 + 2 * pin)), 0x00010000);  /* masked */
    reg_write(f, 0x11, 0xff000000);
    assert_int_equal(reg_read(f, 0x11), 0xff000000);
    /* Remote IRR and delivery status are read-only. */
    reg_write(f, 0x10, 0x0000f030);
    assert_int_equal(reg_read(f, 0x10), 0x0000a030);
}

static void edge_delivery(void **state)
{
    struct fixture *f = *state;
    reg_write(f, 0x10 + 2 * 4, 0x34);                /* pin 4: vector 0x34, edge, unmasked */
    reg_write(f, 0x11 + 2 * 4, 0x00000000);          /* dest APIC 0 */
    ioapic_set_irq(&f->io, 4, 1);
    assert_true(irr(f, 0x34));
    assert_true(f->cpu->interrupt_request & CPU_REQ_INTR);
    assert_int_equal(lapic_intr_ack(&f->apic), 0x34);
    /* Holding the line high is not a new edge. */
    ioapic_set_irq(&f->io, 4, 1);
    assert_false(irr(f, 0x34));
    ioapic_set_irq(&f->io, 4, 0);
    lapic_write(&f->apic, 0xb0, 0);
    ioapic_set_irq(&f->io, 4, 1);
    assert_true(irr(f, 0x34));
    /* A masked pin drops edges. */
    ioapic_set_irq(&f->io, 4, 0);
    lapic_intr_ack(&f->apic);
    lapic_write(&f->apic, 0xb0, 0);
    reg_write(f, 0x10 + 2 * 4, 0x10034);
    ioapic_set_irq(&f->io, 4, 1);
    assert_false(irr(f, 0x34));
    /* Another destination: nothing arrives here. */
    reg_write(f, 0x10 + 2 * 5, 0x35);
    reg_write(f, 0x11 + 2 * 5, 0x07000000);
    ioapic_set_irq(&f->io, 5, 1);
    assert_false(irr(f, 0x35));
}

static void level_remote_irr_and_eoi(void **state)
{
    struct fixture *f = *state;
    reg_write(f, 0x10 + 2 * 10, 0x8000 | 0x3a);      /* level */
    ioapic_set_irq(&f->io, 10, 1);
    assert_true(irr(f, 0x3a));
    assert_true(reg_read(f, 0x10 + 2 * 10) & 0x4000); /* Remote IRR */
    assert_int_equal(lapic_intr_ack(&f->apic), 0x3a);
    assert_true(lapic_read(&f->apic, 0x180 + 0x10) & (1u << (0x3a & 31)));  /* TMR: level */
    /* Still asserted, but no new message before the EOI. */
    ioapic_set_irq(&f->io, 10, 1);
    assert_false(irr(f, 0x3a));
    /* EOI with the line still high: Remote IRR clears and it is delivered again. */
    lapic_write(&f->apic, 0xb0, 0);
    assert_true(irr(f, 0x3a));
    assert_true(reg_read(f, 0x10 + 2 * 10) & 0x4000);
    assert_int_equal(lapic_intr_ack(&f->apic), 0x3a);
    /* The device lets go; the EOI clears Remote IRR without a new message. */
    ioapic_set_irq(&f->io, 10, 0);
    lapic_write(&f->apic, 0xb0, 0);
    assert_false(irr(f, 0x3a));
    assert_false(reg_read(f, 0x10 + 2 * 10) & 0x4000);
    /* Masked while asserted, then unmasked: delivered at unmask. */
    reg_write(f, 0x10 + 2 * 11, 0x18000 | 0x3b);
    ioapic_set_irq(&f->io, 11, 1);
    assert_false(irr(f, 0x3b));
    reg_write(f, 0x10 + 2 * 11, 0x08000 | 0x3b);
    assert_true(irr(f, 0x3b));
}

static void logical_and_lowest_priority(void **state)
{
    struct fixture *f = *state;
    lapic_write(&f->apic, 0xd0, 0x01000000);
    reg_write(f, 0x11 + 2 * 1, 0x01000000);
    reg_write(f, 0x10 + 2 * 1, 0x900 | 0x41);        /* logical, lowest priority */
    ioapic_set_irq(&f->io, 1, 1);
    assert_true(irr(f, 0x41));
    /* Out-of-range pins are ignored. */
    ioapic_set_irq(&f->io, 24, 1);
    ioapic_set_irq(&f->io, -1, 1);
}

/* The pc path of a PCI interrupt: device INTA -> PIIX3 PIRQ -> ISA IRQ 11 -> I/O APIC pin 11
 * (level, as the MADT says) -> local APIC -> CPU, then EOI and Remote IRR. */
static void pci_intx_reaches_cpu_through_piix3(void **state)
{
    struct fixture *f = *state;
    struct io_bus *io = calloc(1, sizeof(*io));
    struct pci_bus *bus = calloc(1, sizeof(*bus));
    struct piix3 *sb = calloc(1, sizeof(*sb));
    struct pci_device *nic = calloc(1, sizeof(*nic));
    struct irq_line isa[16];
    io_bus_init(io);
    for (int i = 0; i < 16; i++)
        irq_connect(&isa[i], ioapic_set_irq, &f->io, i == 0 ? 2 : i);
    pci_bus_init(bus, &f->mem, io, piix3_pci_set_irq, sb);
    assert_int_equal(piix3_init(sb, bus, io, isa, NULL, NULL), 0);
    assert_int_equal(pci_register_device(bus, nic, 3 << 3, "nic", 0x8086, 0x100e, 3, 0x020000, 0, 1), 0);
    piix3_set_pirq_route(sb, piix3_slot_pirq(3, 0), 11);
    reg_write(f, 0x10 + 2 * 11, 0x8000 | 0x4b);
    pci_set_irq(nic, 1);
    assert_true(f->cpu->interrupt_request & CPU_REQ_INTR);
    assert_int_equal(lapic_intr_ack(&f->apic), 0x4b);
    pci_set_irq(nic, 0);      /* the driver acknowledged the device */
    lapic_write(&f->apic, 0xb0, 0);
    assert_false(reg_read(f, 0x10 + 2 * 11) & 0x4000);
    assert_false(f->cpu->interrupt_request & CPU_REQ_INTR);
    free(nic);
    free(sb);
    free(bus);
    free(io);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(registers, setup, teardown),
        cmocka_unit_test_setup_teardown(edge_delivery, setup, teardown),
        cmocka_unit_test_setup_teardown(level_remote_irr_and_eoi, setup, teardown),
        cmocka_unit_test_setup_teardown(logical_and_lowest_priority, setup, teardown),
        cmocka_unit_test_setup_teardown(pci_intx_reaches_cpu_through_piix3, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
