/* A loadvm maps the saved RAM copy-on-write from the image's VM-state clusters, so pages load
 * when the guest first touches them. Those clusters stay put while the snapshot exists (a
 * snapshot's clusters are never rewritten), but a delvm or a savevm replacing it may free
 * them for new data: before either, every page still mapped gets its own copy. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "machine/pc.h"
#include "machine/snapshot_int.h"

int snap_spans_add(struct snap_spans *s, uint8_t *addr, size_t len)
{
    if (s->n && s->v[s->n - 1].addr + s->v[s->n - 1].len == addr) {
        s->v[s->n - 1].len += len;
        return 0;
    }
    if (s->n == s->cap) {
        unsigned cap = s->cap ? 2 * s->cap : 64;
        struct snap_span *v = realloc(s->v, cap * sizeof(*v));
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n++] = (struct snap_span){ addr, len };
    return 0;
}

void snap_spans_clear(struct snap_spans *s)
{
    free(s->v);
    *s = (struct snap_spans){ 0 };
}

int snap_unshare_ram(struct pc *pc, char *err, size_t errlen)
{
    struct snapshot_ctx *c = pc->snap;
    if (!c || !c->shared.n)
        return 0;
    for (unsigned i = 0; i < c->shared.n; i++) {
        int r = -1;
#ifdef MADV_POPULATE_WRITE
        /* A write fault on each page, without writing: racing vCPUs lose nothing. */
        r = madvise(c->shared.v[i].addr, c->shared.v[i].len, MADV_POPULATE_WRITE);
#else
        errno = ENOSYS;
#endif
        if (r < 0) {
            snprintf(err, errlen, "cannot copy the RAM loaded from the snapshot: %s", strerror(errno));
            return -1;
        }
    }
    snap_spans_clear(&c->shared);
    c->ram_from_file = false;   /* every page is anonymous again: the page map tells zero pages */
    return 0;
}
