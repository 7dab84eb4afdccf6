/* The virtual clock and its timers.
 *
 * Every device's notion of time comes from here, never from the host clock
 * directly, so that -icount runs are exactly repeatable and a stopped VM's
 * time stands still.  By default virtual time follows the host's monotonic
 * clock; with -icount it is derived from the retired-instruction count.
 */
#ifndef PCVM_UTIL_VCLOCK_H
#define PCVM_UTIL_VCLOCK_H

#include <stdbool.h>
#include <stdint.h>

#define NS_PER_SEC 1000000000LL

struct vtimer;
typedef void (*vtimer_fn)(void *opaque);

struct vtimer {
    int64_t deadline;       /* virtual ns */
    vtimer_fn cb;
    void *opaque;
    struct vclock *clock;
    struct vtimer *next;    /* sorted list of armed timers */
    bool armed;
    /* May fire late while every vCPU idles (the run loop's idle coalescing): set only for
     * one-shot deadlines a guest computes from a clocksource, never for periodic ticks. */
    bool deferrable;
    /* A periodic tick the guest counts (PIT rate generator, periodic APIC timer or RTC
     * interrupt): a clock jump over its period loses ticks, so catch-up stays slow while it is
     * armed. */
    bool periodic;
};

struct vclock {
    bool icount;            /* time from instructions instead of the host */
    int icount_shift;       /* with icount: 1 instruction = 2^shift ns */
    const uint64_t *insn_counter; /* with icount: the retired-instruction count to follow */
    /* With icount and several vCPUs: every vCPU's count; time follows their sum, so it moves
     * while any vCPU works (a vCPU spinning on the clock while CPU 0 halts would otherwise
     * wait forever).  n_insn_counters == 0: insn_counter alone. */
    const uint64_t *const *insn_counters;
    unsigned n_insn_counters;
    int64_t host_base;      /* host monotonic ns when virtual time was last anchored */
    int64_t virt_base;      /* virtual ns at that anchor */
    uint64_t insn_base;     /* with icount: instruction count at that anchor */
    bool running;
    struct vtimer *timers;  /* armed timers, earliest first */
    /* The run loop's current slice ends at slice_end (INT64_MAX between slices); arming a timer before that calls
     * slice_cut so the vCPU stops early and the new deadline is met. */
    int64_t slice_end;
    void (*slice_cut)(void *opaque);
    void *slice_cut_opaque;
    /* Host-clock mode: virtual time stops at limit (INT64_MAX: none) until vclock_set_limit
     * moves it, so a host stall (pcvm descheduled) pauses the guest's time instead of making it
     * jump over periodic ticks that would then be lost.  Reading the clock at the limit during
     * a slice cuts the slice.  The host time held back is owed (behind_ns) and handed back in
     * bounded steps by vclock_catch_up, so over time the guest keeps the host's time. */
    int64_t limit;
    int64_t behind_ns;
    /* With one thread per vCPU: called instead of slice_cut when a read finds the time at the
     * limit (any thread, no lock held; limit_ns is the limit met). */
    void (*at_limit)(void *opaque, int64_t limit_ns);
    void *at_limit_opaque;
    /* Readers on vCPU threads take no lock: writers (one at a time: the single run loop, or
     * whoever holds the board lock) make seq odd while they change the anchor, limit, debt
     * and running state, and readers retry when it moved (a seqlock). */
    uint32_t seq;
};

/* Host monotonic time in ns. */
int64_t host_monotonic_ns(void);
/* Host wall-clock (realtime) in ns since the epoch. */
int64_t host_realtime_ns(void);

/* Start the clock at virtual time 0, following the host (icount=false) or insn_counter. */
void vclock_init(struct vclock *c, bool icount, int icount_shift, const uint64_t *insn_counter);
/* With icount: follow the sum of these n counters from now on (time continues from its value). */
void vclock_follow_counters(struct vclock *c, const uint64_t *const *counters, unsigned n);
/* Current virtual time in ns. */
int64_t vclock_now(const struct vclock *c);
/* Freeze (running=false) or resume virtual time, e.g. for the monitor's stop/cont. */
void vclock_set_running(struct vclock *c, bool running);
/* Make the current virtual time now_ns (restoring saved state; timers keep their deadlines). */
void vclock_restore(struct vclock *c, int64_t now_ns);
/* Host-clock mode: from now on virtual time does not pass limit_ns (INT64_MAX: no limit).  Host
 * time spent beyond the previous limit is owed first (the clock continues from that limit).
 * A limit below the current time holds the clock where it is (time never runs backward). */
void vclock_set_limit(struct vclock *c, int64_t limit_ns);
/* Host-clock mode, running: move virtual time forward by what is owed, at most max_ns. */
void vclock_catch_up(struct vclock *c, int64_t max_ns);
/* Host time owed to the guest's clock (see behind_ns); safe from any thread. */
int64_t vclock_behind_ns(const struct vclock *c);
/* With icount and every CPU halted: jump virtual time forward to target (never backward). */
void vclock_warp(struct vclock *c, int64_t target_ns);
/* Deadline of the earliest armed timer, or INT64_MAX. */
int64_t vclock_next_deadline(const struct vclock *c);
/* True when an armed timer is a periodic tick (vtimer.periodic). */
bool vclock_periodic_armed(const struct vclock *c);
/* Deadline of the earliest armed timer that is not deferrable, or INT64_MAX. */
int64_t vclock_next_strict_deadline(const struct vclock *c);
/* Run the callbacks of every timer whose deadline has passed; returns how many ran. */
int vclock_run_timers(struct vclock *c);

/* Prepare a timer (disarmed). */
void vtimer_init(struct vtimer *t, struct vclock *c, vtimer_fn cb, void *opaque);
/* Arm (or re-arm) the timer for virtual time deadline_ns. */
void vtimer_mod(struct vtimer *t, int64_t deadline_ns);
/* Disarm the timer. */
void vtimer_del(struct vtimer *t);
/* True when the timer is armed. */
static inline bool vtimer_pending(const struct vtimer *t) { return t->armed; }

#endif
