/* Time stamps of guest output: a buffered, mutex-guarded line writer. */
#include "util/stamps.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STAMPS_BUF_SIZE (64 * 1024)
#define STAMPS_LINE_MAX 96               /* 3 x 20 digits, a source name, a byte, spaces */
#define STAMPS_FLUSH_AFTER_NS 20000000LL /* 20 ms: a reader following the file lags this much */
#define STAMPS_SOURCE_NAME_MAX 15

struct stamp_writer {
    pthread_mutex_t lock;
    int fd;
    bool failed;                          /* a write failed: reported at close */
    const struct vclock *clock;
    int64_t host_start;                   /* host monotonic ns at virtual time 0 */
    stamps_insns_fn insns;
    void *insns_opaque;
    unsigned nsources;
    char sources[STAMPS_MAX_SOURCES][STAMPS_SOURCE_NAME_MAX + 1];
    int64_t oldest_pending;               /* host ns of the first unflushed stamp */
    size_t used;
    char buf[STAMPS_BUF_SIZE];
};

static void write_all(struct stamp_writer *w, const char *p, size_t n)
{
    while (n && !w->failed) {
        ssize_t k = write(w->fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            w->failed = true;
            return;
        }
        p += k;
        n -= (size_t)k;
    }
}

/* Caller holds the lock. */
static void flush_locked(struct stamp_writer *w)
{
    write_all(w, w->buf, w->used);
    w->used = 0;
}

struct stamp_writer *stamps_open(const char *path, const struct vclock *clock, stamps_insns_fn insns,
                                 void *insns_opaque, char *err, size_t errlen)
{
    struct stamp_writer *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "pcvm: -stamps %s: out of memory", path);
        return NULL;
    }
    w->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (w->fd < 0) {
        snprintf(err, errlen, "pcvm: -stamps %s: %s", path, strerror(errno));
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->lock, NULL);
    w->clock = clock;
    w->host_start = clock->host_base;
    w->insns = insns;
    w->insns_opaque = insns_opaque;
    int64_t realtime_start = host_realtime_ns() - (host_monotonic_ns() - w->host_start);
    int n = snprintf(w->buf, sizeof(w->buf),
                     "# pcvm-stamps 1\n# clock=%s shift=%d host_start_realtime_ns=%" PRId64 "\n"
                     "# virt_ns host_ns insns source byte\n",
                     clock->icount ? "icount" : "host", clock->icount ? clock->icount_shift : 0,
                     realtime_start);
    w->used = (size_t)n;
    flush_locked(w);
    return w;
}

struct stamp_tap stamps_tap(struct stamp_writer *w, const char *source)
{
    struct stamp_tap tap = { 0 };
    if (!w)
        return tap;
    pthread_mutex_lock(&w->lock);
    unsigned i = 0;
    while (i < w->nsources && strcmp(w->sources[i], source))
        i++;
    if (i == w->nsources && i < STAMPS_MAX_SOURCES) {
        snprintf(w->sources[i], sizeof(w->sources[i]), "%s", source);
        w->nsources++;
    }
    if (i < w->nsources) {
        tap.w = w;
        tap.source = (uint8_t)i;
    }
    pthread_mutex_unlock(&w->lock);
    return tap;
}

/* Decimal digits of v at p; returns the end. */
static char *put_u64(char *p, uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

void stamps_record(struct stamp_writer *w, uint8_t source, uint8_t byte)
{
    static const char hex[] = "0123456789abcdef";
    pthread_mutex_lock(&w->lock);
    /* Read the clocks under the lock, so lines from several threads stay in time order. */
    int64_t virt = vclock_now(w->clock);
    int64_t host_now = host_monotonic_ns();
    uint64_t insns = w->insns ? w->insns(w->insns_opaque) : 0;
    if (sizeof(w->buf) - w->used < STAMPS_LINE_MAX)
        flush_locked(w);
    if (!w->used)
        w->oldest_pending = host_now;
    char *p = w->buf + w->used;
    p = put_i64(p, virt);
    *p++ = ' ';
    p = put_i64(p, host_now - w->host_start);
    *p++ = ' ';
    p = put_u64(p, insns);
    *p++ = ' ';
    const char *name = source < w->nsources ? w->sources[source] : "?";
    size_t len = strlen(name);
    memcpy(p, name, len);
    p += len;
    *p++ = ' ';
    *p++ = hex[byte >> 4];
    *p++ = hex[byte & 15];
    *p++ = '\n';
    w->used = (size_t)(p - w->buf);
    pthread_mutex_unlock(&w->lock);
}

void stamps_flush(struct stamp_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    flush_locked(w);
    pthread_mutex_unlock(&w->lock);
}

void stamps_flush_due(struct stamp_writer *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->lock);
    if (w->used && host_monotonic_ns() - w->oldest_pending >= STAMPS_FLUSH_AFTER_NS)
        flush_locked(w);
    pthread_mutex_unlock(&w->lock);
}

int stamps_close(struct stamp_writer *w)
{
    if (!w)
        return 0;
    pthread_mutex_lock(&w->lock);
    flush_locked(w);
    pthread_mutex_unlock(&w->lock);
    int r = w->failed ? -1 : 0;
    if (close(w->fd) < 0)
        r = -1;
    pthread_mutex_destroy(&w->lock);
    free(w);
    return r;
}
