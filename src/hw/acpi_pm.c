/* PIIX4 ACPI power management: PM1 event/control, the PM timer, GPE0, SCI and S5. */
#include "hw/acpi_pm.h"

#include <string.h>

#define PMBA 0x40
#define PMREGMISC 0x80
#define DEVACTB 0x58
#define SMBBA 0x90
#define SMBHSTCFG 0xd2
#define TMR_BIT23 (1ull << 23)

static uint64_t ns_to_ticks(int64_t ns)
{
    if (ns < 0)
        ns = 0;
    return (uint64_t)((unsigned __int128)(uint64_t)ns * ACPI_PM_TIMER_HZ / NS_PER_SEC);
}

/* First virtual time at which the tick count reaches ticks. */
static int64_t ticks_to_ns(uint64_t ticks)
{
    unsigned __int128 n = (unsigned __int128)ticks * NS_PER_SEC;
    return (int64_t)((n + ACPI_PM_TIMER_HZ - 1) / ACPI_PM_TIMER_HZ);
}

uint32_t acpi_pm_timer_value(const struct acpi_pm *s)
{
    return (uint32_t)(ns_to_ticks(vclock_now(s->clock)) & 0xffffff);
}

static void sci_update(struct acpi_pm *s)
{
    bool level = (s->pm1_sts & s->pm1_en &
                  (ACPI_PM1_TMR | ACPI_PM1_GBL | ACPI_PM1_PWRBTN | ACPI_PM1_SLPBTN | ACPI_PM1_RTC)) ||
                 (s->gpe0_sts & s->gpe0_en);
    if (level == s->sci_level)
        return;
    s->sci_level = level;
    irq_set(s->sci, level);
}

/* TMR_STS is set whenever bit 23 of the counter toggles. */
static void tmr_check(struct acpi_pm *s)
{
    uint64_t now = ns_to_ticks(vclock_now(s->clock));
    if ((now >> 23) != (s->tmr_seen_ticks >> 23))
        s->pm1_sts |= ACPI_PM1_TMR;
    s->tmr_seen_ticks = now;
}

/* Only an enabled timer interrupt needs a wake-up; otherwise the status is computed on read. */
static void tmr_arm(struct acpi_pm *s)
{
    if (!(s->pm1_en & ACPI_PM1_TMR)) {
        vtimer_del(&s->tmr_timer);
        return;
    }
    uint64_t next = ((s->tmr_seen_ticks >> 23) + 1) << 23;
    vtimer_mod(&s->tmr_timer, ticks_to_ns(next));
}

static void tmr_fire(void *opaque)
{
    struct acpi_pm *s = opaque;
    tmr_check(s);
    sci_update(s);
    tmr_arm(s);
}

/* The 16-bit register half at even offset off of the PM block. */
static uint16_t pm_read16(struct acpi_pm *s, unsigned off)
{
    switch (off) {
    case 0x00: tmr_check(s); return s->pm1_sts;
    case 0x02: return s->pm1_en;
    case 0x04: return s->pm1_cnt;
    case 0x08: return (uint16_t)acpi_pm_timer_value(s);
    case 0x0a: return (uint16_t)(acpi_pm_timer_value(s) >> 16);
    case 0x0c: return s->gpe0_sts;
    case 0x0e: return s->gpe0_en;
    case 0x28: return (uint16_t)s->glbctl;
    case 0x2a: return (uint16_t)(s->glbctl >> 16);
    default: return 0;
    }
}

static uint32_t pm_read(void *opaque, uint16_t port, unsigned size)
{
    struct acpi_pm *s = opaque;
    unsigned off = (unsigned)(port - s->io_base);
    if (size == 4) {
        if ((off & ~3u) == 0x08)
            return acpi_pm_timer_value(s);   /* one sample for all 32 bits */
        return pm_read16(s, off & ~1u) | (uint32_t)pm_read16(s, (off & ~1u) + 2) << 16;
    }
    if (size == 2 && !(off & 1))
        return pm_read16(s, off);
    return (pm_read16(s, off & ~1u) >> (8 * (off & 1))) & 0xff;
}

static void pm1_cnt_write(struct acpi_pm *s, uint16_t v)
{
    if (v & ACPI_PM1_CNT_SLP_EN) {
        unsigned typ = (v >> ACPI_PM1_CNT_SLP_TYP_SHIFT) & 7;
        if (typ == 0 && s->power_off)
            s->power_off(s->opaque);
        else if (typ == ACPI_PM_SLP_TYP_S3 && s->suspend)
            s->suspend(s->opaque);
        else if (typ == ACPI_PM_SLP_TYP_S4 && (s->suspend_disk || s->power_off))
            (s->suspend_disk ? s->suspend_disk : s->power_off)(s->opaque);
        /* Other values are no sleep state the DSDT offers: the write only stores SLP_TYP. */
    }
    s->pm1_cnt = v & (uint16_t)~ACPI_PM1_CNT_SLP_EN;
}

static void pm_write16(struct acpi_pm *s, unsigned off, uint16_t v, uint16_t mask)
{
    switch (off) {
    case 0x00:
        tmr_check(s);
        s->pm1_sts &= (uint16_t)~(v & mask);   /* write 1 to clear */
        break;
    case 0x02:
        tmr_check(s);
        s->pm1_en = (uint16_t)((s->pm1_en & ~mask) | (v & mask));
        tmr_arm(s);
        break;
    case 0x04:
        pm1_cnt_write(s, (uint16_t)((s->pm1_cnt & ~mask) | (v & mask)));
        break;
    case 0x0c:
        s->gpe0_sts &= (uint16_t)~(v & mask);
        break;
    case 0x0e:
        s->gpe0_en = (uint16_t)((s->gpe0_en & ~mask) | (v & mask));
        break;
    case 0x28:
        s->glbctl = (s->glbctl & ~(uint32_t)mask) | (v & mask);
        break;
    case 0x2a:
        s->glbctl = (s->glbctl & ~((uint32_t)mask << 16)) | (uint32_t)(v & mask) << 16;
        break;
    default:
        break;
    }
    sci_update(s);
}

static void pm_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct acpi_pm *s = opaque;
    unsigned off = (unsigned)(port - s->io_base);
    if (size == 4) {
        pm_write16(s, off & ~1u, (uint16_t)value, 0xffff);
        pm_write16(s, (off & ~1u) + 2, (uint16_t)(value >> 16), 0xffff);
    } else if (size == 2 && !(off & 1)) {
        pm_write16(s, off, (uint16_t)value, 0xffff);
    } else {
        unsigned shift = 8 * (off & 1);
        pm_write16(s, off & ~1u, (uint16_t)((value & 0xff) << shift), (uint16_t)(0xff << shift));
    }
}

static void io_update(struct acpi_pm *s)
{
    uint16_t base = 0;
    if (s->dev.config[PMREGMISC] & 1)
        base = pci_get_word(&s->dev.config[PMBA]) & 0xffc0;
    if (base == s->io_base)
        return;
    s->io_base = base;
    if (s->io_handle < 0) {
        if (base)
            s->io_handle = io_register(s->dev.bus->io, base, ACPI_PM_IO_LEN, s, pm_read, pm_write,
                                       IO_SIZE_ALL, "acpi-pm");
    } else {
        io_remap(s->dev.bus->io, s->io_handle, base, base ? ACPI_PM_IO_LEN : 0);
    }
}

static void pm_config_write(struct pci_device *dev, unsigned offset, uint32_t value, unsigned size)
{
    (void)value;
    if ((offset < PMBA + 4 && offset + size > PMBA) || (offset <= PMREGMISC && offset + size > PMREGMISC))
        io_update(dev->opaque);
}

static uint32_t apm_read(void *opaque, uint16_t port, unsigned size)
{
    struct acpi_pm *s = opaque;
    (void)size;
    return port == 0xb2 ? s->apm_cnt : s->apm_sts;
}

static void apm_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct acpi_pm *s = opaque;
    (void)size;
    if (port == 0xb3) {
        s->apm_sts = (uint8_t)value;
        return;
    }
    s->apm_cnt = (uint8_t)value;
    if (value == ACPI_PM_ACPI_ENABLE)
        s->pm1_cnt |= ACPI_PM1_CNT_SCI_EN;
    else if (value == ACPI_PM_ACPI_DISABLE)
        s->pm1_cnt &= (uint16_t)~ACPI_PM1_CNT_SCI_EN;
}

void acpi_pm_reset(struct acpi_pm *s)
{
    uint8_t *c = s->dev.config;
    pci_set_long(&c[PMBA], 0x00000001);      /* I/O space indicator */
    c[PMREGMISC] = 0;
    pci_set_long(&c[SMBBA], 0x00000001);
    c[SMBHSTCFG] = 0;
    pci_set_long(&c[DEVACTB], 0x02000000);   /* APMC_EN: "SMM already set up" */
    s->pm1_sts = s->pm1_en = s->pm1_cnt = 0;
    s->gpe0_sts = s->gpe0_en = 0;
    s->glbctl = 0;
    s->apm_cnt = s->apm_sts = 0;
    s->tmr_seen_ticks = ns_to_ticks(vclock_now(s->clock));
    vtimer_del(&s->tmr_timer);
    io_update(s);
    sci_update(s);
}

int acpi_pm_init(struct acpi_pm *s, struct pci_bus *bus, struct io_bus *io, struct vclock *clock,
                 const struct irq_line *sci, void (*power_off)(void *opaque), void *opaque)
{
    memset(s, 0, sizeof(*s));
    s->io_handle = -1;
    s->clock = clock;
    s->sci = sci;
    s->power_off = power_off;
    s->opaque = opaque;
    vtimer_init(&s->tmr_timer, clock, tmr_fire, s);
    if (pci_register_device(bus, &s->dev, ACPI_PM_DEVFN, "PIIX4-PM", 0x8086, 0x7113, 0x03, 0x068000,
                            0x00, 1) < 0)
        return -1;
    s->dev.opaque = s;
    s->dev.config_write = pm_config_write;
    s->dev.config[0x3c] = 9;
    pci_set_word(&s->dev.wmask[PMBA], 0xffc0);
    s->dev.wmask[PMREGMISC] = 0x01;
    pci_set_long(&s->dev.wmask[DEVACTB], 0xffffffff);
    pci_set_word(&s->dev.wmask[SMBBA], 0xfff0);
    s->dev.wmask[SMBHSTCFG] = 0xff;
    io_register(io, 0xb2, 2, s, apm_read, apm_write, IO_SIZE_1, "apm");
    acpi_pm_reset(s);
    return 0;
}

uint16_t acpi_pm_programmed_base(const struct acpi_pm *s)
{
    return pci_get_word(&s->dev.config[PMBA]) & 0xffc0;
}

void acpi_pm_set_base(struct acpi_pm *s, uint16_t base)
{
    pci_set_word(&s->dev.config[PMBA], (uint16_t)((base & 0xffc0) | 1));
    s->dev.config[PMREGMISC] |= 1;
    io_update(s);
}

void acpi_pm_power_button(struct acpi_pm *s)
{
    s->pm1_sts |= ACPI_PM1_PWRBTN;
    sci_update(s);
}

void acpi_pm_set_suspend(struct acpi_pm *s, void (*suspend)(void *opaque))
{
    s->suspend = suspend;
}

void acpi_pm_set_suspend_disk(struct acpi_pm *s, void (*suspend_disk)(void *opaque))
{
    s->suspend_disk = suspend_disk;
}

void acpi_pm_woken(struct acpi_pm *s, uint16_t why)
{
    s->pm1_sts |= (uint16_t)(ACPI_PM1_WAK | (why & (ACPI_PM1_RTC | ACPI_PM1_PWRBTN)));
    sci_update(s);
}

bool acpi_pm_rtc_wake_enabled(const struct acpi_pm *s)
{
    return (s->pm1_en & ACPI_PM1_RTC) != 0;
}

void acpi_pm_raise_gpe(struct acpi_pm *s, unsigned n)
{
    if (n >= 16)
        return;
    s->gpe0_sts |= (uint16_t)(1u << n);
    sci_update(s);
}

/* ---- saved state ---- */

static int acpi_pm_post_load(void *opaque, char *err, size_t errlen)
{
    struct acpi_pm *s = opaque;
    (void)err;
    (void)errlen;
    pci_device_post_load(&s->dev);
    return 0;
}

static const struct vmstate_field acpi_pm_fields[] = {
    VMF_STRUCT(struct acpi_pm, dev, pci_device_vmstate), VMF(struct acpi_pm, pm1_sts), VMF(struct acpi_pm, pm1_en),
    VMF(struct acpi_pm, pm1_cnt), VMF(struct acpi_pm, gpe0_sts), VMF(struct acpi_pm, gpe0_en),
    VMF(struct acpi_pm, glbctl), VMF(struct acpi_pm, apm_cnt), VMF(struct acpi_pm, apm_sts),
    VMF(struct acpi_pm, tmr_seen_ticks), VMF(struct acpi_pm, sci_level), VMF_TIMER(struct acpi_pm, tmr_timer),
    VMF_END_OF_LIST,
};
const struct vmstate_desc acpi_pm_vmstate = { .name = "PIIX4_PM", .version = 1, .fields = acpi_pm_fields,
                                              .post_load = acpi_pm_post_load };
