/* Motorola MC146818 real-time clock and CMOS RAM at ports 0x70 (index, bit 7 = NMI disable) and
 * 0x71 (data), interrupting on IRQ8.
 *
 * The clock runs on virtual time: the guest's date is start_sec (seconds since 1970-01-01 as the
 * guest should read them, i.e. already shifted for base=localtime) at virtual time 0 of init,
 * then advances with the vclock. The board fills the CMOS configuration bytes with
 * rtc_cmos_set() or the helpers below. */
#ifndef PCVM_HW_RTC_H
#define PCVM_HW_RTC_H

#include "hw/devmodel.h"

#include <stdbool.h>
#include <stdint.h>

#include "hw/irq.h"
#include "mem/memory.h"
#include "util/log.h"
#include "util/vclock.h"

#define RTC_CMOS_SIZE 128

struct rtc {
    uint8_t cmos[RTC_CMOS_SIZE]; /* registers A-D at 0x0A-0x0D; time bytes valid while stopped */
    uint8_t index;               /* last value written to port 0x70, bits 6-0 */
    bool nmi_disabled;           /* port 0x70 bit 7 */
    int64_t base_sec;            /* guest clock seconds at virtual time base_vt */
    int64_t base_vt;             /* virtual ns where the current second started */
    int64_t periodic_index;      /* periodic period number last reported in PF */
    int irq_level;

    /* ---- host side (not guest state) ---- */
    struct vclock *clock;
    struct vtimer periodic_timer;
    struct vtimer update_timer;
    struct irq_line irq;
    struct pcvm_log *log;        /* may be NULL */
    int64_t alarm_seen_sec;      /* last second the update cycle checked for the alarm */
    void (*alarm_hook)(void *opaque);   /* an alarm interrupt (AF with AIE) happened */
    void *alarm_opaque;
};

/* Claim ports 0x70-0x71; the clock shows start_sec (see above); irq is IRQ8. */
void rtc_init(struct rtc *s, struct io_bus *io, struct vclock *clock, struct irq_line irq,
              int64_t start_sec, struct pcvm_log *log);
/* Reset as the RESET pin does: clears PIE/AIE/UIE/SQWE and the flags; time and RAM are kept. */
void rtc_reset(struct rtc *s);
/* Parse an -rtc base= value ("utc", "localtime", "2006-06-17T16:01:21", "2006-06-17") into guest
 * seconds, given the host's realtime clock in ns. Returns 0, or -1 for a malformed value. */
int rtc_parse_base(const char *spec, int64_t host_realtime_ns, int64_t *start_sec);
/* hook(opaque) runs whenever the alarm sets AF while AIE is on (S3 wake-up). */
void rtc_set_alarm_hook(struct rtc *s, void (*hook)(void *opaque), void *opaque);
/* Set a CMOS byte (idx 0-127) for the firmware, e.g. the memory size and boot order. */
void rtc_cmos_set(struct rtc *s, unsigned idx, uint8_t val);
/* Read a CMOS byte as stored (no clock side effects). */
uint8_t rtc_cmos_get(const struct rtc *s, unsigned idx);
/* Fill the memory-size bytes: 0x15-0x18, 0x30-0x31, 0x34-0x35 and 0x5b-0x5d. */
void rtc_cmos_set_memory(struct rtc *s, uint64_t ram_below_4g, uint64_t ram_above_4g);
/* Fill boot order bytes 0x3d/0x38 from a QEMU-style "-boot order=" string ("cdn": a floppy,
 * c disk, d CD-ROM, n network); the first three devices count. Returns -1 for a bad letter. */
int rtc_cmos_set_boot_order(struct rtc *s, const char *order, bool floppy_sig_check);
/* Recompute the standard checksum of 0x10-0x2d into 0x2e (msb) and 0x2f (lsb). */
void rtc_cmos_update_checksum(struct rtc *s);
/* True when port 0x70 bit 7 masks NMI. */
bool rtc_nmi_disabled(const struct rtc *s);
/* Current guest clock in seconds since the epoch (what the registers show). */
int64_t rtc_get_seconds(struct rtc *s);

/* Saved state (device model). */
extern const struct vmstate_desc rtc_vmstate;
#endif
