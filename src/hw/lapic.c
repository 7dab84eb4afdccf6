/* Local APIC: priorities, EOI, LVT, timer, IPIs, and the APIC bus between the APICs. */
#include "hw/lapic.h"

#include <stdio.h>
#include <string.h>

#define LVT_MASKED (1u << 16)
#define LVT_LEVEL (1u << 15)
#define LVT_REMOTE_IRR (1u << 14)
#define SVR_ENABLE (1u << 8)
#define TIMER_PERIODIC (1u << 17)
#define TIMER_MIN_PERIOD_NS 1000   /* a guest's tiny periodic count must not stall the host */
#define ESR_SEND_ILLEGAL (1u << 5)
#define ESR_RECV_ILLEGAL (1u << 6)

/* ---- 256-bit vector sets ---- */

static void vset(uint32_t *v, unsigned n) { v[n >> 5] |= 1u << (n & 31); }
static void vclr(uint32_t *v, unsigned n) { v[n >> 5] &= ~(1u << (n & 31)); }
static bool vtest(const uint32_t *v, unsigned n) { return v[n >> 5] >> (n & 31) & 1; }

/* Highest set vector, or -1. */
static int vhighest(const uint32_t *v)
{
    for (int i = 7; i >= 0; i--)
        if (v[i])
            return i * 32 + 31 - __builtin_clz(v[i]);
    return -1;
}

static bool hw_enabled(const struct lapic *s) { return (s->apic_base & APIC_BASE_MSR_ENABLE) != 0; }
static bool sw_enabled(const struct lapic *s) { return hw_enabled(s) && (s->svr & SVR_ENABLE); }

static uint32_t ppr(const struct lapic *s)
{
    int isrv = vhighest(s->isr);
    uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0;
    return (s->tpr & 0xf0) >= isr_class ? s->tpr & 0xff : isr_class;
}

/* The PIC's INTR reaches the CPU through LINT0 in ExtINT mode, or directly when the APIC is
 * disabled in the MSR. */
static bool extint_route(const struct lapic *s)
{
    if (!hw_enabled(s))
        return true;
    uint32_t l = s->lvt[LVT_LINT0];
    return !(l & LVT_MASKED) && ((l >> 8) & 7) == APIC_DM_EXTINT;
}

static bool extint_active(const struct lapic *s)
{
    return (s->lint_level[0] && extint_route(s)) || s->extint_pending;
}

/* Highest IRR vector that beats the processor priority, or -1. */
static int deliverable(const struct lapic *s)
{
    if (!sw_enabled(s))
        return -1;
    int v = vhighest(s->irr);
    if (v < 0 || ((uint32_t)v & 0xf0) <= (ppr(s) & 0xf0))
        return -1;
    return v;
}

static void update_intr(struct lapic *s)
{
    if (!s->cpu)
        return;
    cpu_request(s->cpu, CPU_REQ_INTR, extint_active(s) || deliverable(s) >= 0);
}

static void accept_vector(struct lapic *s, uint8_t vector, bool level);

/* Record an APIC error; the error LVT, when unmasked, interrupts. */
static void apic_error(struct lapic *s, uint32_t bit)
{
    s->esr_pending |= bit;
    uint32_t l = s->lvt[LVT_ERROR];
    if (!(l & LVT_MASKED) && (uint8_t)l >= 16)
        accept_vector(s, (uint8_t)l, false);
}

/* Accept a fixed/lowest-priority interrupt into the IRR (held there while the APIC is
 * software-disabled, delivered once it is enabled). */
static void accept_vector(struct lapic *s, uint8_t vector, bool level)
{
    if (!hw_enabled(s))
        return;
    if (vector < 16) {
        apic_error(s, ESR_RECV_ILLEGAL);
        return;
    }
    vset(s->irr, vector);
    if (level)
        vset(s->tmr, vector);
    else
        vclr(s->tmr, vector);
    update_intr(s);
}

/* One APIC receives a message. */
static void accept(struct lapic *s, int mode, uint8_t vector, bool level)
{
    switch (mode) {
    case APIC_DM_FIXED:
    case APIC_DM_LOWEST:
        accept_vector(s, vector, level);
        break;
    case APIC_DM_NMI:
        if (s->cpu)
            cpu_request(s->cpu, CPU_REQ_NMI, 1);
        break;
    case APIC_DM_SMI:
        if (s->cpu)
            cpu_request(s->cpu, CPU_REQ_SMI, 1);
        break;
    case APIC_DM_INIT:
        lapic_init_reset(s);
        if (s->cpu)
            cpu_request(s->cpu, CPU_REQ_INIT, 1);
        break;
    case APIC_DM_SIPI:
        if (s->cpu) {
            s->cpu->sipi_vector = vector;
            cpu_request(s->cpu, CPU_REQ_SIPI, 1);
        }
        break;
    case APIC_DM_EXTINT:
        s->extint_pending = true;
        update_intr(s);
        break;
    default:
        break;
    }
}

static bool match_dest(const struct lapic *s, uint8_t dest, int dest_mode)
{
    if (!hw_enabled(s))
        return false;
    if (dest_mode == 0)
        return dest == 0xff || dest == s->id;
    if (dest == 0xff)
        return true;
    uint8_t logical = (uint8_t)(s->ldr >> 24);
    if ((s->dfr >> 28) == 0xf)          /* flat model */
        return (logical & dest) != 0;
    /* cluster model: high nibble cluster, low nibble member bits */
    return (logical >> 4) == (dest >> 4) && (logical & dest & 0x0f) != 0;
}

void apic_bus_deliver(struct apic_bus *bus, uint8_t dest, int dest_mode, int delivery_mode,
                      uint8_t vector, bool level)
{
    if (delivery_mode == APIC_DM_LOWEST) {
        /* Lowest priority: the addressed APIC with the lowest task priority wins. */
        struct lapic *best = NULL;
        for (unsigned i = 0; i < bus->count; i++) {
            struct lapic *s = bus->lapics[i];
            if (match_dest(s, dest, dest_mode) && sw_enabled(s) && (!best || ppr(s) < ppr(best)))
                best = s;
        }
        if (best)
            accept(best, delivery_mode, vector, level);
        return;
    }
    for (unsigned i = 0; i < bus->count; i++)
        if (match_dest(bus->lapics[i], dest, dest_mode))
            accept(bus->lapics[i], delivery_mode, vector, level);
}

void apic_bus_deliver_msi(void *opaque, uint32_t address, uint32_t data)
{
    /* Address: 0xFEE, destination ID in bits 19:12, destination mode in bit 2; data: vector in
     * bits 7:0, delivery mode in 10:8, trigger mode in bit 15 (Intel SDM 10.11). */
    if ((address >> 20) != 0xfee)
        return;
    apic_bus_deliver(opaque, (uint8_t)(address >> 12), (address >> 2) & 1, (data >> 8) & 7, (uint8_t)data,
                     (data >> 15) & 1);
}

/* ---- Timer ---- */

static int64_t timer_divisor(const struct lapic *s)
{
    unsigned v = (s->timer_dcr & 3) | ((s->timer_dcr >> 1) & 4);
    return v == 7 ? 1 : 2 << v;
}

static int64_t timer_period_ns(const struct lapic *s)
{
    return (int64_t)s->timer_initial * timer_divisor(s);
}

uint32_t lapic_timer_current(const struct lapic *s)
{
    if (!s->timer_initial)
        return 0;
    int64_t elapsed = (vclock_now(s->clock) - s->timer_start) / timer_divisor(s);
    if (elapsed < 0)
        elapsed = 0;
    if (s->lvt[LVT_TIMER] & TIMER_PERIODIC)
        return s->timer_initial - (uint32_t)(elapsed % s->timer_initial);
    return elapsed >= s->timer_initial ? 0 : s->timer_initial - (uint32_t)elapsed;
}

/* Arm the timer for the current count. pending_count: the count has not expired yet (just
 * written, or still running across a divider change), so a deadline the host clock has
 * already passed (the process was descheduled between reading the clock and here) must
 * still fire, late, rather than be taken for one that fired. */
static void timer_arm_count(struct lapic *s, bool pending_count);

static void timer_arm(struct lapic *s)
{
    timer_arm_count(s, false);
}

static void timer_arm_count(struct lapic *s, bool pending_count)
{
    if (!s->timer_initial) {
        vtimer_del(&s->timer);
        return;
    }
    int64_t period = timer_period_ns(s);
    int64_t deadline = s->timer_start + period;
    if (s->lvt[LVT_TIMER] & TIMER_PERIODIC) {
        if (period < TIMER_MIN_PERIOD_NS)
            period = TIMER_MIN_PERIOD_NS;
        int64_t now = vclock_now(s->clock);
        if (deadline <= now)
            deadline = s->timer_start + ((now - s->timer_start) / period + 1) * period;
    } else if (!pending_count && deadline <= vclock_now(s->clock) && !vtimer_pending(&s->timer)) {
        /* A one-shot that already expired has fired; nothing to arm. */
        return;
    }
    /* A one-shot deadline comes from a guest that keeps time with a clocksource and can take
     * it late; a periodic timer may be a guest's only clock, so its ticks are never late. */
    s->timer.deferrable = !(s->lvt[LVT_TIMER] & TIMER_PERIODIC);
    s->timer.periodic = !s->timer.deferrable;
    vtimer_mod(&s->timer, deadline);
}

static void timer_fire(void *opaque)
{
    struct lapic *s = opaque;
    uint32_t lvt = s->lvt[LVT_TIMER];
    if (!(lvt & LVT_MASKED))
        accept_vector(s, (uint8_t)lvt, false);
    if ((lvt & TIMER_PERIODIC) && s->timer_initial) {
        int64_t period = timer_period_ns(s);
        if (period < TIMER_MIN_PERIOD_NS)
            period = TIMER_MIN_PERIOD_NS;
        /* Stay in phase with the count: the next period starts where this one ended. */
        int64_t now = vclock_now(s->clock);
        int64_t next = s->timer.deadline + period;
        if (next <= now)
            next = now + period;
        s->timer_start = next - timer_period_ns(s);
        s->timer.deferrable = false;
        s->timer.periodic = true;
        vtimer_mod(&s->timer, next);
    }
}

/* ---- Registers ---- */

static void send_ipi(struct lapic *s)
{
    uint32_t lo = s->icr_lo;
    int mode = (lo >> 8) & 7;
    int dest_mode = (lo >> 11) & 1;
    bool level_assert = (lo >> 14) & 1;
    bool trigger_level = (lo >> 15) & 1;
    unsigned shorthand = (lo >> 18) & 3;
    uint8_t vector = (uint8_t)lo;
    uint8_t dest = (uint8_t)(s->icr_hi >> 24);

    /* INIT level de-assert only resynchronises arbitration IDs. */
    if (mode == APIC_DM_INIT && trigger_level && !level_assert)
        return;
    if ((mode == APIC_DM_FIXED || mode == APIC_DM_LOWEST) && vector < 16) {
        apic_error(s, ESR_SEND_ILLEGAL);
        return;
    }
    struct apic_bus *bus = s->bus;
    switch (shorthand) {
    case 0:
        apic_bus_deliver(bus, dest, dest_mode, mode, vector, trigger_level);
        break;
    case 1:
        accept(s, mode, vector, trigger_level);
        break;
    default:
        for (unsigned i = 0; i < bus->count; i++) {
            struct lapic *t = bus->lapics[i];
            if (shorthand == 3 && t == s)
                continue;
            if (hw_enabled(t))
                accept(t, mode == APIC_DM_LOWEST ? APIC_DM_FIXED : mode, vector, trigger_level);
        }
        break;
    }
}

static void eoi(struct lapic *s)
{
    int v = vhighest(s->isr);
    if (v < 0)
        return;
    vclr(s->isr, (unsigned)v);
    if (vtest(s->tmr, (unsigned)v)) {
        vclr(s->tmr, (unsigned)v);
        if (s->bus && s->bus->eoi)
            s->bus->eoi(s->bus->eoi_opaque, (uint8_t)v);
    }
    update_intr(s);
}

/* LINT0/1 and the other LVT entries: writable bits per entry. */
static uint32_t lvt_wmask(int n)
{
    switch (n) {
    case LVT_TIMER: return 0x000300ff;      /* vector, mask, mode (bits 18:17; 18 reserved here) */
    case LVT_LINT0:
    case LVT_LINT1: return 0x0001a7ff;      /* vector, delivery mode, polarity, trigger, mask */
    case LVT_ERROR: return 0x000100ff;
    default: return 0x000107ff;             /* thermal, perf: vector, delivery mode, mask */
    }
}

static void lint_eval(struct lapic *s, int n, bool rising)
{
    uint32_t l = s->lvt[LVT_LINT0 + n];
    if (!hw_enabled(s)) {
        /* APIC off: LINT0 is INTR, LINT1 is NMI. */
        if (n == 1 && rising && s->cpu)
            cpu_request(s->cpu, CPU_REQ_NMI, 1);
        update_intr(s);
        return;
    }
    if (l & LVT_MASKED) {
        update_intr(s);
        return;
    }
    switch ((l >> 8) & 7) {
    case APIC_DM_FIXED:
        if (rising)
            accept_vector(s, (uint8_t)l, (l & LVT_LEVEL) != 0);
        break;
    case APIC_DM_NMI:
        if (rising && s->cpu)
            cpu_request(s->cpu, CPU_REQ_NMI, 1);
        break;
    default:
        break;
    }
    update_intr(s);
}

void lapic_lint_irq(void *opaque, int n, int level)
{
    struct lapic *s = opaque;
    if (n < 0 || n > 1)
        return;
    bool rising = level && !s->lint_level[n];
    s->lint_level[n] = level ? 1 : 0;
    lint_eval(s, n, rising);
}

uint32_t lapic_read(struct lapic *s, uint32_t offset)
{
    unsigned reg = offset >> 4;
    switch (reg) {
    case 0x02: return (uint32_t)s->id << 24;
    case 0x03: return LAPIC_VERSION;
    case 0x08: return s->tpr;
    case 0x09: return 0;                      /* APR: arbitration not modelled */
    case 0x0a: return ppr(s);
    case 0x0d: return s->ldr;
    case 0x0e: return s->dfr | 0x0fffffff;
    case 0x0f: return s->svr;
    case 0x28: return s->esr;
    case 0x30: return s->icr_lo & ~(1u << 12); /* delivery is instant: always idle */
    case 0x31: return s->icr_hi;
    case 0x32: return s->lvt[LVT_TIMER];
    case 0x33: return s->lvt[LVT_THERMAL];
    case 0x34: return s->lvt[LVT_PERF];
    case 0x35: return s->lvt[LVT_LINT0];
    case 0x36: return s->lvt[LVT_LINT1];
    case 0x37: return s->lvt[LVT_ERROR];
    case 0x38: return s->timer_initial;
    case 0x39: return lapic_timer_current(s);
    case 0x3e: return s->timer_dcr;
    default:
        if (reg >= 0x10 && reg < 0x18) return s->isr[reg - 0x10];
        if (reg >= 0x18 && reg < 0x20) return s->tmr[reg - 0x18];
        if (reg >= 0x20 && reg < 0x28) return s->irr[reg - 0x20];
        return 0;
    }
}

void lapic_write(struct lapic *s, uint32_t offset, uint32_t value)
{
    unsigned reg = offset >> 4;
    switch (reg) {
    case 0x02: s->id = (uint8_t)(value >> 24); break;
    case 0x08: s->tpr = value & 0xff; update_intr(s); break;
    case 0x0b: eoi(s); break;
    case 0x0d: s->ldr = value & 0xff000000u; break;
    case 0x0e: s->dfr = value | 0x0fffffff; break;
    case 0x0f:
        s->svr = value & 0x3ff;
        if (!(s->svr & SVR_ENABLE))
            for (int i = 0; i < LVT_COUNT; i++)
                s->lvt[i] |= LVT_MASKED;
        update_intr(s);
        break;
    case 0x28: s->esr = s->esr_pending; s->esr_pending = 0; break;
    case 0x30: s->icr_lo = value & 0x000cdfff; send_ipi(s); break;
    case 0x31: s->icr_hi = value & 0xff000000u; break;
    case 0x32: case 0x33: case 0x34: case 0x35: case 0x36: case 0x37: {
        int n = (int)reg - 0x32;
        uint32_t keep = s->lvt[n] & (LVT_REMOTE_IRR | (1u << 12));
        uint32_t v = (value & lvt_wmask(n)) | keep;
        if (!(s->svr & SVR_ENABLE))
            v |= LVT_MASKED;
        bool was_periodic = n == LVT_TIMER && (s->lvt[n] & TIMER_PERIODIC);
        s->lvt[n] = v;
        if (n == LVT_TIMER && was_periodic != ((v & TIMER_PERIODIC) != 0))
            timer_arm(s);
        if (n == LVT_LINT0 || n == LVT_LINT1)
            lint_eval(s, n - LVT_LINT0, false);
        break;
    }
    case 0x38:
        s->timer_initial = value;
        s->timer_start = vclock_now(s->clock);
        vtimer_del(&s->timer);
        timer_arm_count(s, true);
        break;
    case 0x3e: {
        /* Keep the current count continuous across a divider change. */
        uint32_t cur = lapic_timer_current(s);
        s->timer_dcr = value & 0xb;
        /* A one-shot that ran out (cur 0) keeps its timer: if the run loop has not served
         * it yet, its interrupt is still due; dropping it left a guest idling forever. */
        if (s->timer_initial && cur) {
            uint32_t done = s->timer_initial - cur;
            s->timer_start = vclock_now(s->clock) - (int64_t)done * timer_divisor(s);
            vtimer_del(&s->timer);
            timer_arm_count(s, true);
        }
        break;
    }
    default:
        break;   /* read-only or reserved */
    }
}

/* ---- MMIO page and MSR ---- */

static uint32_t mmio_read(void *opaque, uint32_t offset, unsigned size)
{
    struct apic_bus *bus = opaque;
    if (bus->current >= bus->count)
        return 0;
    struct lapic *s = bus->lapics[bus->current];
    uint32_t v = lapic_read(s, offset & 0xff0);
    if (offset & 0xc)
        return 0;   /* only the first dword of each 16-byte slot is a register */
    v >>= 8 * (offset & 3);
    return size == 4 ? v : v & ((1u << (8 * size)) - 1);
}

static void mmio_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    struct apic_bus *bus = opaque;
    if (bus->current >= bus->count || size != 4 || (offset & 0xf))
        return;
    lapic_write(bus->lapics[bus->current], offset, value);
}

void apic_bus_init(struct apic_bus *bus, struct phys_mem *mem)
{
    memset(bus, 0, sizeof(*bus));
    bus->mem = mem;
    bus->mmio_base = LAPIC_DEFAULT_BASE;
    bus->mmio_index = phys_map_mmio(mem, LAPIC_DEFAULT_BASE, PHYS_PAGE_SIZE, bus, mmio_read, mmio_write, "lapic");
}

void apic_bus_set_current(struct apic_bus *bus, unsigned index)
{
    bus->current = index;
}

uint64_t lapic_get_base(const struct lapic *s)
{
    return s->apic_base;
}

void lapic_set_base(struct lapic *s, uint64_t value)
{
    bool was_enabled = hw_enabled(s);
    s->apic_base = (value & 0xfffff000ull) | (value & APIC_BASE_MSR_ENABLE) | (s->apic_base & APIC_BASE_MSR_BSP);
    if (was_enabled && !hw_enabled(s)) {
        /* Disabling in the MSR resets the APIC to its power-up state (SDM 10.4.3). */
        uint64_t keep = s->apic_base;
        lapic_init_reset(s);
        s->apic_base = keep;
    }
    struct apic_bus *bus = s->bus;
    uint32_t base = (uint32_t)(s->apic_base & 0xfffff000u);
    if (bus && bus->mmio_index >= 0 && base != bus->mmio_base) {
        bus->mmio_base = base;
        phys_remap_mmio(bus->mem, bus->mmio_index, base, PHYS_PAGE_SIZE);
    }
    update_intr(s);
}

void lapic_init_reset(struct lapic *s)
{
    s->tpr = 0;
    s->ldr = 0;
    s->dfr = 0xffffffffu;
    s->svr = 0xff;
    s->esr = s->esr_pending = 0;
    memset(s->isr, 0, sizeof(s->isr));
    memset(s->tmr, 0, sizeof(s->tmr));
    memset(s->irr, 0, sizeof(s->irr));
    s->icr_lo = s->icr_hi = 0;
    for (int i = 0; i < LVT_COUNT; i++)
        s->lvt[i] = LVT_MASKED;
    /* Virtual wire on the BSP, so the PIC reaches the CPU before the OS sets up the APIC. */
    if (s->apic_base & APIC_BASE_MSR_BSP)
        s->lvt[LVT_LINT0] = APIC_DM_EXTINT << 8;
    s->timer_initial = 0;
    s->timer_dcr = 0;
    s->timer_start = s->clock ? vclock_now(s->clock) : 0;
    s->extint_pending = false;
    if (s->timer.clock)
        vtimer_del(&s->timer);
    update_intr(s);
}

void lapic_reset(struct lapic *s)
{
    s->apic_base = LAPIC_DEFAULT_BASE | APIC_BASE_MSR_ENABLE | (s->apic_base & APIC_BASE_MSR_BSP);
    lapic_init_reset(s);
    lapic_set_base(s, s->apic_base);
}

int lapic_init(struct lapic *s, struct apic_bus *bus, struct cpu *cpu, struct vclock *clock, uint8_t id,
               bool bsp, int (*pic_ack)(void *opaque), void *pic_opaque)
{
    memset(s, 0, sizeof(*s));
    if (bus->count >= APIC_MAX_CPUS)
        return -1;
    s->cpu = cpu;
    s->bus = bus;
    s->clock = clock;
    s->pic_ack = pic_ack;
    s->pic_opaque = pic_opaque;
    s->id = id;
    s->apic_base = bsp ? APIC_BASE_MSR_BSP : 0;
    vtimer_init(&s->timer, clock, timer_fire, s);
    bus->lapics[bus->count++] = s;
    lapic_reset(s);
    return 0;
}

int lapic_intr_ack(struct lapic *s)
{
    if (extint_active(s)) {
        s->extint_pending = false;
        int v = s->pic_ack ? s->pic_ack(s->pic_opaque) : 0xff;
        update_intr(s);
        return v;
    }
    int v = deliverable(s);
    if (v < 0) {
        /* The request went away between INTR and INTA: the spurious vector. */
        update_intr(s);
        return (int)(s->svr & 0xff);
    }
    vclr(s->irr, (unsigned)v);
    vset(s->isr, (unsigned)v);
    update_intr(s);
    return v;
}

/* ---- saved state ---- */

static int lapic_post_load(void *opaque, char *err, size_t errlen)
{
    struct lapic *s = opaque;
    (void)err;
    (void)errlen;
    /* The shared MMIO page follows the base of the APIC that moved it. */
    struct apic_bus *bus = s->bus;
    uint32_t base = (uint32_t)(s->apic_base & 0xfffff000u);
    if (bus && bus->mmio_index >= 0 && base != bus->mmio_base) {
        bus->mmio_base = base;
        phys_remap_mmio(bus->mem, bus->mmio_index, base, PHYS_PAGE_SIZE);
    }
    return 0;
}

static const struct vmstate_field lapic_fields[] = {
    VMF(struct lapic, id), VMF(struct lapic, apic_base), VMF(struct lapic, tpr), VMF(struct lapic, ldr),
    VMF(struct lapic, dfr), VMF(struct lapic, svr), VMF(struct lapic, esr), VMF(struct lapic, esr_pending),
    VMF_ARRAY(struct lapic, isr), VMF_ARRAY(struct lapic, tmr), VMF_ARRAY(struct lapic, irr),
    VMF(struct lapic, icr_lo), VMF(struct lapic, icr_hi), VMF_ARRAY(struct lapic, lvt),
    VMF(struct lapic, timer_initial), VMF(struct lapic, timer_dcr), VMF(struct lapic, timer_start),
    VMF_ARRAY(struct lapic, lint_level), VMF(struct lapic, extint_pending), VMF_TIMER(struct lapic, timer),
    VMF_END_OF_LIST,
};
const struct vmstate_desc lapic_vmstate = { .name = "apic", .version = 1, .fields = lapic_fields,
                                            .post_load = lapic_post_load };
