/* Virtual clock and timers, in icount mode so time is under the test's control. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <time.h>
#include <cmocka.h>

#include "util/vclock.h"

struct fired {
    int count;
    int order[8];
    int n;
    struct vtimer *rearm;
    int64_t rearm_at;
};

struct tctx {
    struct fired *f;
    int id;
};

static void on_timer(void *opaque)
{
    struct tctx *c = opaque;
    c->f->count++;
    if (c->f->n < 8)
        c->f->order[c->f->n++] = c->id;
    if (c->f->rearm) {
        struct vtimer *t = c->f->rearm;
        c->f->rearm = NULL;
        vtimer_mod(t, c->f->rearm_at);
    }
}

static void count_cut(void *opaque)
{
    (*(int *)opaque)++;
}

/* A timer armed during a slice, before the slice's end, must cut the slice; one at or after
 * its end, or armed between slices, must not. */
static void early_timer_cuts_running_slice(void **state)
{
    (void)state;
    uint64_t insns = 0;
    struct vclock c;
    struct fired f = { 0 };
    struct vtimer t;
    struct tctx ct = { &f, 1 };
    int cuts = 0;
    vclock_init(&c, true, 3, &insns);
    assert_int_equal(c.slice_end, INT64_MAX);
    c.slice_cut = count_cut;
    c.slice_cut_opaque = &cuts;
    vtimer_init(&t, &c, on_timer, &ct);
    vtimer_mod(&t, 500);               /* between slices: nothing to cut */
    assert_int_equal(cuts, 0);
    c.slice_end = 1000000000;          /* a slice runs until 1 s */
    insns = 1000;                      /* 8 us in, the guest loads a 4 ms timer */
    vtimer_mod(&t, 8000 + 4000000);
    assert_int_equal(cuts, 1);
    vtimer_mod(&t, 1000000000);        /* at the slice end: the slice already stops there */
    assert_int_equal(cuts, 1);
    vtimer_mod(&t, 2000000000);
    assert_int_equal(cuts, 1);
    assert_int_equal(vclock_next_deadline(&c), 2000000000);
}

static void icount_time_follows_instructions(void **state)
{
    (void)state;
    uint64_t insns = 0;
    struct vclock c;
    vclock_init(&c, true, 3, &insns);
    assert_int_equal(vclock_now(&c), 0);
    insns = 1000;
    assert_int_equal(vclock_now(&c), 8000);
    vclock_set_running(&c, false);
    insns = 5000;
    assert_int_equal(vclock_now(&c), 8000); /* stopped: time stands still */
    vclock_set_running(&c, true);
    insns = 5010;
    assert_int_equal(vclock_now(&c), 8080);
}

static void timers_fire_in_deadline_order(void **state)
{
    (void)state;
    uint64_t insns = 0;
    struct vclock c;
    struct fired f = { 0 };
    struct vtimer a, b, d;
    struct tctx ca = { &f, 1 }, cb = { &f, 2 }, cd = { &f, 3 };
    vclock_init(&c, true, 0, &insns);
    vtimer_init(&a, &c, on_timer, &ca);
    vtimer_init(&b, &c, on_timer, &cb);
    vtimer_init(&d, &c, on_timer, &cd);
    vtimer_mod(&a, 300);
    vtimer_mod(&b, 100);
    vtimer_mod(&d, 200);
    assert_int_equal(vclock_next_deadline(&c), 100);
    vtimer_del(&d);
    assert_false(vtimer_pending(&d));
    insns = 150;
    assert_int_equal(vclock_run_timers(&c), 1);
    insns = 1000;
    assert_int_equal(vclock_run_timers(&c), 1);
    assert_int_equal(f.n, 2);
    assert_int_equal(f.order[0], 2);
    assert_int_equal(f.order[1], 1);
    assert_int_equal(vclock_next_deadline(&c), INT64_MAX);
}

static void callback_may_rearm(void **state)
{
    (void)state;
    uint64_t insns = 0;
    struct vclock c;
    struct fired f = { 0 };
    struct vtimer a;
    struct tctx ca = { &f, 1 };
    vclock_init(&c, true, 0, &insns);
    vtimer_init(&a, &c, on_timer, &ca);
    f.rearm = &a;
    f.rearm_at = 500;
    vtimer_mod(&a, 10);
    insns = 20;
    assert_int_equal(vclock_run_timers(&c), 1);
    assert_true(vtimer_pending(&a));
    assert_int_equal(vclock_next_deadline(&c), 500);
}

/* The run loop's idle coalescing may only postpone deferrable timers: the strict deadline
 * skips them. */
static void strict_deadline_skips_deferrable(void **state)
{
    (void)state;
    uint64_t insns = 0;
    struct vclock c;
    struct fired f = { 0 };
    struct vtimer a, b;
    struct tctx ca = { &f, 1 }, cb = { &f, 2 };
    vclock_init(&c, true, 0, &insns);
    vtimer_init(&a, &c, on_timer, &ca);
    vtimer_init(&b, &c, on_timer, &cb);
    assert_int_equal(vclock_next_strict_deadline(&c), INT64_MAX);
    a.deferrable = true;
    vtimer_mod(&a, 100);
    assert_int_equal(vclock_next_deadline(&c), 100);
    assert_int_equal(vclock_next_strict_deadline(&c), INT64_MAX);
    vtimer_mod(&b, 300);
    assert_int_equal(vclock_next_deadline(&c), 100);
    assert_int_equal(vclock_next_strict_deadline(&c), 300);
    /* Late is still fired: both run once their time has passed. */
    insns = 400;
    assert_int_equal(vclock_run_timers(&c), 2);
    assert_int_equal(f.order[0], 1);
}

/* vclock_periodic_armed sees only armed timers marked periodic. */
static void periodic_armed_follows_armed_ticks(void **state)
{
    (void)state;
    uint64_t insns = 0;
    struct vclock c;
    struct fired f = { 0 };
    struct vtimer oneshot, tick;
    struct tctx c1 = { &f, 1 }, c2 = { &f, 2 };
    vclock_init(&c, true, 0, &insns);
    vtimer_init(&oneshot, &c, on_timer, &c1);
    vtimer_init(&tick, &c, on_timer, &c2);
    tick.periodic = true;
    vtimer_mod(&oneshot, 100);
    assert_false(vclock_periodic_armed(&c));
    vtimer_mod(&tick, 300);
    assert_true(vclock_periodic_armed(&c));
    insns = 400;
    assert_int_equal(vclock_run_timers(&c), 2);   /* fired, so no longer armed */
    assert_false(vclock_periodic_armed(&c));
}

static void host_clock_advances(void **state)
{
    (void)state;
    struct vclock c;
    vclock_init(&c, false, 0, NULL);
    int64_t t0 = vclock_now(&c);
    int64_t h0 = host_monotonic_ns();
    while (host_monotonic_ns() - h0 < 2000000) {
    }
    assert_true(vclock_now(&c) - t0 >= 2000000);
}

/* -icount with several vCPUs: time follows the sum of their counts, so it moves while CPU 0
 * is halted and another vCPU works (Linux -smp 2 -icount waited forever otherwise). */
static void icount_follows_every_vcpu(void **state)
{
    (void)state;
    uint64_t c0 = 100, c1 = 0;
    struct vclock c;
    vclock_init(&c, true, 3, &c0);
    c0 = 110;
    assert_int_equal(vclock_now(&c), 80);
    const uint64_t *counters[2] = { &c0, &c1 };
    vclock_follow_counters(&c, counters, 2);
    assert_int_equal(vclock_now(&c), 80);   /* continues from where it was */
    c1 += 5;                                /* CPU 0 halted, CPU 1 works */
    assert_int_equal(vclock_now(&c), 120);
    c0 += 1;
    assert_int_equal(vclock_now(&c), 128);
    vclock_set_running(&c, false);
    c1 += 100;
    assert_int_equal(vclock_now(&c), 128);
    vclock_set_running(&c, true);
    c1 += 1;
    assert_int_equal(vclock_now(&c), 136);
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) != 0)
        ;
}

/* Host-clock mode: a host stall longer than the limit pauses virtual time (the timer due
 * after the limit has not come due); setting the next limit keeps the stalled host time as a
 * debt instead of jumping over it, and vclock_catch_up hands it back in bounded steps. */
static void limit_turns_host_stall_into_pause(void **state)
{
    (void)state;
    struct vclock c;
    struct fired f = { 0 };
    struct vtimer t;
    struct tctx ct = { &f, 1 };
    vclock_init(&c, false, 0, NULL);
    assert_int_equal(c.limit, INT64_MAX);
    int64_t start = vclock_now(&c);
    int64_t limit = start + 2000000;          /* 2 ms */
    vclock_set_limit(&c, limit);
    vtimer_init(&t, &c, on_timer, &ct);
    vtimer_mod(&t, limit + 1);
    sleep_ms(30);                              /* the host stalls 30 ms */
    assert_int_equal(vclock_now(&c), limit);
    assert_int_equal(vclock_run_timers(&c), 0);
    /* Read at the limit while a slice runs, the clock cuts the slice. */
    int cuts = 0;
    c.slice_cut = count_cut;
    c.slice_cut_opaque = &cuts;
    c.slice_end = limit - 1000;
    assert_int_equal(vclock_now(&c), limit);
    assert_int_equal(cuts, 1);
    c.slice_end = INT64_MAX;
    vclock_set_limit(&c, INT64_MAX);
    assert_true(c.behind_ns >= 28000000);      /* the stalled host time is owed */
    int64_t owed = c.behind_ns;
    int64_t after = vclock_now(&c);
    assert_true(after >= limit);
    assert_true(after < limit + 28000000);     /* went on from the limit, not from the host */
    sleep_ms(1);
    assert_true(vclock_now(&c) > after);       /* and runs freely again */
    assert_int_equal(vclock_run_timers(&c), 1);
    /* The debt comes back in bounded steps: 5 ms, then the rest. */
    int64_t before = vclock_now(&c);
    vclock_catch_up(&c, 5000000);
    assert_int_equal(c.behind_ns, owed - 5000000);
    assert_true(vclock_now(&c) >= before + 5000000);
    vclock_catch_up(&c, INT64_MAX);
    assert_int_equal(c.behind_ns, 0);
    assert_true(vclock_now(&c) >= before + owed);
    /* A restored snapshot's time is never held back by an old limit. */
    vclock_set_limit(&c, vclock_now(&c));
    vclock_restore(&c, after + NS_PER_SEC);
    assert_true(vclock_now(&c) >= after + NS_PER_SEC);
}

static void note_limit(void *opaque, int64_t limit_ns)
{
    *(int64_t *)opaque = limit_ns;
}

/* One thread per vCPU: a cap below the present holds the clock where it is (it never runs
 * backward), and a read at the cap calls at_limit with it instead of cutting a slice. */
static void limit_below_now_holds_the_clock(void **state)
{
    (void)state;
    struct vclock c;
    int64_t met = 0;
    int cuts = 0;
    vclock_init(&c, false, 0, NULL);
    c.at_limit = note_limit;
    c.at_limit_opaque = &met;
    c.slice_cut = count_cut;
    c.slice_cut_opaque = &cuts;
    c.slice_end = 0;
    sleep_ms(2);
    int64_t before = vclock_now(&c);
    vclock_set_limit(&c, before - 1000000);
    int64_t held = vclock_now(&c);
    assert_true(held >= before);
    sleep_ms(2);
    assert_int_equal(vclock_now(&c), held);
    assert_int_equal(met, held);
    assert_int_equal(cuts, 0);
    vclock_set_limit(&c, INT64_MAX);
    assert_true(vclock_behind_ns(&c) >= 1500000);   /* the held host time is owed */
}

struct reader {
    struct vclock *c;
    volatile int *stop;
    int backward;
};

static void *read_clock(void *arg)
{
    struct reader *r = arg;
    int64_t last = vclock_now(r->c);
    while (!__atomic_load_n(r->stop, __ATOMIC_RELAXED)) {
        int64_t now = vclock_now(r->c);
        if (now < last)
            r->backward++;
        last = now;
    }
    return NULL;
}

/* Readers on other threads (vCPUs reading the TSC) never see time run backward while one
 * writer moves the cap and hands back owed time (the seqlock keeps each read consistent). */
static void concurrent_readers_see_monotonic_time(void **state)
{
    (void)state;
    struct vclock c;
    volatile int stop = 0;
    vclock_init(&c, false, 0, NULL);
    struct reader r[2] = { { &c, &stop, 0 }, { &c, &stop, 0 } };
    pthread_t th[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&th[i], NULL, read_clock, &r[i]), 0);
    int64_t end = host_monotonic_ns() + 150000000;
    for (int k = 0; host_monotonic_ns() < end; k++) {
        int64_t now = vclock_now(&c);
        vclock_set_limit(&c, now + (k % 3) * 20000);
        vclock_catch_up(&c, 10000);
    }
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(r[0].backward + r[1].backward, 0);
}

/* With -icount the instructions are the clock: the limit does not apply. */
static void limit_ignored_under_icount(void **state)
{
    (void)state;
    uint64_t insns = 0;
    struct vclock c;
    vclock_init(&c, true, 3, &insns);
    vclock_set_limit(&c, 100);
    insns = 1000;
    assert_int_equal(vclock_now(&c), 8000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(icount_time_follows_instructions),
        cmocka_unit_test(icount_follows_every_vcpu),
        cmocka_unit_test(early_timer_cuts_running_slice),
        cmocka_unit_test(timers_fire_in_deadline_order),
        cmocka_unit_test(callback_may_rearm),
        cmocka_unit_test(host_clock_advances),
        cmocka_unit_test(limit_turns_host_stall_into_pause),
        cmocka_unit_test(limit_ignored_under_icount),
        cmocka_unit_test(limit_below_now_holds_the_clock),
        cmocka_unit_test(concurrent_readers_see_monotonic_time),
        cmocka_unit_test(strict_deadline_skips_deferrable),
        cmocka_unit_test(periodic_armed_follows_armed_ticks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
