/* qcow2 versions 2 and 3, written from the format specification (docs/interop/qcow2.txt).
 *
 * Metadata caches are write-through: every change to an L1/L2 entry or refcount is written
 * to the file at once, in an order that keeps the image consistent after a SIGKILL at any
 * point (at worst clusters are leaked):
 *   new cluster: write its contents, then raise its refcount, then link it (L2 or L1 entry);
 *   old cluster: unlink first, then lower its refcount.
 * A cluster freshly found free is "reserved" until its refcount is raised so that refcount
 * blocks created on the way never land on it. Snapshot operations cannot be ordered that way
 * and switch whole metadata states instead (see switch_state). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <unistd.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>
#include <zstd.h>

#include "block/block.h"
#include "block/qcow2.h"

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static uint64_t be64(const uint8_t *p) { return (uint64_t)be32(p) << 32 | be32(p + 4); }
static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (24 - 8 * i)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)(v >> 32)); put32(p + 4, (uint32_t)v); }

static struct qcow2_state *Q(struct block_dev *bs) { return bs->opaque; }

static void set_err(struct qcow2_state *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_err(struct qcow2_state *q, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(q->errmsg, sizeof(q->errmsg), fmt, ap);
    va_end(ap);
}

static uint64_t size_to_clusters(const struct qcow2_state *q, uint64_t bytes)
{
    return (bytes + q->cluster_size - 1) >> q->cluster_bits;
}

/* ---------------- caches ---------------- */

static uint8_t *cache_get(struct qcow2_state *q, struct qcow2_cache *c, uint64_t off, int *err)
{
    for (int i = 0; i < QCOW2_CACHE_SLOTS; i++) {
        if (c->off[i] == off && c->buf[i]) {
            c->lru[i] = ++q->lru_clock;
            return c->buf[i];
        }
    }
    int victim = 0;
    for (int i = 1; i < QCOW2_CACHE_SLOTS; i++)
        if (c->lru[i] < c->lru[victim])
            victim = i;
    if (!c->buf[victim]) {
        c->buf[victim] = malloc(q->cluster_size);
        if (!c->buf[victim]) {
            *err = -ENOMEM;
            return NULL;
        }
    }
    c->off[victim] = 0;
    int r = bfile_pread(&q->bs->file, off, c->buf[victim], q->cluster_size);
    if (r < 0) {
        *err = r;
        return NULL;
    }
    c->off[victim] = off;
    c->lru[victim] = ++q->lru_clock;
    return c->buf[victim];
}

static void cache_forget(struct qcow2_cache *c, uint64_t off)
{
    for (int i = 0; i < QCOW2_CACHE_SLOTS; i++)
        if (c->off[i] == off)
            c->off[i] = 0;
}

static void cache_free(struct qcow2_cache *c)
{
    for (int i = 0; i < QCOW2_CACHE_SLOTS; i++) {
        free(c->buf[i]);
        c->buf[i] = NULL;
        c->off[i] = 0;
    }
}

/* Offsets of metadata must be cluster aligned and inside the file (plus what we are growing). */
static bool valid_meta_offset(struct qcow2_state *q, uint64_t off)
{
    return off && !(off & (q->cluster_size - 1)) && off <= QCOW2_MAX_OFFSET;
}

/* ---------------- refcounts ---------------- */

static uint64_t rb_get(const struct qcow2_state *q, const uint8_t *blk, uint64_t j)
{
    switch (q->refcount_order) {
    case 0: case 1: case 2: {
        unsigned bits = 1u << q->refcount_order;
        uint64_t bit = j * bits;
        return (blk[bit / 8] >> (bit % 8)) & ((1u << bits) - 1);
    }
    case 3: return blk[j];
    case 4: return be16(blk + 2 * j);
    case 5: return be32(blk + 4 * j);
    default: return be64(blk + 8 * j);
    }
}

/* Store v and return the byte range touched (for a minimal write). */
static void rb_set(const struct qcow2_state *q, uint8_t *blk, uint64_t j, uint64_t v,
                   uint64_t *byte_off, unsigned *byte_len)
{
    switch (q->refcount_order) {
    case 0: case 1: case 2: {
        unsigned bits = 1u << q->refcount_order;
        uint64_t bit = j * bits;
        uint8_t mask = (uint8_t)(((1u << bits) - 1) << (bit % 8));
        blk[bit / 8] = (uint8_t)((blk[bit / 8] & ~mask) | ((v << (bit % 8)) & mask));
        *byte_off = bit / 8;
        *byte_len = 1;
        return;
    }
    case 3: blk[j] = (uint8_t)v; *byte_off = j; *byte_len = 1; return;
    case 4: put16(blk + 2 * j, (uint16_t)v); *byte_off = 2 * j; *byte_len = 2; return;
    case 5: put32(blk + 4 * j, (uint32_t)v); *byte_off = 4 * j; *byte_len = 4; return;
    default: put64(blk + 8 * j, v); *byte_off = 8 * j; *byte_len = 8; return;
    }
}

static uint64_t refcount_max(const struct qcow2_state *q)
{
    return q->refcount_order == 6 ? UINT64_MAX : (UINT64_C(1) << (1u << q->refcount_order)) - 1;
}

/* Refcount of host cluster c; returns 0 or -errno. */
static int get_refcount(struct qcow2_state *q, uint64_t c, uint64_t *out)
{
    uint64_t idx = c / q->rb_entries;
    *out = 0;
    if (idx >= q->rt_entries)
        return 0;
    uint64_t rbo = q->rt[idx] & QCOW2_RT_OFFSET_MASK;
    if (!rbo)
        return 0;
    if (!valid_meta_offset(q, rbo)) {
        set_err(q, "qcow2: refcount block offset %#" PRIx64 " is invalid", rbo);
        return -EIO;
    }
    int err = 0;
    uint8_t *blk = cache_get(q, &q->rb_cache, rbo, &err);
    if (!blk)
        return err;
    *out = rb_get(q, blk, c % q->rb_entries);
    return 0;
}

static bool reserved(const struct qcow2_state *q, uint64_t c)
{
    return c >= q->reserve_start && c < q->reserve_end;
}

/* True if cluster c is free for allocation. */
static int cluster_free(struct qcow2_state *q, uint64_t c, bool *free_out)
{
    uint64_t rc;
    int r = get_refcount(q, c, &rc);
    if (r < 0)
        return r;
    *free_out = rc == 0 && !reserved(q, c) && !(q->repair_ref && c < q->repair_len && q->repair_ref[c]);
    return 0;
}

/* Find n consecutive free clusters (no refcounts changed). */
static int find_free(struct qcow2_state *q, uint64_t n, uint64_t *out)
{
    uint64_t c = q->free_hint;
    if (c < 1)
        c = 1;
    for (;;) {
        uint64_t k;
        for (k = 0; k < n; k++) {
            bool f;
            int r = cluster_free(q, c + k, &f);
            if (r < 0)
                return r;
            if (!f)
                break;
        }
        if (k == n)
            break;
        c += k + 1;
        if (c > size_to_clusters(q, q->file_len) + 65536) {
            /* Far past the end of the file: only corrupt refcounts get here. */
            int64_t flen = bfile_length(&q->bs->file);
            if (flen > 0 && (uint64_t)flen > q->file_len)
                q->file_len = (uint64_t)flen;
            if (c > size_to_clusters(q, q->file_len) + 65536) {
                set_err(q, "qcow2: no free cluster found; refcounts look corrupt");
                return -EIO;
            }
        }
        if (c > (QCOW2_MAX_OFFSET >> q->cluster_bits)) {
            set_err(q, "qcow2: image full");
            return -ENOSPC;
        }
    }
    if (n == 1 || c == q->free_hint)
        q->free_hint = c;
    *out = c;
    return 0;
}

static int grow_refcount_table(struct qcow2_state *q, uint64_t min_entries);

static int write_rt_entry(struct qcow2_state *q, uint64_t idx)
{
    uint8_t b[8];
    put64(b, q->rt[idx]);
    return bfile_pwrite(&q->bs->file, q->rt_offset + idx * 8, b, 8);
}

/* Create the missing refcount block for range idx, placed inside that range. */
static int create_refblock(struct qcow2_state *q, uint64_t idx)
{
    uint64_t first = idx * q->rb_entries, c = first;
    /* Every cluster of a range without a refcount block is free, except reserved ones. */
    while (reserved(q, c) || (q->repair_ref && c < q->repair_len && q->repair_ref[c]))
        c++;
    if (c >= first + q->rb_entries) {
        set_err(q, "qcow2: no room for a refcount block");
        return -ENOSPC;
    }
    uint8_t *blk = calloc(1, q->cluster_size);
    if (!blk)
        return -ENOMEM;
    uint64_t bo;
    unsigned bl;
    rb_set(q, blk, c - first, 1, &bo, &bl);
    int r = bfile_pwrite(&q->bs->file, c << q->cluster_bits, blk, q->cluster_size);
    free(blk);
    if (r < 0)
        return r;
    q->rt[idx] = c << q->cluster_bits;
    r = write_rt_entry(q, idx);
    if (r < 0)
        q->rt[idx] = 0;
    cache_forget(&q->rb_cache, c << q->cluster_bits);
    return r;
}

/* Set the refcount of cluster c to v. */
static int set_refcount(struct qcow2_state *q, uint64_t c, uint64_t v)
{
    uint64_t idx = c / q->rb_entries;
    int r;
    if (idx >= q->rt_entries) {
        r = grow_refcount_table(q, idx + 1);
        if (r < 0)
            return r;
    }
    uint64_t rbo = q->rt[idx] & QCOW2_RT_OFFSET_MASK;
    if (!rbo) {
        uint64_t save_s = q->reserve_start, save_e = q->reserve_end;
        if (!(c >= save_s && c < save_e)) {
            q->reserve_start = c;
            q->reserve_end = c + 1;
        }
        r = create_refblock(q, idx);
        q->reserve_start = save_s;
        q->reserve_end = save_e;
        if (r < 0)
            return r;
        rbo = q->rt[idx] & QCOW2_RT_OFFSET_MASK;
    }
    if (!valid_meta_offset(q, rbo))
        return -EIO;
    int err = 0;
    uint8_t *blk = cache_get(q, &q->rb_cache, rbo, &err);
    if (!blk)
        return err;
    uint64_t bo;
    unsigned bl;
    rb_set(q, blk, c % q->rb_entries, v, &bo, &bl);
    r = bfile_pwrite(&q->bs->file, rbo + bo, blk + bo, bl);
    if (r < 0) {
        cache_forget(&q->rb_cache, rbo);
        return r;
    }
    if (v == 0 && c < q->free_hint)
        q->free_hint = c;
    if (v == 0) {
        /* The cluster may come back as something else: drop what we cached from it. */
        cache_forget(&q->l2_cache, c << q->cluster_bits);
        q->cdata_valid = false;
        if (q->cfree_off && (q->cfree_off - 1) >> q->cluster_bits == c)
            q->cfree_off = 0;   /* never pack compressed data into a freed cluster */
    }
    return 0;
}

static int update_refcount(struct qcow2_state *q, uint64_t c, int64_t delta)
{
    uint64_t rc;
    int r = get_refcount(q, c, &rc);
    if (r < 0)
        return r;
    if ((delta < 0 && rc < (uint64_t)-delta) || (delta > 0 && refcount_max(q) - rc < (uint64_t)delta)) {
        set_err(q, "qcow2: refcount of cluster %" PRIu64 " out of range", c);
        return -EIO;
    }
    return set_refcount(q, c, rc + (uint64_t)delta);
}

/* Raise refcounts of [c, c+n) after their contents were written. */
static int claim_clusters(struct qcow2_state *q, uint64_t c, uint64_t n)
{
    q->reserve_start = c;
    q->reserve_end = c + n;
    int r = 0;
    for (uint64_t i = 0; i < n && !r; i++)
        r = update_refcount(q, c + i, 1);
    q->reserve_start = q->reserve_end = 0;
    if (!r && q->free_hint < c + n && q->free_hint >= c)
        q->free_hint = c + n;
    return r;
}

/* Lower refcounts of every host cluster touched by [off, off+len). */
static int release_range(struct qcow2_state *q, uint64_t off, uint64_t len)
{
    if (!len)
        return 0;
    uint64_t first = off >> q->cluster_bits, last = (off + len - 1) >> q->cluster_bits;
    for (uint64_t c = first; c <= last; c++) {
        int r = update_refcount(q, c, -1);
        if (r < 0)
            return r;
    }
    return 0;
}

/* Make the refcount table cover min_entries refcount blocks: write a bigger table (and the
 * refcount blocks describing it) at the end, switch the header to it, free the old one. */
static int grow_refcount_table(struct qcow2_state *q, uint64_t min_entries)
{
    uint64_t per_cluster = q->cluster_size / 8;
    uint64_t entries = q->rt_entries * 2;
    if (entries < min_entries)
        entries = min_entries;
    entries = (entries + per_cluster - 1) / per_cluster * per_cluster;
    uint64_t tclusters = entries / per_cluster;
    if (tclusters > QCOW2_MAX_RT_CLUSTERS(q)) {
        set_err(q, "qcow2: refcount table too large");
        return -EFBIG;
    }
    uint64_t start = 0, k = 0, n;
    for (int iter = 0;; iter++) {
        n = tclusters + k;
        /* Place everything past the current end of the file and any reserved range. */
        uint64_t save = q->free_hint;
        int64_t flen = bfile_length(&q->bs->file);
        if (flen < 0)
            return (int)flen;
        uint64_t from = size_to_clusters(q, (uint64_t)flen);
        if (from < q->reserve_end)
            from = q->reserve_end;
        q->free_hint = from;
        int r = find_free(q, n, &start);
        q->free_hint = save;
        if (r < 0)
            return r;
        uint64_t newk = 0;
        for (uint64_t idx = start / q->rb_entries; idx <= (start + n - 1) / q->rb_entries; idx++)
            if (idx >= q->rt_entries || !(q->rt[idx] & QCOW2_RT_OFFSET_MASK))
                newk++;
        if (newk <= k || iter > 8) {
            k = newk > k ? newk : k;
            n = tclusters + k;
            break;
        }
        k = newk;
    }
    if (entries < (start + n) / q->rb_entries + 1) {
        set_err(q, "qcow2: refcount table growth does not converge");
        return -EIO;
    }
    uint64_t *nrt = calloc(entries, 8);
    uint8_t *tbuf = calloc(tclusters, q->cluster_size);
    uint8_t *blk = malloc(q->cluster_size);
    int r = 0;
    if (!nrt || !tbuf || !blk) {
        r = -ENOMEM;
        goto out;
    }
    memcpy(nrt, q->rt, q->rt_entries * 8);
    /* New refcount blocks go right after the table. */
    uint64_t next_rb = start + tclusters;
    for (uint64_t idx = start / q->rb_entries; idx <= (start + n - 1) / q->rb_entries; idx++)
        if (!(nrt[idx] & QCOW2_RT_OFFSET_MASK))
            nrt[idx] = (next_rb++) << q->cluster_bits;
    for (uint64_t rbc = start + tclusters; rbc < next_rb; rbc++) {
        /* Find which range this block serves and fill its counts for [start, start+n). */
        uint64_t idx;
        for (idx = start / q->rb_entries; (nrt[idx] & QCOW2_RT_OFFSET_MASK) != rbc << q->cluster_bits; idx++) {
        }
        memset(blk, 0, q->cluster_size);
        for (uint64_t c = start; c < start + n; c++) {
            if (c / q->rb_entries == idx) {
                uint64_t bo;
                unsigned bl;
                rb_set(q, blk, c % q->rb_entries, 1, &bo, &bl);
            }
        }
        r = bfile_pwrite(&q->bs->file, rbc << q->cluster_bits, blk, q->cluster_size);
        if (r < 0)
            goto out;
    }
    for (uint64_t i = 0; i < entries; i++)
        put64(tbuf + i * 8, nrt[i]);
    r = bfile_pwrite(&q->bs->file, start << q->cluster_bits, tbuf, tclusters << q->cluster_bits);
    if (r < 0)
        goto out;
    /* Clusters of the new area that fall in already existing refcount blocks. */
    uint64_t *old_rt = q->rt;
    uint64_t old_entries = q->rt_entries, old_off = q->rt_offset, old_clusters = q->rt_clusters;
    for (uint64_t c = start; c < start + n; c++) {
        uint64_t idx = c / q->rb_entries;
        if (idx < old_entries && (old_rt[idx] & QCOW2_RT_OFFSET_MASK)) {
            r = set_refcount(q, c, 1);
            if (r < 0)
                goto out;
        }
    }
    uint8_t hdr[12];
    put64(hdr, start << q->cluster_bits);
    put32(hdr + 8, (uint32_t)tclusters);
    r = bfile_pwrite(&q->bs->file, 48, hdr, 12);
    if (r < 0)
        goto out;
    q->rt = nrt;
    nrt = NULL;
    q->rt_entries = entries;
    q->rt_offset = start << q->cluster_bits;
    q->rt_clusters = (uint32_t)tclusters;
    free(old_rt);
    r = release_range(q, old_off, old_clusters << q->cluster_bits);
out:
    free(nrt);
    free(tbuf);
    free(blk);
    return r;
}

/* ---------------- L1/L2 ---------------- */

static int write_l1_entry(struct qcow2_state *q, uint64_t i)
{
    uint8_t b[8];
    put64(b, q->l1[i]);
    return bfile_pwrite(&q->bs->file, q->l1_offset + i * 8, b, 8);
}

static uint8_t *load_l2(struct qcow2_state *q, uint64_t l2off, int *err)
{
    if (!valid_meta_offset(q, l2off)) {
        set_err(q, "qcow2: L2 table offset %#" PRIx64 " is invalid", l2off);
        *err = -EIO;
        return NULL;
    }
    return cache_get(q, &q->l2_cache, l2off, err);
}

/* Write a new table/cluster image: find a free cluster, write buf, claim it. */
static int alloc_and_write(struct qcow2_state *q, const void *buf, uint64_t *out_off)
{
    uint64_t c;
    int r = find_free(q, 1, &c);
    if (r < 0)
        return r;
    r = bfile_pwrite(&q->bs->file, c << q->cluster_bits, buf, q->cluster_size);
    if (r < 0)
        return r;
    r = claim_clusters(q, c, 1);
    if (r < 0)
        return r;
    /* writethrough/directsync promise durability at every write: make the new cluster and
     * its refcount reach the disk before anything links to it, so a power loss cannot leave
     * a linked cluster without a refcount. (A SIGKILL cannot reorder writes: no barrier needed.) */
    if (q->bs->file.cache == BLOCK_CACHE_WRITETHROUGH || q->bs->file.cache == BLOCK_CACHE_DIRECTSYNC) {
        r = bfile_flush(&q->bs->file);
        if (r < 0)
            return r;
    }
    *out_off = c << q->cluster_bits;
    return 0;
}

/* L2 table for L1 index i that may be written in place (refcount 1), allocating or copying. */
static int writable_l2(struct qcow2_state *q, uint64_t i, uint64_t *out)
{
    uint64_t e = q->l1[i], off = e & QCOW2_OFFSET_MASK;
    int r;
    if (off && (e & QCOW2_OFLAG_COPIED)) {
        *out = off;
        return 0;
    }
    if (!off) {
        uint8_t *zero = calloc(1, q->cluster_size);
        if (!zero)
            return -ENOMEM;
        uint64_t noff;
        r = alloc_and_write(q, zero, &noff);
        free(zero);
        if (r < 0)
            return r;
        q->l1[i] = noff | QCOW2_OFLAG_COPIED;
        r = write_l1_entry(q, i);
        if (r < 0)
            return r;
        *out = noff;
        return 0;
    }
    uint64_t rc;
    r = get_refcount(q, off >> q->cluster_bits, &rc);
    if (r < 0)
        return r;
    if (rc == 1) {
        q->l1[i] = off | QCOW2_OFLAG_COPIED;
        r = write_l1_entry(q, i);
        *out = off;
        return r;
    }
    /* Shared with a snapshot: copy the table; data refcounts count per L1 tree, so they stay. */
    int err = 0;
    uint8_t *old = load_l2(q, off, &err);
    if (!old)
        return err;
    uint8_t *copy = malloc(q->cluster_size);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, old, q->cluster_size);
    for (uint64_t j = 0; j < q->l2_entries; j++) {
        uint64_t l2e = be64(copy + 8 * j);
        if (l2e & QCOW2_OFLAG_COMPRESSED)
            continue;
        uint64_t d = l2e & QCOW2_OFFSET_MASK, drc = 0;
        if (d && (r = get_refcount(q, d >> q->cluster_bits, &drc)) < 0)
            break;
        l2e = drc == 1 ? l2e | QCOW2_OFLAG_COPIED : l2e & ~QCOW2_OFLAG_COPIED;
        put64(copy + 8 * j, l2e);
    }
    uint64_t noff = 0;
    if (!r)
        r = alloc_and_write(q, copy, &noff);
    free(copy);
    if (r < 0)
        return r;
    q->l1[i] = noff | QCOW2_OFLAG_COPIED;
    r = write_l1_entry(q, i);
    if (r < 0)
        return r;
    r = update_refcount(q, off >> q->cluster_bits, -1);
    *out = noff;
    return r;
}

/* Host range a compressed L2 entry uses. */
static void compressed_range(const struct qcow2_state *q, uint64_t e, uint64_t *off, uint64_t *len)
{
    unsigned x = 62 - (q->cluster_bits - 8);
    uint64_t coff = e & ((UINT64_C(1) << x) - 1);
    uint64_t nsect = ((e >> x) & ((UINT64_C(1) << (q->cluster_bits - 8)) - 1)) + 1;
    *off = coff;
    *len = nsect * 512 - (coff & 511);
}

/* Free what an L2 entry pointed at (after it was unlinked). */
static int release_entry(struct qcow2_state *q, uint64_t e)
{
    if (e & QCOW2_OFLAG_COMPRESSED) {
        uint64_t off, len;
        compressed_range(q, e, &off, &len);
        return release_range(q, off & ~UINT64_C(511), len + (off & 511));
    }
    uint64_t d = e & QCOW2_OFFSET_MASK;
    if (d)
        return update_refcount(q, d >> q->cluster_bits, -1);
    return 0;
}

/* ---------------- reading ---------------- */

static int decompress_cluster(struct qcow2_state *q, uint64_t e, uint8_t *out)
{
    uint64_t off, len;
    compressed_range(q, e, &off, &len);
    if (q->cdata_off == off && q->cdata_valid) {
        memcpy(out, q->cdata, q->cluster_size);
        return 0;
    }
    if (len > 2 * q->cluster_size + 512)
        return -EIO;
    uint8_t *in = malloc(len);
    if (!in)
        return -ENOMEM;
    int r = bfile_pread(&q->bs->file, off, in, len);
    if (r < 0) {
        free(in);
        return r;
    }
    r = -EIO;
    if (q->compression_type == QCOW2_COMPRESSION_ZSTD) {
        ZSTD_DCtx *z = ZSTD_createDCtx();
        if (z) {
            ZSTD_inBuffer ib = { in, len, 0 };
            ZSTD_outBuffer ob = { out, q->cluster_size, 0 };
            while (ob.pos < ob.size) {
                size_t zr = ZSTD_decompressStream(z, &ob, &ib);
                if (ZSTD_isError(zr))
                    break;
                if (ib.pos == ib.size && ob.pos < ob.size && zr != 0)
                    break;
                if (zr == 0 && ob.pos < ob.size && ib.pos == ib.size)
                    break;
            }
            if (ob.pos == ob.size)
                r = 0;
            ZSTD_freeDCtx(z);
        }
    } else {
        z_stream zs;
        memset(&zs, 0, sizeof(zs));
        if (inflateInit2(&zs, -15) == Z_OK) {
            zs.next_in = in;
            zs.avail_in = (uInt)len;
            zs.next_out = out;
            zs.avail_out = (uInt)q->cluster_size;
            int zr = inflate(&zs, Z_FINISH);
            if ((zr == Z_STREAM_END || zr == Z_BUF_ERROR || zr == Z_OK) && zs.avail_out == 0)
                r = 0;
            inflateEnd(&zs);
        }
    }
    free(in);
    if (r < 0) {
        set_err(q, "qcow2: could not decompress cluster at %#" PRIx64, off);
        return r;
    }
    if (!q->cdata)
        q->cdata = malloc(q->cluster_size);
    if (q->cdata) {
        memcpy(q->cdata, out, q->cluster_size);
        q->cdata_off = off;
        q->cdata_valid = true;
    }
    return 0;
}

/* L2 entry for a guest offset (0 when unallocated). */
static int lookup(struct qcow2_state *q, uint64_t guest, uint64_t *entry)
{
    uint64_t ci = guest >> q->cluster_bits;
    uint64_t i = ci / q->l2_entries, j = ci % q->l2_entries;
    *entry = 0;
    if (i >= q->l1_size)
        return 0;
    uint64_t off = q->l1[i] & QCOW2_OFFSET_MASK;
    if (!off)
        return 0;
    int err = 0;
    uint8_t *t = load_l2(q, off, &err);
    if (!t)
        return err;
    *entry = be64(t + 8 * j);
    return 0;
}

static bool entry_is_zero(const struct qcow2_state *q, uint64_t e)
{
    return q->version >= 3 && !(e & QCOW2_OFLAG_COMPRESSED) && (e & QCOW2_OFLAG_ZERO);
}

/* Read part of one guest cluster. */
static int read_in_cluster(struct block_dev *bs, uint64_t off, uint8_t *buf, size_t len)
{
    struct qcow2_state *q = Q(bs);
    uint64_t e;
    int r = lookup(q, off, &e);
    if (r < 0)
        return r;
    uint64_t in = off & (q->cluster_size - 1);
    if (e & QCOW2_OFLAG_COMPRESSED) {
        uint8_t *tmp = malloc(q->cluster_size);
        if (!tmp)
            return -ENOMEM;
        r = decompress_cluster(q, e, tmp);
        if (!r)
            memcpy(buf, tmp + in, len);
        free(tmp);
        return r;
    }
    if (entry_is_zero(q, e)) {
        memset(buf, 0, len);
        return 0;
    }
    uint64_t d = e & QCOW2_OFFSET_MASK;
    if (d) {
        if (d & (q->cluster_size - 1)) {
            set_err(q, "qcow2: data cluster offset %#" PRIx64 " is not aligned", d);
            return -EIO;
        }
        return bfile_pread(&bs->file, d + in, buf, len);
    }
    if (bs->backing) {
        /* Unallocated: the backing file (zeros past its end). */
        return block_pread(bs->backing, off, buf, len);
    }
    memset(buf, 0, len);
    return 0;
}

static int qcow2_pread(struct block_dev *bs, uint64_t off, void *buf, size_t len)
{
    struct qcow2_state *q = Q(bs);
    uint8_t *p = buf;
    while (len) {
        size_t n = (size_t)(q->cluster_size - (off & (q->cluster_size - 1)));
        if (n > len)
            n = len;
        int r = read_in_cluster(bs, off, p, n);
        if (r < 0)
            return r;
        off += n;
        p += n;
        len -= n;
    }
    return 0;
}

/* ---------------- writing ---------------- */

static int write_l2_entry(struct qcow2_state *q, uint64_t l2off, uint64_t j, uint64_t e)
{
    int err = 0;
    uint8_t *t = load_l2(q, l2off, &err);
    if (!t)
        return err;
    put64(t + 8 * j, e);
    int r = bfile_pwrite(&q->bs->file, l2off + 8 * j, t + 8 * j, 8);
    if (r < 0)
        cache_forget(&q->l2_cache, l2off);
    return r;
}

/* Does host cluster d overlap metadata we know of? (guards against corrupt L2 entries) */
static bool overlaps_metadata(struct qcow2_state *q, uint64_t d)
{
    uint64_t cs = q->cluster_size;
    if (d < cs)
        return true;
    if (d + cs > q->l1_offset && d < q->l1_offset + q->l1_size * 8)
        return true;
    if (d + cs > q->rt_offset && d < q->rt_offset + ((uint64_t)q->rt_clusters << q->cluster_bits))
        return true;
    if (q->nb_snapshots && d + cs > q->snapshots_offset && d < q->snapshots_offset + q->snapshots_size)
        return true;
    for (int i = 0; i < QCOW2_CACHE_SLOTS; i++)
        if (q->rb_cache.off[i] == d)
            return true;
    return false;
}

static int write_in_cluster(struct block_dev *bs, uint64_t off, const uint8_t *buf, size_t len)
{
    struct qcow2_state *q = Q(bs);
    uint64_t ci = off >> q->cluster_bits;
    uint64_t i = ci / q->l2_entries, j = ci % q->l2_entries;
    uint64_t in = off & (q->cluster_size - 1);
    if (i >= q->l1_size)
        return -EIO;
    uint64_t l2off;
    int r = writable_l2(q, i, &l2off);
    if (r < 0)
        return r;
    int err = 0;
    uint8_t *t = load_l2(q, l2off, &err);
    if (!t)
        return err;
    uint64_t e = be64(t + 8 * j);
    uint64_t d = e & QCOW2_OFFSET_MASK;
    bool normal = !(e & QCOW2_OFLAG_COMPRESSED) && d && !entry_is_zero(q, e);
    if (normal && !(e & QCOW2_OFLAG_COPIED)) {
        uint64_t rc;
        r = get_refcount(q, d >> q->cluster_bits, &rc);
        if (r < 0)
            return r;
        if (rc == 1) {
            e |= QCOW2_OFLAG_COPIED;
            r = write_l2_entry(q, l2off, j, e);
            if (r < 0)
                return r;
        }
    }
    if (normal && (e & QCOW2_OFLAG_COPIED)) {
        if (d >= q->file_len) {
            int64_t flen = bfile_length(&bs->file);
            if (flen > 0)
                q->file_len = (uint64_t)flen;
        }
        /* Data is always written before it is linked, so a linked cluster past EOF is corrupt. */
        if ((d & (q->cluster_size - 1)) || d >= q->file_len || overlaps_metadata(q, d)) {
            set_err(q, "qcow2: refusing to write data over metadata at %#" PRIx64, d);
            return -EIO;
        }
        return bfile_pwrite(&bs->file, d + in, buf, len);
    }
    /* Copy on write: build the whole new cluster, write it somewhere free, then link it. */
    uint8_t *full = malloc(q->cluster_size);
    if (!full)
        return -ENOMEM;
    if (len < q->cluster_size) {
        r = read_in_cluster(bs, off - in, full, (size_t)q->cluster_size);
        if (r < 0)
            goto out;
    }
    memcpy(full + in, buf, len);
    uint64_t noff;
    r = alloc_and_write(q, full, &noff);
    if (r < 0)
        goto out;
    r = write_l2_entry(q, l2off, j, noff | QCOW2_OFLAG_COPIED);
    if (r < 0)
        goto out;
    if (e & QCOW2_OFLAG_COMPRESSED)
        q->cdata_valid = false;
    r = release_entry(q, e);
out:
    free(full);
    return r;
}

static int qcow2_pwrite(struct block_dev *bs, uint64_t off, const void *buf, size_t len)
{
    struct qcow2_state *q = Q(bs);
    if (q->corrupt)
        return -EIO;
    const uint8_t *p = buf;
    while (len) {
        size_t n = (size_t)(q->cluster_size - (off & (q->cluster_size - 1)));
        if (n > len)
            n = len;
        int r = write_in_cluster(bs, off, p, n);
        if (r < 0) {
            if (r == -EIO && q->errmsg[0]) {
                /* Metadata is inconsistent: report once and stop writing to this image. */
                fprintf(stderr, "pcvm: %s; further writes to '%s' are refused\n", q->errmsg, bs->file.filename);
                q->corrupt = true;
            }
            return r;
        }
        off += n;
        p += n;
        len -= n;
    }
    return 0;
}

static int qcow2_flush(struct block_dev *bs)
{
    return bfile_flush(&bs->file);
}

int qcow2_write_compressed(struct block_dev *bs, uint64_t off, const void *buf, size_t len)
{
    struct qcow2_state *q = Q(bs);
    if (len != q->cluster_size || (off & (q->cluster_size - 1)) || off >= bs->size)
        return -EINVAL;
    size_t cap = q->cluster_size;
    uint8_t *out = malloc(cap);
    if (!out)
        return -ENOMEM;
    size_t clen = 0;
    int r = 1;
    if (q->compression_type == QCOW2_COMPRESSION_ZSTD) {
        size_t zr = ZSTD_compress(out, cap, buf, len, 3);
        if (!ZSTD_isError(zr))
            clen = zr;
    } else {
        z_stream zs;
        memset(&zs, 0, sizeof(zs));
        if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -12, 9, Z_DEFAULT_STRATEGY) == Z_OK) {
            zs.next_in = (Bytef *)(uintptr_t)buf;
            zs.avail_in = (uInt)len;
            zs.next_out = out;
            zs.avail_out = (uInt)cap;
            if (deflate(&zs, Z_FINISH) == Z_STREAM_END)
                clen = cap - zs.avail_out;
            deflateEnd(&zs);
        }
    }
    if (!clen || clen >= q->cluster_size - 512) {
        free(out);
        return 1;
    }
    pthread_mutex_lock(&bs->lock);
    /* Pack compressed clusters back to back inside a host cluster. */
    uint64_t pos = q->cfree_off;
    bool fresh = !pos || (pos & (q->cluster_size - 1)) + clen > q->cluster_size ||
                 !(pos & (q->cluster_size - 1));
    if (fresh) {
        uint64_t c;
        r = find_free(q, 1, &c);
        if (r < 0)
            goto unlock;
        pos = c << q->cluster_bits;
    }
    r = bfile_pwrite(&bs->file, pos, out, clen);
    if (r < 0)
        goto unlock;
    if (fresh) {
        r = claim_clusters(q, pos >> q->cluster_bits, 1);
    } else {
        r = update_refcount(q, pos >> q->cluster_bits, 1);
    }
    if (r < 0)
        goto unlock;
    q->cfree_off = pos + clen;
    uint64_t ci = off >> q->cluster_bits;
    uint64_t l2off;
    r = writable_l2(q, ci / q->l2_entries, &l2off);
    if (r < 0)
        goto unlock;
    unsigned x = 62 - (q->cluster_bits - 8);
    uint64_t nsect = ((pos + clen - 1) >> 9) - (pos >> 9); /* additional sectors */
    uint64_t e = QCOW2_OFLAG_COMPRESSED | nsect << x | pos;
    uint64_t old;
    r = lookup(q, off, &old);
    if (r < 0)
        goto unlock;
    r = write_l2_entry(q, l2off, ci % q->l2_entries, e);
    if (!r)
        r = release_entry(q, old);
unlock:
    pthread_mutex_unlock(&bs->lock);
    free(out);
    return r < 0 ? r : 0;
}

static int qcow2_block_status(struct block_dev *bs, uint64_t off, uint64_t len, uint64_t *pnum)
{
    struct qcow2_state *q = Q(bs);
    int status = -1;
    uint64_t done = 0;
    while (done < len) {
        uint64_t e;
        int r = lookup(q, off + done, &e);
        if (r < 0)
            return r;
        int s;
        if (e & QCOW2_OFLAG_COMPRESSED)
            s = BLOCK_STATUS_DATA;
        else if (entry_is_zero(q, e))
            s = BLOCK_STATUS_ZERO;
        else if (e & QCOW2_OFFSET_MASK)
            s = BLOCK_STATUS_DATA;
        else
            s = bs->backing || q->backing_file[0] ? BLOCK_STATUS_BACKING : BLOCK_STATUS_ZERO;
        if (status >= 0 && s != status)
            break;
        status = s;
        uint64_t n = q->cluster_size - ((off + done) & (q->cluster_size - 1));
        done += n;
    }
    *pnum = done < len ? done : len;
    return status;
}

/* ---------------- header ---------------- */

static const struct { uint8_t type, bit; const char *name; } feature_names[] = {
    { 0, 0, "dirty bit" }, { 0, 1, "corrupt bit" }, { 0, 2, "external data file" },
    { 0, 3, "compression type" }, { 0, 4, "extended L2 entries" }, { 1, 0, "lazy refcounts" },
    { 2, 0, "bitmaps" }, { 2, 1, "raw external data" },
};

/* Serialize header + extensions + backing name into one cluster-sized buffer. */
static int build_header(struct qcow2_state *q, uint8_t *h)
{
    memset(h, 0, q->cluster_size);
    put32(h, QCOW2_MAGIC);
    put32(h + 4, (uint32_t)q->version);
    put32(h + 20, q->cluster_bits);
    put64(h + 24, q->size);
    put32(h + 36, q->l1_size);
    put64(h + 40, q->l1_offset);
    put64(h + 48, q->rt_offset);
    put32(h + 56, q->rt_clusters);
    put32(h + 60, q->nb_snapshots);
    put64(h + 64, q->snapshots_offset);
    size_t pos = 72;
    if (q->version >= 3) {
        put64(h + 72, q->incompat);
        put64(h + 80, q->compat);
        put64(h + 88, q->autoclear & 0); /* we do not maintain bitmaps: clear their bit */
        put32(h + 96, q->refcount_order);
        put32(h + 100, 112);
        h[104] = (uint8_t)q->compression_type;
        pos = 112;
    }
    if (q->backing_fmt[0]) {
        size_t l = strlen(q->backing_fmt);
        put32(h + pos, QCOW2_EXT_BACKING_FORMAT);
        put32(h + pos + 4, (uint32_t)l);
        memcpy(h + pos + 8, q->backing_fmt, l);
        pos += 8 + ((l + 7) & ~(size_t)7);
    }
    if (q->version >= 3) {
        size_t n = sizeof(feature_names) / sizeof(feature_names[0]);
        put32(h + pos, QCOW2_EXT_FEATURE_TABLE);
        put32(h + pos + 4, (uint32_t)(n * 48));
        for (size_t i = 0; i < n; i++) {
            uint8_t *f = h + pos + 8 + 48 * i;
            f[0] = feature_names[i].type;
            f[1] = feature_names[i].bit;
            memcpy(f + 2, feature_names[i].name, strlen(feature_names[i].name));
        }
        pos += 8 + n * 48;
    }
    pos += 8; /* end of extensions */
    if (q->backing_file[0]) {
        size_t l = strlen(q->backing_file);
        if (pos + l > q->cluster_size)
            return -ENOSPC;
        memcpy(h + pos, q->backing_file, l);
        put64(h + 8, pos);
        put32(h + 16, (uint32_t)l);
        pos += l;
    }
    return (int)pos;
}

static int write_header(struct qcow2_state *q)
{
    uint8_t *h = malloc(q->cluster_size);
    if (!h)
        return -ENOMEM;
    int len = build_header(q, h);
    int r = len < 0 ? len : bfile_pwrite(&q->bs->file, 0, h, (size_t)len);
    free(h);
    return r;
}

static int write_incompat(struct qcow2_state *q)
{
    if (q->version < 3)
        return 0;
    uint8_t b[8];
    put64(b, q->incompat);
    return bfile_pwrite(&q->bs->file, 72, b, 8);
}

/* ---------------- snapshots table ---------------- */

static void free_snapshots(struct qcow2_state *q)
{
    if (!q->snaps)
        return;
    for (uint32_t i = 0; i < q->nb_snapshots; i++) {
        free(q->snaps[i].id);
        free(q->snaps[i].name);
        free(q->snaps[i].extra);
    }
    free(q->snaps);
    q->snaps = NULL;
}

static int read_snapshots(struct qcow2_state *q, char *err, size_t errlen)
{
    if (!q->nb_snapshots)
        return 0;
    if (q->nb_snapshots > QCOW2_MAX_SNAPSHOTS || (q->snapshots_offset & (q->cluster_size - 1))) {
        snprintf(err, errlen, "Snapshot table is invalid (%u entries at %#" PRIx64 ")",
                 q->nb_snapshots, q->snapshots_offset);
        return -1;
    }
    q->snaps = calloc(q->nb_snapshots, sizeof(*q->snaps));
    if (!q->snaps)
        return -1;
    uint64_t pos = q->snapshots_offset;
    for (uint32_t i = 0; i < q->nb_snapshots; i++) {
        struct qcow2_snap *s = &q->snaps[i];
        uint8_t h[40];
        /* Past the end of the file: a truncated image. Read-only (check), the rest of the table
         * is dropped and counted as incomplete entries, as qemu-img check reports them. */
        bool truncated_ok = q->bs->readonly;
        if (pos - q->snapshots_offset > QCOW2_MAX_SNAPSHOTS_SIZE)
            goto bad;
        if (pos + 40 > q->file_len) {
            if (!truncated_ok)
                goto bad;
            q->incomplete_snapshots = q->nb_snapshots - i;
            q->nb_snapshots = i;
            break;
        }
        if (bfile_pread(&q->bs->file, pos, h, 40) < 0)
            goto bad;
        s->l1_offset = be64(h);
        s->l1_size = be32(h + 8);
        uint16_t idlen = be16(h + 12), namelen = be16(h + 14);
        s->date_sec = be32(h + 16);
        s->date_nsec = be32(h + 20);
        s->vm_clock_nsec = be64(h + 24);
        s->vm_state_size = be32(h + 32);
        s->extra_size = be32(h + 36);
        if (s->extra_size > 1024)
            goto bad;
        pos += 40;
        s->extra = calloc(1, s->extra_size + 1);
        s->id = calloc(1, idlen + 1u);
        s->name = calloc(1, namelen + 1u);
        if (!s->extra || !s->id || !s->name)
            goto bad;
        if (bfile_pread(&q->bs->file, pos, s->extra, s->extra_size) < 0)
            goto bad;
        pos += s->extra_size;
        if (bfile_pread(&q->bs->file, pos, s->id, idlen) < 0)
            goto bad;
        pos += idlen;
        if (bfile_pread(&q->bs->file, pos, s->name, namelen) < 0)
            goto bad;
        pos += namelen;
        pos = (pos + 7) & ~UINT64_C(7);
        s->disk_size = q->size;
        if (s->extra_size >= 8)
            s->vm_state_size = be64(s->extra);
        if (s->extra_size >= 16)
            s->disk_size = be64(s->extra + 8);
        s->icount = UINT64_MAX;
        if (s->extra_size >= 24)
            s->icount = be64(s->extra + 16);
        if ((s->l1_offset & (q->cluster_size - 1)) || s->l1_size > QCOW2_MAX_L1_ENTRIES ||
            (s->l1_offset + (uint64_t)s->l1_size * 8 > q->file_len && !truncated_ok))
            goto bad;
    }
    q->snapshots_size = pos - q->snapshots_offset;
    return 0;
bad:
    snprintf(err, errlen, "Snapshot table is invalid or truncated");
    return -1;
}

/* The snapshot table in its on-disk form, zero-padded to whole clusters. */
static uint8_t *serialize_snapshots(struct qcow2_state *q, const struct qcow2_snap *snaps, uint32_t n,
                                    uint64_t *size_out, uint64_t *nclusters_out)
{
    size_t size = 0;
    for (uint32_t i = 0; i < n; i++)
        size += (40 + snaps[i].extra_size + strlen(snaps[i].id) + strlen(snaps[i].name) + 7) & ~(size_t)7;
    uint64_t nclusters = size_to_clusters(q, size ? size : 1);
    uint8_t *buf = calloc(nclusters, q->cluster_size);
    if (!buf)
        return NULL;
    size_t pos = 0;
    for (uint32_t i = 0; i < n; i++) {
        const struct qcow2_snap *s = &snaps[i];
        uint8_t *h = buf + pos;
        put64(h, s->l1_offset);
        put32(h + 8, s->l1_size);
        put16(h + 12, (uint16_t)strlen(s->id));
        put16(h + 14, (uint16_t)strlen(s->name));
        put32(h + 16, s->date_sec);
        put32(h + 20, s->date_nsec);
        put64(h + 24, s->vm_clock_nsec);
        put32(h + 32, s->vm_state_size > UINT32_MAX ? 0 : (uint32_t)s->vm_state_size);
        put32(h + 36, s->extra_size);
        memcpy(h + 40, s->extra, s->extra_size);
        pos += 40 + s->extra_size;
        memcpy(buf + pos, s->id, strlen(s->id));
        pos += strlen(s->id);
        memcpy(buf + pos, s->name, strlen(s->name));
        pos += strlen(s->name);
        pos = (pos + 7) & ~(size_t)7;
    }
    *size_out = size;
    *nclusters_out = nclusters;
    return buf;
}

/* ---------------- open/close ---------------- */

static int qcow2_probe(const uint8_t *buf, size_t len)
{
    return len >= 8 && be32(buf) == QCOW2_MAGIC && be32(buf + 4) >= 2 ? 100 : 0;
}

static int read_extensions(struct qcow2_state *q, const uint8_t *h, size_t start, size_t end,
                           char *err, size_t errlen)
{
    size_t pos = start;
    while (pos + 8 <= end) {
        uint32_t type = be32(h + pos), len = be32(h + pos + 4);
        if (len > end - pos - 8) {   /* checked before the end marker, as QEMU does */
            snprintf(err, errlen, "Header extension too large");
            return -1;
        }
        if (type == 0)
            return 0;
        if (type == QCOW2_EXT_BACKING_FORMAT) {
            if (len >= sizeof(q->backing_fmt)) {
                snprintf(err, errlen, "Backing format name is too long");
                return -1;
            }
            memcpy(q->backing_fmt, h + pos + 8, len);
            q->backing_fmt[len] = 0;
        }
        pos += 8 + (((size_t)len + 7) & ~(size_t)7);
    }
    return 0;
}

static int qcow2_repair_dirty(struct block_dev *bs);

static int qcow2_open(struct block_dev *bs, unsigned flags, char *err, size_t errlen)
{
    struct qcow2_state *q = calloc(1, sizeof(*q));
    if (!q) {
        snprintf(err, errlen, "Out of memory");
        return -1;
    }
    bs->opaque = q;
    q->bs = bs;
    const char *fn = bs->file.filename;
    int64_t flen = bfile_length(&bs->file);
    if (flen < 0) {
        snprintf(err, errlen, "Could not get size of '%s'", fn);
        goto fail;
    }
    q->file_len = (uint64_t)flen;
    uint8_t h[112];
    memset(h, 0, sizeof(h));
    if (bfile_pread(&bs->file, 0, h, sizeof(h)) < 0 || q->file_len < 72) {
        snprintf(err, errlen, "Could not read qcow2 header of '%s'", fn);
        goto fail;
    }
    if (be32(h) != QCOW2_MAGIC) {
        snprintf(err, errlen, "Image '%s' is not in qcow2 format (bad magic)", fn);
        goto fail;
    }
    q->version = (int)be32(h + 4);
    if (q->version != 2 && q->version != 3) {
        snprintf(err, errlen, "Unsupported qcow2 version %d in '%s'", q->version, fn);
        goto fail;
    }
    uint64_t backing_off = be64(h + 8);
    uint32_t backing_len = be32(h + 16);
    q->cluster_bits = be32(h + 20);
    if (q->cluster_bits < 9 || q->cluster_bits > 21) {
        snprintf(err, errlen, "Unsupported cluster size: 2^%u", q->cluster_bits);
        goto fail;
    }
    q->cluster_size = UINT64_C(1) << q->cluster_bits;
    q->l2_entries = q->cluster_size / 8;
    q->size = be64(h + 24);
    if (be32(h + 32)) {
        snprintf(err, errlen, "Encrypted qcow2 images are not supported");
        goto fail;
    }
    q->l1_size = be32(h + 36);
    q->l1_offset = be64(h + 40);
    q->rt_offset = be64(h + 48);
    q->rt_clusters = be32(h + 56);
    q->nb_snapshots = be32(h + 60);
    q->snapshots_offset = be64(h + 64);
    q->refcount_order = 4;
    uint32_t hdr_len = 72;
    if (q->version >= 3) {
        q->incompat = be64(h + 72);
        q->compat = be64(h + 80);
        q->autoclear = be64(h + 88);
        q->refcount_order = be32(h + 96);
        hdr_len = be32(h + 100);
        if (hdr_len < 104) {   /* QEMU's words; a header past the end of the file reads as zeros */
            snprintf(err, errlen, "qcow2 header too short");
            goto fail;
        }
        if (hdr_len > q->cluster_size) {
            snprintf(err, errlen, "qcow2 header exceeds cluster size");
            goto fail;
        }
        if (hdr_len > 104)
            q->compression_type = h[104];
    }
    if ((q->autoclear & 2) && !(q->incompat & 4)) {   /* QEMU's check, before the feature bits */
        snprintf(err, errlen, "data-file-raw requires a data file");
        goto fail;
    }
    uint64_t unknown = q->incompat & ~(uint64_t)(QCOW2_INCOMPAT_DIRTY | QCOW2_INCOMPAT_CORRUPT |
                                                 QCOW2_INCOMPAT_COMPRESSION);
    if (unknown) {
        snprintf(err, errlen, "Unsupported qcow2 feature(s): incompatible bits %#" PRIx64, unknown);
        goto fail;
    }
    if ((q->incompat & QCOW2_INCOMPAT_COMPRESSION) ? q->compression_type > 1 : q->compression_type != 0) {
        snprintf(err, errlen, "Unsupported or invalid qcow2 compression type %d", q->compression_type);
        goto fail;
    }
    if (q->refcount_order > 6) {
        snprintf(err, errlen, "Reference count entry width too large; may not exceed 64 bits");
        goto fail;
    }
    q->rb_entries = (q->cluster_size * 8) >> q->refcount_order;
    if (q->size > QCOW2_MAX_SIZE) {
        snprintf(err, errlen, "Image size %" PRIu64 " is too big", q->size);
        goto fail;
    }
    uint64_t need_l1 = (size_to_clusters(q, q->size) + q->l2_entries - 1) / q->l2_entries;
    if (q->l1_size > QCOW2_MAX_L1_ENTRIES || need_l1 > QCOW2_MAX_L1_ENTRIES) {
        snprintf(err, errlen, "Active L1 table too large");
        goto fail;
    }
    if (q->l1_size < need_l1) {
        snprintf(err, errlen, "L1 table is too small");
        goto fail;
    }
    /* QEMU's words for a misplaced table. */
    if (q->l1_size && ((q->l1_offset & (q->cluster_size - 1)) || q->l1_offset < q->cluster_size ||
                       q->l1_offset > (uint64_t)INT64_MAX - (uint64_t)q->l1_size * 8)) {
        snprintf(err, errlen, "Active L1 table offset invalid");
        goto fail;
    }
    if (!q->rt_clusters || q->rt_clusters > QCOW2_MAX_RT_CLUSTERS(q)) {
        snprintf(err, errlen, "Reference count table too large");
        goto fail;
    }
    if ((q->rt_offset & (q->cluster_size - 1)) || q->rt_offset < q->cluster_size ||
        q->rt_offset > (uint64_t)INT64_MAX - ((uint64_t)q->rt_clusters << q->cluster_bits)) {
        snprintf(err, errlen, "Reference count table offset invalid");
        goto fail;
    }
    /* A table past the end of the file: the image was truncated. As qemu-img, a read-only open
     * goes on (the missing part reads as zeros, `check` reports the damage); pcvm never writes
     * to such an image. */
    if (!bs->readonly && ((q->l1_size && q->l1_offset + (uint64_t)q->l1_size * 8 > q->file_len) ||
                          q->rt_offset + ((uint64_t)q->rt_clusters << q->cluster_bits) > q->file_len)) {
        snprintf(err, errlen, "Image is truncated: its %s table lies past the end of the file "
                 "(qemu-img check or pcvm-img check shows the damage)",
                 q->l1_size && q->l1_offset + (uint64_t)q->l1_size * 8 > q->file_len ? "L1" : "refcount");
        goto fail;
    }
    /* Writing through overlapping tables would corrupt both; reading them (check) is harmless. */
    if (!bs->readonly && q->l1_size && q->l1_offset < q->rt_offset + ((uint64_t)q->rt_clusters << q->cluster_bits) &&
        q->rt_offset < q->l1_offset + (uint64_t)q->l1_size * 8) {
        snprintf(err, errlen, "L1 table overlaps the reference count table");
        goto fail;
    }
    /* Header extensions and the backing file name live in the first cluster. */
    if (backing_off > q->cluster_size) {   /* QEMU's words */
        snprintf(err, errlen, "Invalid backing file offset");
        goto fail;
    }
    uint8_t *hc = malloc(q->cluster_size);
    if (!hc)
        goto fail;
    if (bfile_pread(&bs->file, 0, hc, q->cluster_size) < 0) {
        free(hc);
        goto fail;
    }
    size_t ext_end = backing_off && backing_off < q->cluster_size ? (size_t)backing_off : q->cluster_size;
    if (read_extensions(q, hc, hdr_len, ext_end, err, errlen) < 0) {
        free(hc);
        goto fail;
    }
    free(hc);
    if (backing_off) {
        if (backing_len > 1023 || backing_off > q->file_len || backing_len > q->file_len - backing_off) {
            snprintf(err, errlen, "Backing file name is invalid");
            goto fail;
        }
        if (bfile_pread(&bs->file, backing_off, q->backing_file, backing_len) < 0)
            goto fail;
        q->backing_file[backing_len] = 0;
    }
    /* L1 and refcount tables. */
    q->l1 = calloc(q->l1_size ? q->l1_size : 1, 8);
    q->rt_entries = ((uint64_t)q->rt_clusters << q->cluster_bits) / 8;
    q->rt = calloc(q->rt_entries, 8);
    uint8_t *raw = malloc(q->l1_size * 8 > q->rt_entries * 8 ? q->l1_size * 8 : q->rt_entries * 8);
    if (!q->l1 || !q->rt || !raw) {
        free(raw);
        snprintf(err, errlen, "Out of memory");
        goto fail;
    }
    if (bfile_pread(&bs->file, q->l1_offset, raw, q->l1_size * 8) < 0) {
        free(raw);
        goto fail;
    }
    for (uint32_t i = 0; i < q->l1_size; i++)
        q->l1[i] = be64(raw + 8 * i);
    if (bfile_pread(&bs->file, q->rt_offset, raw, q->rt_entries * 8) < 0) {
        free(raw);
        goto fail;
    }
    for (uint64_t i = 0; i < q->rt_entries; i++)
        q->rt[i] = be64(raw + 8 * i);
    free(raw);
    if (read_snapshots(q, err, errlen) < 0)
        goto fail;
    if ((q->incompat & QCOW2_INCOMPAT_CORRUPT) && !bs->readonly) {
        snprintf(err, errlen, "qcow2: Image is corrupt; cannot be opened read/write");
        goto fail;
    }
    bs->size = q->size;
    if (q->backing_file[0] && !(flags & BLOCK_NO_BACKING)) {
        char path[4096];
        if (q->backing_file[0] == '/') {
            snprintf(path, sizeof(path), "%s", q->backing_file);
        } else {
            const char *slash = strrchr(fn, '/');
            int dirlen = slash ? (int)(slash - fn + 1) : 0;
            snprintf(path, sizeof(path), "%.*s%s", dirlen, fn, q->backing_file);
        }
        char berr[BLOCK_ERR_LEN];
        bs->backing = block_open_depth(path, q->backing_fmt[0] ? q->backing_fmt : NULL,
                                       (flags & BLOCK_NO_LOCK) | BLOCK_NO_REPAIR, bs->file.cache,
                                       bs->depth + 1, berr, sizeof(berr));
        if (!bs->backing) {
            if (strstr(berr, "Backing chain too deep"))
                snprintf(err, errlen, "%s", berr);  /* report a loop once, not once per level */
            else
                snprintf(err, errlen, "Could not open backing file: %s", berr);
            goto fail;
        }
    }
    if (!bs->readonly) {
        if (q->version >= 3 && q->autoclear) {
            /* We keep no bitmaps: the spec says to clear autoclear bits we do not maintain. */
            uint8_t z[8] = { 0 };
            if (bfile_pwrite(&bs->file, 88, z, 8) < 0)
                goto fail;
            q->autoclear = 0;
        }
        if ((q->incompat & QCOW2_INCOMPAT_DIRTY) && !(flags & BLOCK_NO_REPAIR)) {
            if (qcow2_repair_dirty(bs) < 0) {
                snprintf(err, errlen, "Could not repair dirty image: %s", q->errmsg);
                goto fail;
            }
        }
        if ((q->compat & QCOW2_COMPAT_LAZY) && !(q->incompat & QCOW2_INCOMPAT_DIRTY)) {
            /* Lazy refcounts: mark dirty while open for writing (refcounts are still kept exact). */
            q->incompat |= QCOW2_INCOMPAT_DIRTY;
            if (write_incompat(q) < 0 || bfile_flush(&bs->file) < 0)
                goto fail;
            q->set_dirty = true;
        }
    }
    return 0;
fail:
    if (!err[0])
        snprintf(err, errlen, "Could not open '%s': invalid qcow2 image", fn);
    block_close(bs->backing);
    bs->backing = NULL;
    free_snapshots(q);
    free(q->l1);
    free(q->rt);
    cache_free(&q->l2_cache);   /* a failed repair may have filled them */
    cache_free(&q->rb_cache);
    free(q->cdata);
    free(q);
    bs->opaque = NULL;
    return -1;
}

static void qcow2_close(struct block_dev *bs)
{
    struct qcow2_state *q = Q(bs);
    if (!q)
        return;
    if (!bs->readonly && q->set_dirty) {
        bfile_flush(&bs->file);
        q->incompat &= ~(uint64_t)QCOW2_INCOMPAT_DIRTY;
        write_incompat(q);
        bfile_flush(&bs->file);
    }
    cache_free(&q->l2_cache);
    cache_free(&q->rb_cache);
    free_snapshots(q);
    free(q->l1);
    free(q->rt);
    free(q->cdata);
    free(q->repair_ref);
    free(q);
    bs->opaque = NULL;
}

/* Replace the active L1 table by a new one of n entries (contents from tab). */
static int replace_l1(struct qcow2_state *q, const uint64_t *tab, uint32_t n)
{
    uint64_t bytes = (uint64_t)n * 8, nclusters = size_to_clusters(q, bytes ? bytes : 1);
    uint8_t *buf = calloc(nclusters, q->cluster_size);
    if (!buf)
        return -ENOMEM;
    for (uint32_t i = 0; i < n; i++)
        put64(buf + 8 * i, tab[i]);
    uint64_t c;
    int r = find_free(q, nclusters, &c);
    if (!r)
        r = bfile_pwrite(&q->bs->file, c << q->cluster_bits, buf, nclusters << q->cluster_bits);
    if (!r)
        r = claim_clusters(q, c, nclusters);
    free(buf);
    if (r < 0)
        return r;
    uint64_t *nl1 = calloc(n ? n : 1, 8);
    if (!nl1)
        return -ENOMEM;
    memcpy(nl1, tab, bytes);
    uint8_t h[12];
    put32(h, n);
    put64(h + 4, c << q->cluster_bits);
    r = bfile_pwrite(&q->bs->file, 36, h, 12);
    if (r < 0) {
        free(nl1);
        return r;
    }
    uint64_t old_off = q->l1_offset, old_bytes = (uint64_t)q->l1_size * 8;
    free(q->l1);
    q->l1 = nl1;
    q->l1_size = n;
    q->l1_offset = c << q->cluster_bits;
    if (old_bytes)
        r = release_range(q, old_off, old_bytes);
    return r;
}

static int qcow2_truncate(struct block_dev *bs, uint64_t size, bool shrink)
{
    struct qcow2_state *q = Q(bs);
    (void)shrink;
    if (size < q->size)
        return -ENOTSUP;
    if (q->nb_snapshots)
        return -EBUSY;
    if (size > QCOW2_MAX_SIZE)
        return -EFBIG;
    uint64_t need = (size_to_clusters(q, size) + q->l2_entries - 1) / q->l2_entries;
    if (need > QCOW2_MAX_L1_ENTRIES)
        return -EFBIG;
    if (need > q->l1_size) {
        uint64_t *tab = calloc(need, 8);
        if (!tab)
            return -ENOMEM;
        memcpy(tab, q->l1, (uint64_t)q->l1_size * 8);
        int r = replace_l1(q, tab, (uint32_t)need);
        free(tab);
        if (r < 0)
            return r;
    }
    uint8_t b[8];
    put64(b, size);
    int r = bfile_pwrite(&bs->file, 24, b, 8);
    if (r < 0)
        return r;
    q->size = size;
    bs->size = size;
    return 0;
}

/* ---------------- creation ---------------- */

int qcow2_create(const char *filename, const struct qcow2_create_opts *o, char *err, size_t errlen)
{
    unsigned cs = o->cluster_size ? o->cluster_size : 65536;
    unsigned bits = 0;
    while ((1u << bits) < cs)
        bits++;
    if ((1u << bits) != cs || bits < 9 || bits > 21) {
        snprintf(err, errlen, "Cluster size must be a power of two between 512 and 2048k");
        return -1;
    }
    int version = o->version ? o->version : 3;
    unsigned rbits = o->refcount_bits ? o->refcount_bits : 16;
    unsigned order = 0;
    while ((1u << order) < rbits)
        order++;
    if ((1u << order) != rbits || order > 6 || (version < 3 && order != 4)) {
        snprintf(err, errlen, "Refcount width must be a power of two and may not exceed 64 bits");
        return -1;
    }
    if (version < 3 && (o->lazy_refcounts || o->compression_type)) {
        snprintf(err, errlen, o->lazy_refcounts ? "Lazy refcounts only supported with compatibility level 1.1 and above (use compat=1.1 or greater)"
                                                : "Compression type can only be used with compatibility level 1.1 and above");
        return -1;
    }
    if (o->size > QCOW2_MAX_SIZE) {
        snprintf(err, errlen, "Image size is too big");
        return -1;
    }
    struct block_dev *bs = calloc(1, sizeof(*bs));
    struct qcow2_state *q = calloc(1, sizeof(*q));
    uint8_t *buf = calloc(3, cs);
    int ret = -1;
    if (!bs || !q || !buf) {
        snprintf(err, errlen, "Out of memory");
        goto out;
    }
    pthread_mutex_init(&bs->lock, NULL);
    int fd = open(filename, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "Could not create '%s': %s", filename, strerror(errno));
        goto out_mutex;
    }
    close(fd);
    int r = bfile_open(&bs->file, filename, true, BLOCK_CACHE_WRITEBACK);
    if (r < 0) {
        snprintf(err, errlen, "Could not open '%s': %s", filename, strerror(-r));
        goto out_mutex;
    }
    bs->opaque = q;
    bs->drv = &block_driver_qcow2;
    q->bs = bs;
    q->version = version;
    q->cluster_bits = bits;
    q->cluster_size = cs;
    q->l2_entries = cs / 8;
    q->refcount_order = order;
    q->rb_entries = ((uint64_t)cs * 8) >> order;
    q->compression_type = o->compression_type;
    if (o->compression_type)
        q->incompat |= QCOW2_INCOMPAT_COMPRESSION;
    if (o->lazy_refcounts)
        q->compat |= QCOW2_COMPAT_LAZY;
    if (o->backing_file) {
        if (strlen(o->backing_file) > 1023) {
            snprintf(err, errlen, "Backing file name too long");
            goto out_close;
        }
        snprintf(q->backing_file, sizeof(q->backing_file), "%s", o->backing_file);
        if (o->backing_fmt)
            snprintf(q->backing_fmt, sizeof(q->backing_fmt), "%s", o->backing_fmt);
    }
    /* Cluster 0 header, 1 refcount table, 2 refcount block; the L1 table grows via truncate. */
    q->rt_offset = cs;
    q->rt_clusters = 1;
    q->rt_entries = cs / 8;
    q->rt = calloc(q->rt_entries, 8);
    q->l1 = calloc(1, 8);
    if (!q->rt || !q->l1)
        goto out_close;
    q->rt[0] = 2 * (uint64_t)cs;
    if (build_header(q, buf) < 0) {
        snprintf(err, errlen, "Backing file name too long");
        goto out_close;
    }
    put64(buf + cs, 2 * (uint64_t)cs);
    uint64_t bo;
    unsigned bl;
    for (int c = 0; c < 3; c++)
        rb_set(q, buf + 2 * cs, (uint64_t)c, 1, &bo, &bl);
    r = bfile_pwrite(&bs->file, 0, buf, 3 * (size_t)cs);
    if (!r)
        r = qcow2_truncate(bs, o->size, false);
    if (!r)
        r = bfile_flush(&bs->file);
    if (r < 0) {
        snprintf(err, errlen, "Could not write '%s': %s", filename, strerror(-r));
        goto out_close;
    }
    ret = 0;
out_close:
    qcow2_close(bs);
    q = NULL;
    bfile_close(&bs->file);
out_mutex:
    pthread_mutex_destroy(&bs->lock);
out:
    if (q) {
        free(q->rt);
        free(q->l1);
        free(q);
    }
    free(bs);
    free(buf);
    return ret;
}

/* ---------------- info and backing ---------------- */

void qcow2_get_info(struct block_dev *bs, struct qcow2_info *info)
{
    struct qcow2_state *q = Q(bs);
    memset(info, 0, sizeof(*info));
    info->version = q->version;
    info->cluster_size = (unsigned)q->cluster_size;
    info->refcount_bits = 1u << q->refcount_order;
    info->lazy_refcounts = q->compat & QCOW2_COMPAT_LAZY;
    info->dirty = (q->incompat & QCOW2_INCOMPAT_DIRTY) && !q->set_dirty;
    info->corrupt = q->incompat & QCOW2_INCOMPAT_CORRUPT;
    info->compression_type = q->compression_type;
    snprintf(info->backing_file, sizeof(info->backing_file), "%s", q->backing_file);
    snprintf(info->backing_fmt, sizeof(info->backing_fmt), "%s", q->backing_fmt);
    info->nb_snapshots = (int)q->nb_snapshots;
}

unsigned qcow2_cluster_size(struct block_dev *bs)
{
    return bs->drv == &block_driver_qcow2 ? (unsigned)Q(bs)->cluster_size : 0;
}

int qcow2_set_backing(struct block_dev *bs, const char *backing, const char *fmt)
{
    struct qcow2_state *q = Q(bs);
    if (backing && strlen(backing) > 1023)
        return -ENAMETOOLONG;
    pthread_mutex_lock(&bs->lock);
    snprintf(q->backing_file, sizeof(q->backing_file), "%s", backing ? backing : "");
    snprintf(q->backing_fmt, sizeof(q->backing_fmt), "%s", backing && fmt ? fmt : "");
    int r = write_header(q);
    if (!r && !backing) {
        uint8_t z[12] = { 0 };
        r = bfile_pwrite(&bs->file, 8, z, 12);
    }
    pthread_mutex_unlock(&bs->lock);
    return r;
}

int qcow2_make_empty(struct block_dev *bs)
{
    struct qcow2_state *q = Q(bs);
    int r = 0;
    pthread_mutex_lock(&bs->lock);
    for (uint64_t i = 0; i < q->l1_size && !r; i++) {
        if (!(q->l1[i] & QCOW2_OFFSET_MASK))
            continue;
        uint64_t l2off;
        r = writable_l2(q, i, &l2off);
        if (r < 0)
            break;
        for (uint64_t j = 0; j < q->l2_entries && !r; j++) {
            int err = 0;
            uint8_t *t = load_l2(q, l2off, &err);
            if (!t) {
                r = err;
                break;
            }
            uint64_t e = be64(t + 8 * j);
            if (!e)
                continue;
            r = write_l2_entry(q, l2off, j, 0);
            if (!r)
                r = release_entry(q, e);
        }
    }
    q->cdata_valid = false;
    pthread_mutex_unlock(&bs->lock);
    return r;
}

const struct block_driver block_driver_qcow2 = {
    .name = "qcow2",
    .probe = qcow2_probe,
    .open = qcow2_open,
    .close = qcow2_close,
    .pread = qcow2_pread,
    .pwrite = qcow2_pwrite,
    .flush = qcow2_flush,
    .truncate = qcow2_truncate,
    .block_status = qcow2_block_status,
};


/* ---------------- internal snapshots ---------------- */

static int read_table(struct qcow2_state *q, uint64_t off, uint32_t n, uint64_t **out)
{
    uint64_t *t = calloc(n ? n : 1, 8);
    uint8_t *raw = malloc(n ? (size_t)n * 8 : 8);
    if (!t || !raw) {
        free(t);
        free(raw);
        return -ENOMEM;
    }
    int r = bfile_pread(&q->bs->file, off, raw, (size_t)n * 8);
    for (uint32_t i = 0; i < n; i++)
        t[i] = be64(raw + 8 * i);
    free(raw);
    if (r < 0) {
        free(t);
        return r;
    }
    *out = t;
    return 0;
}

/* Make COPIED flags of the active tree say exactly "refcount is one" (check's repair). */
static int fix_copied(struct qcow2_state *q)
{
    for (uint32_t i = 0; i < q->l1_size; i++) {
        uint64_t l2off = q->l1[i] & QCOW2_OFFSET_MASK, rc;
        if (!l2off)
            continue;
        int r = get_refcount(q, l2off >> q->cluster_bits, &rc);
        if (r < 0)
            return r;
        uint64_t want = rc == 1 ? q->l1[i] | QCOW2_OFLAG_COPIED : q->l1[i] & ~QCOW2_OFLAG_COPIED;
        if (want != q->l1[i]) {
            q->l1[i] = want;
            if ((r = write_l1_entry(q, i)) < 0)
                return r;
        }
        for (uint64_t j = 0; j < q->l2_entries; j++) {
            int err = 0;
            uint8_t *t = load_l2(q, l2off, &err);
            if (!t)
                return err;
            uint64_t e = be64(t + 8 * j), d = e & QCOW2_OFFSET_MASK;
            if ((e & QCOW2_OFLAG_COMPRESSED) || !d)
                continue;
            if ((r = get_refcount(q, d >> q->cluster_bits, &rc)) < 0)
                return r;
            uint64_t we = rc == 1 ? e | QCOW2_OFLAG_COPIED : e & ~QCOW2_OFLAG_COPIED;
            if (we != e && (r = write_l2_entry(q, l2off, j, we)) < 0)
                return r;
        }
    }
    return 0;
}

/* Snapshot create/apply/delete change the refcounts of many clusters together with the
 * COPIED flags of the active tree, and qemu-img check calls any disagreement between the two
 * corrupt, so no order of in-place updates survives a SIGKILL half-way. Instead the new state
 * is built beside the old one, in clusters the old state does not use: a new active L1 table,
 * copies of the active L2 tables whose flags change, the new snapshot table, and a complete
 * refcount table with its blocks computed from the references of the new state. One 48-byte
 * header write (one sector) then switches from the old state to the new; the old structures
 * are simply free clusters of the new state. */
struct new_state {
    uint64_t *l1;               /* new active L1 entries; flags are recomputed */
    uint32_t l1_size;
    struct qcow2_snap *snaps;   /* new snapshot list */
    uint32_t nsnaps;
    int new_snap;               /* index of a snapshot whose L1 copies the final active L1, or -1 */
    bool keep_snap_table;       /* the list is the image's current one: leave its table alone */
    uint64_t disk_size;
    /* The new snapshot's VM state (vm_size bytes from vm_segs, zeros elsewhere), stored in
     * clusters only the new snapshot references, after the disk's L1 range as QEMU does. */
    const struct qcow2_vmstate_seg *vm_segs;
    unsigned vm_nsegs;
    uint64_t vm_size;
    uint64_t *snap_l1;          /* the new snapshot's L1 when it differs from the active one */
    uint32_t snap_l1_size;
    /* work */
    uint32_t *ref;              /* references per host cluster in the new state */
    uint8_t *taken;             /* allocated for a new structure */
    uint64_t nref, scan;
};

#define NEW_STATE_MAX_CLUSTERS (UINT64_C(1) << 28)

static int ns_grow(struct new_state *ns, uint64_t c)
{
    if (c < ns->nref)
        return 0;
    if (c >= NEW_STATE_MAX_CLUSTERS)
        return -EFBIG;
    uint64_t n = ns->nref ? ns->nref : 1024;
    while (n <= c)
        n *= 2;
    uint32_t *ref = realloc(ns->ref, n * sizeof(*ref));
    if (!ref)
        return -ENOMEM;
    ns->ref = ref;
    uint8_t *taken = realloc(ns->taken, n);
    if (!taken)
        return -ENOMEM;
    ns->taken = taken;
    memset(ns->ref + ns->nref, 0, (n - ns->nref) * sizeof(*ref));
    memset(ns->taken + ns->nref, 0, n - ns->nref);
    ns->nref = n;
    return 0;
}

/* One more reference to every host cluster touched by [off, off+len). */
static int ns_ref(struct qcow2_state *q, struct new_state *ns, uint64_t off, uint64_t len)
{
    if (!len)
        return 0;
    uint64_t first = off >> q->cluster_bits, last = (off + len - 1) >> q->cluster_bits;
    if (last >= size_to_clusters(q, q->file_len)) {
        set_err(q, "qcow2: metadata refers to offset %#" PRIx64 " past the end of the file; run check -r all",
                off + len - 1);
        return -EIO;
    }
    int r = ns_grow(ns, last);
    if (r < 0)
        return r;
    for (uint64_t c = first; c <= last; c++) {
        if (ns->ref[c] == UINT32_MAX) {
            set_err(q, "qcow2: cluster %" PRIu64 " has too many references", c);
            return -EMLINK;
        }
        ns->ref[c]++;
    }
    return 0;
}

/* n consecutive clusters free in both states (refcount 0 on disk, unreferenced, not taken). */
static int ns_alloc(struct qcow2_state *q, struct new_state *ns, uint64_t n, uint64_t *out)
{
    uint64_t c = ns->scan ? ns->scan : 1;
    for (;;) {
        uint64_t k;
        for (k = 0; k < n; k++) {
            uint64_t rc;
            int r = ns_grow(ns, c + k);
            if (r < 0)
                return r;
            if (ns->ref[c + k] || ns->taken[c + k])
                break;
            if ((r = get_refcount(q, c + k, &rc)) < 0)
                return r;
            if (rc)
                break;
        }
        if (k == n)
            break;
        c += k + 1;
        /* Past the end of the file every cluster is free unless refcounts are corrupt. */
        if (c > size_to_clusters(q, q->file_len) + ns->nref / 2 + 2 * n + 1024) {
            set_err(q, "qcow2: no free clusters found; refcounts look corrupt, run check -r all");
            return -EIO;
        }
    }
    for (uint64_t k = 0; k < n; k++)
        ns->taken[c + k] = 1;
    /* Every cluster between the scan start and c was found in use (single clusters) or
     * stays a candidate (runs): only then may the next scan start later. */
    if (n == 1 || c == ns->scan)
        ns->scan = c + n;
    *out = c;
    return 0;
}

static int ns_write_new(struct qcow2_state *q, struct new_state *ns, const void *buf, uint64_t nclusters,
                        uint64_t *off)
{
    uint64_t c;
    int r = ns_alloc(q, ns, nclusters, &c);
    if (r < 0)
        return r;
    *off = c << q->cluster_bits;
    r = bfile_pwrite(&q->bs->file, *off, buf, nclusters << q->cluster_bits);
    if (!r && *off + (nclusters << q->cluster_bits) > q->file_len)
        q->file_len = *off + (nclusters << q->cluster_bits);
    return r;
}

static int ns_check_l2_offset(struct qcow2_state *q, uint64_t l2off)
{
    if (!valid_meta_offset(q, l2off) || l2off >= q->file_len) {
        set_err(q, "qcow2: L2 table offset %#" PRIx64 " is invalid; run check -r all", l2off);
        return -EIO;
    }
    return 0;
}

/* References from the entries of the L2 tables of one L1 tree (not the L2 tables themselves). */
static int ns_count_data(struct qcow2_state *q, struct new_state *ns, const uint64_t *l1, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        uint64_t l2off = l1[i] & QCOW2_OFFSET_MASK;
        if (!l2off)
            continue;
        int r = ns_check_l2_offset(q, l2off), err = 0;
        if (r < 0)
            return r;
        uint8_t *t = load_l2(q, l2off, &err);
        if (!t)
            return err;
        for (uint64_t j = 0; j < q->l2_entries && !r; j++) {
            uint64_t e = be64(t + 8 * j);
            if (e & QCOW2_OFLAG_COMPRESSED) {
                uint64_t off, len;
                compressed_range(q, e, &off, &len);
                r = ns_ref(q, ns, off & ~UINT64_C(511), len + (off & 511));
            } else if (e & QCOW2_OFFSET_MASK) {
                uint64_t d = e & QCOW2_OFFSET_MASK;
                if (d & (q->cluster_size - 1)) {
                    set_err(q, "qcow2: data cluster offset %#" PRIx64 " is unaligned; run check -r all", d);
                    return -EIO;
                }
                r = ns_ref(q, ns, d, q->cluster_size);
            }
        }
        if (r < 0)
            return r;
    }
    return 0;
}

/* Every reference an existing snapshot makes: its L1 table, its L2 tables and their data.
 * (Snapshot L2 tables never change, so their references do not wait for the active tree's.) */
static int ns_count_snapshot(struct qcow2_state *q, struct new_state *ns, const struct qcow2_snap *s)
{
    uint64_t *l1;
    int r = read_table(q, s->l1_offset, s->l1_size, &l1);
    if (r < 0)
        return r;
    r = ns_count_data(q, ns, l1, s->l1_size);
    for (uint32_t i = 0; !r && i < s->l1_size; i++) {
        uint64_t l2off = l1[i] & QCOW2_OFFSET_MASK;
        if (l2off)
            r = ns_ref(q, ns, l2off, q->cluster_size);
    }
    free(l1);
    return r ? r : ns_ref(q, ns, s->l1_offset, (uint64_t)s->l1_size * 8);
}

/* Point active L1 entries at copies of the L2 tables whose COPIED flags disagree with the
 * data references of the new state. */
static int ns_fix_active_flags(struct qcow2_state *q, struct new_state *ns)
{
    uint8_t *copy = malloc(q->cluster_size);
    if (!copy)
        return -ENOMEM;
    int r = 0;
    for (uint32_t i = 0; i < ns->l1_size && !r; i++) {
        uint64_t l2off = ns->l1[i] & QCOW2_OFFSET_MASK;
        if (!l2off)
            continue;
        int err = 0;
        uint8_t *t = load_l2(q, l2off, &err);
        if (!t) {
            r = err;
            break;
        }
        memcpy(copy, t, q->cluster_size);
        bool changed = false;
        for (uint64_t j = 0; j < q->l2_entries; j++) {
            uint64_t e = be64(copy + 8 * j), d = e & QCOW2_OFFSET_MASK, want = e;
            if (e & QCOW2_OFLAG_COMPRESSED)
                want = e & ~QCOW2_OFLAG_COPIED;
            else if (d)
                want = ns->ref[d >> q->cluster_bits] == 1 ? e | QCOW2_OFLAG_COPIED : e & ~QCOW2_OFLAG_COPIED;
            if (want != e) {
                put64(copy + 8 * j, want);
                changed = true;
            }
        }
        if (changed) {
            uint64_t noff = 0;
            r = ns_write_new(q, ns, copy, 1, &noff);
            if (!r)
                ns->l1[i] = noff;
        }
    }
    free(copy);
    return r;
}

/* Write the refcount blocks and table of the new state; returns the table's place. */
static int ns_write_refcounts(struct qcow2_state *q, struct new_state *ns, uint64_t *rt_off,
                              uint64_t *rt_clusters, uint64_t **rt_out)
{
    uint64_t highest = 0;
    for (uint64_t c = 0; c < ns->nref; c++)
        if (ns->ref[c] || ns->taken[c])
            highest = c;
    uint64_t nrb, tcl, toff = 0, *rbs = NULL;
    int r;
    for (;;) {
        nrb = (highest + 1 + q->rb_entries - 1) / q->rb_entries;
        tcl = size_to_clusters(q, nrb * 8);
        if (tcl > QCOW2_MAX_RT_CLUSTERS(q)) {
            set_err(q, "qcow2: refcount table too large");
            free(rbs);
            return -EFBIG;
        }
        uint64_t *nrbs = realloc(rbs, nrb * 8);
        if (!nrbs) {
            free(rbs);
            return -ENOMEM;
        }
        rbs = nrbs;
        uint64_t top = highest;
        if ((r = ns_alloc(q, ns, tcl, &toff)) < 0) {
            free(rbs);
            return r;
        }
        top = toff + tcl - 1 > top ? toff + tcl - 1 : top;
        for (uint64_t b = 0; b < nrb && !r; b++) {
            r = ns_alloc(q, ns, 1, &rbs[b]);
            if (rbs[b] > top)
                top = rbs[b];
        }
        if (r < 0) {
            free(rbs);
            return r;
        }
        if ((top + 1 + q->rb_entries - 1) / q->rb_entries <= nrb)
            break;
        /* The structures themselves need more blocks: give the clusters back and size again. */
        for (uint64_t k = 0; k < tcl; k++)
            ns->taken[toff + k] = 0;
        for (uint64_t b = 0; b < nrb; b++)
            ns->taken[rbs[b]] = 0;
        ns->scan = 0;
        highest = top;
    }
    for (uint64_t k = 0; k < tcl; k++)
        ns->ref[toff + k]++;
    for (uint64_t b = 0; b < nrb; b++)
        ns->ref[rbs[b]]++;
    uint64_t rmax = refcount_max(q);
    for (uint64_t c = 0; c < ns->nref; c++) {
        if (ns->ref[c] > rmax) {
            set_err(q, "cluster %" PRIu64 " would need refcount %" PRIu64 ", more than refcount_bits=%u allows",
                    c, (uint64_t)ns->ref[c], 1u << q->refcount_order);
            free(rbs);
            return -EMLINK;
        }
    }
    uint8_t *blk = malloc(q->cluster_size);
    uint64_t entries = (tcl << q->cluster_bits) / 8;
    uint64_t *rt = calloc(entries, 8);
    uint8_t *tbuf = calloc(tcl, q->cluster_size);
    r = blk && rt && tbuf ? 0 : -ENOMEM;
    for (uint64_t b = 0; b < nrb && !r; b++) {
        memset(blk, 0, q->cluster_size);
        for (uint64_t j = 0; j < q->rb_entries && b * q->rb_entries + j < ns->nref; j++) {
            uint64_t v = ns->ref[b * q->rb_entries + j], bo;
            unsigned bl;
            if (v)
                rb_set(q, blk, j, v, &bo, &bl);
        }
        r = bfile_pwrite(&q->bs->file, rbs[b] << q->cluster_bits, blk, q->cluster_size);
        rt[b] = rbs[b] << q->cluster_bits;
        put64(tbuf + 8 * b, rt[b]);
    }
    if (!r)
        r = bfile_pwrite(&q->bs->file, toff << q->cluster_bits, tbuf, tcl << q->cluster_bits);
    free(blk);
    free(tbuf);
    free(rbs);
    if (r < 0) {
        free(rt);
        return r;
    }
    *rt_off = toff << q->cluster_bits;
    *rt_clusters = tcl;
    *rt_out = rt;
    return 0;
}

static void cache_invalidate(struct qcow2_cache *c)
{
    for (int i = 0; i < QCOW2_CACHE_SLOTS; i++)
        c->off[i] = 0;
}

/* First L1 index past the disk: where QEMU keeps a snapshot's VM state. */
static uint64_t vmstate_l1_index(const struct qcow2_state *q, uint64_t disk_size)
{
    uint64_t span = q->cluster_size * q->l2_entries;
    return (disk_size + span - 1) / span;
}

/* Bytes [off, off+len) of the VM state being saved into out. */
static void vmstate_fill(const struct new_state *ns, uint64_t off, uint8_t *out, uint64_t len)
{
    memset(out, 0, len);
    for (unsigned i = 0; i < ns->vm_nsegs; i++) {
        const struct qcow2_vmstate_seg *g = &ns->vm_segs[i];
        uint64_t a = off > g->off ? off : g->off, b = off + len < g->off + g->len ? off + len : g->off + g->len;
        if (a < b)
            memcpy(out + (a - off), (const uint8_t *)g->data + (a - g->off), b - a);
    }
}

static bool all_zero(const uint8_t *p, uint64_t len)
{
    for (uint64_t i = 0; i < len; i += 8) {
        uint64_t v;
        memcpy(&v, p + i, 8);
        if (v)
            return false;
    }
    return true;
}

/* Write the VM state's non-zero clusters in runs, their L2 tables, and the new snapshot's L1
 * (the active entries below the VM state, then the VM state's L2 tables). */
static int ns_write_vmstate(struct qcow2_state *q, struct new_state *ns)
{
    const uint64_t cs = q->cluster_size, run_max = 256;
    uint64_t first = vmstate_l1_index(q, ns->disk_size);
    uint64_t nclusters = size_to_clusters(q, ns->vm_size);
    uint64_t nl2 = (nclusters + q->l2_entries - 1) / q->l2_entries;
    if (first + nl2 > QCOW2_MAX_L1_ENTRIES)
        return -EFBIG;
    ns->snap_l1_size = (uint32_t)(first + nl2 > ns->l1_size ? first + nl2 : ns->l1_size);
    ns->snap_l1 = calloc(ns->snap_l1_size, 8);
    uint64_t *l2 = calloc(nl2 ? nl2 : 1, cs);
    uint8_t *run = malloc(run_max * cs);
    int r = ns->snap_l1 && l2 && run ? 0 : -ENOMEM;
    for (uint64_t i = 0; i < first && i < ns->l1_size && !r; i++)
        ns->snap_l1[i] = ns->l1[i] & ~QCOW2_OFLAG_COPIED;
    uint64_t run_start = 0, run_len = 0;
    for (uint64_t k = 0; k <= nclusters && !r; k++) {
        bool data = false;
        if (k < nclusters) {
            vmstate_fill(ns, k * cs, run + run_len * cs, cs);
            data = !all_zero(run + run_len * cs, cs);
        }
        if (data && run_len == 0)
            run_start = k;
        if (data)
            run_len++;
        if (run_len && (!data || run_len == run_max || k + 1 == nclusters)) {
            uint64_t c;
            r = ns_alloc(q, ns, run_len, &c);
            if (!r)
                r = bfile_pwrite(&q->bs->file, c << q->cluster_bits, run, run_len * cs);
            if (!r && ((c + run_len) << q->cluster_bits) > q->file_len)
                q->file_len = (c + run_len) << q->cluster_bits;
            if (!r)
                r = ns_ref(q, ns, c << q->cluster_bits, run_len * cs);
            for (uint64_t i = 0; i < run_len && !r; i++)
                l2[run_start + i] = (c + i) << q->cluster_bits;
            run_len = 0;
        }
    }
    uint8_t *tbl = malloc(cs);
    if (!tbl && !r)
        r = -ENOMEM;
    for (uint64_t t = 0; t < nl2 && !r; t++) {
        bool any = false;
        for (uint64_t j = 0; j < q->l2_entries; j++) {
            put64(tbl + 8 * j, l2[t * q->l2_entries + j]);
            any |= l2[t * q->l2_entries + j] != 0;
        }
        if (!any)
            continue;
        uint64_t off;
        r = ns_write_new(q, ns, tbl, 1, &off);
        if (!r)
            r = ns_ref(q, ns, off, cs);
        ns->snap_l1[first + t] = off;
    }
    free(tbl);
    free(l2);
    free(run);
    return r;
}

/* Build the state described by ns beside the current one and switch to it atomically. On
 * success q describes the new state and owns ns->snaps; on failure the image and q are as
 * they were (clusters written on the way were free and stay free). */
static int switch_state(struct qcow2_state *q, struct new_state *ns)
{
    int r;
    uint64_t *rt = NULL, rt_off = 0, rt_clusters = 0;
    uint64_t l1_off = 0, st_off = q->snapshots_offset, st_size = q->snapshots_size, new_snap_l1 = 0;
    int64_t flen = bfile_length(&q->bs->file);
    if (flen < 0)
        return (int)flen;
    q->file_len = (uint64_t)flen > q->file_len ? (uint64_t)flen : q->file_len;
    /* 1. Data references of every tree (they decide the COPIED flags) and everything an
     *    existing snapshot references. A new snapshot's tree is the active one. */
    /* With a VM state the new snapshot shares only the active entries below it. */
    uint32_t shared = ns->l1_size;
    if (ns->vm_size && vmstate_l1_index(q, ns->disk_size) < shared)
        shared = (uint32_t)vmstate_l1_index(q, ns->disk_size);
    r = ns_count_data(q, ns, ns->l1, ns->l1_size);
    if (!r && ns->new_snap >= 0)
        r = ns_count_data(q, ns, ns->l1, shared);
    for (uint32_t s = 0; s < ns->nsnaps && !r; s++)
        if ((int)s != ns->new_snap)
            r = ns_count_snapshot(q, ns, &ns->snaps[s]);
    /* 2. Copies of the active L2 tables whose flags change; a new snapshot shares them. */
    if (!r)
        r = ns_fix_active_flags(q, ns);
    /* 3. References to the active L2 tables, then the active L1 flags. */
    for (uint32_t i = 0; i < ns->l1_size && !r; i++) {
        uint64_t l2off = ns->l1[i] & QCOW2_OFFSET_MASK;
        if (l2off)
            r = ns_ref(q, ns, l2off, q->cluster_size);
        if (l2off && !r && ns->new_snap >= 0 && i < shared)
            r = ns_ref(q, ns, l2off, q->cluster_size);   /* the new snapshot's L1 shares it */
    }
    if (r < 0)
        goto out;
    for (uint32_t i = 0; i < ns->l1_size; i++) {
        uint64_t l2off = ns->l1[i] & QCOW2_OFFSET_MASK;
        ns->l1[i] = l2off && ns->ref[l2off >> q->cluster_bits] == 1 ? l2off | QCOW2_OFLAG_COPIED : l2off;
    }
    if (ns->new_snap >= 0 && ns->vm_size && (r = ns_write_vmstate(q, ns)) < 0)
        goto out;
    /* 4. The L1 tables, the snapshot table and the header. */
    uint64_t l1_bytes = (uint64_t)ns->l1_size * 8, l1_clusters = size_to_clusters(q, l1_bytes ? l1_bytes : 1);
    uint8_t *buf = calloc(l1_clusters, q->cluster_size);
    if (!buf) {
        r = -ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < ns->l1_size; i++)
        put64(buf + 8 * i, ns->l1[i]);
    r = ns_write_new(q, ns, buf, l1_clusters, &l1_off);
    if (!r)
        r = ns_ref(q, ns, l1_off, l1_bytes);
    if (!r && ns->new_snap >= 0 && !ns->snap_l1) {
        for (uint32_t i = 0; i < ns->l1_size; i++)
            put64(buf + 8 * i, ns->l1[i] & ~QCOW2_OFLAG_COPIED);
        r = ns_write_new(q, ns, buf, l1_clusters, &new_snap_l1);
        if (!r)
            r = ns_ref(q, ns, new_snap_l1, l1_bytes);
        ns->snaps[ns->new_snap].l1_offset = new_snap_l1;
        ns->snaps[ns->new_snap].l1_size = ns->l1_size;
    }
    free(buf);
    if (!r && ns->new_snap >= 0 && ns->snap_l1) {
        uint64_t bytes = (uint64_t)ns->snap_l1_size * 8, ncl = size_to_clusters(q, bytes);
        buf = calloc(ncl, q->cluster_size);
        r = buf ? 0 : -ENOMEM;
        for (uint32_t i = 0; i < ns->snap_l1_size && !r; i++)
            put64(buf + 8 * i, ns->snap_l1[i]);
        if (!r)
            r = ns_write_new(q, ns, buf, ncl, &new_snap_l1);
        if (!r)
            r = ns_ref(q, ns, new_snap_l1, bytes);
        free(buf);
        ns->snaps[ns->new_snap].l1_offset = new_snap_l1;
        ns->snaps[ns->new_snap].l1_size = ns->snap_l1_size;
    }
    if (!r && !ns->keep_snap_table) {
        st_off = 0;
        st_size = 0;
        if (ns->nsnaps) {
            uint64_t ncl;
            buf = serialize_snapshots(q, ns->snaps, ns->nsnaps, &st_size, &ncl);
            r = buf ? ns_write_new(q, ns, buf, ncl, &st_off) : -ENOMEM;
            free(buf);
        }
    }
    if (!r && ns->nsnaps)
        r = ns_ref(q, ns, st_off, st_size);
    if (!r)
        r = ns_ref(q, ns, 0, q->cluster_size);
    /* 5. Refcounts of everything above, and of themselves. */
    if (!r)
        r = ns_write_refcounts(q, ns, &rt_off, &rt_clusters, &rt);
    if (r < 0)
        goto out;
    /* 6. Everything new reaches the disk before the header points at it. */
    if ((r = bfile_flush(&q->bs->file)) < 0)
        goto out;
    uint8_t h[48];
    put64(h, ns->disk_size);
    put32(h + 8, 0);
    put32(h + 12, ns->l1_size);
    put64(h + 16, l1_off);
    put64(h + 24, rt_off);
    put32(h + 32, (uint32_t)rt_clusters);
    put32(h + 36, ns->nsnaps);
    put64(h + 40, ns->nsnaps ? st_off : 0);
    if ((r = bfile_pwrite(&q->bs->file, 24, h, sizeof(h))) < 0)
        goto out;
    r = bfile_flush(&q->bs->file);
    /* The header now describes the new state, whatever the flush said. */
    free(q->l1);
    q->l1 = ns->l1;
    ns->l1 = NULL;
    q->l1_size = ns->l1_size;
    q->l1_offset = l1_off;
    free(q->rt);
    q->rt = rt;
    q->rt_offset = rt_off;
    q->rt_clusters = (uint32_t)rt_clusters;
    q->rt_entries = (rt_clusters << q->cluster_bits) / 8;
    q->snaps = ns->snaps;
    q->nb_snapshots = ns->nsnaps;
    q->snapshots_offset = ns->nsnaps ? st_off : 0;
    q->snapshots_size = ns->nsnaps ? st_size : 0;
    q->size = q->bs->size = ns->disk_size;
    flen = bfile_length(&q->bs->file);
    if (flen > 0 && (uint64_t)flen > q->file_len)
        q->file_len = (uint64_t)flen;
    cache_invalidate(&q->l2_cache);
    cache_invalidate(&q->rb_cache);
    rt = NULL;
    q->cfree_off = 0;
    q->free_hint = 0;
out:
    free(rt);
    free(ns->ref);
    free(ns->taken);
    free(ns->snap_l1);
    ns->snap_l1 = NULL;
    cache_invalidate(&q->l2_cache);
    cache_invalidate(&q->rb_cache);
    q->cdata_valid = false;
    return r;
}

const char *qcow2_last_error(struct block_dev *bs)
{
    return Q(bs)->errmsg;
}

static int find_snapshot(struct qcow2_state *q, const char *name)
{
    for (uint32_t i = 0; i < q->nb_snapshots; i++)
        if (!strcmp(q->snaps[i].id, name))
            return (int)i;
    for (uint32_t i = 0; i < q->nb_snapshots; i++)
        if (!strcmp(q->snaps[i].name, name))
            return (int)i;
    return -1;
}

int qcow2_snapshot_list(struct block_dev *bs, struct qcow2_snapshot_info *out, int max)
{
    struct qcow2_state *q = Q(bs);
    int n = 0;
    for (uint32_t i = 0; i < q->nb_snapshots && n < max; i++, n++) {
        struct qcow2_snap *s = &q->snaps[i];
        struct qcow2_snapshot_info *o = &out[n];
        memset(o, 0, sizeof(*o));
        snprintf(o->id, sizeof(o->id), "%s", s->id);
        snprintf(o->name, sizeof(o->name), "%s", s->name);
        o->date_sec = s->date_sec;
        o->date_nsec = s->date_nsec;
        o->vm_clock_nsec = s->vm_clock_nsec;
        o->vm_state_size = s->vm_state_size;
        o->disk_size = s->disk_size;
        o->icount = s->icount;
        o->has_icount = s->icount != UINT64_MAX;
    }
    return n;
}

static uint64_t *copy_active_l1(struct qcow2_state *q, uint32_t n)
{
    uint64_t *l1 = calloc(n ? n : 1, 8);
    if (l1)
        for (uint32_t i = 0; i < q->l1_size && i < n; i++)
            l1[i] = q->l1[i] & QCOW2_OFFSET_MASK;
    return l1;
}

int qcow2_snapshot_create(struct block_dev *bs, const char *name)
{
    return qcow2_snapshot_create_vm(bs, name, NULL, 0, 0, 0);
}

int qcow2_snapshot_create_vm(struct block_dev *bs, const char *name, const struct qcow2_vmstate_seg *segs,
                             unsigned nsegs, uint64_t vm_state_size, uint64_t vm_clock_nsec)
{
    return qcow2_snapshot_replace_vm(bs, name, false, segs, nsegs, vm_state_size, vm_clock_nsec);
}

int qcow2_snapshot_replace_vm(struct block_dev *bs, const char *name, bool replace,
                              const struct qcow2_vmstate_seg *segs, unsigned nsegs, uint64_t vm_state_size,
                              uint64_t vm_clock_nsec)
{
    struct qcow2_state *q = Q(bs);
    q->errmsg[0] = 0;
    if (bs->readonly)
        return -EROFS;
    if (strlen(name) > 1000)
        return -EINVAL;
    pthread_mutex_lock(&bs->lock);
    int r = -ENOMEM;
    /* The snapshots kept: all, or all but those of the same name when replacing them. */
    uint32_t n = 0;
    for (uint32_t i = 0; i < q->nb_snapshots; i++)
        n += !(replace && !strcmp(q->snaps[i].name, name));
    if (n >= QCOW2_MAX_SNAPSHOTS) {
        pthread_mutex_unlock(&bs->lock);
        return -EINVAL;
    }
    struct new_state ns = { .l1 = copy_active_l1(q, q->l1_size), .l1_size = q->l1_size,
                            .snaps = calloc(n + 1, sizeof(struct qcow2_snap)), .nsnaps = n + 1,
                            .new_snap = (int)n, .disk_size = q->size, .vm_segs = segs, .vm_nsegs = nsegs,
                            .vm_size = vm_state_size };
    uint8_t *extra = calloc(1, 24);
    char id[32];
    if (!ns.l1 || !ns.snaps || !extra)
        goto out;
    unsigned long maxid = 0;
    for (uint32_t i = 0; i < q->nb_snapshots; i++) {
        unsigned long v = strtoul(q->snaps[i].id, NULL, 10);
        if (v > maxid)
            maxid = v;
    }
    snprintf(id, sizeof(id), "%lu", maxid + 1);
    for (uint32_t i = 0, k = 0; i < q->nb_snapshots; i++)
        if (!(replace && !strcmp(q->snaps[i].name, name)))
            ns.snaps[k++] = q->snaps[i];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct qcow2_snap *s = &ns.snaps[n];
    *s = (struct qcow2_snap){
        .l1_size = q->l1_size, .id = strdup(id), .name = strdup(name),
        .date_sec = (uint32_t)ts.tv_sec, .date_nsec = (uint32_t)ts.tv_nsec,
        .disk_size = q->size, .icount = UINT64_MAX, .extra_size = 24, .extra = extra,
        .vm_state_size = vm_state_size, .vm_clock_nsec = vm_clock_nsec,
    };
    put64(extra, vm_state_size);
    put64(extra + 8, q->size);
    put64(extra + 16, UINT64_MAX);   /* the spec: -1 when icount was not recorded */
    extra = NULL;
    if (!s->id || !s->name) {
        free(s->id);
        free(s->name);
        free(s->extra);
        goto out;
    }
    struct qcow2_snap *old = q->snaps;
    uint32_t old_n = q->nb_snapshots;
    r = switch_state(q, &ns);
    if (q->snaps == ns.snaps) {
        for (uint32_t i = 0; i < old_n; i++)
            if (replace && !strcmp(old[i].name, name)) {
                free(old[i].id);
                free(old[i].name);
                free(old[i].extra);
            }
        free(old);
        ns.snaps = NULL;
    } else {
        free(s->id);
        free(s->name);
        free(s->extra);
    }
out:
    free(ns.l1);
    free(ns.snaps);
    free(extra);
    pthread_mutex_unlock(&bs->lock);
    return r;
}

int qcow2_snapshot_apply(struct block_dev *bs, const char *name)
{
    struct qcow2_state *q = Q(bs);
    q->errmsg[0] = 0;
    if (bs->readonly)
        return -EROFS;
    pthread_mutex_lock(&bs->lock);
    int idx = find_snapshot(q, name), r;
    uint64_t *snap_l1 = NULL;
    struct new_state ns = { .new_snap = -1, .keep_snap_table = true };
    if (idx < 0) {
        r = -ENOENT;
        goto out;
    }
    struct qcow2_snap *s = &q->snaps[idx];
    uint64_t need = (size_to_clusters(q, s->disk_size) + q->l2_entries - 1) / q->l2_entries;
    if (s->disk_size > QCOW2_MAX_SIZE || need > QCOW2_MAX_L1_ENTRIES) {
        r = -EFBIG;
        goto out;
    }
    uint32_t n = s->l1_size > need ? s->l1_size : (uint32_t)need;
    /* The VM state stays the snapshot's: the active tree takes the disk's part only. */
    uint32_t take = s->l1_size;
    if (s->vm_state_size && vmstate_l1_index(q, s->disk_size) < take)
        take = (uint32_t)vmstate_l1_index(q, s->disk_size);
    if (s->vm_state_size)
        n = take > need ? take : (uint32_t)need;
    r = read_table(q, s->l1_offset, s->l1_size, &snap_l1);
    if (r < 0)
        goto out;
    ns.l1 = calloc(n ? n : 1, 8);
    if (!ns.l1) {
        r = -ENOMEM;
        goto out;
    }
    for (uint32_t i = 0; i < take; i++)
        ns.l1[i] = snap_l1[i] & QCOW2_OFFSET_MASK;
    ns.l1_size = n;
    ns.snaps = q->snaps;
    ns.nsnaps = q->nb_snapshots;
    ns.disk_size = s->disk_size;
    /* The active tree is the snapshot's already (nothing written since it was taken or last
     * applied): its L2 tables are shared, so unchanged, and there is nothing to write or sync. */
    bool same = n == q->l1_size && s->disk_size == q->size;
    for (uint32_t i = 0; same && i < n; i++)
        same = (q->l1[i] & QCOW2_OFFSET_MASK) == ns.l1[i];
    r = same ? 0 : switch_state(q, &ns);
out:
    free(snap_l1);
    free(ns.l1);
    pthread_mutex_unlock(&bs->lock);
    return r;
}

int qcow2_snapshot_delete(struct block_dev *bs, const char *name)
{
    struct qcow2_state *q = Q(bs);
    q->errmsg[0] = 0;
    if (bs->readonly)
        return -EROFS;
    pthread_mutex_lock(&bs->lock);
    int idx = find_snapshot(q, name), r = -ENOMEM;
    uint32_t n = q->nb_snapshots;
    struct new_state ns = { .l1 = copy_active_l1(q, q->l1_size), .l1_size = q->l1_size,
                            .snaps = calloc(n, sizeof(struct qcow2_snap)), .nsnaps = n - 1,
                            .new_snap = -1, .disk_size = q->size };
    if (idx < 0) {
        r = -ENOENT;
        goto out;
    }
    if (!ns.l1 || !ns.snaps)
        goto out;
    struct qcow2_snap gone = q->snaps[idx], *old = q->snaps;
    memcpy(ns.snaps, q->snaps, (size_t)idx * sizeof(*ns.snaps));
    memcpy(ns.snaps + idx, q->snaps + idx + 1, (n - (uint32_t)idx - 1) * sizeof(*ns.snaps));
    r = switch_state(q, &ns);
    if (q->snaps == ns.snaps) {
        free(old);
        free(gone.id);
        free(gone.name);
        free(gone.extra);
        ns.snaps = NULL;
    }
out:
    free(ns.l1);
    free(ns.snaps);
    pthread_mutex_unlock(&bs->lock);
    return r;
}

/* Put a host-contiguous piece of a VM state at dst: mapped from the file when map allows and
 * it is page-aligned and inside the file (a mapping past the end would fault), else read. */
static int vmstate_piece(struct qcow2_state *q, uint64_t host, uint8_t *dst, uint64_t len, bool *map)
{
    if (map) {
        const uint64_t ps = (uint64_t)sysconf(_SC_PAGESIZE);
        struct stat st;
        if (!(host % ps) && !((uintptr_t)dst % ps) && !(len % ps) && fstat(q->bs->file.fd, &st) == 0 &&
            (uint64_t)st.st_size >= host && (uint64_t)st.st_size - host >= len) {
            if (mmap(dst, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, q->bs->file.fd, (off_t)host) == dst) {
                *map = true;
                return 0;
            }
            /* A failed MAP_FIXED may have dropped what was there: put memory back, then read. */
            if (mmap(dst, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != dst)
                return -ENOMEM;
        }
    }
    return bfile_pread(&q->bs->file, host, dst, len);
}

static int vmstate_io(struct block_dev *bs, const char *name, uint64_t off, void *buf, size_t len, bool *mapped)
{
    struct qcow2_state *q = Q(bs);
    q->errmsg[0] = 0;
    pthread_mutex_lock(&bs->lock);
    int idx = find_snapshot(q, name), r = 0;
    uint64_t *l1 = NULL;
    if (idx < 0) {
        r = -ENOENT;
        goto out;
    }
    const struct qcow2_snap *s = &q->snaps[idx];
    if (off > s->vm_state_size || len > s->vm_state_size - off) {
        r = -EINVAL;
        goto out;
    }
    if ((r = read_table(q, s->l1_offset, s->l1_size, &l1)) < 0)
        goto out;
    const uint64_t cs = q->cluster_size, span = cs * q->l2_entries;
    uint64_t base = vmstate_l1_index(q, s->disk_size) * span;
    uint8_t *out = buf;
    /* Host-contiguous pieces are read with one pread. */
    uint64_t pend_host = 0, pend_len = 0;
    uint8_t *pend_dst = NULL;
    for (uint64_t done = 0; done < len && !r;) {
        uint64_t g = base + off + done, within = g & (cs - 1), n = cs - within;
        if (n > len - done)
            n = len - done;
        uint64_t i = g / span, j = (g / cs) % q->l2_entries, host = 0;
        if (i < s->l1_size && (l1[i] & QCOW2_OFFSET_MASK)) {
            uint64_t l2off = l1[i] & QCOW2_OFFSET_MASK;
            int err = 0;
            if ((r = ns_check_l2_offset(q, l2off)) < 0)
                break;
            uint8_t *t = load_l2(q, l2off, &err);
            if (!t) {
                r = err;
                break;
            }
            uint64_t e = be64(t + 8 * j);
            if (e & QCOW2_OFLAG_COMPRESSED) {
                set_err(q, "qcow2: compressed VM state is not supported");
                r = -ENOTSUP;
                break;
            }
            if (!(e & QCOW2_OFLAG_ZERO))
                host = e & QCOW2_OFFSET_MASK;
        }
        if (pend_len && (!host || host + within != pend_host + pend_len)) {
            r = vmstate_piece(q, pend_host, pend_dst, pend_len, mapped);
            pend_len = 0;
        }
        if (!host) {
            memset(out + done, 0, n);
        } else {
            if (!pend_len) {
                pend_host = host + within;
                pend_dst = out + done;
            }
            pend_len += n;
        }
        done += n;
    }
    if (!r && pend_len)
        r = vmstate_piece(q, pend_host, pend_dst, pend_len, mapped);
out:
    free(l1);
    pthread_mutex_unlock(&bs->lock);
    return r;
}

int qcow2_snapshot_vmstate_read(struct block_dev *bs, const char *name, uint64_t off, void *buf, size_t len)
{
    return vmstate_io(bs, name, off, buf, len, NULL);
}

int qcow2_snapshot_vmstate_map(struct block_dev *bs, const char *name, uint64_t off, void *buf, size_t len,
                               bool *mapped)
{
    *mapped = false;
    return vmstate_io(bs, name, off, buf, len, mapped);
}

/* ---------------- consistency check ---------------- */

#define QCOW2_L2_RESERVED_MASK (UINT64_C(0x3f000000000001fe))

struct check_ctx {
    struct qcow2_state *q;
    uint64_t *ref;
    uint64_t nb;
    struct qcow2_check_result *res;
    bool verbose;
};

static void check_inc(struct check_ctx *k, uint64_t off, uint64_t len)
{
    if (!len)
        return;
    uint64_t first = off >> k->q->cluster_bits, last = (off + len - 1) >> k->q->cluster_bits;
    for (uint64_t c = first; c <= last; c++) {
        if (c >= k->nb) {
            if (k->verbose)
                fprintf(stderr, "ERROR: counting reference for region exceeding the end of the file by one "
                        "cluster or more: offset 0x%" PRIx64 " size 0x%" PRIx64 "\n", off, len);
            k->res->corruptions++;
            return;
        }
        k->ref[c]++;
    }
}

/* Count references of one L1 tree; active = also check flags and gather statistics. */
static void check_tree(struct check_ctx *k, const uint64_t *l1, uint32_t n, bool active)
{
    struct qcow2_state *q = k->q;
    uint8_t *t = malloc(q->cluster_size);
    uint64_t next_contig = 0;
    if (!t) {
        k->res->check_errors++;
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        uint64_t l2off = l1[i] & QCOW2_OFFSET_MASK;
        if (!l2off)
            continue;
        if (l2off & (q->cluster_size - 1)) {
            if (k->verbose)
                fprintf(stderr, "ERROR l2_offset=%" PRIx64 ": Table is not cluster aligned; L1 entry corrupted\n", l2off);
            k->res->corruptions++;
            continue;
        }
        check_inc(k, l2off, q->cluster_size);
        next_contig = 0;   /* contiguity is judged within one L2 table */
        /* Past the end of the file the table reads as zeros (check_inc reported it), as in QEMU. */
        if (bfile_pread(&q->bs->file, l2off, t, q->cluster_size) < 0) {
            k->res->check_errors++;
            continue;
        }
        for (uint64_t j = 0; j < q->l2_entries; j++) {
            uint64_t e = be64(t + 8 * j);
            if (e & QCOW2_OFLAG_COMPRESSED) {
                uint64_t off, len;
                compressed_range(q, e, &off, &len);
                check_inc(k, off & ~UINT64_C(511), len + (off & 511));
                if (active) {
                    /* Compressed clusters count as fragmented by nature (as qemu-img says). */
                    k->res->allocated_clusters++;
                    k->res->compressed_clusters++;
                    k->res->fragmented_clusters++;
                }
                continue;
            }
            if (e & QCOW2_L2_RESERVED_MASK) {   /* bits 1-8 and 56-61 must be zero */
                if (k->verbose)
                    fprintf(stderr, "ERROR found l2 entry with reserved bits set: %" PRIx64 "\n", e);
                k->res->corruptions++;
            }
            uint64_t d = e & QCOW2_OFFSET_MASK;
            if (!d)
                continue;
            if (d & (q->cluster_size - 1)) {
                if (k->verbose)
                    fprintf(stderr, "ERROR offset=%" PRIx64 ": Cluster is not properly aligned; L2 entry corrupted.\n", d);
                k->res->corruptions++;
                continue;
            }
            check_inc(k, d, q->cluster_size);
            if (active) {
                k->res->allocated_clusters++;
                if (next_contig && d != next_contig)
                    k->res->fragmented_clusters++;
                next_contig = d + q->cluster_size;
            }
        }
    }
    free(t);
}

/* COPIED flags of the active tree against the computed references. */
static void check_copied(struct check_ctx *k)
{
    struct qcow2_state *q = k->q;
    uint8_t *t = malloc(q->cluster_size);
    if (!t)
        return;
    for (uint32_t i = 0; i < q->l1_size; i++) {
        uint64_t l2off = q->l1[i] & QCOW2_OFFSET_MASK;
        if (!l2off || (l2off & (q->cluster_size - 1)) || (l2off >> q->cluster_bits) >= k->nb)
            continue;
        uint64_t rc;
        if (get_refcount(q, l2off >> q->cluster_bits, &rc) < 0)
            continue;
        if ((rc == 1) != !!(q->l1[i] & QCOW2_OFLAG_COPIED)) {
            if (k->verbose)
                fprintf(stderr, "ERROR OFLAG_COPIED L2 cluster: l1_index=%u l1_entry=%" PRIx64 " refcount=%" PRIu64 "\n",
                        i, q->l1[i], rc);
            k->res->corruptions++;
        }
        if (bfile_pread(&q->bs->file, l2off, t, q->cluster_size) < 0)
            continue;
        for (uint64_t j = 0; j < q->l2_entries; j++) {
            uint64_t e = be64(t + 8 * j), d = e & QCOW2_OFFSET_MASK;
            if ((e & QCOW2_OFLAG_COMPRESSED) || !d || (d & (q->cluster_size - 1)) || (d >> q->cluster_bits) >= k->nb)
                continue;
            if (get_refcount(q, d >> q->cluster_bits, &rc) < 0)
                continue;
            if ((rc == 1) != !!(e & QCOW2_OFLAG_COPIED)) {
                if (k->verbose)
                    fprintf(stderr, "ERROR OFLAG_COPIED data cluster: l2_entry=%" PRIx64 " refcount=%" PRIu64 "\n", e, rc);
                k->res->corruptions++;
            }
        }
    }
    free(t);
}

static int check_locked(struct block_dev *bs, int fix, struct qcow2_check_result *res, bool verbose)
{
    struct qcow2_state *q = Q(bs);
    memset(res, 0, sizeof(*res));
    int64_t flen = bfile_length(&bs->file);
    if (flen < 0)
        return (int)flen;
    struct check_ctx k = { .q = q, .res = res, .verbose = verbose };
    k.nb = size_to_clusters(q, (uint64_t)flen);
    /* Like QEMU, refcounts past the end of the file are not looked at. */
    uint64_t span = k.nb;
    if (k.nb > (UINT64_C(1) << 27)) {
        set_err(q, "qcow2: image file too large to check");
        return -EFBIG;
    }
    k.ref = calloc(span ? span : 1, 8);
    if (!k.ref)
        return -ENOMEM;
    res->total_clusters = size_to_clusters(q, q->size);
    for (uint32_t s = 0; s < q->nb_snapshots; s++) {
        /* Version 3 entries carry at least the VM state and disk sizes (16 extra bytes). */
        if (q->version >= 3 && q->snaps[s].extra_size < 16) {
            if (verbose)
                fprintf(stderr, "ERROR snapshot table entry %u is incomplete\n", s);
            res->corruptions++;
        }
    }
    for (uint32_t s = 0; s < q->incomplete_snapshots; s++) {
        if (verbose)
            fprintf(stderr, "ERROR snapshot table entry %u is incomplete\n", q->nb_snapshots + s);
        res->corruptions++;
    }
    check_inc(&k, 0, q->cluster_size);
    check_inc(&k, q->l1_offset, (uint64_t)q->l1_size * 8);
    check_tree(&k, q->l1, q->l1_size, true);
    for (uint32_t s = 0; s < q->nb_snapshots; s++) {
        uint64_t *l1;
        check_inc(&k, q->snaps[s].l1_offset, (uint64_t)q->snaps[s].l1_size * 8);
        if (read_table(q, q->snaps[s].l1_offset, q->snaps[s].l1_size, &l1) < 0) {
            res->check_errors++;
            continue;
        }
        check_tree(&k, l1, q->snaps[s].l1_size, false);
        free(l1);
    }
    if (q->nb_snapshots)
        check_inc(&k, q->snapshots_offset, q->snapshots_size);
    check_inc(&k, q->rt_offset, (uint64_t)q->rt_clusters << q->cluster_bits);
    for (uint64_t i = 0; i < q->rt_entries; i++) {
        if (q->rt[i] & 0x1ff) {   /* reserved bits 0-8 */
            if (verbose)
                fprintf(stderr, "ERROR refcount table entry %" PRIu64 " has reserved bits set\n", i);
            res->corruptions++;
            continue;
        }
        uint64_t rbo = q->rt[i] & QCOW2_RT_OFFSET_MASK;
        if (!rbo)
            continue;
        if (rbo & (q->cluster_size - 1)) {
            if (verbose)
                fprintf(stderr, "ERROR refcount block %" PRIu64 " is not cluster aligned; refcount table entry corrupted\n", i);
            res->corruptions++;
            continue;
        }
        if ((rbo >> q->cluster_bits) >= k.nb) {
            if (verbose)
                fprintf(stderr, "ERROR refcount block %" PRIu64 " is outside image\n", i);
            res->corruptions++;
            continue;
        }
        check_inc(&k, rbo, q->cluster_size);
    }
    check_copied(&k);
    uint64_t highest = 0;
    bool any = false;
    for (uint64_t c = 0; c < span; c++) {
        uint64_t stored;
        int r = get_refcount(q, c, &stored);
        if (r < 0) {
            res->check_errors++;
            continue;
        }
        uint64_t want = c < k.nb ? k.ref[c] : 0;
        if (stored || want) {
            highest = c;
            any = true;
        }
        if (stored == want)
            continue;
        bool leak = stored > want;
        if (verbose)
            fprintf(stderr, "%s cluster %" PRIu64 " refcount=%" PRIu64 " reference=%" PRIu64 "\n",
                    leak ? ((fix & QCOW2_FIX_LEAKS) ? "Repairing" : "Leaked")
                         : ((fix & QCOW2_FIX_ERRORS) ? "Repairing" : "ERROR"),
                    c, stored, want);
        if (leak)
            res->leaks++;
        else
            res->corruptions++;
        if ((leak && (fix & QCOW2_FIX_LEAKS)) || (!leak && (fix & QCOW2_FIX_ERRORS))) {
            q->repair_ref = k.ref;
            q->repair_len = k.nb;
            r = set_refcount(q, c, want);
            q->repair_ref = NULL;
            q->repair_len = 0;
            if (r < 0) {
                res->check_errors++;
            } else if (leak) {
                res->leaks_fixed++;
            } else {
                res->corruptions_fixed++;
            }
        }
    }
    if (fix & QCOW2_FIX_ERRORS)
        fix_copied(q);
    res->image_end_offset = any ? (highest + 1) << q->cluster_bits : q->cluster_size;
    free(k.ref);
    q->free_hint = 0;
    return 0;
}

int qcow2_check(struct block_dev *bs, int fix, struct qcow2_check_result *res, bool verbose)
{
    if (fix && bs->readonly)
        return -EROFS;
    pthread_mutex_lock(&bs->lock);
    int r = check_locked(bs, fix, res, verbose);
    pthread_mutex_unlock(&bs->lock);
    return r;
}

/* A writer with lazy refcounts died: rebuild refcounts before writing. */
static int qcow2_repair_dirty(struct block_dev *bs)
{
    struct qcow2_state *q = Q(bs);
    struct qcow2_check_result res;
    int r = check_locked(bs, QCOW2_FIX_LEAKS | QCOW2_FIX_ERRORS, &res, false);
    if (r < 0)
        return r;
    if (res.check_errors) {
        set_err(q, "check failed");
        return -EIO;
    }
    q->incompat &= ~(uint64_t)QCOW2_INCOMPAT_DIRTY;
    r = write_incompat(q);
    return r < 0 ? r : bfile_flush(&bs->file);
}
