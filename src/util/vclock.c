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
}

int64_t vclock_now(const struct vclock *c)
{
    if (!c->running)
        return c->virt_base;
    if (c->icount)
        return c->virt_base + (int64_t)((icount_insns(c) - c->insn_base) << c->icount_shift);
    int64_t t = c->virt_base + (host_monotonic_ns() - c->host_base);
    if (t < c->limit)
        return t;
    /* A vCPU that reads the clock at the limit ends its slice: the run loop moves the limit,
     * so a guest polling the clock never sees time stand still for long. */
    if (c->slice_end != INT64_MAX && c->slice_cut)
        c->slice_cut(c->slice_cut_opaque);
    return c->limit;
}

void vclock_set_limit(struct vclock *c, int64_t limit_ns)
{
    if (c->icount)
        return;
    if (c->running) {
        int64_t host = host_monotonic_ns();
        int64_t t = c->virt_base + (host - c->host_base);
        if (t > c->limit) {
            c->behind_ns += t - c->limit;
            c->virt_base = c->limit;
            c->host_base = host;
        }
    }
    c->limit = limit_ns;
}

void vclock_catch_up(struct vclock *c, int64_t max_ns)
{
    if (c->icount || !c->running || c->behind_ns <= 0 || max_ns <= 0)
        return;
    int64_t step = c->behind_ns < max_ns ? c->behind_ns : max_ns;
    c->virt_base += step;
    c->behind_ns -= step;
    if (c->limit != INT64_MAX)
        c->limit = c->limit > INT64_MAX - step ? INT64_MAX : c->limit + step;
}

void vclock_set_running(struct vclock *c, bool running)
{
    if (running == c->running)
        return;
    c->virt_base = vclock_now(c);
    c->host_base = host_monotonic_ns();
    c->insn_base = icount_insns(c);
    c->running = running;
}

void vclock_follow_counters(struct vclock *c, const uint64_t *const *counters, unsigned n)
{
    c->virt_base = vclock_now(c);
    c->insn_counters = counters;
    c->n_insn_counters = n;
    c->insn_base = icount_insns(c);
}

void vclock_restore(struct vclock *c, int64_t now_ns)
{
    c->limit = INT64_MAX;
    c->behind_ns = 0;
    c->virt_base = now_ns;
    c->host_base = host_monotonic_ns();
    c->insn_base = icount_insns(c);
}

void vclock_warp(struct vclock *c, int64_t target_ns)
{
    int64_t now = vclock_now(c);
    if (target_ns > now)
        c->virt_base += target_ns - now;
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
