/* Loading a machine state into a device list and a RAM region (mstate.h). */
#include "migration/mstate.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "hw/devmodel.h"

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

bool mstate_next_run(const struct mstate_header *h, const uint8_t *bitmap, uint64_t pages, uint64_t *pos,
                     uint64_t *packed, struct mstate_run *run)
{
    uint64_t pn = *pos;
    while (pn < pages && !(pn & 7) && pages - pn >= 8 && !bitmap[pn >> 3])
        pn += 8;   /* a byte of zero pages at once */
    while (pn < pages && !mstate_page_set(bitmap, pn))
        pn++;
    if (pn >= pages)
        return false;
    uint64_t end = pn;
    while (end < pages && mstate_page_set(bitmap, end))
        end++;
    run->first = pn;
    run->n = end - pn;
    run->off = h->ram_off + ((h->flags & MSTATE_RAW_RAM) ? pn : *packed) * MSTATE_PAGE;
    *packed += run->n;
    *pos = end;
    return true;
}

static int read_fail(char *err, size_t errlen, const char *what, int r)
{
    if (r == -ENODATA)
        return fail(err, errlen, "the machine state is truncated (it ends inside %s)", what);
    return fail(err, errlen, "cannot read %s: %s", what, strerror(-r));
}

int mstate_load(const struct mstate_target *t, const struct mstate_source *src, bool *changed, char *err,
                size_t errlen)
{
    *changed = false;
    uint8_t hdr[MSTATE_HEADER_SIZE];
    struct mstate_header h;
    struct mstate_view v;
    int r;
    if (src->size < MSTATE_HEADER_SIZE)
        return fail(err, errlen, "the machine state is truncated (%" PRIu64 " bytes)", src->size);
    if ((r = src->read_at(src->opaque, 0, hdr, sizeof(hdr))) < 0)
        return read_fail(err, errlen, "the machine state's header", r);
    if (mstate_header_decode(hdr, sizeof(hdr), &h, err, errlen) < 0)
        return -1;
    if (src->size != UINT64_MAX && (h.ram_off > src->size || h.ram_len > src->size - h.ram_off))
        return fail(err, errlen, "the machine state is truncated (%" PRIu64 " of %" PRIu64 " bytes)", src->size,
                    h.ram_off + h.ram_len);
    if (h.ram_size != t->ram_size)
        return fail(err, errlen, "the machine state is of a machine with %" PRIu64 " MiB of RAM, this one has %"
                    PRIu64 " MiB (-m)", h.ram_size >> 20, t->ram_size >> 20);
    if (h.ncpus != t->ncpus)
        return fail(err, errlen, "the machine state is of a machine with %u vCPUs, this one has %u (-smp)",
                    h.ncpus, t->ncpus);
    uint8_t *meta = malloc(h.meta_len ? h.meta_len : 1);
    if (!meta)
        return fail(err, errlen, "out of memory reading the machine state");
    int ret = -1;
    if ((r = src->read_at(src->opaque, MSTATE_HEADER_SIZE, meta, h.meta_len)) < 0) {
        read_fail(err, errlen, "the device state", r);
        goto out;
    }
    if (mstate_meta_parse(&h, meta, h.meta_len, &v, err, errlen) < 0 ||
        devlist_check(t->devices, v.devs, v.devs_len, err, errlen) < 0)
        goto out;
    for (unsigned i = 0; i < v.n_slirp; i++) {
        if (!t->slirp) {
            fail(err, errlen, "the machine state has a user network this machine lacks: '%s'", v.slirp[i].id);
            goto out;
        }
        if (t->slirp(t->opaque, &v.slirp[i], false, err, errlen) < 0)
            goto out;
    }
    bool mapped = false;
    if ((h.flags & MSTATE_RAW_RAM) && src->map_fd >= 0) {
        struct stat sb;
        if (fstat(src->map_fd, &sb) == 0 && (uint64_t)sb.st_size >= h.ram_off + h.ram_size) {
            *changed = true;
            /* Copy-on-write over the same addresses: pages come from the file when first touched. */
            void *p = mmap(t->ram, t->ram_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, src->map_fd,
                           (off_t)h.ram_off);
            if (p == MAP_FAILED) {
                fail(err, errlen, "cannot map the saved RAM: %s", strerror(errno));
                goto out;
            }
            mapped = true;
        }
    }
    if (t->ram_mapped)
        *t->ram_mapped = mapped;
    if (!mapped) {
        *changed = true;
        /* Fresh zero pages (this also drops an earlier copy-on-write file mapping). */
        void *p = mmap(t->ram, t->ram_size, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
        if (p == MAP_FAILED) {
            fail(err, errlen, "cannot clear the RAM: %s", strerror(errno));
            goto out;
        }
        uint64_t pos = 0, packed = 0;
        struct mstate_run run;
        bool can_map = false;
#ifdef MADV_POPULATE_WRITE
        /* Mapped pages are made private with MADV_POPULATE_WRITE before their source may change:
         * map only where the kernel has it. */
        can_map = src->map_at && madvise(t->ram, MSTATE_PAGE, MADV_POPULATE_WRITE) == 0;
#endif
        while (mstate_next_run(&h, v.bitmap, h.ram_size / MSTATE_PAGE, &pos, &packed, &run)) {
            if (can_map) {
                r = src->map_at(src->opaque, run.off, t->ram + run.first * MSTATE_PAGE, run.n * MSTATE_PAGE);
                if (r < 0) {
                    read_fail(err, errlen, "the saved RAM", r);
                    goto out;
                }
                if (r > 0 && t->ram_mapped)
                    *t->ram_mapped = true;
                continue;
            }
#ifdef MADV_POPULATE_WRITE
            /* One call allocates the run's pages instead of a fault per page during the read. */
            madvise(t->ram + run.first * MSTATE_PAGE, run.n * MSTATE_PAGE, MADV_POPULATE_WRITE);
#endif
            if ((r = src->read_at(src->opaque, run.off, t->ram + run.first * MSTATE_PAGE, run.n * MSTATE_PAGE)) < 0) {
                read_fail(err, errlen, "the saved RAM", r);
                goto out;
            }
        }
    }
    if (devlist_load(t->devices, v.devs, v.devs_len, err, errlen) < 0)
        goto out;
    for (unsigned i = 0; i < v.n_slirp; i++)
        if (t->slirp(t->opaque, &v.slirp[i], true, err, errlen) < 0)
            goto out;
    ret = 0;
out:
    free(meta);
    return ret;
}
