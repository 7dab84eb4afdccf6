/* The run loop with one host thread per vCPU (-accel tcg,thread=multi).
 *
 * The main thread runs the timers and the host event loop; each vCPU thread runs cpu_run()
 * without any lock and takes the board lock only for port I/O, MMIO and the board's callbacks
 * (QEMU's big lock).  Anything one thread must change in another vCPU is a request the vCPU
 * acts on between two runs: a stop (pause, reset, the debugger), or pages in its invalidation
 * queue (code written by another vCPU or by DMA; a page that became code).  A halted vCPU
 * sleeps on a futex until cpu_request() wakes it.
 *
 * The virtual clock is capped as in the one-thread loop, but the cap follows every thread: time
 * passes neither the earliest timer the main thread has not served yet, nor the point where a
 * running vCPU last came out of cpu_run (its check-in), by more than a slice and the slack.  So a
 * descheduled main thread cannot let time run over timer ticks, and a descheduled vCPU thread
 * cannot come back to find time jumped over ticks it never saw (Linux's check_timer() then
 * counted too few and panicked "IO-APIC + timer doesn't work!").  A thread reading the clock at
 * the cap kicks the others out of cpu_run so they check in and the cap moves on. */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "machine/runloop.h"

/* Instructions per cpu_run() call: requests end a run early anyway. */
#define MT_BUDGET 1000000
/* Pages one vCPU's queue holds before it turns into "flush everything". */
#define MT_QUEUE_PAGES 64
/* A sleeping vCPU looks again after this long even without a wake-up (a safety net). */
#define MT_SLEEP_NS (100 * 1000 * 1000LL)
/* A vCPU not halted holds the clock at most this far past its last check-in. */
#define MT_AHEAD_NS (RUNLOOP_SLICE_NS_MAX + RUNLOOP_STALL_SLACK_NS)
/* Not checked in: halted, parked or not started. */
#define MT_IDLE INT64_MAX
/* A vCPU whose spin loop failed this many lock attempts (or PAUSEs) in a row gives its host
 * CPU away once (sched_yield): on a host with fewer free cores than vCPUs, the lock's holder
 * may be a thread waiting for one.  Far above what a lock held by a running vCPU takes. */
#define MT_SPIN_YIELD_AFTER 1024

struct mt_queue {
    pthread_mutex_t lock;
    uint32_t pages[MT_QUEUE_PAGES];
    unsigned count;
    bool flush_all;
};

struct mt_thread_arg {
    struct runloop *rl;
    struct cpu *cpu;
};

struct runloop_mt {
    pthread_mutex_t bql;          /* the board lock */
    pthread_cond_t changed;       /* parked count, stop and pause changes */
    pthread_t threads[RUNLOOP_MAX_CPUS];
    struct mt_thread_arg args[RUNLOOP_MAX_CPUS];
    unsigned started;             /* threads created */
    unsigned parked;              /* vCPU threads waiting in mt_park */
    unsigned stops;               /* stop-the-world sections in progress */
    bool quit;
    enum cpu_exit_reason event[RUNLOOP_MAX_CPUS]; /* CPU_EXIT_RESET/DEBUG for the main thread */
    bool event_pending[RUNLOOP_MAX_CPUS];
    struct mt_queue queue[RUNLOOP_MAX_CPUS];
    int tid[RUNLOOP_MAX_CPUS];    /* host thread ids, set by each thread (atomic) */
    /* Virtual ns each vCPU last entered cpu_run, MT_IDLE while it does not run (atomic). */
    int64_t checkin[RUNLOOP_MAX_CPUS];
    int64_t kicked_limit;         /* the cap the other threads were last kicked for (atomic) */
    int64_t last_catch_up;        /* virtual ns of the last busy catch-up (board lock) */
    uint64_t checkins;            /* check-ins so far (atomic) */
    uint64_t checkins_at_idle_catch_up; /* ...at the last idle catch-up (board lock) */
    struct runloop *rl;
};

/* Per thread: the vCPU this thread runs (NULL on the main thread), and how deep it holds the
 * board lock (device code may re-enter it). */
static _Thread_local struct cpu *mt_self;
static _Thread_local int mt_depth;

struct cpu *runloop_current_cpu(void) { return mt_self; }

int runloop_cpu_thread_id(const struct runloop *rl, unsigned index)
{
    int tid = rl->mt && index < RUNLOOP_MAX_CPUS ? __atomic_load_n(&rl->mt->tid[index], __ATOMIC_RELAXED) : 0;
    return tid ? tid : (int)getpid();
}

void runloop_board_lock(struct runloop *rl, bool held)
{
    if (!rl->mt)
        return;
    if (held) {
        if (mt_depth++ == 0)
            pthread_mutex_lock(&rl->mt->bql);
    } else if (mt_depth > 0 && --mt_depth == 0) {
        pthread_mutex_unlock(&rl->mt->bql);
    }
}

/* Wait on the condition with the board lock held exactly once by this thread. */
static void mt_wait(struct runloop_mt *mt)
{
    int depth = mt_depth;
    mt_depth = 0;
    pthread_cond_wait(&mt->changed, &mt->bql);
    mt_depth = depth;
}

static void mt_kick_all(struct runloop *rl)
{
    for (unsigned i = 0; i < rl->ncpus; i++)
        cpu_request(rl->cpus[i], CPU_REQ_EXIT, 1);
}

/* Every vCPU thread but the caller's is parked (or gone). */
static bool mt_all_parked(const struct runloop *rl)
{
    unsigned others = rl->mt->started - (mt_self ? 1 : 0);
    return rl->mt->parked >= others;
}

/* Move the clock's cap (board lock held): the earliest unserved timer plus the slack, and
 * every running vCPU's check-in plus a slice and the slack.  Returns the new cap. */
static int64_t mt_update_limit(struct runloop *rl)
{
    struct runloop_mt *mt = rl->mt;
    int64_t limit = vclock_next_deadline(rl->clock);
    if (limit != INT64_MAX)
        limit += RUNLOOP_STALL_SLACK_NS;
    for (unsigned i = 0; i < rl->ncpus; i++) {
        int64_t c = __atomic_load_n(&mt->checkin[i], __ATOMIC_RELAXED);
        if (c != MT_IDLE && c + MT_AHEAD_NS < limit)
            limit = c + MT_AHEAD_NS;
    }
    vclock_set_limit(rl->clock, limit);
    return __atomic_load_n(&rl->clock->limit, __ATOMIC_RELAXED);
}

/* The clock was read at its cap (any thread, no lock needed): the reader's own vCPU leaves
 * cpu_run to check in; the other vCPUs and the main thread are woken once per cap value. */
static void mt_clock_at_limit(void *opaque, int64_t limit)
{
    struct runloop *rl = opaque;
    struct runloop_mt *mt = rl->mt;
    if (mt_self)
        cpu_request(mt_self, CPU_REQ_EXIT, 1);
    if (__atomic_exchange_n(&mt->kicked_limit, limit, __ATOMIC_RELAXED) == limit)
        return;
    for (unsigned i = 0; i < rl->ncpus; i++)
        if (rl->cpus[i] != mt_self)
            cpu_request(rl->cpus[i], CPU_REQ_EXIT, 1);
    mainloop_wake(rl->ml);
}

/* A vCPU that never reads the clock or halts stays in cpu_run: kick those that checked in a
 * slice ago or more, so the cap follows the running vCPUs (main thread).  Returns when to look
 * again (virtual ns; INT64_MAX: no vCPU runs). */
static int64_t mt_kick_laggards(struct runloop *rl, int64_t now)
{
    struct runloop_mt *mt = rl->mt;
    int64_t oldest = MT_IDLE;
    for (unsigned i = 0; i < rl->ncpus; i++) {
        int64_t c = __atomic_load_n(&mt->checkin[i], __ATOMIC_RELAXED);
        if (c == MT_IDLE)
            continue;
        if (c + RUNLOOP_SLICE_NS_MAX <= now)
            cpu_request(rl->cpus[i], CPU_REQ_EXIT, 1);
        if (c < oldest)
            oldest = c;
    }
    if (oldest == MT_IDLE)
        return INT64_MAX;
    /* A kicked vCPU checks in when its thread runs: look again a little later, not at once. */
    int64_t next = oldest + RUNLOOP_SLICE_NS_MAX;
    return next < now + RUNLOOP_SLICE_NS_MAX / 4 ? now + RUNLOOP_SLICE_NS_MAX / 4 : next;
}

/* A halted vCPU that an interrupt (or INIT/SIPI) has woken holds the clock from now on, as
 * if it had checked in, until its thread runs (main thread, after the timers): a vCPU thread
 * the host has not scheduled yet must not come back to find time gone over its ticks. */
static void mt_note_woken(struct runloop *rl, int64_t now)
{
    struct runloop_mt *mt = rl->mt;
    for (unsigned i = 0; i < rl->ncpus; i++) {
        uint32_t req = __atomic_load_n(&rl->cpus[i]->interrupt_request, __ATOMIC_RELAXED);
        if (!(req & (CPU_REQ_INTR | CPU_REQ_NMI | CPU_REQ_INIT | CPU_REQ_SIPI)))
            continue;
        int64_t idle = MT_IDLE;
        __atomic_compare_exchange_n(&mt->checkin[i], &idle, now, false, __ATOMIC_RELAXED,
                                    __ATOMIC_RELAXED);
    }
}

/* Hand back the host time the cap held back (main thread, board lock held): a big step while
 * every vCPU idles, else a busy step once every running vCPU checked in after the last.  With
 * no periodic tick armed, as in the one-thread loop, the busy step is up to
 * RUNLOOP_CATCH_UP_TICKLESS_NS, and comes once every running vCPU checked in a slice after
 * the last step (each has run between two jumps, as each runs a slice between two jumps of the
 * one-thread loop), so a busy guest's date does not lag after host stalls (Linux -smp 2 busy
 * under 30/10 ms SIGSTOP stalls for 20 s: 11 s behind before).  Unlike that loop, a thread
 * meeting the cap does not hold the big step back: with threads that is routine (a
 * descheduled vCPU holds the clock), and Linux's clocksource watchdog rejects a sample a jump
 * splits (it re-reads its watchdog clock and retries). */
static void mt_catch_up(struct runloop *rl)
{
    struct runloop_mt *mt = rl->mt;
    if (vclock_behind_ns(rl->clock) <= 0)
        return;
    int64_t oldest = MT_IDLE;
    for (unsigned i = 0; i < rl->ncpus; i++) {
        int64_t c = __atomic_load_n(&mt->checkin[i], __ATOMIC_RELAXED);
        if (c < oldest)
            oldest = c;
    }
    if (oldest == MT_IDLE) {
        /* One big step per idle stretch: the next waits until some vCPU has run, so a woken
         * vCPU whose thread the host has not scheduled yet does not see several at once. */
        uint64_t n = __atomic_load_n(&mt->checkins, __ATOMIC_RELAXED);
        if (n == mt->checkins_at_idle_catch_up)
            return;
        mt->checkins_at_idle_catch_up = n;
        vclock_set_limit(rl->clock, INT64_MAX);
        vclock_catch_up(rl->clock, RUNLOOP_CATCH_UP_IDLE_NS);
    } else if (vclock_periodic_armed(rl->clock)) {
        if (oldest >= mt->last_catch_up) {
            vclock_catch_up(rl->clock, RUNLOOP_CATCH_UP_BUSY_NS);
            mt->last_catch_up = vclock_now(rl->clock);
        }
    } else if (oldest >= mt->last_catch_up + RUNLOOP_SLICE_NS_MAX) {
        vclock_catch_up(rl->clock, RUNLOOP_CATCH_UP_TICKLESS_NS);
        mt->last_catch_up = vclock_now(rl->clock);
    }
}

void runloop_run_stopped(struct runloop *rl, void (*fn)(void *opaque), void *opaque)
{
    struct runloop_mt *mt = rl->mt;
    if (!mt || !mt->started) {
        fn(opaque);
        return;
    }
    runloop_board_lock(rl, true);
    mt->stops++;
    mt_kick_all(rl);
    while (!mt_all_parked(rl)) {
        /* A vCPU waiting here runs no guest code: it counts as parked for another vCPU's
         * stop (whichever gets the lock first runs its fn, then the other). */
        if (mt_self) {
            mt->parked++;
            pthread_cond_broadcast(&mt->changed);
        }
        mt_wait(mt);
        if (mt_self)
            mt->parked--;
    }
    fn(opaque);
    mt->stops--;
    pthread_cond_broadcast(&mt->changed);
    runloop_board_lock(rl, false);
}

/* Stop every vCPU at an instruction boundary and keep them parked while paused. */
void runloop_threads_pause(struct runloop *rl, bool paused)
{
    struct runloop_mt *mt = rl->mt;
    if (!mt || !mt->started)
        return;
    runloop_board_lock(rl, true);
    if (paused) {
        mt_kick_all(rl);
        /* A vCPU pausing the machine (a guest power-off with -no-shutdown) cannot wait for
         * itself; the others park on their own. */
        if (!mt_self)
            while (!mt_all_parked(rl))
                mt_wait(mt);
    } else {
        pthread_cond_broadcast(&mt->changed);
    }
    runloop_board_lock(rl, false);
}

void runloop_queue_invalidate(struct runloop *rl, struct cpu *cpu, uint32_t paddr, bool flush_all)
{
    struct runloop_mt *mt = rl->mt;
    struct mt_queue *q = &mt->queue[cpu->index];
    pthread_mutex_lock(&q->lock);
    if (flush_all || q->count == MT_QUEUE_PAGES)
        q->flush_all = true;
    else
        q->pages[q->count++] = paddr >> 12;
    pthread_mutex_unlock(&q->lock);
    cpu_request(cpu, CPU_REQ_INVAL | CPU_REQ_EXIT, 1);
}

/* The owner drops what its queue names: traces on those pages and direct-write TLB entries
 * (a page that became code must be written through the slow path from now on). */
static void mt_drain(struct runloop *rl, struct cpu *cpu)
{
    struct mt_queue *q = &rl->mt->queue[cpu->index];
    uint32_t pages[MT_QUEUE_PAGES];
    pthread_mutex_lock(&q->lock);
    cpu_request(cpu, CPU_REQ_INVAL, 0);
    bool flush = q->flush_all;
    unsigned n = q->count;
    memcpy(pages, q->pages, n * sizeof(pages[0]));
    q->count = 0;
    q->flush_all = false;
    pthread_mutex_unlock(&q->lock);
    if (flush) {
        cpu_tlb_flush(cpu);
        cpu_flush_traces(cpu);
        return;
    }
    for (unsigned k = 0; k < n; k++) {
        cpu_tlb_protect_code(cpu, pages[k] << 12);
        cpu_code_written(cpu, pages[k] << 12, 4096);
        /* No trace of this vCPU is left on the page: writers need not queue it again. */
        phys_code_cpu_set(cpu->mem, pages[k], (unsigned)cpu->index, false);
    }
}

struct mt_exclusive {
    struct runloop *rl;
    struct cpu *cpu;
    enum cpu_exit_reason why;
};

/* With every other vCPU stopped: run the instruction whose LOCKed operand no host atomic
 * covers (cpu->lk.want_exclusive) as plain accesses, like QEMU's start_exclusive.  Not while
 * the machine is paused, resetting or quitting: the vCPU then meets the instruction again. */
static void mt_exclusive_step(void *opaque)
{
    struct mt_exclusive *ex = opaque;
    struct runloop_mt *mt = ex->rl->mt;
    if (mt->quit || ex->rl->paused || mt->event_pending[ex->cpu->index])
        return;
    cpu_request(ex->cpu, CPU_REQ_EXIT, 0);   /* the stop's own kick */
    ex->cpu->lk.exclusive = true;
    ex->why = cpu_run(ex->cpu, 1);
    ex->cpu->lk.exclusive = false;
}

static bool mt_must_park(const struct runloop *rl, unsigned index)
{
    const struct runloop_mt *mt = rl->mt;
    return mt->quit || mt->stops || rl->paused || mt->event_pending[index];
}

static void *mt_vcpu_thread(void *arg)
{
    struct mt_thread_arg *a = arg;
    struct cpu *cpu = a->cpu;
    struct runloop *rl = a->rl;
    struct runloop_mt *mt = rl->mt;
    unsigned me = (unsigned)cpu->index;
    mt_self = cpu;
    __atomic_store_n(&mt->tid[me], (int)gettid(), __ATOMIC_RELAXED);
    runloop_board_lock(rl, true);
    for (;;) {
        while (mt_must_park(rl, me) && !mt->quit) {
            __atomic_store_n(&mt->checkin[me], MT_IDLE, __ATOMIC_RELAXED);
            mt->parked++;
            pthread_cond_broadcast(&mt->changed);
            mt_wait(mt);
            mt->parked--;
        }
        if (mt->quit)
            break;
        /* Check in: the clock's cap may move on (this vCPU may have been the one holding it). */
        int64_t now = vclock_now(rl->clock);
        __atomic_store_n(&mt->checkin[me], now, __ATOMIC_RELAXED);
        __atomic_add_fetch(&mt->checkins, 1, __ATOMIC_RELAXED);
        bool held = mt_update_limit(rl) <= now;
        /* Cleared under the lock: a stop asked from now on sets it again. */
        cpu_request(cpu, CPU_REQ_EXIT, 0);
        runloop_board_lock(rl, false);
        /* Time stands at the cap for another thread (descheduled on a loaded host): let it run
         * instead of spinning against it. */
        if (held)
            sched_yield();
        if (cpu->interrupt_request & CPU_REQ_INVAL)
            mt_drain(rl, cpu);
        /* Armed before the run: any request from now on ends the sleep below at once. */
        uint32_t seq = cpu_sleep_begin(cpu);
        enum cpu_exit_reason why = cpu_run(cpu, MT_BUDGET);
        bool sleep = why == CPU_EXIT_HALT && !(cpu->interrupt_request & (CPU_REQ_EXIT | CPU_REQ_INVAL));
        if (sleep)
            __atomic_store_n(&mt->checkin[me], MT_IDLE, __ATOMIC_RELAXED);
        cpu_sleep(cpu, seq, sleep ? MT_SLEEP_NS : 0);
        if (cpu->spin.spun) {
            cpu->spin.spun = false;
            sched_yield();
        }
        runloop_board_lock(rl, true);
        if (cpu->lk.want_exclusive) {
            cpu->lk.want_exclusive = false;
            struct mt_exclusive ex = { rl, cpu, CPU_EXIT_REQUEST };
            runloop_run_stopped(rl, mt_exclusive_step, &ex);
            why = ex.why;
        }
        if (why == CPU_EXIT_RESET || why == CPU_EXIT_DEBUG) {
            mt->event[me] = why;
            mt->event_pending[me] = true;
            mainloop_wake(rl->ml);
        }
    }
    __atomic_store_n(&mt->checkin[me], MT_IDLE, __ATOMIC_RELAXED);
    mt->parked++;   /* gone: counts as parked for any stop still waiting */
    pthread_cond_broadcast(&mt->changed);
    runloop_board_lock(rl, false);
    return NULL;
}

/* A timer was armed before the main thread's next wake-up: wake it to re-plan. */
static void mt_timer_armed(void *opaque)
{
    struct runloop *rl = opaque;
    mainloop_wake(rl->ml);
}

static void mt_mainloop_lock(void *opaque, bool held)
{
    runloop_board_lock(opaque, held);
}

int runloop_threads_init(struct runloop *rl)
{
    struct runloop_mt *mt = calloc(1, sizeof(*mt));
    if (!mt)
        return -1;
    pthread_mutex_init(&mt->bql, NULL);
    pthread_cond_init(&mt->changed, NULL);
    for (unsigned i = 0; i < RUNLOOP_MAX_CPUS; i++) {
        pthread_mutex_init(&mt->queue[i].lock, NULL);
        mt->checkin[i] = MT_IDLE;
    }
    mt->kicked_limit = INT64_MIN;
    mt->rl = rl;
    rl->mt = mt;
    for (unsigned i = 0; i < rl->ncpus; i++) {
        rl->cpus[i]->parallel = rl->ncpus > 1;
        rl->cpus[i]->spin.after = rl->ncpus > 1 ? MT_SPIN_YIELD_AFTER : 0;
        mt->args[i] = (struct mt_thread_arg){ .rl = rl, .cpu = rl->cpus[i] };
    }
    rl->clock->slice_cut = mt_timer_armed;
    rl->clock->slice_cut_opaque = rl;
    rl->clock->at_limit = mt_clock_at_limit;
    rl->clock->at_limit_opaque = rl;
    rl->ml->lock = mt_mainloop_lock;
    rl->ml->lock_opaque = rl;
    return 0;
}

/* The main thread's part: timers, host events, the vCPUs' reset and debug events. */
int runloop_run_threads(struct runloop *rl)
{
    struct runloop_mt *mt = rl->mt;
    struct mainloop *ml = rl->ml;
    runloop_board_lock(rl, true);
    for (unsigned i = 0; i < rl->ncpus; i++) {
        if (pthread_create(&mt->threads[i], NULL, mt_vcpu_thread, &mt->args[i]) != 0) {
            fprintf(stderr, "pcvm: cannot start the thread of vCPU %u\n", i);
            mainloop_request_exit(ml, 1);
            break;
        }
        mt->started++;
    }
    while (!ml->quit) {
        mt_catch_up(rl);
        vclock_run_timers(rl->clock);
        mt_note_woken(rl, vclock_now(rl->clock));
        bool events = false;
        for (unsigned i = 0; i < rl->ncpus; i++)
            events |= mt->event_pending[i];
        if (events) {
            mt->stops++;
            mt_kick_all(rl);
            while (!mt_all_parked(rl))
                mt_wait(mt);
            for (unsigned i = 0; i < rl->ncpus; i++) {
                if (!mt->event_pending[i])
                    continue;
                mt->event_pending[i] = false;
                if (rl->cpu_event)
                    rl->cpu_event(rl->opaque, rl->cpus[i], mt->event[i]);
            }
            mt->stops--;
            pthread_cond_broadcast(&mt->changed);
        }
        if (rl->after_slice)
            rl->after_slice(rl->opaque);
        if (ml->quit)
            break;
        mt_update_limit(rl);
        int64_t now = vclock_now(rl->clock);
        int64_t deadline = rl->paused ? INT64_MAX : vclock_next_deadline(rl->clock);
        /* Host events (serial input) and stamps are served at least every 10 ms. */
        int64_t wake = now + 10 * 1000000LL;
        if (deadline < wake)
            wake = deadline;
        int64_t next_kick = mt_kick_laggards(rl, now);
        if (next_kick < wake)
            wake = next_kick;
        rl->clock->slice_end = wake;
        mainloop_poll(ml, wake > now ? wake - now : 0);
        rl->clock->slice_end = INT64_MAX;
    }
    mt->quit = true;
    mt_kick_all(rl);
    pthread_cond_broadcast(&mt->changed);
    runloop_board_lock(rl, false);
    for (unsigned i = 0; i < mt->started; i++)
        pthread_join(mt->threads[i], NULL);
    return ml->exit_status;
}
