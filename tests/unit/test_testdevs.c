/* QEMU's test devices: pc-testdev (scratch register lanes, byte-split twin, interrupt lines,
 * scratch memory, saved state) and pci-testdev (IDs, BARs, the header protocol, saved state). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hw/pc_testdev.h"
#include "hw/pci_testdev.h"

struct fixture {
    struct phys_mem mem;
    struct io_bus io;
    struct pci_bus bus;
    struct pc_testdev isa;
    struct pci_testdev pci;
    int level[PC_TESTDEV_IRQS];
    int edges;
};

static void record_line(void *opaque, int n, int level)
{
    struct fixture *f = opaque;
    if (level && !f->level[n])
        f->edges++;
    f->level[n] = level;
}

static void no_intx(void *opaque, struct pci_device *dev, int pin, int level)
{
    (void)opaque, (void)dev, (void)pin, (void)level;
    fail_msg("pci-testdev has no interrupt pin");
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(phys_mem_init(&f->mem, 16 << 20, 16 << 20), 0);
    io_bus_init(&f->io);
    pci_bus_init(&f->bus, &f->mem, &f->io, no_intx, f);
    struct irq_line lines[PC_TESTDEV_IRQS];
    for (int n = 0; n < PC_TESTDEV_IRQS; n++)
        irq_connect(&lines[n], record_line, f, n);
    assert_int_equal(pc_testdev_init(&f->isa, &f->io, &f->mem, lines), 0);
    assert_int_equal(pci_testdev_init(&f->pci, &f->bus, 3 << 3), 0);
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

static void scratch_register_lanes(void **state)
{
    struct fixture *f = *state;
    io_write(&f->io, 0xe0, 0x12345678, 4);
    assert_int_equal(io_read(&f->io, 0xe0, 4), 0x12345678);
    io_write(&f->io, 0xe2, 0xab, 1);
    assert_int_equal(io_read(&f->io, 0xe0, 4), 0x12ab5678);
    assert_int_equal(io_read(&f->io, 0xe1, 2), 0xab56);
    assert_int_equal(io_read(&f->io, 0xe3, 1), 0x12);
    io_write(&f->io, 0xe3, 0xbeef, 2);            /* the lane past bit 31 falls off */
    assert_int_equal(io_read(&f->io, 0xe0, 4), 0xefab5678);
    io_write(&f->io, 0xe8, 0xcafef00d, 4);        /* the byte-split twin, same register */
    assert_int_equal(io_read(&f->io, 0xe0, 4), 0xcafef00d);
    assert_int_equal(io_read(&f->io, 0xea, 2), 0xcafe);
    io_write(&f->io, 0xe4, 0x1000, 4);            /* flush page: counted, nothing else */
    assert_int_equal(f->isa.flushes, 1);
    assert_int_equal(io_read(&f->io, 0xe4, 4), 0);
    assert_int_equal(io_read(&f->io, 0xe0, 4), 0xcafef00d);
}

static void interrupt_lines(void **state)
{
    struct fixture *f = *state;
    io_write(&f->io, 0x2005, 1, 1);
    assert_int_equal(f->level[5], 1);
    io_write(&f->io, 0x2005, 7, 1);               /* any nonzero value: still high, no edge */
    assert_int_equal(f->edges, 1);
    io_write(&f->io, 0x2005, 0, 1);
    assert_int_equal(f->level[5], 0);
    io_write(&f->io, 0x200f, 1, 1);
    assert_int_equal(f->level[15], 1);
    for (uint16_t port = 0x2010; port < 0x2018; port++)   /* lines 16-23: ignored */
        io_write(&f->io, port, 1, 1);
    assert_int_equal(f->edges, 2);
    assert_int_equal(io_read(&f->io, 0x200f, 1), 0);
    pc_testdev_reset(&f->isa);
    assert_int_equal(f->level[15], 0);
}

static void scratch_memory(void **state)
{
    struct fixture *f = *state;
    phys_write(&f->mem, PC_TESTDEV_IOMEM_BASE + 0x10, 0x11223344, 4);
    phys_write(&f->mem, PC_TESTDEV_IOMEM_BASE + 0x11, 0xaa, 1);
    assert_int_equal(phys_read(&f->mem, PC_TESTDEV_IOMEM_BASE + 0x10, 4), 0x1122aa44);
    phys_write(&f->mem, PC_TESTDEV_IOMEM_BASE + PC_TESTDEV_IOMEM_LEN - 2, 0x5566, 2);
    assert_int_equal(phys_read(&f->mem, PC_TESTDEV_IOMEM_BASE + PC_TESTDEV_IOMEM_LEN - 2, 2), 0x5566);
    assert_int_equal(f->isa.iomem[PC_TESTDEV_IOMEM_LEN - 1], 0x55);
}

static void pc_testdev_saved_state(void **state)
{
    struct fixture *f = *state;
    io_write(&f->io, 0xe0, 0x600dcafe, 4);
    f->isa.iomem[0x1234] = 0x42;
    io_write(&f->io, 0x2007, 1, 1);
    struct vmbuf saved = { 0 };
    vmstate_save(&pc_testdev_vmstate, &f->isa, &saved);
    assert_false(saved.failed);
    io_write(&f->io, 0xe0, 0, 4);
    f->isa.iomem[0x1234] = 0;
    io_write(&f->io, 0x2007, 0, 1);
    struct vmreader r = { saved.data, saved.len };
    char err[128];
    assert_int_equal(vmstate_load(&pc_testdev_vmstate, &f->isa, pc_testdev_vmstate.version, &r, err, sizeof(err)), 0);
    assert_int_equal(io_read(&f->io, 0xe0, 4), 0x600dcafe);
    assert_int_equal(f->isa.iomem[0x1234], 0x42);
    assert_int_equal(f->level[7], 1);             /* the line is driven again after a load */
    vmbuf_free(&saved);
}

static uint32_t cfg_read(struct fixture *f, unsigned off)
{
    return pci_config_read(&f->bus, 3 << 3, off, 4);
}

/* Map BAR0 at 0xe0000000 and BAR1 at port 0xc000 with decoding on, as firmware would. */
static void map_bars(struct fixture *f)
{
    pci_config_write(&f->bus, 3 << 3, 0x10, 0xffffffff, 4);
    assert_int_equal(cfg_read(f, 0x10), 0xfffff000);
    pci_config_write(&f->bus, 3 << 3, 0x14, 0xffffffff, 4);
    assert_int_equal(cfg_read(f, 0x14) & 0xffff, 0xff01);
    pci_config_write(&f->bus, 3 << 3, 0x10, 0xe0000000, 4);
    pci_config_write(&f->bus, 3 << 3, 0x14, 0xc000, 4);
    pci_config_write(&f->bus, 3 << 3, 0x04, 3, 2);
}

static void pci_ids_and_protocol(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(cfg_read(f, 0), 0x00051b36);
    assert_int_equal(cfg_read(f, 0x08), 0x00ff0000);
    assert_int_equal(cfg_read(f, 0x2c), 0x11001af4);
    assert_int_equal(cfg_read(f, 0x3c) & 0xff00, 0);
    map_bars(f);
    const uint32_t m = 0xe0000000;
    assert_int_equal(phys_read(&f->mem, m + 1, 1), 0);   /* nothing selected */
    phys_write(&f->mem, m, 0, 1);
    assert_int_equal(phys_read(&f->mem, m + 1, 1), 1);
    assert_int_equal(phys_read(&f->mem, m + 4, 4), 2048);
    assert_int_equal(phys_read(&f->mem, m + 8, 4), 0xfa);
    char name[32] = { 0 };
    for (unsigned i = 0; i < sizeof(name) - 1; i++)
        name[i] = (char)phys_read(&f->mem, m + 16 + i, 1);
    assert_string_equal(name, "mmio-no-eventfd");
    for (int i = 0; i < 16; i++)
        phys_write(&f->mem, m + 2048, 0xfa, 1);
    phys_write(&f->mem, m + 2048, 0x55, 1);
    phys_write(&f->mem, m + 2048, 0x00fa, 2);             /* split: the low byte counts */
    assert_int_equal(phys_read(&f->mem, m + 12, 4), 17);
    phys_write(&f->mem, m, 2, 4);                         /* datamatch: the eventfd's, 0 */
    phys_write(&f->mem, m + 2050, 0xfa, 1);
    assert_int_equal(phys_read(&f->mem, m + 12, 4), 0);
    assert_int_equal(phys_read(&f->mem, m + 4, 4), 2050);

    /* The I/O BAR: tests 3-5 of the device, offsets 131-133. */
    io_write(&f->io, 0xc000, 1, 1);
    assert_int_equal(io_read(&f->io, 0xc004, 4), 132);
    assert_int_equal(io_read(&f->io, 0xc008, 4), 0xce);
    assert_int_equal(phys_read(&f->mem, m + 4, 4), 132);   /* the selection is the device's */
    io_write(&f->io, 0xc000, 0, 1);
    io_write(&f->io, 0xc083, 0xfa, 1);
    io_write(&f->io, 0xc083, 0xfa, 1);
    assert_int_equal(io_read(&f->io, 0xc00c, 4), 2);
    io_write(&f->io, 0xc000, 3, 1);                        /* no test 3 on a BAR */
    assert_int_equal(io_read(&f->io, 0xc000, 4), 0);
    assert_int_equal(io_read(&f->io, 0xc0ff, 1), 0);
}

static void pci_saved_state(void **state)
{
    struct fixture *f = *state;
    map_bars(f);
    io_write(&f->io, 0xc000, 0, 1);
    io_write(&f->io, 0xc083, 0xfa, 1);
    struct vmbuf saved = { 0 };
    vmstate_save(&pci_testdev_vmstate, &f->pci, &saved);
    pci_testdev_reset(&f->pci);
    assert_int_equal(io_read(&f->io, 0xc00c, 4), 0);
    struct vmreader r = { saved.data, saved.len };
    char err[128];
    assert_int_equal(vmstate_load(&pci_testdev_vmstate, &f->pci, pci_testdev_vmstate.version, &r, err, sizeof(err)), 0);
    assert_int_equal(io_read(&f->io, 0xc00c, 4), 1);
    /* A hostile state: a selected test that does not exist is refused. */
    f->pci.current = 100;
    struct vmbuf bad = { 0 };
    vmstate_save(&pci_testdev_vmstate, &f->pci, &bad);
    r = (struct vmreader){ bad.data, bad.len };
    assert_int_equal(vmstate_load(&pci_testdev_vmstate, &f->pci, pci_testdev_vmstate.version, &r, err, sizeof(err)), -1);
    vmbuf_free(&saved);
    vmbuf_free(&bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(scratch_register_lanes, setup, teardown),
        cmocka_unit_test_setup_teardown(interrupt_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(scratch_memory, setup, teardown),
        cmocka_unit_test_setup_teardown(pc_testdev_saved_state, setup, teardown),
        cmocka_unit_test_setup_teardown(pci_ids_and_protocol, setup, teardown),
        cmocka_unit_test_setup_teardown(pci_saved_state, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
