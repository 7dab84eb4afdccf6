/* Intel 8259A PIC pair with PIIX ELCR. Behaviour follows the 8259A datasheet (Intel 231468)
 * and the PIIX3 datasheet for ELCR. */
#include "hw/pic.h"

#include <string.h>

/* IR with the highest priority among mask bits, or -1. */
static int chip_highest(const struct pic_chip *c, uint8_t mask)
{
    for (int i = 0; i < 8; i++) {
        int irq = (c->lowest_prio + 1 + i) & 7;
        if (mask & (1u << irq))
            return irq;
    }
    return -1;
}

/* Priority rank of irq (0 = highest) under the current rotation. */
static int chip_rank(const struct pic_chip *c, int irq)
{
    return (irq - c->lowest_prio - 1) & 7;
}

/* The request this chip would present on INT, or -1. */
static int chip_request(const struct pic_chip *c, bool is_master)
{
    uint8_t pending = c->irr & ~c->imr;
    int req = chip_highest(c, pending);
    if (req < 0)
        return -1;
    uint8_t in_service = c->isr;
    if (c->special_mask)
        in_service &= ~c->imr;  /* masked in-service levels don't block others */
    if (is_master && c->sfnm)
        in_service &= ~c->icw3; /* the slave itself arbitrates in fully nested mode */
    int svc = chip_highest(c, in_service);
    if (svc >= 0 && chip_rank(c, svc) <= chip_rank(c, req))
        return -1;
    return req;
}

static bool chip_is_level(const struct pic_chip *c, int irq)
{
    return c->level_icw1 || (c->elcr & (1u << irq));
}

/* Acknowledge irq on the chip as the INTA pulses do. */
static void chip_ack(struct pic_chip *c, int irq)
{
    uint8_t m = (uint8_t)(1u << irq);
    if (c->aeoi) {
        if (c->rotate_on_aeoi)
            c->lowest_prio = (uint8_t)irq;
    } else {
        c->isr |= m;
    }
    if (!chip_is_level(c, irq))
        c->irr &= ~m;
}

/* Propagate the slave's INT to master IR2 and the master's INT to the CPU. */
static void pic_update(struct pic *s)
{
    struct pic_chip *m = &s->chip[0];
    if (chip_request(&s->chip[1], false) >= 0)
        m->irr |= 4;
    else
        m->irr &= ~4;
    int level = chip_request(m, true) >= 0;
    if (level != s->intr_level) {
        s->intr_level = level;
        irq_set(&s->intr_out, level);
    }
}

void pic_set_irq(void *opaque, int irq, int level)
{
    struct pic *s = opaque;
    if (irq < 0 || irq > 15)
        return;
    struct pic_chip *c = &s->chip[irq >> 3];
    int b = irq & 7;
    uint8_t m = (uint8_t)(1u << b);
    if (chip_is_level(c, b)) {
        if (level)
            c->irr |= m;
        else
            c->irr &= ~m;
    } else if (level && !(c->input_level & m)) {
        /* Edge: latch the rising edge. A device pulsing the line keeps its request. */
        c->irr |= m;
    }
    if (level)
        c->input_level |= m;
    else
        c->input_level &= ~m;
    pic_update(s);
}

bool pic_intr_pending(const struct pic *s)
{
    return chip_request(&s->chip[0], true) >= 0;
}

int pic_pending_irq(const struct pic *s)
{
    int irq = chip_request(&s->chip[0], true);
    if (irq == 2 && !s->chip[0].single) {
        int sirq = chip_request(&s->chip[1], false);
        return sirq < 0 ? -1 : 8 + sirq;
    }
    return irq;
}

int pic_intr_ack(struct pic *s)
{
    struct pic_chip *m = &s->chip[0], *sl = &s->chip[1];
    int irq = chip_request(m, true);
    int vector;
    if (irq < 0) {
        vector = m->vector_base + 7; /* spurious IRQ7: ISR untouched */
    } else if (irq == 2 && !m->single) {
        chip_ack(m, 2);
        int sirq = chip_request(sl, false);
        if (sirq < 0) {
            vector = sl->vector_base + 7; /* spurious IRQ15 */
        } else {
            chip_ack(sl, sirq);
            vector = sl->vector_base + sirq;
        }
    } else {
        chip_ack(m, irq);
        vector = m->vector_base + irq;
    }
    log_printf(s->log, LOG_TRACE, "pic: INTA -> vector 0x%02x\n", vector);
    pic_update(s);
    return vector;
}

/* OCW3 poll command: acknowledge the highest request and report it. */
static uint8_t chip_poll(struct pic *s, int n)
{
    struct pic_chip *c = &s->chip[n];
    int irq = chip_request(c, n == 0);
    if (irq < 0)
        return 0;
    chip_ack(c, irq);
    pic_update(s);
    return (uint8_t)(0x80 | irq);
}

static void chip_init_reset(struct pic_chip *c)
{
    c->isr = 0;
    c->imr = 0;
    c->irr = 0;
    c->lowest_prio = 7;
    c->special_mask = false;
    c->read_isr = false;
    c->poll = false;
    c->aeoi = false;
    c->sfnm = false;
    c->rotate_on_aeoi = false;
}

static void chip_write_ocw2(struct pic_chip *c, uint8_t v)
{
    int cmd = v >> 5;
    int irq;
    switch (cmd) {
    case 0: /* clear rotate in AEOI */
        c->rotate_on_aeoi = false;
        break;
    case 4: /* set rotate in AEOI */
        c->rotate_on_aeoi = true;
        break;
    case 1: /* non-specific EOI */
    case 5: /* rotate on non-specific EOI */
        irq = chip_highest(c, c->isr);
        if (irq >= 0) {
            c->isr &= ~(1u << irq);
            if (cmd == 5)
                c->lowest_prio = (uint8_t)irq;
        }
        break;
    case 3: /* specific EOI */
    case 7: /* rotate on specific EOI */
        irq = v & 7;
        c->isr &= ~(1u << irq);
        if (cmd == 7)
            c->lowest_prio = (uint8_t)irq;
        break;
    case 6: /* set priority */
        c->lowest_prio = v & 7;
        break;
    default: /* 2: no operation */
        break;
    }
}

static void chip_write(struct pic *s, int n, int a0, uint8_t v)
{
    struct pic_chip *c = &s->chip[n];
    if (a0 == 0) {
        if (v & 0x10) { /* ICW1 */
            chip_init_reset(c);
            c->icw4_needed = v & 1;
            c->single = (v & 2) != 0;
            c->level_icw1 = (v & 8) != 0;
            c->init_step = 2;
            /* Level inputs that are high request again after init; edges need a new edge. */
            for (int b = 0; b < 8; b++)
                if (chip_is_level(c, b) && (c->input_level & (1u << b)))
                    c->irr |= (uint8_t)(1u << b);
            if (v & 4)
                log_printf(s->log, LOG_UNIMP, "pic%d: ICW1 call address interval ignored\n", n);
        } else if (v & 0x08) { /* OCW3 */
            if (v & 0x04)
                c->poll = true;
            if (v & 0x02)
                c->read_isr = v & 1;
            if (v & 0x40)
                c->special_mask = (v & 0x20) != 0;
        } else {
            chip_write_ocw2(c, v);
        }
    } else {
        switch (c->init_step) {
        case 2:
            c->vector_base = v & 0xf8;
            c->init_step = c->single ? (c->icw4_needed ? 4 : 0) : 3;
            break;
        case 3:
            c->icw3 = v;
            c->init_step = c->icw4_needed ? 4 : 0;
            break;
        case 4:
            c->aeoi = (v & 2) != 0;
            c->sfnm = (v & 0x10) != 0;
            if (!(v & 1))
                log_printf(s->log, LOG_UNIMP, "pic%d: ICW4 MCS-80/85 mode not supported\n", n);
            c->init_step = 0;
            break;
        default:
            c->imr = v;
            break;
        }
    }
    pic_update(s);
}

static uint8_t chip_read(struct pic *s, int n, int a0)
{
    struct pic_chip *c = &s->chip[n];
    if (c->poll) {
        c->poll = false;
        return chip_poll(s, n);
    }
    if (a0)
        return c->imr;
    return c->read_isr ? c->isr : c->irr;
}

static uint32_t pic_io_read(void *opaque, uint16_t port, unsigned size)
{
    struct pic *s = opaque;
    (void)size;
    if (port == 0x4d0 || port == 0x4d1)
        return s->chip[port & 1].elcr;
    return chip_read(s, port >= 0xa0, port & 1);
}

static void pic_io_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct pic *s = opaque;
    (void)size;
    if (port == 0x4d0 || port == 0x4d1) {
        struct pic_chip *c = &s->chip[port & 1];
        c->elcr = (uint8_t)value & c->elcr_mask;
        if ((uint8_t)value & ~c->elcr_mask)
            log_printf(s->log, LOG_GUEST_ERRORS, "pic: ELCR%d reserved bits 0x%02x\n", (port & 1) + 1,
                       (uint8_t)value & ~c->elcr_mask);
        return;
    }
    chip_write(s, port >= 0xa0, port & 1, (uint8_t)value);
}

void pic_reset(struct pic *s)
{
    for (int n = 0; n < 2; n++) {
        struct pic_chip *c = &s->chip[n];
        uint8_t levels = c->input_level;
        memset(c, 0, sizeof(*c));
        chip_init_reset(c);
        c->input_level = levels;
        c->icw3 = n == 0 ? 4 : 2;
    }
    /* PIIX3: IRQ0-2 (master) and IRQ8, IRQ13 (slave) are always edge. */
    s->chip[0].elcr_mask = 0xf8;
    s->chip[1].elcr_mask = 0xde;
    s->intr_level = 0;
    irq_set(&s->intr_out, 0);
}

void pic_init(struct pic *s, struct io_bus *io, struct irq_line intr_out, struct pcvm_log *log)
{
    memset(s, 0, sizeof(*s));
    s->intr_out = intr_out;
    s->log = log;
    pic_reset(s);
    io_register(io, 0x20, 2, s, pic_io_read, pic_io_write, IO_SIZE_1, "pic-master");
    io_register(io, 0xa0, 2, s, pic_io_read, pic_io_write, IO_SIZE_1, "pic-slave");
    io_register(io, 0x4d0, 2, s, pic_io_read, pic_io_write, IO_SIZE_1, "elcr");
}

/* ---- saved state ---- */

static const struct vmstate_field pic_chip_fields[] = {
    VMF(struct pic_chip, irr), VMF(struct pic_chip, isr), VMF(struct pic_chip, imr),
    VMF(struct pic_chip, elcr), VMF(struct pic_chip, elcr_mask), VMF(struct pic_chip, input_level),
    VMF(struct pic_chip, vector_base), VMF_MAX(struct pic_chip, lowest_prio, 7),
    VMF_MAX(struct pic_chip, init_step, 4), VMF(struct pic_chip, icw3), VMF(struct pic_chip, icw4_needed),
    VMF(struct pic_chip, single), VMF(struct pic_chip, level_icw1), VMF(struct pic_chip, aeoi),
    VMF(struct pic_chip, sfnm), VMF(struct pic_chip, rotate_on_aeoi), VMF(struct pic_chip, special_mask),
    VMF(struct pic_chip, read_isr), VMF(struct pic_chip, poll),
    VMF_END_OF_LIST,
};
static const struct vmstate_desc pic_chip_vmstate = { .name = "i8259-chip", .version = 1, .fields = pic_chip_fields };
static const struct vmstate_field pic_fields[] = {
    VMF_STRUCT_ARRAY(struct pic, chip, pic_chip_vmstate),
    VMF_MAX(struct pic, intr_level, 1),
    VMF_END_OF_LIST,
};
const struct vmstate_desc pic_vmstate = { .name = "i8259", .version = 1, .fields = pic_fields };
