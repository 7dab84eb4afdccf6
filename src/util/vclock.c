/* The virtual clock and its timers. */
#include "util/vclock.h"

#include <time.h>

int64_t host_monotonic_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

int64_t host_realtime_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

/* The instruction count icount time follows. */
static uint64_t icount_insns(const struct vclock *c)
{
    if (c->n_insn_counters) {
        uint64_t n = 0;
        for (unsigned i = 0; i < c->n_insn_counters; i++)
            n += *c->insn_counters[i];
        return n;
    }
    return c->insn_counter ? *c->insn_counter : 0;
}

/* Fields a reader on another thread may load while a writer changes them: atomic (relaxed)
 * accesses, ordered by the seqlock below. */
#define LOAD(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)
#define STORE(field, value) __atomic_store_n(&(field), (value), __ATOMIC_RELAXED)

static void write_begin(struct vclock *c)
{
    STORE(c->seq, c->seq + 1);
    /* A full fence, not only a release one: the writer reads the host clock next, and a
     * reader must not take a later host time with the old anchor while the odd count still
     * waits in this CPU's store buffer (time ran back by ~100 ns without it). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void write_end(struct vclock *c)
{
    __atomic_store_n(&c->seq, c->seq + 1, __ATOMIC_RELEASE);
}

void vclock_init(struct vclock *c, bool icount, int icount_shift, const uint64_t *insn_counter)
{
    c->icount = icount;
    c->icount_shift = icount_shift;
    c->insn_counter = insn_counter;
    c->insn_counters = NULL;
    c->n_insn_counters = 0;
    c->host_base = host_monotonic_ns();
    c->virt_base = 0;
    c->insn_base = insn_counter ? *insn_counter : 0;
    c->running = true;
    c->timers = 0;
    c->slice_end = INT64_MAX;
    c->slice_cut = 0;
    c->slice_cut_opaque = 0;
    c->limit = INT64_MAX;
    c->behind_ns = 0;
    c->at_limit = 0;
    c->at_limit_opaque = 0;
    c->seq = 0;
}

/* The clock's state as one consistent snapshot, with the host time read inside it (so a
 * writer's anchor is never later than the host time a reader combines it with). */
struct vclock_view {
    int64_t virt_base, host_base, limit, host;
    uint64_t insn_base;
    bool running;
};

static void read_view(const struct vclock *c, struct vclock_view *v)
{
    for (;;) {
        uint32_t s = __atomic_load_n(&c->seq, __ATOMIC_ACQUIRE);
        if (s & 1)
            continue;
        v->running = LOAD(c->running);
        v->virt_base = LOAD(c->virt_base);
        v->host_base = LOAD(c->host_base);
        v->limit = LOAD(c->limit);
        v->insn_base = LOAD(c->insn_base);
        v->host = c->icount || !v->running ? 0 : host_monotonic_ns();
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (LOAD(c->seq) == s)
            return;
    }
}

int64_t vclock_now(const struct vclock *c)
{
    struct vclock_view v;
    read_view(c, &v);
    if (!v.running)
        return v.virt_base;
    if (c->icount)
        return v.virt_base + (int64_t)((icount_insns(c) - v.insn_base) << c->icount_shift);
    int64_t t = v.virt_base + (v.host - v.host_base);
    if (t < v.limit)
        return t;
    /* A vCPU that reads the clock at the limit ends its slice: the run loop moves the limit,
     * so a guest polling the clock never sees time stand still for long. */
    if (c->at_limit)
        c->at_limit(c->at_limit_opaque, v.limit);
    else if (c->slice_end != INT64_MAX && c->slice_cut)
        c->slice_cut(c->slice_cut_opaque);
    return v.limit;
}

int64_t vclock_behind_ns(const struct vclock *c)
{
    return LOAD(c->behind_ns);
}

void vclock_set_limit(struct vclock *c, int64_t limit_ns)
{
    if (c->icount)
        return;
    write_begin(c);
    int64_t now = c->virt_base;
    if (c->running) {
        int64_t host = host_monotonic_ns();
        int64_t t = c->virt_base + (host - c->host_base);
        if (t > c->limit) {
            STORE(c->behind_ns, c->behind_ns + (t - c->limit));
            STORE(c->virt_base, c->limit);
            STORE(c->host_base, host);
            t = c->limit;
        }
        now = t;
    }
    STORE(c->limit, limit_ns < now ? now : limit_ns);
    write_end(c);
}

void vclock_catch_up(struct vclock *c, int64_t max_ns)
{
    if (c->icount || !c->running || c->behind_ns <= 0 || max_ns <= 0)
        return;
    int64_t step = c->behind_ns < max_ns ? c->behind_ns : max_ns;
    write_begin(c);
    STORE(c->virt_base, c->virt_base + step);
    STORE(c->behind_ns, c->behind_ns - step);
    if (c->limit != INT64_MAX)
        STORE(c->limit, c->limit > INT64_MAX - step ? INT64_MAX : c->limit + step);
    write_end(c);
}

void vclock_set_running(struct vclock *c, bool running)
{
    if (running == c->running)
        return;
    int64_t now = vclock_now(c);
    write_begin(c);
    STORE(c->virt_base, now);
    STORE(c->host_base, host_monotonic_ns());
    STORE(c->insn_base, icount_insns(c));
    STORE(c->running, running);
    write_end(c);
}

void vclock_follow_counters(struct vclock *c, const uint64_t *const *counters, unsigned n)
{
    int64_t now = vclock_now(c);
    write_begin(c);
    STORE(c->virt_base, now);
    c->insn_counters = counters;
    c->n_insn_counters = n;
    STORE(c->insn_base, icount_insns(c));
    write_end(c);
}

void vclock_restore(struct vclock *c, int64_t now_ns)
{
    write_begin(c);
    STORE(c->limit, INT64_MAX);
    STORE(c->behind_ns, 0);
    STORE(c->virt_base, now_ns);
    STORE(c->host_base, host_monotonic_ns());
    STORE(c->insn_base, icount_insns(c));
    write_end(c);
}

void vclock_warp(struct vclock *c, int64_t target_ns)
{
    int64_t now = vclock_now(c);
    if (target_ns > now) {
        write_begin(c);
        STORE(c->virt_base, c->virt_base + (target_ns - now));
        write_end(c);
    }
}

int64_t vclock_next_deadline(const struct vclock *c)
{
    return c->timers ? c->timers->deadline : INT64_MAX;
}

int64_t vclock_next_strict_deadline(const struct vclock *c)
{
    for (const struct vtimer *t = c->timers; t; t = t->next)
        if (!t->deferrable)
            return t->deadline;
    return INT64_MAX;
}

bool vclock_periodic_armed(const struct vclock *c)
{
    for (const struct vtimer *t = c->timers; t; t = t->next)
        if (t->periodic)
            return true;
    return false;
}

int vclock_run_timers(struct vclock *c)
{
    int ran = 0;
    int64_t now = vclock_now(c);
    while (c->timers && c->timers->deadline <= now) {
        struct vtimer *t = c->timers;
        c->timers = t->next;
        t->armed = false;
        t->next = 0;
        t->cb(t->opaque); /* may re-arm t or others */
        ran++;
    }
    return ran;
}

void vtimer_init(struct vtimer *t, struct vclock *c, vtimer_fn cb, void *opaque)
{
    t->deadline = 0;
    t->cb = cb;
    t->opaque = opaque;
    t->clock = c;
    t->next = 0;
    t->armed = false;
    t->deferrable = false;
    t->periodic = false;
}

void vtimer_del(struct vtimer *t)
{
    if (!t->armed)
        return;
    struct vtimer **pp = &t->clock->timers;
    while (*pp && *pp != t)
        pp = &(*pp)->next;
    if (*pp)
        *pp = t->next;
    t->next = 0;
    t->armed = false;
}

void vtimer_mod(struct vtimer *t, int64_t deadline_ns)
{
    vtimer_del(t);
    t->deadline = deadline_ns;
    struct vtimer **pp = &t->clock->timers;
    while (*pp && (*pp)->deadline <= deadline_ns)
        pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
    t->armed = true;
    if (t->clock->slice_end != INT64_MAX && deadline_ns < t->clock->slice_end && t->clock->slice_cut)
        t->clock->slice_cut(t->clock->slice_cut_opaque);
}
