/* Intel 8254 PIT. Counting rules from the 82C54 datasheet: mode 0 interrupt on terminal count,
 * 1 retriggerable one-shot, 2 rate generator, 3 square wave, 4/5 software/hardware strobe. */
#include "hw/pit.h"

#include <stdio.h>

#include <string.h>

/* Refresh request toggle period on port 0x61 bit 4 (PC/AT: every 15.085 us). */
#define REFRESH_TOGGLE_NS 15085
/* A next edge this far in the past is skipped: periodic output resumes from the present. */
#define CATCH_UP_LIMIT_NS (10 * 1000 * 1000)

static uint64_t ns_to_ticks(int64_t ns)
{
    if (ns <= 0)
        return 0;
    return (uint64_t)((unsigned __int128)ns * PIT_FREQ_HZ / NS_PER_SEC);
}

/* Virtual ns from tick 0 to the start of tick k (rounded up so that ns_to_ticks() gives k). */
static int64_t ticks_to_ns(uint64_t k)
{
    return (int64_t)(((unsigned __int128)k * NS_PER_SEC + PIT_FREQ_HZ - 1) / PIT_FREQ_HZ);
}

static uint32_t modulus(const struct pit_channel *c)
{
    return c->bcd ? 10000 : 65536;
}

static uint64_t chan_ticks(const struct pit_channel *c, int64_t now)
{
    if (c->frozen)
        return c->frozen_ticks;
    return ns_to_ticks(now - c->load_time);
}

/* Whether the channel is counting down from its count right now. */
static bool chan_running(const struct pit_channel *c)
{
    if (!c->loaded)
        return false;
    if ((c->mode == 1 || c->mode == 5) && !c->triggered)
        return false;
    return true;
}

/* Counter value and OUT level at time now. */
static void chan_eval(const struct pit_channel *c, int64_t now, uint32_t *counter, int *out)
{
    uint32_t n = c->count, mod = modulus(c);
    if (!chan_running(c)) {
        *counter = n % mod;
        *out = c->mode != 0; /* mode 0 OUT is low after the control word; others high */
        return;
    }
    if ((c->mode == 2 || c->mode == 3) && c->frozen) {
        *counter = n % mod;
        *out = 1;
        return;
    }
    uint64_t t = chan_ticks(c, now);
    switch (c->mode) {
    case 0:
    case 1:
        *counter = (uint32_t)((n + mod - t % mod) % mod);
        *out = t >= n;
        break;
    case 2: {
        uint64_t phase = t % n;
        *counter = (uint32_t)(n - phase) % mod;
        *out = n < 2 || phase != n - 1; /* low while the count is 1 */
        break;
    }
    case 3: {
        uint64_t phase = t % n, high = (n + 1) / 2;
        if (phase < high) {
            *counter = (uint32_t)((n & ~1u) - 2 * phase) % mod;
            *out = 1;
        } else {
            *counter = (uint32_t)((n & ~1u) - 2 * (phase - high)) % mod;
            *out = 0;
        }
        break;
    }
    default: /* 4, 5: one-clock low pulse when the count reaches zero */
        *counter = (uint32_t)((n + mod - t % mod) % mod);
        *out = t != n;
        break;
    }
}

/* Virtual time of the next OUT change strictly after now, or INT64_MAX. */
static int64_t chan_next_edge(const struct pit_channel *c, int64_t now)
{
    if (!chan_running(c) || c->frozen)
        return INT64_MAX;
    uint64_t n = c->count, t = chan_ticks(c, now), edge;
    switch (c->mode) {
    case 0:
    case 1:
        if (t >= n)
            return INT64_MAX;
        edge = n;
        break;
    case 2: {
        if (n < 2)
            return INT64_MAX;
        uint64_t base = t - t % n;
        edge = t % n < n - 1 ? base + n - 1 : base + n;
        break;
    }
    case 3: {
        uint64_t base = t - t % n, high = (n + 1) / 2;
        edge = t % n < high ? base + high : base + n;
        break;
    }
    default:
        if (t < n)
            edge = n;
        else if (t == n)
            edge = n + 1;
        else
            return INT64_MAX;
        break;
    }
    return c->load_time + ticks_to_ns(edge);
}

/* Channel 0: drive IRQ0 to OUT at time at, and arm the timer for the next edge after it (in
 * the periodic modes, after now when that edge is long past: no replay of every period). */
static void pit_irq_update(struct pit *s, int64_t at)
{
    struct pit_channel *c = &s->ch[0];
    uint32_t counter;
    int out;
    chan_eval(c, at, &counter, &out);
    if (out != c->out_level) {
        c->out_level = out;
        irq_set(&s->irq0, out);
    }
    int64_t next = chan_next_edge(c, at);
    int64_t now = vclock_now(s->clock);
    if (next != INT64_MAX && (c->mode == 2 || c->mode == 3) && now - next > CATCH_UP_LIMIT_NS)
        next = chan_next_edge(c, now);
    s->timer.periodic = c->mode == 2 || c->mode == 3;
    if (next == INT64_MAX)
        vtimer_del(&s->timer);
    else
        vtimer_mod(&s->timer, next);
}

/* Evaluate at the edge's own time, so that even a late timer delivers each edge (a mode 4
 * strobe is one clock long). */
static void pit_timer_cb(void *opaque)
{
    struct pit *s = opaque;
    pit_irq_update(s, s->timer.deadline);
}

static void chan_changed(struct pit *s, int ch)
{
    if (ch == 0)
        pit_irq_update(s, vclock_now(s->clock));
}

static uint16_t to_bcd(uint32_t v)
{
    return (uint16_t)((v % 10) | (v / 10 % 10) << 4 | (v / 100 % 10) << 8 | (v / 1000 % 10) << 12);
}

static uint32_t from_bcd(uint16_t v)
{
    return (v & 15) + ((v >> 4) & 15) * 10 + ((v >> 8) & 15) * 100 + ((v >> 12) & 15) * 1000;
}

static uint16_t chan_read_value(const struct pit_channel *c, int64_t now)
{
    uint32_t counter;
    int out;
    chan_eval(c, now, &counter, &out);
    return c->bcd ? to_bcd(counter) : (uint16_t)counter;
}

static void chan_latch_count(struct pit *s, int ch)
{
    struct pit_channel *c = &s->ch[ch];
    if (c->count_latched)
        return; /* a second latch before the first is read is ignored */
    c->latched = chan_read_value(c, vclock_now(s->clock));
    c->count_latched = true;
    c->latch_msb_next = c->rw == 2;
}

static void chan_latch_status(struct pit *s, int ch)
{
    struct pit_channel *c = &s->ch[ch];
    if (c->status_latched)
        return;
    uint32_t counter;
    int out;
    chan_eval(c, vclock_now(s->clock), &counter, &out);
    c->status = (uint8_t)((out ? 0x80 : 0) | (c->null_count ? 0x40 : 0) | c->control);
    c->status_latched = true;
}

/* A complete count was written: load it as the mode says. */
static void chan_load(struct pit *s, int ch, uint16_t raw)
{
    struct pit_channel *c = &s->ch[ch];
    uint32_t n = c->bcd ? from_bcd(raw) : raw;
    if (n == 0)
        n = modulus(c);
    int64_t now = vclock_now(s->clock);
    c->count = n;
    c->null_count = false;
    c->loaded = true;
    switch (c->mode) {
    case 1:
    case 5:
        break; /* waits for a gate trigger */
    default:
        c->load_time = now;
        c->frozen_ticks = 0;
        c->frozen = !c->gate;
        break;
    }
    chan_changed(s, ch);
}

static void chan_write(struct pit *s, int ch, uint8_t v)
{
    struct pit_channel *c = &s->ch[ch];
    switch (c->rw) {
    case 1:
        chan_load(s, ch, v);
        break;
    case 2:
        chan_load(s, ch, (uint16_t)(v << 8));
        break;
    default:
        if (!c->write_msb_next) {
            c->write_lsb = v;
            c->write_msb_next = true;
            c->null_count = true;
            if (c->mode == 0 && c->loaded) {
                /* Mode 0: the first byte stops counting and drops OUT. */
                c->loaded = false;
                chan_changed(s, ch);
            }
        } else {
            c->write_msb_next = false;
            chan_load(s, ch, (uint16_t)(c->write_lsb | v << 8));
        }
        break;
    }
}

static uint8_t chan_read(struct pit *s, int ch)
{
    struct pit_channel *c = &s->ch[ch];
    if (c->status_latched) {
        c->status_latched = false;
        return c->status;
    }
    if (c->count_latched) {
        uint8_t v;
        if (c->latch_msb_next) {
            v = (uint8_t)(c->latched >> 8);
            c->count_latched = false;
        } else {
            v = (uint8_t)c->latched;
            if (c->rw == 3)
                c->latch_msb_next = true;
            else
                c->count_latched = false;
        }
        return v;
    }
    uint16_t value = chan_read_value(c, vclock_now(s->clock));
    switch (c->rw) {
    case 1:
        return (uint8_t)value;
    case 2:
        return (uint8_t)(value >> 8);
    default:
        c->read_msb_next = !c->read_msb_next;
        return c->read_msb_next ? (uint8_t)value : (uint8_t)(value >> 8);
    }
}

static void pit_control(struct pit *s, uint8_t v)
{
    int sc = v >> 6;
    if (sc == 3) { /* read-back: bits 5/4 low select count/status, bits 1-3 the channels */
        for (int ch = 0; ch < 3; ch++) {
            if (!(v & (2 << ch)))
                continue;
            if (!(v & 0x10))
                chan_latch_status(s, ch);
            if (!(v & 0x20))
                chan_latch_count(s, ch);
        }
        return;
    }
    struct pit_channel *c = &s->ch[sc];
    int rw = (v >> 4) & 3;
    if (rw == 0) {
        chan_latch_count(s, sc);
        return;
    }
    c->control = v & 0x3f;
    c->rw = (uint8_t)rw;
    c->mode = (v >> 1) & 7;
    if (c->mode > 5)
        c->mode -= 4;
    c->bcd = v & 1;
    c->loaded = false;
    c->triggered = false;
    c->frozen = false;
    c->null_count = true;
    c->write_msb_next = false;
    c->read_msb_next = false;
    c->count_latched = false;
    c->status_latched = false;
    chan_changed(s, sc);
}

void pit_set_gate(struct pit *s, int ch, int level)
{
    if (ch < 0 || ch > 2)
        return;
    struct pit_channel *c = &s->ch[ch];
    bool g = level != 0;
    if (g == c->gate)
        return;
    int64_t now = vclock_now(s->clock);
    c->gate = g;
    switch (c->mode) {
    case 0:
    case 4:
        if (!g) {
            c->frozen_ticks = chan_ticks(c, now);
            c->frozen = true;
        } else if (c->frozen) {
            c->frozen = false;
            c->load_time = now - ticks_to_ns(c->frozen_ticks);
        }
        break;
    case 1:
    case 5:
        if (g && c->loaded) { /* rising edge (re)triggers */
            c->triggered = true;
            c->load_time = now;
        }
        break;
    default: /* 2, 3: low forces OUT high; the rising edge reloads */
        if (!g) {
            c->frozen = true;
        } else {
            c->frozen = false;
            c->load_time = now;
        }
        break;
    }
    chan_changed(s, ch);
}

int pit_get_out(struct pit *s, int ch)
{
    uint32_t counter;
    int out;
    chan_eval(&s->ch[ch], vclock_now(s->clock), &counter, &out);
    return out;
}

uint32_t pit_get_count(struct pit *s, int ch)
{
    uint32_t counter;
    int out;
    chan_eval(&s->ch[ch], vclock_now(s->clock), &counter, &out);
    return counter;
}

bool pit_speaker_active(const struct pit *s)
{
    return (s->port61 & 3) == 3 && s->ch[2].mode == 3 && s->ch[2].loaded;
}

static uint32_t pit_io_read(void *opaque, uint16_t port, unsigned size)
{
    struct pit *s = opaque;
    (void)size;
    if (port == 0x61) {
        int64_t now = vclock_now(s->clock);
        uint8_t v = s->port61 & 0x0f;
        if ((now / REFRESH_TOGGLE_NS) & 1)
            v |= 0x10;
        if (pit_get_out(s, 2))
            v |= 0x20;
        return v;
    }
    if (port == 0x43)
        return 0xff; /* the control register is write-only */
    return chan_read(s, port - 0x40);
}

static void pit_io_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct pit *s = opaque;
    (void)size;
    uint8_t v = (uint8_t)value;
    if (port == 0x61) {
        s->port61 = v & 0x0f;
        pit_set_gate(s, 2, v & 1);
        return;
    }
    if (port == 0x43)
        pit_control(s, v);
    else
        chan_write(s, port - 0x40, v);
}

void pit_reset(struct pit *s)
{
    for (int i = 0; i < 3; i++) {
        struct pit_channel *c = &s->ch[i];
        memset(c, 0, sizeof(*c));
        c->mode = 0;
        c->rw = 3;
        c->control = 0x30;
        c->count = 65536;
        c->gate = i != 2;
    }
    s->port61 = 0;
    vtimer_del(&s->timer);
    s->ch[0].out_level = 0;
    irq_set(&s->irq0, 0);
}

void pit_init(struct pit *s, struct io_bus *io, struct vclock *clock, struct irq_line irq0,
              struct pcvm_log *log)
{
    memset(s, 0, sizeof(*s));
    s->clock = clock;
    s->irq0 = irq0;
    s->log = log;
    vtimer_init(&s->timer, clock, pit_timer_cb, s);
    pit_reset(s);
    io_register(io, 0x40, 4, s, pit_io_read, pit_io_write, IO_SIZE_1, "pit");
    io_register(io, 0x61, 1, s, pit_io_read, pit_io_write, IO_SIZE_1, "port61");
}

/* ---- saved state ---- */

static const struct vmstate_field pit_channel_fields[] = {
    VMF_MAX(struct pit_channel, count, 65536), VMF(struct pit_channel, control), VMF_MAX(struct pit_channel, mode, 5),
    VMF_MAX(struct pit_channel, rw, 3), VMF(struct pit_channel, bcd), VMF(struct pit_channel, gate),
    VMF(struct pit_channel, loaded), VMF(struct pit_channel, triggered), VMF(struct pit_channel, null_count),
    VMF(struct pit_channel, write_msb_next), VMF(struct pit_channel, read_msb_next),
    VMF(struct pit_channel, write_lsb), VMF(struct pit_channel, count_latched),
    VMF(struct pit_channel, latch_msb_next), VMF(struct pit_channel, latched),
    VMF(struct pit_channel, status_latched), VMF(struct pit_channel, status), VMF(struct pit_channel, frozen),
    VMF(struct pit_channel, frozen_ticks), VMF(struct pit_channel, load_time), VMF_MAX(struct pit_channel, out_level, 1),
    VMF_END_OF_LIST,
};
static const struct vmstate_desc pit_channel_vmstate = { .name = "pit-channel", .version = 1, .fields = pit_channel_fields };

static int pit_post_load(void *opaque, char *err, size_t errlen)
{
    struct pit *s = opaque;
    for (int i = 0; i < 3; i++)
        if (s->ch[i].count == 0) {
            snprintf(err, errlen, "isa-pit: channel %d has count 0", i);
            return -1;
        }
    return 0;
}

static const struct vmstate_field pit_fields[] = {
    VMF_STRUCT_ARRAY(struct pit, ch, pit_channel_vmstate),
    VMF(struct pit, port61),
    VMF_TIMER(struct pit, timer),
    VMF_END_OF_LIST,
};
const struct vmstate_desc pit_vmstate = { .name = "isa-pit", .version = 1, .fields = pit_fields,
                                          .post_load = pit_post_load };
