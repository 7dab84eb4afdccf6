/* PIIX3 ISA bridge: PIRQ routing of PCI interrupts and the 0xCF9 reset control register. */
#include "hw/piix3.h"

#include <string.h>

int piix3_slot_pirq(int slot, int pin)
{
    return (slot + pin - 1) & 3;
}

/* An ISA IRQ a PIRQ may be steered to (the PIIX3 decodes 3-7, 9-12, 14, 15). */
static bool pirq_target_valid(unsigned irq)
{
    return irq >= 3 && irq <= 15 && irq != 8 && irq != 13;
}

static void isa_update(struct piix3 *s)
{
    uint16_t want = 0;
    for (int p = 0; p < 4; p++) {
        uint8_t route = s->dev.config[PIIX3_PIRQRC + p];
        if (s->pirq_count[p] && !(route & 0x80) && pirq_target_valid(route & 0x0f))
            want |= (uint16_t)(1u << (route & 0x0f));
    }
    uint16_t changed = want ^ s->isa_level;
    s->isa_level = want;
    for (int irq = 0; irq < 16; irq++)
        if (changed & (1u << irq) && s->isa_irq)
            irq_set(&s->isa_irq[irq], (want >> irq) & 1);
}

void piix3_pci_set_irq(void *opaque, struct pci_device *dev, int pin, int level)
{
    struct piix3 *s = opaque;
    int p = piix3_slot_pirq(dev->devfn >> 3, pin);
    /* pci_set_irq reports changes only, so a counter per PIRQ tracks the wire-OR. */
    if (level)
        s->pirq_count[p]++;
    else if (s->pirq_count[p])
        s->pirq_count[p]--;
    isa_update(s);
}

void piix3_set_pirq_route(struct piix3 *s, int pirq, uint8_t route)
{
    if (pirq < 0 || pirq > 3)
        return;
    s->dev.config[PIIX3_PIRQRC + pirq] = route & 0x8f;
    isa_update(s);
}

static void piix3_config_write(struct pci_device *dev, unsigned offset, uint32_t value, unsigned size)
{
    (void)value;
    if (offset < PIIX3_PIRQRC + 4 && offset + size > PIIX3_PIRQRC)
        isa_update(dev->opaque);
}

static uint32_t rcr_read(void *opaque, uint16_t port, unsigned size)
{
    struct piix3 *s = opaque;
    (void)port;
    (void)size;
    return s->rcr;
}

static void rcr_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct piix3 *s = opaque;
    (void)port;
    (void)size;
    if (value & 0x04) {
        if (s->reset_request)
            s->reset_request(s->opaque, (value & 0x02) != 0);
        return;
    }
    s->rcr = (uint8_t)(value & 0x02);
}

void piix3_reset(struct piix3 *s)
{
    uint8_t *c = s->dev.config;
    pci_set_word(&c[0x04], 0x0007);   /* I/O, memory, bus master: the bridge is always on */
    pci_set_word(&c[0x06], 0x0200);   /* medium DEVSEL */
    c[0x4c] = 0x4d;                   /* IORT */
    c[0x4e] = 0x03;                   /* XBCS */
    c[0x4f] = 0x00;
    memset(&c[PIIX3_PIRQRC], 0x80, 4);
    c[0x69] = 0x02;                   /* TOM */
    c[0x6a] = 0x00;
    c[0x6b] = 0x00;
    c[0x70] = 0x80;                   /* MBIRQ0 disabled */
    c[0x76] = 0x0c;                   /* MBDMA */
    c[0x77] = 0x0c;
    c[0x78] = 0x02;                   /* PCSC */
    c[0x79] = 0x00;
    c[0x80] = 0x00;                   /* APICBASE */
    c[0x82] = 0x00;                   /* DLC */
    c[0xa0] = 0x08;                   /* SMICNTL */
    memset(&c[0xa2], 0, 0xb0 - 0xa2);
    s->rcr = 0;
    isa_update(s);
}

int piix3_init(struct piix3 *s, struct pci_bus *bus, struct io_bus *io, const struct irq_line isa_irq[16],
               void (*reset_request)(void *opaque, bool hard), void *opaque)
{
    memset(s, 0, sizeof(*s));
    s->isa_irq = isa_irq;
    s->reset_request = reset_request;
    s->opaque = opaque;
    if (pci_register_device(bus, &s->dev, PIIX3_DEVFN, "PIIX3", 0x8086, 0x7000, 0x00, 0x060100, 0x80, 0) < 0)
        return -1;
    s->dev.opaque = s;
    s->dev.config_write = piix3_config_write;
    pci_set_word(&s->dev.wmask[0x04], 0);  /* command is fixed */
    memset(&s->dev.wmask[0x40], 0xff, 0xb0 - 0x40);
    memset(&s->dev.wmask[PIIX3_PIRQRC], 0x8f, 4);
    io_register(io, 0xCF9, 1, s, rcr_read, rcr_write, IO_SIZE_1, "piix3-rcr");
    piix3_reset(s);
    return 0;
}

/* ---- saved state ---- */

static int piix3_post_load(void *opaque, char *err, size_t errlen)
{
    struct piix3 *s = opaque;
    (void)err;
    (void)errlen;
    pci_device_post_load(&s->dev);
    return 0;
}

static const struct vmstate_field piix3_fields[] = {
    VMF_STRUCT(struct piix3, dev, pci_device_vmstate), VMF(struct piix3, rcr), VMF_ARRAY(struct piix3, pirq_count),
    VMF(struct piix3, isa_level),
    VMF_END_OF_LIST,
};
const struct vmstate_desc piix3_vmstate = { .name = "PIIX3", .version = 1, .fields = piix3_fields,
                                            .post_load = piix3_post_load };
