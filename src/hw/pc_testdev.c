/* pc-testdev: scratch register, scratch memory and interrupt lines for test kernels. */
#include "hw/pc_testdev.h"

#include <string.h>

/* The bits of the scratch register a (port, size) access covers, shifted down to bit 0. */
static uint32_t lane_mask(unsigned size)
{
    return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
}

static uint32_t scratch_read(void *opaque, uint16_t port, unsigned size)
{
    const struct pc_testdev *s = opaque;
    unsigned shift = 8 * (port & 3u);
    return (s->ioport_data >> shift) & lane_mask(size);
}

static void scratch_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct pc_testdev *s = opaque;
    unsigned shift = 8 * (port & 3u);
    uint32_t mask = lane_mask(size) << shift;   /* lanes beyond bit 31 fall off, as in QEMU */
    s->ioport_data = (s->ioport_data & ~mask) | ((value << shift) & mask);
}

static uint32_t flush_read(void *opaque, uint16_t port, unsigned size)
{
    (void)opaque, (void)port, (void)size;
    return 0;
}

/* QEMU re-protects the host page so KVM takes a fresh fault; a software CPU has nothing to
 * drop that the guest could observe, so only count it. */
static void flush_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct pc_testdev *s = opaque;
    (void)port, (void)value;
    if (size == 4)
        s->flushes++;
}

static uint32_t irq_read(void *opaque, uint16_t port, unsigned size)
{
    (void)opaque, (void)port, (void)size;
    return 0;
}

static void irq_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct pc_testdev *s = opaque;
    unsigned n = (unsigned)(port - PC_TESTDEV_IRQ_PORT);
    (void)size;
    if (n >= PC_TESTDEV_IRQS)
        return;
    s->irq_level[n] = value != 0;
    irq_set(&s->irq[n], s->irq_level[n]);
}

static uint32_t iomem_read(void *opaque, uint32_t offset, unsigned size)
{
    const struct pc_testdev *s = opaque;
    uint32_t v = 0;
    for (unsigned i = 0; i < size && offset + i < PC_TESTDEV_IOMEM_LEN; i++)
        v |= (uint32_t)s->iomem[offset + i] << (8 * i);
    return v;
}

static void iomem_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    struct pc_testdev *s = opaque;
    for (unsigned i = 0; i < size && offset + i < PC_TESTDEV_IOMEM_LEN; i++)
        s->iomem[offset + i] = (uint8_t)(value >> (8 * i));
}

static int pc_testdev_post_load(void *opaque, char *err, size_t errlen)
{
    struct pc_testdev *s = opaque;
    (void)err, (void)errlen;
    for (unsigned n = 0; n < PC_TESTDEV_IRQS; n++) {
        s->irq_level[n] = s->irq_level[n] != 0;
        irq_set(&s->irq[n], s->irq_level[n]);
    }
    return 0;
}

static const struct vmstate_field pc_testdev_fields[] = {
    VMF(struct pc_testdev, ioport_data), VMF_ARRAY(struct pc_testdev, iomem),
    VMF_ARRAY(struct pc_testdev, irq_level), VMF_END_OF_LIST
};
const struct vmstate_desc pc_testdev_vmstate = { .name = "pc-testdev", .version = 1, .fields = pc_testdev_fields,
                                                 .post_load = pc_testdev_post_load };

void pc_testdev_reset(void *opaque)
{
    struct pc_testdev *s = opaque;
    for (unsigned n = 0; n < PC_TESTDEV_IRQS; n++) {
        if (s->irq_level[n])
            irq_set(&s->irq[n], 0);
        s->irq_level[n] = 0;
    }
}

int pc_testdev_init(struct pc_testdev *s, struct io_bus *io, struct phys_mem *mem,
                    const struct irq_line irq[PC_TESTDEV_IRQS])
{
    memset(s, 0, sizeof(*s));
    memcpy(s->irq, irq, sizeof(s->irq));
    if (io_register(io, 0xe0, 4, s, scratch_read, scratch_write, IO_SIZE_ALL, "pc-testdev-ioport") < 0 ||
        io_register(io, 0xe4, 4, s, flush_read, flush_write, IO_SIZE_4, "pc-testdev-flush-page") < 0 ||
        io_register(io, 0xe8, 4, s, scratch_read, scratch_write, IO_SIZE_1, "pc-testdev-ioport-byte") < 0 ||
        io_register(io, PC_TESTDEV_IRQ_PORT, PC_TESTDEV_IRQ_PORTS, s, irq_read, irq_write, IO_SIZE_1,
                    "pc-testdev-irq-line") < 0)
        return -1;
    if (phys_map_mmio(mem, PC_TESTDEV_IOMEM_BASE, PC_TESTDEV_IOMEM_LEN, s, iomem_read, iomem_write,
                      "pc-testdev-iomem") < 0)
        return -1;
    return 0;
}
