/* -stamps writer: line format, icount clock and instruction count, several writer threads,
 * and the devices' taps (a UART byte and a debug console byte are stamped, loopback is not). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hw/debugcon.h"
#include "hw/uart.h"
#include "util/stamps.h"

static uint64_t fake_insns(void *opaque) { return *(uint64_t *)opaque; }

/* A temporary file name; the caller unlinks it. */
static void temp_path(char *buf, size_t len)
{
    snprintf(buf, len, "/tmp/pcvm-stamps-test.XXXXXX");
    int fd = mkstemp(buf);
    assert_true(fd >= 0);
    close(fd);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    assert_int_equal(fread(s, 1, (size_t)n, f), (size_t)n);
    s[n] = 0;
    fclose(f);
    return s;
}

static void test_format_icount(void **state)
{
    (void)state;
    char path[64];
    temp_path(path, sizeof(path));
    uint64_t insns = 1000;
    struct vclock clock;
    vclock_init(&clock, true, 3, &insns);
    char err[256];
    struct stamp_writer *w = stamps_open(path, &clock, fake_insns, &insns, err, sizeof(err));
    assert_non_null(w);
    struct stamp_tap a = stamps_tap(w, "serial0");
    struct stamp_tap b = stamps_tap(w, "debugcon");
    struct stamp_tap a2 = stamps_tap(w, "serial0");
    assert_int_equal(a.source, a2.source);
    assert_int_not_equal(a.source, b.source);
    insns = 1010;                      /* 10 instructions later: 80 ns of virtual time */
    stamp_tap_byte(&a, 'L');
    insns = 1250;
    stamp_tap_byte(&b, '\n');
    assert_int_equal(stamps_close(w), 0);

    char *s = slurp(path);
    assert_non_null(strstr(s, "# pcvm-stamps 1\n# clock=icount shift=3 host_start_realtime_ns="));
    assert_non_null(strstr(s, "# virt_ns host_ns insns source byte\n"));
    long long v1, h1, v2, h2;
    unsigned long long i1, i2;
    char src1[16], src2[16];
    unsigned b1, b2;
    const char *l = strstr(s, "byte\n") + 5;
    assert_int_equal(sscanf(l, "%lld %lld %llu %15s %x\n%lld %lld %llu %15s %x", &v1, &h1, &i1, src1, &b1,
                            &v2, &h2, &i2, src2, &b2), 10);
    assert_int_equal(v1, 80);
    assert_int_equal(i1, 1010);
    assert_string_equal(src1, "serial0");
    assert_int_equal(b1, 'L');
    assert_int_equal(v2, 2000);
    assert_int_equal(i2, 1250);
    assert_string_equal(src2, "debugcon");
    assert_int_equal(b2, '\n');
    assert_true(h1 >= 0 && h2 >= h1);
    free(s);
    unlink(path);
}

static void test_open_error(void **state)
{
    (void)state;
    struct vclock clock;
    vclock_init(&clock, false, 0, NULL);
    char err[256];
    assert_null(stamps_open("/nonexistent-dir/x.stamps", &clock, NULL, NULL, err, sizeof(err)));
    assert_string_equal(err, "pcvm: -stamps /nonexistent-dir/x.stamps: No such file or directory");
    assert_null(stamps_tap(NULL, "serial0").w);
    stamps_flush(NULL);
    stamps_flush_due(NULL);
    assert_int_equal(stamps_close(NULL), 0);
}

#define THREADS 4
#define PER_THREAD 20000

struct writer_arg {
    struct stamp_tap tap;
    uint8_t byte;
};

static void *writer_thread(void *opaque)
{
    struct writer_arg *a = opaque;
    for (int i = 0; i < PER_THREAD; i++)
        stamps_record(a->tap.w, a->tap.source, a->byte);
    return NULL;
}

/* Several threads at once (vCPU threads later): every line complete, in time order. */
static void test_threads(void **state)
{
    (void)state;
    char path[64];
    temp_path(path, sizeof(path));
    struct vclock clock;
    vclock_init(&clock, false, 0, NULL);
    char err[256];
    struct stamp_writer *w = stamps_open(path, &clock, NULL, NULL, err, sizeof(err));
    assert_non_null(w);
    pthread_t th[THREADS];
    struct writer_arg args[THREADS];
    static const char *const names[THREADS] = { "serial0", "serial1", "serial2", "debugcon" };
    for (int t = 0; t < THREADS; t++) {
        args[t].tap = stamps_tap(w, names[t]);
        args[t].byte = (uint8_t)('a' + t);
        assert_int_equal(pthread_create(&th[t], NULL, writer_thread, &args[t]), 0);
    }
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    assert_int_equal(stamps_close(w), 0);

    FILE *f = fopen(path, "r");
    char line[128];
    int counts[THREADS] = { 0 };
    long long last_virt = -1;
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#')
            continue;
        long long v, h;
        unsigned long long n;
        char src[16];
        unsigned b;
        assert_int_equal(sscanf(line, "%lld %lld %llu %15s %x", &v, &h, &n, src, &b), 5);
        assert_true(v >= last_virt);
        last_virt = v;
        int t = (int)b - 'a';
        assert_true(t >= 0 && t < THREADS);
        assert_string_equal(src, names[t]);
        counts[t]++;
    }
    fclose(f);
    for (int t = 0; t < THREADS; t++)
        assert_int_equal(counts[t], PER_THREAD);
    unlink(path);
}

/* The devices: a UART byte and a debug console byte are stamped; a loopback byte is not. */
static void test_device_taps(void **state)
{
    (void)state;
    char path[64];
    temp_path(path, sizeof(path));
    uint64_t insns = 0;
    struct vclock clock;
    vclock_init(&clock, true, 0, &insns);
    char err[256];
    struct stamp_writer *w = stamps_open(path, &clock, fake_insns, &insns, err, sizeof(err));
    static struct io_bus io;
    io_bus_init(&io);
    struct uart u;
    uart_init(&u, &io, 0x3f8, (struct irq_line){ 0 }, NULL, &clock, NULL);
    u.stamps = stamps_tap(w, "serial0");
    struct debugcon d;
    debugcon_init(&d, &io, 0xe9, NULL);
    d.stamps = stamps_tap(w, "debugcon");
    insns = 5;
    io_write(&io, 0x3f8, 'A', 1);
    io_write(&io, 0x3fc, 0x10, 1);     /* MCR loopback on */
    io_write(&io, 0x3f8, 'B', 1);
    insns = 7;
    io_write(&io, 0xe9, 'C', 1);
    assert_int_equal(stamps_close(w), 0);
    char *s = slurp(path);
    assert_non_null(strstr(s, "\n5 "));
    assert_non_null(strstr(s, " 5 serial0 41\n"));
    assert_null(strstr(s, " 42\n"));
    assert_non_null(strstr(s, " 7 debugcon 43\n"));
    free(s);
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_icount),
        cmocka_unit_test(test_open_error),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_device_taps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
