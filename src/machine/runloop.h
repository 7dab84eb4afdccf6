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
/* The virtual clock's slice, stall slack and catch-up steps (explained in runloop.c), shared
 * by both thread modes. */
#define RUNLOOP_SLICE_NS_MAX 1000000LL
#define RUNLOOP_STALL_SLACK_NS 500000LL
#define RUNLOOP_CATCH_UP_BUSY_NS 2500000LL
#define RUNLOOP_CATCH_UP_TICKLESS_NS NS_PER_SEC
#define RUNLOOP_CATCH_UP_IDLE_NS (2 * NS_PER_SEC)
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
    bool slice_hit_limit;          /* the last slice ran into the clock's limit (see runloop.c) */
    /* A vCPU stopped for a reason the board handles (CPU_EXIT_RESET, CPU_EXIT_DEBUG). */
    void (*cpu_event)(void *opaque, struct cpu *cpu, enum cpu_exit_reason why);
    /* Called before each vCPU's slice (the board points shared per-CPU MMIO at it). */
    void (*before_run)(void *opaque, struct cpu *cpu);
    /* Called after each round of slices (the board handles reset requests here). */
    void (*after_slice)(void *opaque);
    void *opaque;
    /* -accel tcg,thread=multi: one host thread per vCPU (runloop_mt.c), NULL otherwise. */
    struct runloop_mt *mt;
};

/* Prepare the loop over the given vCPUs. */
void runloop_init(struct runloop *rl, struct cpu **cpus, unsigned ncpus, struct vclock *clock,
                  struct mainloop *ml);
/* Run until mainloop_request_exit(); returns the exit status it was given. */
int runloop_run(struct runloop *rl);
/* Stop (paused=true) or resume the vCPUs and the virtual clock. */
void runloop_set_paused(struct runloop *rl, bool paused);

/* ---- One host thread per vCPU (runloop_mt.c) ---- */

/* Switch the loop to one thread per vCPU (before runloop_run); returns 0 or -1. */
int runloop_threads_init(struct runloop *rl);
/* The main thread's loop in that mode (runloop_run calls it). */
int runloop_run_threads(struct runloop *rl);
/* Take (held=true) or release the board lock; re-entrant; no-op in the one-thread mode. */
void runloop_board_lock(struct runloop *rl, bool held);
/* Run fn with every vCPU stopped at an instruction boundary, then let them go on (reset,
 * snapshots, the debugger, A20); calls fn directly in the one-thread mode. */
void runloop_run_stopped(struct runloop *rl, void (*fn)(void *opaque), void *opaque);
/* Park every vCPU thread (paused) or let them run again (runloop_set_paused calls it). */
void runloop_threads_pause(struct runloop *rl, bool paused);
/* Host thread id (gettid) of vCPU index: its own thread's, or pcvm's pid in the one-thread
 * mode and before the thread started (monitor's info cpus, QMP query-cpus-fast). */
int runloop_cpu_thread_id(const struct runloop *rl, unsigned index);
/* The vCPU the calling thread runs; NULL on the main thread or in the one-thread mode. */
struct cpu *runloop_current_cpu(void);
/* Queue page paddr (or everything: flush_all) for cpu to invalidate before its next run. */
void runloop_queue_invalidate(struct runloop *rl, struct cpu *cpu, uint32_t paddr, bool flush_all);

#endif
