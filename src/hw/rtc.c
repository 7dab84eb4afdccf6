/* MC146818 RTC/CMOS. Register layout and timing from the MC146818A datasheet: UIP is set 244 us
 * before an update cycle, which lasts 1984 us (32.768 kHz time base); update-ended and alarm
 * flags are set at the end of the cycle; periodic rates from RS3-RS0. */
#include "hw/rtc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    REG_SEC = 0x00, REG_SEC_ALARM = 0x01, REG_MIN = 0x02, REG_MIN_ALARM = 0x03,
    REG_HOUR = 0x04, REG_HOUR_ALARM = 0x05, REG_WDAY = 0x06, REG_MDAY = 0x07,
    REG_MONTH = 0x08, REG_YEAR = 0x09, REG_A = 0x0a, REG_B = 0x0b, REG_C = 0x0c, REG_D = 0x0d,
    REG_CENTURY = 0x32,
};
enum { A_UIP = 0x80, A_DV_MASK = 0x70, A_DV_NORMAL = 0x20, A_RS_MASK = 0x0f };
enum { B_SET = 0x80, B_PIE = 0x40, B_AIE = 0x20, B_UIE = 0x10, B_SQWE = 0x08, B_DM = 0x04,
       B_24H = 0x02, B_DSE = 0x01 };
enum { C_IRQF = 0x80, C_PF = 0x40, C_AF = 0x20, C_UF = 0x10 };

#define UIP_BEFORE_NS 244000
#define UPDATE_CYCLE_NS 1984000
#define RTC_TICK_HZ 32768

/* ---- calendar arithmetic (proleptic Gregorian, days since 1970-01-01) ---- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

struct civil {
    int64_t year;
    unsigned month, mday, hour, min, sec, wday; /* wday 0 = Sunday */
};

static struct civil civil_from_seconds(int64_t t)
{
    struct civil c;
    int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
    int64_t rem = t - days * 86400;
    c.hour = (unsigned)(rem / 3600);
    c.min = (unsigned)(rem / 60 % 60);
    c.sec = (unsigned)(rem % 60);
    c.wday = (unsigned)(((days % 7) + 11) % 7); /* 1970-01-01 was a Thursday */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    c.mday = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    c.month = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    c.year = yoe + era * 400 + (c.month <= 2);
    return c;
}

/* ---- register formats ---- */

static uint8_t to_bcd(unsigned v) { return (uint8_t)((v / 10 % 10) << 4 | v % 10); }
static unsigned from_bcd(uint8_t v) { return (v >> 4) * 10u + (v & 15u); }

static uint8_t fmt(const struct rtc *s, unsigned v)
{
    return (s->cmos[REG_B] & B_DM) ? (uint8_t)v : to_bcd(v);
}

static unsigned unfmt(const struct rtc *s, uint8_t v)
{
    return (s->cmos[REG_B] & B_DM) ? v : from_bcd(v);
}

static uint8_t fmt_hour(const struct rtc *s, unsigned h)
{
    if (s->cmos[REG_B] & B_24H)
        return fmt(s, h);
    unsigned h12 = h % 12 == 0 ? 12 : h % 12;
    return (uint8_t)(fmt(s, h12) | (h >= 12 ? 0x80 : 0));
}

static unsigned unfmt_hour(const struct rtc *s, uint8_t v)
{
    if (s->cmos[REG_B] & B_24H)
        return unfmt(s, v);
    unsigned h = unfmt(s, v & 0x7f) % 12;
    return h + ((v & 0x80) ? 12 : 0);
}

/* Write the broken-down time of t into the time registers. */
static void regs_from_seconds(struct rtc *s, int64_t t)
{
    struct civil c = civil_from_seconds(t);
    s->cmos[REG_SEC] = fmt(s, c.sec);
    s->cmos[REG_MIN] = fmt(s, c.min);
    s->cmos[REG_HOUR] = fmt_hour(s, c.hour);
    s->cmos[REG_WDAY] = fmt(s, c.wday + 1);
    s->cmos[REG_MDAY] = fmt(s, c.mday);
    s->cmos[REG_MONTH] = fmt(s, c.month);
    int64_t y = c.year < 0 ? 0 : c.year;
    s->cmos[REG_YEAR] = fmt(s, (unsigned)(y % 100));
    s->cmos[REG_CENTURY] = fmt(s, (unsigned)(y / 100 % 100));
}

/* Seconds since the epoch from the time registers (out-of-range fields are clamped). */
static int64_t seconds_from_regs(const struct rtc *s)
{
    unsigned sec = unfmt(s, s->cmos[REG_SEC]) % 60, min = unfmt(s, s->cmos[REG_MIN]) % 60;
    unsigned hour = unfmt_hour(s, s->cmos[REG_HOUR]) % 24;
    unsigned mday = unfmt(s, s->cmos[REG_MDAY]), month = unfmt(s, s->cmos[REG_MONTH]);
    if (mday < 1 || mday > 31)
        mday = 1;
    if (month < 1 || month > 12)
        month = 1;
    int64_t year = unfmt(s, s->cmos[REG_CENTURY]) % 100 * 100 + unfmt(s, s->cmos[REG_YEAR]) % 100;
    return days_from_civil(year, month, mday) * 86400 + hour * 3600 + min * 60 + sec;
}

/* ---- clock state ---- */

static bool divider_running(const struct rtc *s)
{
    return (s->cmos[REG_A] & A_DV_MASK) == A_DV_NORMAL;
}

/* The time registers follow the clock (otherwise they hold frozen values). */
static bool clock_running(const struct rtc *s)
{
    return divider_running(s) && !(s->cmos[REG_B] & B_SET);
}

static int64_t now_ns(const struct rtc *s)
{
    return vclock_now(s->clock);
}

static int64_t elapsed_ns(const struct rtc *s, int64_t now)
{
    return now - s->base_vt;
}

static int64_t floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

int64_t rtc_get_seconds(struct rtc *s)
{
    if (!clock_running(s))
        return seconds_from_regs(s);
    return s->base_sec + floor_div(elapsed_ns(s, now_ns(s)), NS_PER_SEC);
}

static void irq_update(struct rtc *s)
{
    uint8_t c = s->cmos[REG_C] & (C_PF | C_AF | C_UF);
    if (c & s->cmos[REG_B] & (B_PIE | B_AIE | B_UIE))
        c |= C_IRQF;
    s->cmos[REG_C] = c;
    int level = (c & C_IRQF) != 0;
    if (level != s->irq_level) {
        s->irq_level = level;
        irq_set(&s->irq, level);
    }
}

/* Periodic interrupt period in 32.768 kHz ticks, or 0 when off (RS = 0). */
static int64_t periodic_ticks(const struct rtc *s)
{
    unsigned rs = s->cmos[REG_A] & A_RS_MASK;
    if (rs == 0 || !divider_running(s))
        return 0;
    if (rs <= 2)
        rs += 7; /* RS 1 and 2 repeat rates 8 and 9 (256 and 128 Hz) */
    return (int64_t)1 << (rs - 1);
}

static int64_t periodic_index_at(int64_t now, int64_t period)
{
    if (period <= 0)
        return 0;
    int64_t ticks = (int64_t)((__int128)now * RTC_TICK_HZ / NS_PER_SEC);
    return floor_div(ticks, period);
}

static int64_t periodic_time_of(int64_t index, int64_t period)
{
    __int128 tick = (__int128)index * period;
    return (int64_t)((tick * NS_PER_SEC + RTC_TICK_HZ - 1) / RTC_TICK_HZ);
}

/* Set PF if a periodic boundary passed since it was last reported. */
static void periodic_catch_up(struct rtc *s, int64_t now)
{
    int64_t period = periodic_ticks(s);
    if (!period)
        return;
    int64_t idx = periodic_index_at(now, period);
    if (idx != s->periodic_index) {
        s->periodic_index = idx;
        s->cmos[REG_C] |= C_PF;
    }
}

static void periodic_arm(struct rtc *s)
{
    int64_t period = periodic_ticks(s);
    if (!period || !(s->cmos[REG_B] & B_PIE)) {
        vtimer_del(&s->periodic_timer);
        return;
    }
    int64_t now = now_ns(s);
    vtimer_mod(&s->periodic_timer, periodic_time_of(periodic_index_at(now, period) + 1, period));
}

static void periodic_cb(void *opaque)
{
    struct rtc *s = opaque;
    periodic_catch_up(s, now_ns(s));
    irq_update(s);
    periodic_arm(s);
}

/* Update cycles end UPDATE_CYCLE_NS after each second boundary. */
static void update_arm(struct rtc *s)
{
    if (!clock_running(s)) {
        vtimer_del(&s->update_timer);
        return;
    }
    int64_t now = now_ns(s);
    /* The next second boundary after now; its cycle ends UPDATE_CYCLE_NS later. */
    int64_t secs = floor_div(elapsed_ns(s, now), NS_PER_SEC) + 1;
    vtimer_mod(&s->update_timer, s->base_vt + secs * NS_PER_SEC + UPDATE_CYCLE_NS);
}

static bool alarm_field_matches(uint8_t alarm, uint8_t value)
{
    return alarm >= 0xc0 || alarm == value;
}

static void update_cb(void *opaque)
{
    struct rtc *s = opaque;
    if (clock_running(s)) {
        int64_t now_sec = rtc_get_seconds(s);
        /* Every second since the last update counts for the alarm: after a host stall the
         * virtual clock catches up by up to a few seconds at once, and the second the alarm
         * names must not be skipped (a skipped wake-up alarm leaves an S3 guest asleep). */
        int64_t from = s->alarm_seen_sec + 1;
        if (!s->alarm_seen_sec || from > now_sec || now_sec - from > 4)
            from = now_sec;
        s->alarm_seen_sec = now_sec;
        s->cmos[REG_C] |= C_UF;
        for (int64_t t = from; t <= now_sec; t++) {
            struct civil c = civil_from_seconds(t);
            if (alarm_field_matches(s->cmos[REG_SEC_ALARM], fmt(s, c.sec)) &&
                alarm_field_matches(s->cmos[REG_MIN_ALARM], fmt(s, c.min)) &&
                alarm_field_matches(s->cmos[REG_HOUR_ALARM], fmt_hour(s, c.hour))) {
                s->cmos[REG_C] |= C_AF;
                if ((s->cmos[REG_B] & B_AIE) && s->alarm_hook)
                    s->alarm_hook(s->alarm_opaque);   /* may wake the machine from S3 */
                break;
            }
        }
        irq_update(s);
    }
    update_arm(s);
}

/* Called around writes that may start or stop the clock. */
static void clock_transition(struct rtc *s, bool was_running, bool divider_was_running)
{
    bool running = clock_running(s);
    int64_t now = now_ns(s);
    if (was_running && !running) {
        /* Freeze: the registers keep the time of the stop. */
        int64_t sec = s->base_sec + floor_div(elapsed_ns(s, now), NS_PER_SEC);
        regs_from_seconds(s, sec);
    } else if (!was_running && running) {
        s->base_sec = seconds_from_regs(s);
        /* Leaving divider reset: the first update comes half a second later. Leaving SET: the
         * divider kept its phase, one second from now is as good as any. */
        s->base_vt = divider_was_running ? now - UPDATE_CYCLE_NS : now - NS_PER_SEC / 2;
    }
    update_arm(s);
    periodic_arm(s);
}

static bool is_time_reg(unsigned idx)
{
    return idx <= REG_YEAR || idx == REG_CENTURY;
}

static uint8_t rtc_read_reg(struct rtc *s, unsigned idx)
{
    int64_t now = now_ns(s);
    if (is_time_reg(idx)) {
        if (clock_running(s))
            regs_from_seconds(s, s->base_sec + floor_div(elapsed_ns(s, now), NS_PER_SEC));
        return s->cmos[idx];
    }
    switch (idx) {
    case REG_A: {
        uint8_t v = s->cmos[REG_A] & ~A_UIP;
        if (clock_running(s)) {
            int64_t frac = elapsed_ns(s, now) % NS_PER_SEC;
            if (frac < 0)
                frac += NS_PER_SEC;
            if (frac >= NS_PER_SEC - UIP_BEFORE_NS || frac < UPDATE_CYCLE_NS)
                v |= A_UIP;
        }
        return v;
    }
    case REG_C: {
        periodic_catch_up(s, now);
        irq_update(s);
        uint8_t v = s->cmos[REG_C];
        s->cmos[REG_C] = 0;
        irq_update(s);
        return v;
    }
    case REG_D:
        return 0x80; /* VRT: the battery is good */
    default:
        return s->cmos[idx];
    }
}

static void rtc_write_reg(struct rtc *s, unsigned idx, uint8_t v)
{
    bool was_running = clock_running(s), div_was = divider_running(s);
    int64_t now = now_ns(s);
    if (is_time_reg(idx)) {
        if (was_running) {
            int64_t el = elapsed_ns(s, now);
            regs_from_seconds(s, s->base_sec + floor_div(el, NS_PER_SEC));
            s->cmos[idx] = v;
            s->base_sec = seconds_from_regs(s);
            s->base_vt = now - (el - floor_div(el, NS_PER_SEC) * NS_PER_SEC);
            update_arm(s);
        } else {
            s->cmos[idx] = v;
        }
        return;
    }
    switch (idx) {
    case REG_A:
        s->cmos[REG_A] = v & ~A_UIP;
        if (periodic_ticks(s)) /* a new rate starts counting now */
            s->periodic_index = periodic_index_at(now, periodic_ticks(s));
        if ((v & A_DV_MASK) != A_DV_NORMAL && (v & A_DV_MASK) != 0x60 && (v & A_DV_MASK) != 0x70)
            log_printf(s->log, LOG_UNIMP, "rtc: divider 0x%x (only 32.768 kHz is emulated)\n",
                       (v & A_DV_MASK) >> 4);
        clock_transition(s, was_running, div_was);
        break;
    case REG_B:
        if (v & B_SET)
            v &= ~B_UIE; /* SET clears UIE */
        if (was_running && (v & (B_DM | B_24H)) != (s->cmos[REG_B] & (B_DM | B_24H)))
            regs_from_seconds(s, rtc_get_seconds(s));
        if (!was_running && !(v & B_SET) && (s->cmos[REG_B] & B_SET)) {
            /* Parse the frozen registers in the format they were written in. */
            int64_t sec = seconds_from_regs(s);
            s->cmos[REG_B] = v;
            regs_from_seconds(s, sec);
        }
        s->cmos[REG_B] = v;
        irq_update(s);
        clock_transition(s, was_running, div_was);
        break;
    case REG_C:
    case REG_D:
        log_printf(s->log, LOG_GUEST_ERRORS, "rtc: write 0x%02x to read-only register %u\n", v, idx);
        break;
    default:
        s->cmos[idx] = v;
        break;
    }
}

static uint32_t rtc_io_read(void *opaque, uint16_t port, unsigned size)
{
    struct rtc *s = opaque;
    (void)size;
    if (port == 0x70)
        return 0xff; /* the index register is write-only */
    return rtc_read_reg(s, s->index);
}

static void rtc_io_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct rtc *s = opaque;
    (void)size;
    if (port == 0x70) {
        s->index = value & 0x7f;
        s->nmi_disabled = (value & 0x80) != 0;
        return;
    }
    rtc_write_reg(s, s->index, (uint8_t)value);
}

void rtc_reset(struct rtc *s)
{
    s->cmos[REG_B] &= ~(B_PIE | B_AIE | B_UIE | B_SQWE);
    s->cmos[REG_C] = 0;
    irq_update(s);
    periodic_arm(s);
    update_arm(s);
}

void rtc_init(struct rtc *s, struct io_bus *io, struct vclock *clock, struct irq_line irq,
              int64_t start_sec, struct pcvm_log *log)
{
    memset(s, 0, sizeof(*s));
    s->clock = clock;
    s->irq = irq;
    s->log = log;
    vtimer_init(&s->periodic_timer, clock, periodic_cb, s);
    s->periodic_timer.periodic = true;   /* armed only while PIE asks for its interrupts */
    vtimer_init(&s->update_timer, clock, update_cb, s);
    s->cmos[REG_A] = 0x26; /* 32.768 kHz, 1024 Hz periodic rate */
    s->cmos[REG_B] = B_24H;
    s->cmos[REG_D] = 0x80;
    s->base_sec = start_sec;
    s->base_vt = vclock_now(clock);
    regs_from_seconds(s, start_sec);
    s->periodic_index = periodic_index_at(s->base_vt, periodic_ticks(s));
    rtc_reset(s);
    io_register(io, 0x70, 2, s, rtc_io_read, rtc_io_write, IO_SIZE_1, "rtc");
}

/* ---- board helpers ---- */

void rtc_set_alarm_hook(struct rtc *s, void (*hook)(void *opaque), void *opaque)
{
    s->alarm_hook = hook;
    s->alarm_opaque = opaque;
}

void rtc_cmos_set(struct rtc *s, unsigned idx, uint8_t val)
{
    if (idx < RTC_CMOS_SIZE)
        s->cmos[idx] = val;
}

uint8_t rtc_cmos_get(const struct rtc *s, unsigned idx)
{
    return idx < RTC_CMOS_SIZE ? s->cmos[idx] : 0xff;
}

static void set_word(struct rtc *s, unsigned idx, uint64_t v)
{
    if (v > 0xffff)
        v = 0xffff;
    s->cmos[idx] = (uint8_t)v;
    s->cmos[idx + 1] = (uint8_t)(v >> 8);
}

void rtc_cmos_set_memory(struct rtc *s, uint64_t ram_below_4g, uint64_t ram_above_4g)
{
    set_word(s, 0x15, 640);
    uint64_t ext_kb = ram_below_4g > (1u << 20) ? (ram_below_4g - (1u << 20)) / 1024 : 0;
    set_word(s, 0x17, ext_kb);
    set_word(s, 0x30, ext_kb);
    uint64_t above16 = ram_below_4g > (16u << 20) ? (ram_below_4g - (16u << 20)) >> 16 : 0;
    set_word(s, 0x34, above16);
    uint64_t high = ram_above_4g >> 16;
    s->cmos[0x5b] = (uint8_t)high;
    s->cmos[0x5c] = (uint8_t)(high >> 8);
    s->cmos[0x5d] = (uint8_t)(high >> 16);
}

int rtc_cmos_set_boot_order(struct rtc *s, const char *order, bool floppy_sig_check)
{
    uint8_t dev[3] = { 0, 0, 0 };
    for (unsigned i = 0; order[i]; i++) {
        uint8_t code;
        switch (order[i]) {
        case 'a': case 'b': code = 1; break;
        case 'c': code = 2; break;
        case 'd': code = 3; break;
        case 'n': code = 4; break;
        default: return -1;
        }
        if (i < 3)
            dev[i] = code;
    }
    s->cmos[0x3d] = (uint8_t)(dev[0] | dev[1] << 4);
    s->cmos[0x38] = (uint8_t)(dev[2] << 4 | (floppy_sig_check ? 0 : 1));
    return 0;
}

void rtc_cmos_update_checksum(struct rtc *s)
{
    unsigned sum = 0;
    for (unsigned i = 0x10; i <= 0x2d; i++)
        sum += s->cmos[i];
    s->cmos[0x2e] = (uint8_t)(sum >> 8);
    s->cmos[0x2f] = (uint8_t)sum;
}

bool rtc_nmi_disabled(const struct rtc *s)
{
    return s->nmi_disabled;
}

int rtc_parse_base(const char *spec, int64_t host_realtime_ns, int64_t *start_sec)
{
    int64_t host_sec = floor_div(host_realtime_ns, NS_PER_SEC);
    if (!strcmp(spec, "utc")) {
        *start_sec = host_sec;
        return 0;
    }
    if (!strcmp(spec, "localtime")) {
        time_t t = (time_t)host_sec;
        struct tm tm;
        if (!localtime_r(&t, &tm))
            return -1;
        *start_sec = host_sec + tm.tm_gmtoff;
        return 0;
    }
    int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
    if (sscanf(spec, "%d-%d-%dT%d:%d:%d%n", &y, &mo, &d, &h, &mi, &sec, &n) == 6 && !spec[n]) {
        /* full date and time */
    } else if (n = 0, sscanf(spec, "%d-%d-%d%n", &y, &mo, &d, &n) == 3 && !spec[n]) {
        h = mi = sec = 0;
    } else {
        return -1;
    }
    if (y < 1 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h < 0 || h > 23 || mi < 0 ||
        mi > 59 || sec < 0 || sec > 59)
        return -1;
    *start_sec = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec;
    return 0;
}

/* ---- saved state ---- */

static const struct vmstate_field rtc_fields[] = {
    VMF_ARRAY(struct rtc, cmos), VMF_MAX(struct rtc, index, 127), VMF(struct rtc, nmi_disabled),
    VMF(struct rtc, base_sec), VMF(struct rtc, base_vt), VMF(struct rtc, periodic_index),
    VMF_MAX(struct rtc, irq_level, 1), VMF_TIMER(struct rtc, periodic_timer), VMF_TIMER(struct rtc, update_timer),
    VMF_END_OF_LIST,
};
const struct vmstate_desc rtc_vmstate = { .name = "mc146818rtc", .version = 1, .fields = rtc_fields };
