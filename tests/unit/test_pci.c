/* PCI configuration mechanism #1, BAR sizing/mapping, INTx, and the i440FX PAM shadowing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hw/i440fx.h"
#include "hw/pci.h"

struct fixture {
    struct phys_mem mem;
    struct io_bus io;
    struct pci_bus bus;
    int irq_calls, last_pin, last_level;
};

static void record_irq(void *opaque, struct pci_device *dev, int pin, int level)
{
    struct fixture *f = opaque;
    (void)dev;
    f->irq_calls++;
    f->last_pin = pin;
    f->last_level = level;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_int_equal(phys_mem_init(&f->mem, 16 << 20, 16 << 20), 0);
    io_bus_init(&f->io);
    pci_bus_init(&f->bus, &f->mem, &f->io, record_irq, f);
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

static uint32_t cfg_read(struct fixture *f, unsigned devfn, unsigned off, unsigned size)
{
    io_write(&f->io, 0xCF8, 0x80000000u | devfn << 8 | (off & 0xfc), 4);
    return io_read(&f->io, (uint16_t)(0xCFC + (off & 3)), size);
}

static void cfg_write(struct fixture *f, unsigned devfn, unsigned off, uint32_t v, unsigned size)
{
    io_write(&f->io, 0xCF8, 0x80000000u | devfn << 8 | (off & 0xfc), 4);
    io_write(&f->io, (uint16_t)(0xCFC + (off & 3)), v, size);
}

/* A test device with an I/O BAR and a memory BAR that log accesses. */
struct testdev {
    struct pci_device dev;
    uint32_t last_io_port, last_mmio_off, last_value;
};

static uint32_t td_io_read(void *opaque, uint16_t port, unsigned size)
{
    struct testdev *t = opaque;
    (void)size;
    t->last_io_port = port;
    return 0x5a;
}

static void td_io_write(void *opaque, uint16_t port, uint32_t v, unsigned size)
{
    struct testdev *t = opaque;
    (void)size;
    t->last_io_port = port;
    t->last_value = v;
}

static uint32_t td_mmio_read(void *opaque, uint32_t off, unsigned size)
{
    struct testdev *t = opaque;
    (void)size;
    t->last_mmio_off = off;
    return 0x12345678;
}

static void td_mmio_write(void *opaque, uint32_t off, uint32_t v, unsigned size)
{
    struct testdev *t = opaque;
    (void)size;
    t->last_mmio_off = off;
    t->last_value = v;
}

static void add_testdev(struct fixture *f, struct testdev *t, uint8_t devfn)
{
    memset(t, 0, sizeof(*t));
    assert_int_equal(pci_register_device(&f->bus, &t->dev, devfn, "testdev", 0x1234, 0x5678, 3,
                                         0x020000, 0, 1), 0);
    struct pci_bar io = { .size = 256, .is_io = true, .opaque = t, .io_read = td_io_read,
                          .io_write = td_io_write, .io_sizes = IO_SIZE_ALL };
    struct pci_bar mm = { .size = 0x1000, .opaque = t, .mmio_read = td_mmio_read,
                          .mmio_write = td_mmio_write };
    pci_register_bar(&t->dev, 0, &io);
    pci_register_bar(&t->dev, 1, &mm);
}

static void mechanism1_reads_ids_and_absent_devices(void **state)
{
    struct fixture *f = *state;
    struct testdev t;
    add_testdev(f, &t, 3 << 3);
    assert_int_equal(cfg_read(f, 3 << 3, 0, 4), 0x56781234);
    assert_int_equal(cfg_read(f, 3 << 3, 2, 2), 0x5678);
    assert_int_equal(cfg_read(f, 3 << 3, 3, 1), 0x56);
    assert_int_equal(cfg_read(f, 3 << 3, 0x08, 4), 0x02000003);  /* class 02/00/00, rev 3 */
    assert_int_equal(cfg_read(f, 3 << 3, 0x3d, 1), 1);            /* INTA */
    assert_int_equal(cfg_read(f, 4 << 3, 0, 4), 0xffffffffu);    /* empty slot */
    /* The address latch reads back; bus 1 and a clear enable bit see nothing. */
    io_write(&f->io, 0xCF8, 0x80001810, 4);
    assert_int_equal(io_read(&f->io, 0xCF8, 4), 0x80001810);
    io_write(&f->io, 0xCF8, 0x80011800, 4);
    assert_int_equal(io_read(&f->io, 0xCFC, 4), 0xffffffffu);
    io_write(&f->io, 0xCF8, 0x00001800, 4);
    assert_int_equal(io_read(&f->io, 0xCFC, 4), 0xffffffffu);
    /* Read-only fields ignore writes, the interrupt line is scratch. */
    cfg_write(f, 3 << 3, 0, 0xffffffff, 4);
    assert_int_equal(cfg_read(f, 3 << 3, 0, 4), 0x56781234);
    cfg_write(f, 3 << 3, 0x3c, 11, 1);
    assert_int_equal(cfg_read(f, 3 << 3, 0x3c, 1), 11);
    assert_int_equal(pci_register_device(&f->bus, &t.dev, 3 << 3, "dup", 1, 2, 0, 0, 0, 0), -1);
}

static void bar_sizing_and_mapping(void **state)
{
    struct fixture *f = *state;
    struct testdev t;
    uint8_t devfn = 5 << 3;
    add_testdev(f, &t, devfn);
    /* Sizing: all ones reads back the size mask with the type bits. */
    cfg_write(f, devfn, 0x10, 0xffffffff, 4);
    assert_int_equal(cfg_read(f, devfn, 0x10, 4), 0xffffff01u);
    cfg_write(f, devfn, 0x14, 0xffffffff, 4);
    assert_int_equal(cfg_read(f, devfn, 0x14, 4), 0xfffff000u);
    assert_int_equal(cfg_read(f, devfn, 0x18, 4), 0);  /* unused BAR */

    cfg_write(f, devfn, 0x10, 0xc000, 4);
    cfg_write(f, devfn, 0x14, 0xfeb00000, 4);
    /* Not decoded until the command register enables the spaces. */
    assert_int_equal(io_read(&f->io, 0xc004, 1), 0xff);
    assert_int_equal(phys_read(&f->mem, 0xfeb00010, 4), 0xffffffffu);
    cfg_write(f, devfn, 0x04, 0x0003, 2);
    assert_int_equal(io_read(&f->io, 0xc004, 1), 0x5a);
    assert_int_equal(t.last_io_port, 0xc004);
    io_write(&f->io, 0xc0ff, 0x77, 1);
    assert_int_equal(t.last_io_port, 0xc0ff);
    assert_int_equal(phys_read(&f->mem, 0xfeb00010, 4), 0x12345678);
    assert_int_equal(t.last_mmio_off, 0x10);
    phys_write(&f->mem, 0xfeb00ffc, 0xabcd, 4);
    assert_int_equal(t.last_mmio_off, 0xffc);
    assert_int_equal(t.last_value, 0xabcd);
    assert_int_equal(t.dev.bars[0].mapped_addr, 0xc000);

    /* Moving the BARs: old places go dark, new ones decode. */
    cfg_write(f, devfn, 0x10, 0xd101, 4);   /* low bits ignored: 0xd100 */
    assert_int_equal(cfg_read(f, devfn, 0x10, 4), 0xd101);
    assert_int_equal(io_read(&f->io, 0xc004, 1), 0xff);
    assert_int_equal(io_read(&f->io, 0xd104, 1), 0x5a);
    cfg_write(f, devfn, 0x14, 0xfeb10000, 4);
    assert_int_equal(phys_read(&f->mem, 0xfeb00010, 4), 0xffffffffu);
    assert_int_equal(phys_read(&f->mem, 0xfeb10020, 4), 0x12345678);
    /* Disabling memory decode unmaps. */
    cfg_write(f, devfn, 0x04, 0x0001, 2);
    assert_int_equal(phys_read(&f->mem, 0xfeb10020, 4), 0xffffffffu);
    assert_int_equal(io_read(&f->io, 0xd104, 1), 0x5a);
    /* A memory BAR placed over RAM and moved away gives the RAM back. */
    phys_write(&f->mem, 0x200000, 0xcafe, 4);
    cfg_write(f, devfn, 0x14, 0x200000, 4);
    cfg_write(f, devfn, 0x04, 0x0003, 2);
    assert_int_equal(phys_read(&f->mem, 0x200000, 4), 0x12345678);
    cfg_write(f, devfn, 0x14, 0xfeb00000, 4);
    assert_int_equal(phys_read(&f->mem, 0x200000, 4), 0xcafe);
}

static void intx_goes_through_bus_and_honours_disable(void **state)
{
    struct fixture *f = *state;
    struct testdev t;
    add_testdev(f, &t, 6 << 3);
    pci_set_irq(&t.dev, 1);
    assert_int_equal(f->irq_calls, 1);
    assert_int_equal(f->last_pin, 0);
    assert_int_equal(f->last_level, 1);
    assert_true(cfg_read(f, 6 << 3, 0x06, 2) & 0x0008);  /* interrupt status */
    pci_set_irq(&t.dev, 1);                               /* no change, no call */
    assert_int_equal(f->irq_calls, 1);
    cfg_write(f, 6 << 3, 0x04, 0x0400, 2);                /* INTx disable */
    assert_int_equal(f->last_level, 0);
    cfg_write(f, 6 << 3, 0x04, 0x0000, 2);
    assert_int_equal(f->last_level, 1);
    pci_set_irq(&t.dev, 0);
    assert_int_equal(f->last_level, 0);
    assert_false(cfg_read(f, 6 << 3, 0x06, 2) & 0x0008);
}

static void on_mem_changed(void *opaque)
{
    (*(int *)opaque)++;
}

static void i440fx_identity_and_pam(void **state)
{
    struct fixture *f = *state;
    uint8_t *rom = aligned_alloc(4096, I440FX_ROM_AREA_SIZE);
    memset(rom, 0xaa, I440FX_ROM_AREA_SIZE);
    memset(f->mem.ram + 0xc0000, 0x55, 0x40000);
    struct i440fx *nb = calloc(1, sizeof(*nb));
    int changed_calls = 0;
    assert_int_equal(i440fx_init(nb, &f->bus, &f->mem, rom, on_mem_changed, &changed_calls), 0);
    assert_int_equal(cfg_read(f, 0, 0, 4), 0x12378086);
    assert_int_equal(cfg_read(f, 0, 0x08, 4), 0x06000002);
    assert_int_equal(cfg_read(f, 0, 0x72, 1), 0x02);

    /* Reset state: the whole window reads the ROM and ignores writes. */
    assert_int_equal(phys_read(&f->mem, 0xffff0, 1), 0xaa);
    assert_int_equal(phys_read(&f->mem, 0xc0000, 1), 0xaa);
    phys_write(&f->mem, 0xf0000, 0x11, 1);
    assert_int_equal(phys_read(&f->mem, 0xf0000, 1), 0xaa);
    assert_int_equal(rom[0x30000], 0xaa);

    /* PAM0 bits 5:4 = 11: 0xF0000-0xFFFFF is RAM. */
    int before = changed_calls;
    cfg_write(f, 0, 0x59, 0x30, 1);
    assert_true(changed_calls > before);
    assert_int_equal(phys_read(&f->mem, 0xf0000, 1), 0x55);
    phys_write(&f->mem, 0xf0000, 0x11, 1);
    assert_int_equal(phys_read(&f->mem, 0xf0000, 1), 0x11);
    assert_int_equal(phys_read(&f->mem, 0xe0000, 1), 0xaa);   /* other regions untouched */
    /* 01: read RAM, writes dropped. */
    cfg_write(f, 0, 0x59, 0x10, 1);
    phys_write(&f->mem, 0xf0000, 0x22, 1);
    assert_int_equal(phys_read(&f->mem, 0xf0000, 1), 0x11);
    /* 10: reads see the ROM, writes reach RAM (visible once reads go to RAM again). */
    cfg_write(f, 0, 0x59, 0x20, 1);
    assert_int_equal(phys_read(&f->mem, 0xf0000, 1), 0xaa);
    phys_write(&f->mem, 0xf0000, 0x33, 1);
    assert_int_equal(rom[0x30000], 0xaa);
    cfg_write(f, 0, 0x59, 0x30, 1);
    assert_int_equal(phys_read(&f->mem, 0xf0000, 1), 0x33);

    /* PAM1 low nibble is 0xC0000-0xC3FFF, high nibble 0xC4000-0xC7FFF; PAM6 high 0xEC000. */
    cfg_write(f, 0, 0x5a, 0x03, 1);
    assert_int_equal(phys_read(&f->mem, 0xc3fff, 1), 0x55);
    assert_int_equal(phys_read(&f->mem, 0xc4000, 1), 0xaa);
    cfg_write(f, 0, 0x5f, 0x30, 1);
    assert_int_equal(phys_read(&f->mem, 0xec000, 1), 0x55);
    assert_int_equal(phys_read(&f->mem, 0xe8000, 1), 0xaa);

    /* SMRAM: D_LCK freezes the register and closes D_OPEN. */
    cfg_write(f, 0, 0x72, 0x4a, 1);
    assert_int_equal(cfg_read(f, 0, 0x72, 1), 0x4a);
    cfg_write(f, 0, 0x72, 0x5a, 1);
    assert_int_equal(cfg_read(f, 0, 0x72, 1), 0x1a);
    cfg_write(f, 0, 0x72, 0x4a, 1);
    assert_int_equal(cfg_read(f, 0, 0x72, 1), 0x1a);

    i440fx_reset(nb);
    assert_int_equal(phys_read(&f->mem, 0xf0000, 1), 0xaa);
    /* Direct boot: the whole window becomes writable RAM. */
    i440fx_shadow_ram(nb, true);
    assert_int_equal(cfg_read(f, 0, 0x59, 1), 0x30);
    assert_int_equal(cfg_read(f, 0, 0x5c, 4), 0x33333333);
    phys_write(&f->mem, 0xe0010, 0x77, 1);
    assert_int_equal(phys_read(&f->mem, 0xe0010, 1), 0x77);
    assert_int_equal(f->mem.ram[0xe0010], 0x77);
    i440fx_reset(nb);
    assert_int_equal(cfg_read(f, 0, 0x72, 1), 0x02);
    free(nb);
    free(rom);
}

/* Random config writes of every size at every offset (PAM included) must leave the map sane. */
static void random_config_writes_are_harmless(void **state)
{
    struct fixture *f = *state;
    uint8_t *rom = aligned_alloc(4096, I440FX_ROM_AREA_SIZE);
    memset(rom, 0xaa, I440FX_ROM_AREA_SIZE);
    struct i440fx *nb = calloc(1, sizeof(*nb));
    int changed = 0;
    assert_int_equal(i440fx_init(nb, &f->bus, &f->mem, rom, on_mem_changed, &changed), 0);
    struct testdev t;
    add_testdev(f, &t, 2 << 3);
    uint32_t x = 12345;
    for (int i = 0; i < 20000; i++) {
        x = x * 1103515245u + 12345u;
        unsigned size = 1u << ((x >> 8) % 3);
        unsigned devfn = (x >> 12) & 1 ? 0 : 2 << 3;
        unsigned off = (x >> 16) & 0xff;
        uint32_t v = x * 2654435761u;
        cfg_write(f, devfn, off, v, size);
        (void)cfg_read(f, devfn, off, size);
        /* Poke the window and the BARs wherever they are. */
        phys_write(&f->mem, 0xc0000 + (v & 0x3ffff), v, 1);
        (void)phys_read(&f->mem, 0xc0000 + (x & 0x3ffff), 4);
        if (t.dev.bars[1].mapped_addr)
            (void)phys_read(&f->mem, t.dev.bars[1].mapped_addr + (v & 0xffc), 4);
    }
    /* The ROM buffer is never written through the window. */
    for (uint32_t i = 0; i < I440FX_ROM_AREA_SIZE; i++)
        assert_int_equal(rom[i], 0xaa);
    i440fx_reset(nb);
    assert_int_equal(phys_read(&f->mem, 0xf0000, 1), 0xaa);
    free(nb);
    free(rom);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(mechanism1_reads_ids_and_absent_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(bar_sizing_and_mapping, setup, teardown),
        cmocka_unit_test_setup_teardown(intx_goes_through_bus_and_honours_disable, setup, teardown),
        cmocka_unit_test_setup_teardown(i440fx_identity_and_pam, setup, teardown),
        cmocka_unit_test_setup_teardown(random_config_writes_are_harmless, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
