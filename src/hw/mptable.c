/* MP specification 1.4 floating pointer and configuration table. */
#include "hw/mptable.h"

#include <stdlib.h>
#include <string.h>

enum { MP_PROC = 0, MP_BUS = 1, MP_IOAPIC = 2, MP_IOINT = 3, MP_LINT = 4 };
enum { MP_INT = 0, MP_NMI = 1, MP_EXTINT = 3 };
#define PCI_BUS_ID 0
#define ISA_BUS_ID 1

static void le(uint8_t *p, uint32_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint8_t checksum(const uint8_t *p, uint32_t n)
{
    uint8_t s = 0;
    for (uint32_t i = 0; i < n; i++)
        s = (uint8_t)(s + p[i]);
    return (uint8_t)-s;
}

void mptable_config_pc_defaults(struct mptable_config *cfg, unsigned cpus)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->cpus = cpus;
    cfg->lapic_addr = 0xfee00000;
    cfg->ioapic_addr = 0xfec00000;
    cfg->ioapic_id = (uint8_t)cpus;
    cfg->pirq_irq[0] = cfg->pirq_irq[1] = 10;
    cfg->pirq_irq[2] = cfg->pirq_irq[3] = 11;
    cfg->pci_slots = 0xfffffffeu;
}

/* cfg with its zero fields replaced by the defaults. */
static struct mptable_config effective(const struct mptable_config *in)
{
    struct mptable_config c = *in;
    if (!c.lapic_addr)
        c.lapic_addr = 0xfee00000;
    if (!c.ioapic_addr)
        c.ioapic_addr = 0xfec00000;
    if (!(c.pirq_irq[0] | c.pirq_irq[1] | c.pirq_irq[2] | c.pirq_irq[3])) {
        c.pirq_irq[0] = c.pirq_irq[1] = 10;
        c.pirq_irq[2] = c.pirq_irq[3] = 11;
    }
    if (!c.pci_slots)
        c.pci_slots = 0xfffffffeu;
    return c;
}

static unsigned count_pci_ints(const struct mptable_config *cfg)
{
    return 4u * (unsigned)__builtin_popcount(cfg->pci_slots & ~1u);
}

uint32_t mptable_size(const struct mptable_config *in)
{
    struct mptable_config c = effective(in);
    const struct mptable_config *cfg = &c;
    unsigned entries8 = 2 /* buses */ + 1 /* ioapic */ + 15 /* ISA */ + count_pci_ints(cfg) + 2 /* LINT */;
    return 16 + 44 + 20 * cfg->cpus + 8 * entries8;
}

static uint8_t *ioint(uint8_t *p, uint8_t type, uint16_t flags, uint8_t bus, uint8_t bus_irq, uint8_t apic,
                      uint8_t pin, uint8_t kind)
{
    p[0] = kind;
    p[1] = type;
    le(p + 2, flags, 2);
    p[4] = bus;
    p[5] = bus_irq;
    p[6] = apic;
    p[7] = pin;
    return p + 8;
}

uint32_t mptable_write(struct phys_mem *mem, const struct mptable_config *in, uint32_t addr)
{
    struct mptable_config c = effective(in);
    const struct mptable_config *cfg = &c;
    if (!cfg->cpus || cfg->cpus > 255 || (addr & 15))
        return 0;
    uint32_t size = mptable_size(cfg);
    uint8_t *t = calloc(1, size);
    if (!t)
        return 0;
    uint8_t *fp = t, *ct = t + 16, *p = ct + 44;
    uint16_t count = 0;

    for (unsigned i = 0; i < cfg->cpus; i++, count++) {
        p[0] = MP_PROC;
        p[1] = cfg->apic_ids ? cfg->apic_ids[i] : (uint8_t)i;
        p[2] = 0x14;                                 /* local APIC version */
        p[3] = (uint8_t)(1 | (i == 0 ? 2 : 0));      /* enabled, BSP */
        le(p + 4, cfg->cpu_signature ? cfg->cpu_signature : 0x681, 4);
        le(p + 8, cfg->cpu_features ? cfg->cpu_features : 0x0000033b, 4);
        p += 20;
    }
    static const char pci[6] = { 'P', 'C', 'I', ' ', ' ', ' ' }, isa[6] = { 'I', 'S', 'A', ' ', ' ', ' ' };
    p[0] = MP_BUS; p[1] = PCI_BUS_ID; memcpy(p + 2, pci, 6); p += 8; count++;
    p[0] = MP_BUS; p[1] = ISA_BUS_ID; memcpy(p + 2, isa, 6); p += 8; count++;
    p[0] = MP_IOAPIC; p[1] = cfg->ioapic_id; p[2] = 0x11; p[3] = 1;
    le(p + 4, cfg->ioapic_addr, 4);
    p += 8;
    count++;
    /* ISA IRQs: conforming polarity/trigger; IRQ 0 arrives on pin 2; IRQ 2 is the cascade. */
    for (unsigned irq = 0; irq < 16; irq++) {
        if (irq == 2)
            continue;
        p = ioint(p, MP_INT, 0, ISA_BUS_ID, (uint8_t)irq, cfg->ioapic_id, (uint8_t)(irq == 0 ? 2 : irq), MP_IOINT);
        count++;
    }
    /* PCI: source IRQ = slot << 2 | pin (0 = INTA); level, active low. */
    for (unsigned slot = 1; slot < 32; slot++) {
        if (!(cfg->pci_slots >> slot & 1))
            continue;
        for (unsigned pin = 0; pin < 4; pin++) {
            uint8_t irq = cfg->pirq_irq[(slot + pin - 1) & 3];
            p = ioint(p, MP_INT, 0x000f, PCI_BUS_ID, (uint8_t)(slot << 2 | pin), cfg->ioapic_id, irq, MP_IOINT);
            count++;
        }
    }
    p = ioint(p, MP_EXTINT, 0, ISA_BUS_ID, 0, 0xff, 0, MP_LINT);
    p = ioint(p, MP_NMI, 0, ISA_BUS_ID, 0, 0xff, 1, MP_LINT);
    count += 2;

    uint32_t ct_len = (uint32_t)(p - ct);
    memcpy(ct, "PCMP", 4);
    le(ct + 4, ct_len, 2);
    ct[6] = 4;                                       /* spec 1.4 */
    memcpy(ct + 8, "PCVM    ", 8);
    memcpy(ct + 16, "PC i440FX   ", 12);
    le(ct + 34, count, 2);
    le(ct + 36, cfg->lapic_addr, 4);
    ct[7] = checksum(ct, ct_len);

    memcpy(fp, "_MP_", 4);
    le(fp + 4, addr + 16, 4);
    fp[8] = 1;                                       /* length in 16-byte units */
    fp[9] = 4;
    fp[10] = checksum(fp, 16);

    phys_write_block(mem, addr, t, 16 + ct_len);
    free(t);
    return 16 + ct_len;
}
