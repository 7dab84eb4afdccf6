/* pci-testdev: the header/test protocol of QEMU's PCI test device (see pci_testdev.h). */
#include "hw/pci_testdev.h"

#include <stdio.h>
#include <string.h>

#define MEM_BAR_SIZE 4096u
#define IO_BAR_SIZE 256u
#define TESTS_PER_BAR 3
#define TEST_DATA 0xfau           /* what "no-eventfd" and "datamatch" want */
#define TEST_NOMATCH 0xceu        /* "wildcard" shows a value no data match would take */
#define HDR_NAME 16u

static const char *const test_names[PCI_TESTDEV_TESTS] = {
    "mmio-no-eventfd", "mmio-wildcard-eventfd", "mmio-datamatch-eventfd",
    "portio-no-eventfd", "portio-wildcard-eventfd", "portio-datamatch-eventfd",
};

/* Where test t's writes go: past the BAR's first half, one byte per test number. */
static uint32_t test_offset(int t)
{
    return (t < TESTS_PER_BAR ? MEM_BAR_SIZE / 2 : IO_BAR_SIZE / 2) + (uint32_t)t;
}

/* One byte of the selected test's header; 0 past it (and at its last byte, as QEMU). Like
 * QEMU, the selection is the device's, not the BAR's: either BAR shows the selected test. */
static uint8_t header_byte(const struct pci_testdev *s, uint32_t addr)
{
    int t = s->current;
    if (t < 0)
        return 0;
    uint32_t size = HDR_NAME + (uint32_t)strlen(test_names[t]) + 1;
    if (addr + 1 >= size)
        return 0;
    uint32_t field;
    switch (addr & ~3u) {
    case 0: field = 1u << 8; break;                   /* test 0, width 1 */
    case 4: field = test_offset(t); break;
    case 8: field = t % TESTS_PER_BAR == 1 ? TEST_NOMATCH : TEST_DATA; break;
    case 12: field = s->count[t]; break;
    default: return (uint8_t)test_names[t][addr - HDR_NAME];
    }
    return (uint8_t)(field >> (8 * (addr & 3)));
}

static void byte_write(struct pci_testdev *s, bool io, uint32_t addr, uint8_t value)
{
    if (addr == 0) {
        s->current = value < TESTS_PER_BAR ? (int8_t)(value + (io ? TESTS_PER_BAR : 0)) : -1;
        if (s->current >= 0)
            s->count[s->current] = 0;
        return;
    }
    int t = s->current;
    if (t < 0 || addr != test_offset(t))
        return;
    /* Only "no-eventfd" counts: QEMU hands the eventfd tests' writes to an eventfd (any value
     * for "wildcard", 0xFA for "datamatch"), never to the counter, under TCG as under KVM,
     * and the datamatch test's other values fail its data check. */
    if (t % TESTS_PER_BAR == 0 && value == TEST_DATA)
        s->count[t]++;
}

static uint32_t bar_read(const struct pci_testdev *s, uint32_t addr, unsigned size)
{
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)header_byte(s, addr + i) << (8 * i);
    return v;
}

static void bar_write(struct pci_testdev *s, bool io, uint32_t addr, uint32_t value, unsigned size)
{
    for (unsigned i = 0; i < size; i++)
        byte_write(s, io, addr + i, (uint8_t)(value >> (8 * i)));
}

static uint32_t mem_read(void *opaque, uint32_t offset, unsigned size)
{
    return bar_read(opaque, offset, size);
}

static void mem_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    bar_write(opaque, false, offset, value, size);
}

static uint32_t io_bar_read(void *opaque, uint16_t port, unsigned size)
{
    struct pci_testdev *s = opaque;
    return bar_read(s, (uint32_t)(port - s->pci.bars[1].mapped_addr), size);
}

static void io_bar_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct pci_testdev *s = opaque;
    bar_write(s, true, (uint32_t)(port - s->pci.bars[1].mapped_addr), value, size);
}

static int pci_testdev_post_load(void *opaque, char *err, size_t errlen)
{
    struct pci_testdev *s = opaque;
    if (s->current < -1 || s->current >= PCI_TESTDEV_TESTS) {
        snprintf(err, errlen, "pci-testdev: selected test %d out of range", s->current);
        return -1;
    }
    pci_device_post_load(&s->pci);
    return 0;
}

static const struct vmstate_field pci_testdev_fields[] = {
    VMF_STRUCT(struct pci_testdev, pci, pci_device_vmstate),
    VMF(struct pci_testdev, current),
    VMF_ARRAY(struct pci_testdev, count), VMF_END_OF_LIST
};
const struct vmstate_desc pci_testdev_vmstate = { .name = "pci-testdev", .version = 1,
                                                  .fields = pci_testdev_fields,
                                                  .post_load = pci_testdev_post_load };

void pci_testdev_reset(void *opaque)
{
    struct pci_testdev *s = opaque;
    s->current = -1;
    memset(s->count, 0, sizeof(s->count));
}

int pci_testdev_init(struct pci_testdev *s, struct pci_bus *bus, uint8_t devfn)
{
    memset(s, 0, sizeof(*s));
    if (pci_register_device(bus, &s->pci, devfn, "pci-testdev", 0x1b36, 0x0005, 0, 0x00ff00, 0x00, 0) < 0)
        return -1;
    pci_set_word(s->pci.config + 0x2c, 0x1af4);   /* subsystem: QEMU's */
    pci_set_word(s->pci.config + 0x2e, 0x1100);
    s->pci.opaque = s;
    struct pci_bar mem = { .size = MEM_BAR_SIZE, .opaque = s, .mmio_read = mem_read, .mmio_write = mem_write };
    pci_register_bar(&s->pci, 0, &mem);
    struct pci_bar io = { .size = IO_BAR_SIZE, .is_io = true, .opaque = s, .io_read = io_bar_read,
                          .io_write = io_bar_write, .io_sizes = IO_SIZE_ALL };
    pci_register_bar(&s->pci, 1, &io);
    pci_testdev_reset(s);
    return 0;
}
