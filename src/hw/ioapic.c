/* 82093AA I/O APIC: redirection table, edge and level delivery, Remote IRR and EOI. */
#include "hw/ioapic.h"

#include <string.h>

#define RTE_MASKED (1ull << 16)
#define RTE_LEVEL (1ull << 15)
#define RTE_REMOTE_IRR (1ull << 14)
#define RTE_DELIVS (1ull << 12)
#define RTE_RO_BITS (RTE_REMOTE_IRR | RTE_DELIVS)

static void deliver(struct ioapic *s, int pin)
{
    uint64_t e = s->redir[pin];
    bool level = (e & RTE_LEVEL) != 0;
    if (level)
        s->redir[pin] |= RTE_REMOTE_IRR;
    apic_bus_deliver(s->bus, (uint8_t)(e >> 56), (int)(e >> 11) & 1, (int)(e >> 8) & 7, (uint8_t)e, level);
}

/* A level entry fires while its input is asserted and no EOI is outstanding. */
static void service_level(struct ioapic *s, int pin)
{
    uint64_t e = s->redir[pin];
    if ((e & RTE_LEVEL) && !(e & RTE_MASKED) && !(e & RTE_REMOTE_IRR) && (s->levels >> pin & 1))
        deliver(s, pin);
}

void ioapic_set_irq(void *opaque, int n, int level)
{
    struct ioapic *s = opaque;
    if (n < 0 || n >= IOAPIC_PINS)
        return;
    uint32_t bit = 1u << n;
    bool old = (s->levels & bit) != 0;
    if (level)
        s->levels |= bit;
    else
        s->levels &= ~bit;
    uint64_t e = s->redir[n];
    if (e & RTE_LEVEL) {
        service_level(s, n);
    } else if (level && !old && !(e & RTE_MASKED)) {
        deliver(s, n);
    }
}

void ioapic_eoi(void *opaque, uint8_t vector)
{
    struct ioapic *s = opaque;
    for (int pin = 0; pin < IOAPIC_PINS; pin++) {
        uint64_t e = s->redir[pin];
        if ((e & RTE_LEVEL) && (e & RTE_REMOTE_IRR) && (uint8_t)e == vector) {
            s->redir[pin] &= ~RTE_REMOTE_IRR;
            service_level(s, pin);
        }
    }
}

uint32_t ioapic_read_reg(struct ioapic *s, uint8_t index)
{
    switch (index) {
    case 0x00: return (uint32_t)(s->id & 0x0f) << 24;
    case 0x01: return (uint32_t)(IOAPIC_PINS - 1) << 16 | IOAPIC_VERSION;
    case 0x02: return (uint32_t)(s->id & 0x0f) << 24;   /* arbitration ID */
    default:
        if (index >= 0x10 && index < 0x10 + 2 * IOAPIC_PINS) {
            uint64_t e = s->redir[(index - 0x10) / 2];
            return (index & 1) ? (uint32_t)(e >> 32) : (uint32_t)e;
        }
        return 0;
    }
}

void ioapic_write_reg(struct ioapic *s, uint8_t index, uint32_t value)
{
    if (index == 0x00) {
        s->id = (uint8_t)((value >> 24) & 0x0f);
        return;
    }
    if (index < 0x10 || index >= 0x10 + 2 * IOAPIC_PINS)
        return;
    int pin = (index - 0x10) / 2;
    uint64_t e = s->redir[pin];
    if (index & 1) {
        e = (e & 0x00000000ffffffffull) | ((uint64_t)(value & 0xff000000u) << 32);
    } else {
        e = (e & (0xffffffff00000000ull | RTE_RO_BITS)) | (value & ~(uint32_t)RTE_RO_BITS & 0x1ffffu);
        if (!(e & RTE_LEVEL))
            e &= ~RTE_REMOTE_IRR;
    }
    s->redir[pin] = e;
    /* Unmasking (or switching to level) with the input asserted delivers now. */
    service_level(s, pin);
}

static uint32_t mmio_read(void *opaque, uint32_t offset, unsigned size)
{
    struct ioapic *s = opaque;
    uint32_t v;
    if ((offset & ~3u) == 0x00)
        v = s->ioregsel;
    else if ((offset & ~3u) == 0x10)
        v = ioapic_read_reg(s, s->ioregsel);
    else
        return 0;
    v >>= 8 * (offset & 3);
    return size == 4 ? v : v & ((1u << (8 * size)) - 1);
}

static void mmio_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    struct ioapic *s = opaque;
    if (offset == 0x00)
        s->ioregsel = (uint8_t)value;
    else if (offset == 0x10 && size == 4)
        ioapic_write_reg(s, s->ioregsel, value);
}

void ioapic_reset(struct ioapic *s)
{
    s->ioregsel = 0;
    for (int i = 0; i < IOAPIC_PINS; i++)
        s->redir[i] = RTE_MASKED;
}

void ioapic_init(struct ioapic *s, struct apic_bus *bus, struct phys_mem *mem, uint32_t base, uint8_t id)
{
    memset(s, 0, sizeof(*s));
    s->bus = bus;
    s->id = id & 0x0f;
    bus->eoi = ioapic_eoi;
    bus->eoi_opaque = s;
    s->mmio_index = phys_map_mmio(mem, base, PHYS_PAGE_SIZE, s, mmio_read, mmio_write, "ioapic");
    ioapic_reset(s);
}

/* ---- saved state ---- */

static const struct vmstate_field ioapic_fields[] = {
    VMF(struct ioapic, id), VMF(struct ioapic, ioregsel), VMF(struct ioapic, levels), VMF_ARRAY(struct ioapic, redir),
    VMF_END_OF_LIST,
};
const struct vmstate_desc ioapic_vmstate = { .name = "ioapic", .version = 1, .fields = ioapic_fields };
