/* The run loop: runs the vCPUs in slices between timer deadlines, services host events,
 * and sleeps when every vCPU is halted. One thread; vCPUs take turns (deterministic). */
#ifndef PCVM_MACHINE_RUNLOOP_H
#define PCVM_MACHINE_RUNLOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "cpu/cpu.h"
#include "util/mainloop.h"
#include "util/vclock.h"

#define RUNLOOP_MAX_CPUS 32
/* Default idle coalescing period (see struct runloop). */
#define RUNLOOP_IDLE_COALESCE_DEFAULT_NS (50 * 1000 * 1000LL)

struct runloop {
    struct cpu *cpus[RUNLOOP_MAX_CPUS];
    unsigned ncpus;
    struct vclock *clock;
    struct mainloop *ml;
    bool paused;              /* monitor "stop" or -S: vCPUs do not run, time stands still */
    uint64_t insns_per_ms;    /* host-clock mode: measured speed, sizes the slices */
    /* -icount: when every vCPU is halted, wait on the host until the next deadline before
     * jumping to it (sleep=on, the default) instead of jumping at once (sleep=off). */
    bool icount_sleep;
    /* Idle coalescing (host-clock mode): once the guest has done nothing but short timer
     * wake-ups for a while, deferrable timers (one-shot LAPIC deadlines) are woken for at most
     * once per idle_coalesce_ns, so a periodic-tick Linux idles at a fraction of the cost.
     * 0 turns it off (-machine idle-coalesce=0). */
    int64_t idle_coalesce_ns;
    int64_t last_activity;    /* virtual ns of the last real guest work or host event */
    int64_t last_idle_wake;   /* virtual ns the last idle sleep ended */
    uint64_t insns_since_sleep;
    /* A vCPU stopped for a reason the board handles (CPU_EXIT_RESET, CPU_EXIT_DEBUG). */
    void (*cpu_event)(void *opaque, struct cpu *cpu, enum cpu_exit_reason why);
    /* Called before each vCPU's slice (the board points shared per-CPU MMIO at it). */
    void (*before_run)(void *opaque, struct cpu *cpu);
    /* Called after each round of slices (the board handles reset requests here). */
    void (*after_slice)(void *opaque);
    void *opaque;
};

/* Prepare the loop over the given vCPUs. */
void runloop_init(struct runloop *rl, struct cpu **cpus, unsigned ncpus, struct vclock *clock,
                  struct mainloop *ml);
/* Run until mainloop_request_exit(); returns the exit status it was given. */
int runloop_run(struct runloop *rl);
/* Stop (paused=true) or resume the vCPUs and the virtual clock. */
void runloop_set_paused(struct runloop *rl, bool paused);

#endif
