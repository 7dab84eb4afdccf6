/* The run loop. */
#include "machine/runloop.h"

#include <string.h>

/* Longest slice (both modes): host events (serial input, sockets) wait at most this much
 * virtual time, and so does a timer armed during a slice if the cut below is not taken. */
#define SLICE_NS_MAX RUNLOOP_SLICE_NS_MAX
/* How far virtual time may run past the end of a slice (host-clock mode): beyond it a host
 * stall (pcvm descheduled on a loaded host) pauses the guest's time instead of jumping it over
 * timer periods, as QEMU's lost_tick_policy=delay does.  A jump over PIT or APIC periods loses
 * those ticks (IRQ0 edges between two slices merge in the PIC; a late periodic APIC timer
 * skips to the present): Linux's check_timer() then counted too few ticks and panicked
 * "IO-APIC + timer doesn't work", its TSC and APIC calibrations failed, and its clocksource
 * watchdog found the TSC "unstable" against jiffies.  Below the shortest common tick (1 ms). */
#define STALL_SLACK_NS RUNLOOP_STALL_SLACK_NS
/* The time held back is handed back so the guest's clock keeps the host's: while vCPUs run, at
 * most this much more per slice (with the slice and the slack, a jump of at most 4 ms: one
 * period of a HZ=250 tick, so no tick is lost)... */
#define CATCH_UP_BUSY_NS RUNLOOP_CATCH_UP_BUSY_NS
/* A guest with no periodic tick armed (Linux once its local APIC timer runs one-shot) loses
 * nothing to a jump: after a slice that did not stall it gets up to this much, so its date
 * (kvm-clock, TSC) is right again soon after a stall instead of lagging by every stall of a
 * busy boot (the ACPI PM timer, a clocksource watchdog, wraps only every 4.7 s)... */
#define CATCH_UP_TICKLESS_NS RUNLOOP_CATCH_UP_TICKLESS_NS
/* ...and before each idle sleep at most this much at once (far below the jumps Linux calls an
 * RCU stall, 21 s). */
#define CATCH_UP_IDLE_NS RUNLOOP_CATCH_UP_IDLE_NS
/* A vCPU whose spin loop failed this many lock attempts (or PAUSEs) in a row ends its turn:
 * the lock's holder, waiting for its own turn, cannot let go of it before (cpu.h's spin). */
#define SPIN_HANDOFF_AFTER 16

/* A timer was armed before the end of the running slice: stop the vCPUs early, so that a
 * deadline set by the guest (PIT count, APIC TMICT) is not served late.  Under -icount a slice
 * sized to a far deadline made Linux's check_timer() spin 160 ms without ever seeing the PIT
 * fire ("IO-APIC + timer doesn't work"). */
static void runloop_cut_slice(void *opaque)
{
    struct runloop *rl = opaque;
    for (unsigned i = 0; i < rl->ncpus; i++)
        cpu_request(rl->cpus[i], CPU_REQ_EXIT, 1);
}

void runloop_init(struct runloop *rl, struct cpu **cpus, unsigned ncpus, struct vclock *clock,
                  struct mainloop *ml)
{
    memset(rl, 0, sizeof(*rl));
    if (ncpus > RUNLOOP_MAX_CPUS)
        ncpus = RUNLOOP_MAX_CPUS;
    for (unsigned i = 0; i < ncpus; i++)
        rl->cpus[i] = cpus[i];
    rl->ncpus = ncpus;
    rl->clock = clock;
    rl->ml = ml;
    rl->insns_per_ms = 20000; /* first guess; measured from the first slices on */
    rl->icount_sleep = true;  /* -icount sleep=on, QEMU's default */
    rl->idle_coalesce_ns = RUNLOOP_IDLE_COALESCE_DEFAULT_NS;
    clock->slice_cut = runloop_cut_slice;
    clock->slice_cut_opaque = rl;
}

void runloop_set_paused(struct runloop *rl, bool paused)
{
    runloop_board_lock(rl, true);
    if (paused) {
        rl->paused = true;
        runloop_threads_pause(rl, true);   /* vCPU threads stop at an instruction boundary */
        vclock_set_running(rl->clock, false);
    } else {
        vclock_set_running(rl->clock, true);
        rl->paused = false;
        runloop_threads_pause(rl, false);
    }
    runloop_board_lock(rl, false);
    mainloop_wake(rl->ml);
}

/* How many instructions each vCPU may run before the next deadline. */
static uint64_t slice_budget(struct runloop *rl, int64_t now, int64_t deadline)
{
    int64_t span = deadline - now;
    if (span < 0)
        span = 0;
    if (span > SLICE_NS_MAX)
        span = SLICE_NS_MAX;
    if (rl->clock->icount) {
        /* Time follows the vCPUs' summed count: the slice's instructions are shared. */
        uint64_t n = ((uint64_t)span >> rl->clock->icount_shift) / (rl->ncpus ? rl->ncpus : 1);
        return n ? n : 1;
    }
    /* insns_per_ms is what all vCPUs ran together: a round of busy vCPUs lasts about span. */
    uint64_t n = rl->insns_per_ms * (uint64_t)span / 1000000u / (rl->ncpus ? rl->ncpus : 1);
    return n < 64 ? 64 : n;
}

/* Idle coalescing starts once the guest has only done short wake-ups (its timer tick, under
 * IDLE_WORK_INSNS instructions between two sleeps) and seen no host event for IDLE_QUIET_NS:
 * a guest doing anything, or a user typing, gets every timer on time. */
#define IDLE_QUIET_NS (2 * NS_PER_SEC)
#define IDLE_WORK_INSNS 100000

/* How long the all-halted sleep may last: to the next timer (deadline), or for deferrable timers up to
 * one coalescing period after the last idle wake-up. */
static int64_t idle_sleep_deadline(struct runloop *rl, int64_t now, int64_t deadline)
{
    if (!rl->idle_coalesce_ns || deadline == INT64_MAX || now - rl->last_activity < IDLE_QUIET_NS)
        return deadline;
    int64_t strict = vclock_next_strict_deadline(rl->clock);
    int64_t late = rl->last_idle_wake + rl->idle_coalesce_ns;
    if (deadline < late)
        deadline = late < strict ? late : strict;
    return deadline;
}

int runloop_run(struct runloop *rl)
{
    if (rl->mt)
        return runloop_run_threads(rl);
    struct mainloop *ml = rl->ml;
    while (!ml->quit) {
        vclock_catch_up(rl->clock, rl->slice_hit_limit || vclock_periodic_armed(rl->clock) ? CATCH_UP_BUSY_NS
                                                                                         : CATCH_UP_TICKLESS_NS);
        vclock_run_timers(rl->clock);
        if (rl->paused) {
            mainloop_poll(ml, -1);
            continue;
        }
        int64_t now = vclock_now(rl->clock);
        int64_t deadline = vclock_next_deadline(rl->clock);
        uint64_t budget = slice_budget(rl, now, deadline);
        int64_t span = deadline - now;
        rl->clock->slice_end = now + (span < SLICE_NS_MAX ? (span > 0 ? span : 0) : SLICE_NS_MAX);
        vclock_set_limit(rl->clock, rl->clock->slice_end + STALL_SLACK_NS);
        bool all_halted = true;
        int64_t host_start = rl->clock->icount ? 0 : host_monotonic_ns();
        uint64_t ran = 0;
        unsigned awake = 0;
        for (unsigned i = 0; i < rl->ncpus; i++)
            awake += !rl->cpus[i]->halted;
        bool spun = false;
        for (unsigned i = 0; i < rl->ncpus && !ml->quit && !rl->paused; i++) {
            struct cpu *cpu = rl->cpus[i];
            uint64_t before = cpu->insn_count;
            if (rl->before_run)
                rl->before_run(rl->opaque, cpu);
            /* Hand the turn on only when another vCPU is awake to let go of the lock. */
            cpu->spin.after = awake > (cpu->halted ? 0u : 1u) ? SPIN_HANDOFF_AFTER : 0;
            cpu->spin.spun = false;
            enum cpu_exit_reason why = cpu_run(cpu, budget);
            spun |= cpu->spin.spun;
            ran += cpu->insn_count - before;
            if (why != CPU_EXIT_HALT)
                all_halted = false;
            if ((why == CPU_EXIT_RESET || why == CPU_EXIT_DEBUG) && rl->cpu_event)
                rl->cpu_event(rl->opaque, cpu, why);
        }
        rl->clock->slice_end = INT64_MAX;
        /* The slice ran into the limit (a host stall): a vCPU that read the clock there was
         * stopped right after that read, maybe between two reads of one measurement (Linux's
         * clocksource watchdog reads kvm-clock, TSC, kvm-clock), so no big jump next. */
        rl->slice_hit_limit = !rl->clock->icount && vclock_now(rl->clock) >= rl->clock->limit;
        rl->insns_since_sleep += ran;
        for (unsigned i = 0; i < rl->ncpus; i++)
            cpu_request(rl->cpus[i], CPU_REQ_EXIT, 0);
        if (rl->after_slice)
            rl->after_slice(rl->opaque);
        if (!rl->clock->icount && ran >= 1000 && !spun) {
            /* Track speed so a slice lasts about as long as intended (not from a round a
             * spinner cut short: its fixed costs would make the next slices shorter). */
            int64_t took = host_monotonic_ns() - host_start;
            if (took > 0) {
                uint64_t ipms = ran * 1000000u / (uint64_t)took;
                rl->insns_per_ms = (rl->insns_per_ms * 3 + (ipms ? ipms : 1)) / 4;
            }
        }
        if (all_halted) {
            /* Nothing to run. First hand over what the host already has (input held by a
             * chardev is delivered while the poll set is built): a device may raise an
             * interrupt or arm a timer then, and the sleep below must not ignore that. */
            uint32_t requests[RUNLOOP_MAX_CPUS];
            for (unsigned i = 0; i < rl->ncpus; i++)
                requests[i] = rl->cpus[i]->interrupt_request;
            if (mainloop_poll(ml, 0) > 0)
                rl->last_activity = vclock_now(rl->clock);
            bool woken = ml->quit;
            for (unsigned i = 0; i < rl->ncpus; i++)
                if (rl->cpus[i]->interrupt_request & ~requests[i])
                    woken = true;
            if (woken)
                continue;
            /* Sleep until the next timer or a host event.  Idle, the guest's clock may jump:
             * hand back time held back while it ran. */
            vclock_set_limit(rl->clock, INT64_MAX);
            vclock_catch_up(rl->clock, CATCH_UP_IDLE_NS);
            deadline = vclock_next_deadline(rl->clock);
            if (rl->clock->icount) {
                if (deadline != INT64_MAX) {
                    /* sleep=on: let the idle span pass on the host too, so an idle guest
                     * costs nothing; a host event only ends the sleep early.  Time still
                     * jumps exactly to the deadline, so runs stay repeatable. */
                    now = vclock_now(rl->clock);
                    if (rl->icount_sleep && deadline > now)
                        mainloop_poll(ml, deadline - now);
                    vclock_warp(rl->clock, deadline);
                } else {
                    mainloop_poll(ml, -1);
                }
            } else {
                now = vclock_now(rl->clock);
                if (rl->insns_since_sleep > IDLE_WORK_INSNS)
                    rl->last_activity = now;
                rl->insns_since_sleep = 0;
                deadline = idle_sleep_deadline(rl, now, deadline);
                int events = mainloop_poll(ml, deadline == INT64_MAX ? -1 : (deadline > now ? deadline - now : 0));
                rl->last_idle_wake = vclock_now(rl->clock);
                if (events > 0)
                    rl->last_activity = rl->last_idle_wake;
            }
        } else {
            mainloop_poll(ml, 0);
        }
    }
    return ml->exit_status;
}
