/* PCI bus 0: configuration mechanism #1 and BAR mapping (contract in hw/pci.h).
 *
 * Config writes always go through the default path first (storage masked by wmask[], command
 * and BAR handling); a device's config_write hook then runs as a notification and may adjust
 * config[].  Reads use the device's config_read hook when it has one, config[] otherwise.
 * BARs are re-validated and (un)mapped after every write that touches the command register or
 * a BAR, so hooks that store raw values cannot leave a misaligned BAR mapped. */
#include "hw/pci.h"

#include <string.h>

#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_BAR0 0x10
#define PCI_CMD_IO 0x0001u
#define PCI_CMD_MEM 0x0002u
#define PCI_CMD_INTX_DISABLE 0x0400u
#define PCI_STATUS_INTX 0x0008u

static uint32_t cfg_port_read(void *opaque, uint16_t port, unsigned size)
{
    struct pci_bus *bus = opaque;
    if (port >= 0xCF8 && port < 0xCFC) {
        /* Only dword accesses reach the address latch; byte/word ones go to the ISA side. */
        if (port == 0xCF8 && size == 4)
            return bus->config_address;
        return size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    }
    uint32_t a = bus->config_address;
    uint32_t ones = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    if (!(a & 0x80000000u) || ((a >> 16) & 0xff) != 0)
        return ones;
    unsigned offset = (a & 0xfc) | (port & 3u);
    return pci_config_read(bus, (uint8_t)((a >> 8) & 0xff), offset, size);
}

static void cfg_port_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct pci_bus *bus = opaque;
    if (port >= 0xCF8 && port < 0xCFC) {
        if (port == 0xCF8 && size == 4)
            bus->config_address = value & 0x80fffffcu;
        return;
    }
    uint32_t a = bus->config_address;
    if (!(a & 0x80000000u) || ((a >> 16) & 0xff) != 0)
        return;
    unsigned offset = (a & 0xfc) | (port & 3u);
    pci_config_write(bus, (uint8_t)((a >> 8) & 0xff), offset, value, size);
}

void pci_bus_init(struct pci_bus *bus, struct phys_mem *mem, struct io_bus *io,
                  pci_set_irq_fn set_irq, void *set_irq_opaque)
{
    memset(bus, 0, sizeof(*bus));
    bus->mem = mem;
    bus->io = io;
    bus->set_irq = set_irq;
    bus->set_irq_opaque = set_irq_opaque;
    /* 0xCF8-0xCFB as one dword register (0xCF9 may be claimed later by the reset control
     * register, which then receives the byte accesses), 0xCFC-0xCFF as the data window. */
    io_register(io, 0xCF8, 4, bus, cfg_port_read, cfg_port_write, IO_SIZE_ALL, "pci-config-address");
    io_register(io, 0xCFC, 4, bus, cfg_port_read, cfg_port_write, IO_SIZE_ALL, "pci-config-data");
}

int pci_register_device(struct pci_bus *bus, struct pci_device *dev, uint8_t devfn, const char *name,
                        uint16_t vendor, uint16_t device, uint8_t revision, uint32_t class_code,
                        uint8_t header_type, uint8_t irq_pin)
{
    if (bus->devices[devfn])
        return -1;
    memset(dev->config, 0, sizeof(dev->config));
    memset(dev->wmask, 0, sizeof(dev->wmask));
    pci_set_word(&dev->config[0x00], vendor);
    pci_set_word(&dev->config[0x02], device);
    dev->config[0x08] = revision;
    dev->config[0x09] = (uint8_t)class_code;
    dev->config[0x0a] = (uint8_t)(class_code >> 8);
    dev->config[0x0b] = (uint8_t)(class_code >> 16);
    dev->config[0x0e] = header_type;
    dev->config[0x3d] = irq_pin;
    /* Command: I/O, memory, bus master, SERR#, INTx disable. */
    pci_set_word(&dev->wmask[PCI_COMMAND], 0x0507);
    dev->wmask[0x0c] = 0xff; /* cache line size */
    dev->wmask[0x0d] = 0xff; /* latency timer */
    dev->wmask[0x3c] = 0xff; /* interrupt line: scratch for firmware */
    dev->devfn = devfn;
    dev->name = name;
    dev->bus = bus;
    dev->irq_level = 0;
    for (int i = 0; i < 6; i++) {
        memset(&dev->bars[i], 0, sizeof(dev->bars[i]));
        dev->bars[i].handle = -1;
    }
    bus->devices[devfn] = dev;
    return 0;
}

void pci_register_bar(struct pci_device *dev, int n, const struct pci_bar *bar)
{
    if (n < 0 || n > 5 || !bar->size || (bar->size & (bar->size - 1)))
        return;
    struct pci_bar *b = &dev->bars[n];
    *b = *bar;
    b->handle = -1;
    b->mapped_addr = 0;
    uint32_t size = bar->size;
    uint32_t flags, mask;
    if (bar->is_io) {
        if (size < 4)
            size = b->size = 4;
        flags = 1;
        mask = ~(size - 1) & 0xfffffffcu;
    } else {
        if (size < 16)
            size = b->size = 16;
        flags = bar->prefetchable ? 0x8u : 0;
        mask = ~(size - 1) & 0xfffffff0u;
    }
    pci_set_long(&dev->config[PCI_BAR0 + 4 * n], flags);
    pci_set_long(&dev->wmask[PCI_BAR0 + 4 * n], mask);
}

/* Where BAR n should be mapped now, or 0 when it must be unmapped. */
static uint32_t bar_target(const struct pci_device *dev, int n)
{
    const struct pci_bar *b = &dev->bars[n];
    uint16_t cmd = pci_get_word(&dev->config[PCI_COMMAND]);
    uint32_t v = pci_get_long(&dev->config[PCI_BAR0 + 4 * n]);
    if (b->is_io) {
        uint32_t addr = v & ~(b->size - 1) & 0xfffffffcu;
        if (!(cmd & PCI_CMD_IO) || addr == 0 || (uint64_t)addr + b->size > 0x10000)
            return 0;
        return addr;
    }
    uint32_t addr = v & ~(b->size - 1) & 0xfffffff0u;
    /* The all-ones value a guest writes while sizing is never a real placement. */
    if (!(cmd & PCI_CMD_MEM) || addr == 0 || addr == (~(b->size - 1) & 0xfffffff0u) ||
        (uint64_t)addr + b->size > 0x100000000ull)
        return 0;
    return addr;
}

static void bar_update(struct pci_device *dev, int n)
{
    struct pci_bar *b = &dev->bars[n];
    if (!b->size)
        return;
    /* Keep the read-only low bits and alignment whatever a hook stored. */
    uint32_t v = pci_get_long(&dev->config[PCI_BAR0 + 4 * n]);
    uint32_t mask = pci_get_long(&dev->wmask[PCI_BAR0 + 4 * n]);
    uint32_t flags = b->is_io ? 1u : (b->prefetchable ? 0x8u : 0);
    pci_set_long(&dev->config[PCI_BAR0 + 4 * n], (v & mask) | flags);

    uint32_t target = bar_target(dev, n);
    if (target == b->mapped_addr)
        return;
    struct pci_bus *bus = dev->bus;
    if (b->is_io) {
        if (b->handle < 0) {
            if (target)
                b->handle = io_register(bus->io, (uint16_t)target, b->size, b->opaque, b->io_read,
                                        b->io_write, b->io_sizes ? b->io_sizes : IO_SIZE_ALL, dev->name);
        } else {
            io_remap(bus->io, b->handle, (uint16_t)target, target ? b->size : 0);
        }
    } else {
        if (b->handle < 0) {
            if (target)
                b->handle = phys_map_mmio(bus->mem, target, b->size, b->opaque, b->mmio_read,
                                          b->mmio_write, dev->name);
        } else {
            phys_remap_mmio(bus->mem, b->handle, target, target ? b->size : 0);
        }
    }
    b->mapped_addr = b->handle >= 0 ? target : 0;
}

/* The INTx output follows the requested level unless the command register masks it. */
static void intx_update(struct pci_device *dev)
{
    int want = (dev->config[PCI_STATUS] & PCI_STATUS_INTX) &&
               !(pci_get_word(&dev->config[PCI_COMMAND]) & PCI_CMD_INTX_DISABLE);
    if (want == dev->irq_level)
        return;
    dev->irq_level = want;
    unsigned pin = dev->config[0x3d];
    if (pin >= 1 && pin <= 4 && dev->bus && dev->bus->set_irq)
        dev->bus->set_irq(dev->bus->set_irq_opaque, dev, (int)pin - 1, want);
}

void pci_set_irq(struct pci_device *dev, int level)
{
    if (level)
        dev->config[PCI_STATUS] |= PCI_STATUS_INTX;
    else
        dev->config[PCI_STATUS] &= (uint8_t)~PCI_STATUS_INTX;
    intx_update(dev);
}

uint32_t pci_config_read(struct pci_bus *bus, uint8_t devfn, unsigned offset, unsigned size)
{
    uint32_t ones = size == 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    struct pci_device *dev = bus->devices[devfn];
    if (!dev || (size != 1 && size != 2 && size != 4) || offset + size > 256)
        return ones;
    if (dev->config_read)
        return dev->config_read(dev, offset, size) & ones;
    uint32_t v = 0;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)dev->config[offset + i] << (8 * i);
    return v;
}

void pci_config_write(struct pci_bus *bus, uint8_t devfn, unsigned offset, uint32_t value, unsigned size)
{
    struct pci_device *dev = bus->devices[devfn];
    if (!dev || (size != 1 && size != 2 && size != 4) || offset + size > 256)
        return;
    for (unsigned i = 0; i < size; i++) {
        uint8_t m = dev->wmask[offset + i];
        uint8_t b = (uint8_t)(value >> (8 * i));
        dev->config[offset + i] = (uint8_t)((dev->config[offset + i] & ~m) | (b & m));
    }
    if (dev->config_write)
        dev->config_write(dev, offset, value, size);
    bool touches_cmd = offset < PCI_COMMAND + 2 && offset + size > PCI_COMMAND;
    if (touches_cmd)
        intx_update(dev);
    for (int n = 0; n < 6; n++) {
        unsigned bar = PCI_BAR0 + 4u * (unsigned)n;
        if (touches_cmd || (offset < bar + 4 && offset + size > bar))
            bar_update(dev, n);
    }
}

/* ---- saved state ---- */

static const struct vmstate_field pci_device_fields[] = {
    VMF_ARRAY(struct pci_device, config), VMF_MAX(struct pci_device, irq_level, 1),
    VMF_END_OF_LIST,
};
const struct vmstate_desc pci_device_vmstate = { .name = "pci-device", .version = 1, .fields = pci_device_fields };

static const struct vmstate_field pci_bus_fields[] = { VMF(struct pci_bus, config_address), VMF_END_OF_LIST };
const struct vmstate_desc pci_bus_vmstate = { .name = "pci-bus", .version = 1, .fields = pci_bus_fields };

void pci_bus_reset(struct pci_bus *bus)
{
    bus->config_address = 0;
}

void pci_device_post_load(struct pci_device *dev)
{
    /* Mappings are host state: the hooks compare the registers with what is mapped now. */
    if (dev->config_write)
        dev->config_write(dev, 0, 0, 256);
    for (int n = 0; n < 6; n++)
        bar_update(dev, n);
}
