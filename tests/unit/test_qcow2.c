/* qcow2 metadata, checked on the bytes of the file against the format specification:
 * header fields, L1/L2 entries with the COPIED flag, 16-bit big-endian refcounts, COW,
 * backing reads, zero clusters, compressed clusters, snapshots and malformed images. */
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/mman.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "block/block.h"

#define COPIED (1ull << 63)
#define COMPRESSED (1ull << 62)
#define OFFSET_MASK 0x00fffffffffffe00ull

static char *tmp_path(void)
{
    char *p = strdup("/var/tmp/test_qcow2.XXXXXX");
    int fd = mkstemp(p);
    assert_true(fd >= 0);
    close(fd);
    return p;
}

static uint64_t file_be(const char *path, uint64_t off, int bytes)
{
    uint8_t b[8];
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, b, (size_t)bytes, (off_t)off), bytes);
    close(fd);
    uint64_t v = 0;
    for (int i = 0; i < bytes; i++)
        v = v << 8 | b[i];
    return v;
}

static void file_put_be(const char *path, uint64_t off, uint64_t v, int bytes)
{
    uint8_t b[8];
    for (int i = 0; i < bytes; i++)
        b[i] = (uint8_t)(v >> (8 * (bytes - 1 - i)));
    int fd = open(path, O_WRONLY);
    assert_int_equal(pwrite(fd, b, (size_t)bytes, (off_t)off), bytes);
    close(fd);
}

/* Refcount of host cluster c (64 KiB clusters, 16-bit refcounts: 32768 per block). */
static uint64_t refcount(const char *path, uint64_t c)
{
    uint64_t rt = file_be(path, 48, 8);
    uint64_t rb = file_be(path, rt + 8 * (c / 32768), 8) & ~511ull;
    return rb ? file_be(path, rb + 2 * (c % 32768), 2) : 0;
}

static uint64_t l2_entry(const char *path, uint64_t guest)
{
    uint64_t l1 = file_be(path, 40, 8);
    uint64_t l2 = file_be(path, l1 + 8 * (guest >> 29), 8) & OFFSET_MASK;
    return l2 ? file_be(path, l2 + 8 * ((guest >> 16) & 8191), 8) : 0;
}

static struct block_dev *open_rw(const char *path)
{
    char err[BLOCK_ERR_LEN];
    struct block_dev *bs = block_open(path, "qcow2", BLOCK_RDWR, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    if (!bs)
        fprintf(stderr, "%s\n", err);
    assert_non_null(bs);
    return bs;
}

static void create(const char *path, uint64_t size, const char *backing, const char *bfmt)
{
    char err[BLOCK_ERR_LEN];
    struct qcow2_create_opts o = { .size = size, .backing_file = backing, .backing_fmt = bfmt };
    assert_int_equal(qcow2_create(path, &o, err, sizeof(err)), 0);
}

static void assert_clean(struct block_dev *bs)
{
    struct qcow2_check_result r;
    assert_int_equal(qcow2_check(bs, 0, &r, true), 0);
    assert_int_equal(r.corruptions, 0);
    assert_int_equal(r.leaks, 0);
    assert_int_equal(r.check_errors, 0);
}

static void test_create_header(void **state)
{
    (void)state;
    char *p = tmp_path();
    create(p, 3ull << 30, NULL, NULL);
    assert_int_equal(file_be(p, 0, 4), 0x514649fb);    /* "QFI\xfb" */
    assert_int_equal(file_be(p, 4, 4), 3);
    assert_int_equal(file_be(p, 20, 4), 16);           /* 64 KiB clusters */
    assert_int_equal(file_be(p, 24, 8), 3ull << 30);
    assert_int_equal(file_be(p, 32, 4), 0);            /* no encryption */
    assert_int_equal(file_be(p, 36, 4), 6);            /* L1 entries: 3 GiB / 512 MiB */
    assert_int_equal(file_be(p, 96, 4), 4);            /* refcount_order 4 = 16 bits */
    assert_int_equal(file_be(p, 100, 4), 112);         /* header length */
    assert_int_equal(file_be(p, 72, 8) & ~8ull, 0);    /* no incompatible features */
    /* Every metadata cluster (header, refcount table, block, L1) has refcount 1. */
    uint64_t l1 = file_be(p, 40, 8), rt = file_be(p, 48, 8);
    assert_int_equal(refcount(p, 0), 1);
    assert_int_equal(refcount(p, rt >> 16), 1);
    assert_int_equal(refcount(p, l1 >> 16), 1);
    assert_int_equal(refcount(p, (file_be(p, rt, 8) & ~511ull) >> 16), 1);
    struct block_dev *bs = open_rw(p);
    assert_int_equal(bs->size, 3ull << 30);
    assert_clean(bs);
    block_close(bs);
    unlink(p);
    free(p);
}

static void test_allocation_and_cow(void **state)
{
    (void)state;
    char *p = tmp_path();
    create(p, 64 << 20, NULL, NULL);
    struct block_dev *bs = open_rw(p);
    uint8_t buf[4096];
    memset(buf, 0xab, sizeof(buf));
    assert_int_equal(block_pwrite(bs, 70000, buf, sizeof(buf)), 0);
    block_close(bs);
    /* L1 entry 0 -> L2 with COPIED; L2 entry 1 -> data cluster with COPIED and refcount 1. */
    uint64_t l1e = file_be(p, file_be(p, 40, 8), 8);
    assert_true(l1e & COPIED);
    assert_int_equal((l1e & OFFSET_MASK) & 0xffff, 0);
    assert_int_equal(refcount(p, (l1e & OFFSET_MASK) >> 16), 1);
    uint64_t e = l2_entry(p, 70000);
    assert_true(e & COPIED);
    assert_false(e & COMPRESSED);
    uint64_t host = e & OFFSET_MASK;
    assert_int_equal(host & 0xffff, 0);
    assert_int_equal(refcount(p, host >> 16), 1);
    /* The data sits at the in-cluster offset; the rest of the cluster is zero (COW of zeros). */
    assert_int_equal(file_be(p, host + (70000 - 65536), 1), 0xab);
    assert_int_equal(file_be(p, host + (70000 - 65536) - 1, 1), 0);
    assert_int_equal(l2_entry(p, 0), 0);               /* cluster 0 untouched: unallocated */
    /* A second write into the same cluster goes in place. */
    bs = open_rw(p);
    assert_int_equal(block_pwrite(bs, 65536, buf, 16), 0);
    assert_int_equal(l2_entry(p, 65536) & OFFSET_MASK, host);
    uint8_t rd[65536];
    assert_int_equal(block_pread(bs, 65536, rd, sizeof(rd)), 0);
    assert_int_equal(rd[0], 0xab);
    assert_int_equal(rd[16], 0);
    assert_int_equal(rd[70000 - 65536], 0xab);
    assert_clean(bs);
    block_close(bs);
    unlink(p);
    free(p);
}

static void test_backing_cow_and_zero_flag(void **state)
{
    (void)state;
    char *base = tmp_path(), *top = tmp_path();
    int fd = open(base, O_WRONLY);
    uint8_t *pat = malloc(1 << 20);
    for (int i = 0; i < (1 << 20); i++)
        pat[i] = (uint8_t)(i * 31 + 7);
    assert_int_equal(write(fd, pat, 1 << 20), 1 << 20);
    close(fd);
    create(top, 1 << 20, base, "raw");
    struct block_dev *bs = open_rw(top);
    assert_non_null(bs->backing);
    uint8_t rd[65536];
    assert_int_equal(block_pread(bs, 131072, rd, 100), 0);
    assert_memory_equal(rd, pat + 131072, 100);        /* unallocated: backing data */
    uint8_t w[100];
    memset(w, 0xee, sizeof(w));
    assert_int_equal(block_pwrite(bs, 131072 + 1000, w, sizeof(w)), 0);
    assert_int_equal(block_pread(bs, 131072, rd, sizeof(rd)), 0);
    assert_memory_equal(rd, pat + 131072, 1000);       /* copied from the backing file */
    assert_memory_equal(rd + 1000, w, 100);
    assert_memory_equal(rd + 1100, pat + 131072 + 1100, 65536 - 1100);
    uint64_t pnum;
    assert_int_equal(block_status(bs, 0, 65536, &pnum), BLOCK_STATUS_BACKING);
    assert_int_equal(block_status(bs, 131072, 65536, &pnum), BLOCK_STATUS_DATA);
    block_close(bs);
    /* v3 zero flag (bit 0) on an unallocated entry: reads zeros, hiding the backing file. */
    uint64_t l1 = file_be(top, 40, 8);
    uint64_t l2 = file_be(top, l1, 8) & OFFSET_MASK;
    file_put_be(top, l2 + 8 * 3, 1, 8);
    bs = open_rw(top);
    assert_int_equal(block_pread(bs, 3 * 65536, rd, 4096), 0);
    for (int i = 0; i < 4096; i++)
        assert_int_equal(rd[i], 0);
    assert_int_equal(block_status(bs, 3 * 65536, 65536, &pnum), BLOCK_STATUS_ZERO);
    /* Writing into the zero cluster allocates it and keeps the rest zero. */
    assert_int_equal(block_pwrite(bs, 3 * 65536 + 10, w, 10), 0);
    assert_int_equal(block_pread(bs, 3 * 65536, rd, 64), 0);
    assert_int_equal(rd[9], 0);
    assert_int_equal(rd[10], 0xee);
    assert_int_equal(rd[20], 0);
    assert_clean(bs);
    block_close(bs);
    free(pat);
    unlink(base);
    unlink(top);
    free(base);
    free(top);
}

static int64_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (int64_t)st.st_size;
}

/* A snapshot with a VM state: stored past the disk's L1 range in clusters only the snapshot
 * references (zero clusters take none), read back exactly, kept out of the active tree by
 * apply, freed by delete; the image stays clean, and qemu-img (when installed) agrees. */
static void test_snapshot_vmstate(void **state)
{
    (void)state;
    char *p = tmp_path();
    create(p, 8 << 20, NULL, NULL);
    struct block_dev *bs = open_rw(p);
    uint8_t a[65536], rd[65536];
    memset(a, 0x5a, sizeof(a));
    assert_int_equal(block_pwrite(bs, 0, a, sizeof(a)), 0);
    static uint8_t head[5000], ram[3 << 20];
    for (size_t i = 0; i < sizeof(head); i++)
        head[i] = (uint8_t)(i * 13 + 1);
    for (size_t i = 0; i < sizeof(ram); i += 4096)
        if ((i / 4096) % 160 < 3)
            memset(ram + i, (int)(i >> 12), 4096); /* mostly zero, like a guest's RAM */
    const uint64_t ram_off = 8192, size = ram_off + sizeof(ram);
    struct qcow2_vmstate_seg segs[2] = { { 0, head, sizeof(head) }, { ram_off, ram, sizeof(ram) } };
    int64_t before = file_size(p);
    assert_int_equal(qcow2_snapshot_create_vm(bs, "vm1", segs, 2, size, 123456789), 0);
    assert_clean(bs);
    /* Only the non-zero clusters were written (3 pages in every 10 clusters: 5 of 48) with the metadata. */
    assert_true(file_size(p) - before < 16 * 65536);
    struct qcow2_snapshot_info sn[2];
    assert_int_equal(qcow2_snapshot_list(bs, sn, 2), 1);
    assert_int_equal(sn[0].vm_state_size, size);
    assert_int_equal(sn[0].vm_clock_nsec, 123456789);
    uint8_t *back = malloc(size);
    assert_int_equal(qcow2_snapshot_vmstate_read(bs, "vm1", 0, back, size), 0);
    assert_memory_equal(back, head, sizeof(head));
    for (size_t i = sizeof(head); i < ram_off; i++)
        assert_int_equal(back[i], 0);
    assert_memory_equal(back + ram_off, ram, sizeof(ram));
    /* Mapped instead of read: the same bytes (zero clusters too), copy-on-write: writing them
     * leaves the image's state as it was. */
    uint8_t *m = mmap(NULL, sizeof(ram), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(m != MAP_FAILED);
    bool mapped = false;
    assert_int_equal(qcow2_snapshot_vmstate_map(bs, "vm1", ram_off, m, sizeof(ram), &mapped), 0);
    assert_true(mapped);
    assert_memory_equal(m, ram, sizeof(ram));
    memset(m, 0xa5, sizeof(ram));
    assert_int_equal(qcow2_snapshot_vmstate_read(bs, "vm1", ram_off, back, sizeof(ram)), 0);
    assert_memory_equal(back, ram, sizeof(ram));
    munmap(m, sizeof(ram));
    assert_int_equal(qcow2_snapshot_vmstate_read(bs, "vm1", 100, back, 7000), 0);
    assert_memory_equal(back, head + 100, 4900);
    assert_int_equal(qcow2_snapshot_vmstate_read(bs, "vm1", size - 10, back, 11), -EINVAL);
    assert_int_equal(qcow2_snapshot_vmstate_read(bs, "nope", 0, back, 1), -ENOENT);
    /* The disk changes, apply brings it back; the active tree never holds the VM state. */
    memset(rd, 0x11, sizeof(rd));
    assert_int_equal(block_pwrite(bs, 0, rd, sizeof(rd)), 0);
    assert_int_equal(qcow2_snapshot_apply(bs, "vm1"), 0);
    assert_int_equal(block_pread(bs, 0, rd, sizeof(rd)), 0);
    assert_memory_equal(rd, a, sizeof(a));
    assert_clean(bs);
    /* Applying it again with nothing written since writes nothing (a -loadvm start syncs no disk). */
    uint64_t writes = bs->file.writes;
    assert_int_equal(qcow2_snapshot_apply(bs, "vm1"), 0);
    assert_int_equal(bs->file.writes, writes);
    assert_int_equal(block_pread(bs, 0, rd, sizeof(rd)), 0);
    assert_memory_equal(rd, a, sizeof(a));
    assert_clean(bs);
    block_close(bs);
    if (system("command -v qemu-img >/dev/null 2>&1") == 0) {
        char cmd[512];
        snprintf(cmd, sizeof(cmd), "qemu-img check -q '%s'", p);
        assert_int_equal(system(cmd), 0);
        snprintf(cmd, sizeof(cmd), "qemu-img snapshot -l '%s' | grep -Eq 'vm1 +3.01 MiB'", p);
        assert_int_equal(system(cmd), 0);
    }
    bs = open_rw(p);
    assert_int_equal(qcow2_snapshot_vmstate_read(bs, "vm1", ram_off, back, sizeof(ram)), 0);
    assert_memory_equal(back, ram, sizeof(ram));
    /* Replacing vm1 in one switch: one vm1 left, with the new state and a new id; the old
     * state's clusters are freed (the image stays clean, no leak). */
    struct qcow2_vmstate_seg seg2 = { 0, ram, 8192 };
    assert_int_equal(qcow2_snapshot_replace_vm(bs, "vm1", true, &seg2, 1, 8192, 42), 0);
    assert_clean(bs);
    assert_int_equal(qcow2_snapshot_list(bs, sn, 2), 1);
    assert_string_equal(sn[0].name, "vm1");
    assert_string_equal(sn[0].id, "2");
    assert_int_equal(sn[0].vm_state_size, 8192);
    assert_int_equal(sn[0].vm_clock_nsec, 42);
    assert_int_equal(qcow2_snapshot_vmstate_read(bs, "vm1", 0, back, 8192), 0);
    assert_memory_equal(back, ram, 8192);
    assert_int_equal(qcow2_snapshot_replace_vm(bs, "vm2", true, &seg2, 1, 8192, 43), 0);
    assert_int_equal(qcow2_snapshot_list(bs, sn, 2), 2);
    assert_int_equal(qcow2_snapshot_delete(bs, "vm2"), 0);
    assert_int_equal(qcow2_snapshot_delete(bs, "vm1"), 0);
    assert_clean(bs);
    block_close(bs);
    free(back);
    unlink(p);
    free(p);
}

static void test_snapshots_refcounts(void **state)
{
    (void)state;
    char *p = tmp_path();
    create(p, 8 << 20, NULL, NULL);
    struct block_dev *bs = open_rw(p);
    uint8_t a[65536], b[65536], rd[65536];
    memset(a, 0x01, sizeof(a));
    memset(b, 0x02, sizeof(b));
    assert_int_equal(block_pwrite(bs, 0, a, sizeof(a)), 0);
    uint64_t host_a = l2_entry(p, 0) & OFFSET_MASK;
    assert_int_equal(qcow2_snapshot_create(bs, "first"), 0);
    /* Shared by the active L1 and the snapshot: refcount 2, COPIED cleared (spec). */
    assert_int_equal(refcount(p, host_a >> 16), 2);
    assert_false(l2_entry(p, 0) & COPIED);
    assert_int_equal(file_be(p, 60, 4), 1);            /* nb_snapshots */
    assert_clean(bs);
    /* Writing the shared cluster copies it: a new cluster with refcount 1. */
    assert_int_equal(block_pwrite(bs, 0, b, 512), 0);
    uint64_t e = l2_entry(p, 0);
    assert_true(e & COPIED);
    assert_true((e & OFFSET_MASK) != host_a);
    assert_int_equal(refcount(p, host_a >> 16), 1);
    assert_int_equal(refcount(p, (e & OFFSET_MASK) >> 16), 1);
    assert_clean(bs);
    struct qcow2_snapshot_info sn[2];
    assert_int_equal(qcow2_snapshot_list(bs, sn, 2), 1);
    assert_string_equal(sn[0].name, "first");
    assert_string_equal(sn[0].id, "1");
    assert_int_equal(sn[0].disk_size, 8 << 20);
    /* Revert: the old data is back. */
    assert_int_equal(qcow2_snapshot_apply(bs, "first"), 0);
    assert_int_equal(block_pread(bs, 0, rd, sizeof(rd)), 0);
    assert_memory_equal(rd, a, sizeof(a));
    assert_clean(bs);
    assert_int_equal(qcow2_snapshot_delete(bs, "1"), 0);
    assert_int_equal(qcow2_snapshot_list(bs, sn, 2), 0);
    assert_int_equal(refcount(p, (l2_entry(p, 0) & OFFSET_MASK) >> 16), 1);
    assert_true(l2_entry(p, 0) & COPIED);
    assert_clean(bs);
    assert_int_equal(qcow2_snapshot_delete(bs, "nope"), -ENOENT);
    block_close(bs);
    unlink(p);
    free(p);
}

static void copy_file(const char *from, const char *to)
{
    int in = open(from, O_RDONLY), out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(in >= 0 && out >= 0);
    static uint8_t buf[1 << 16];
    ssize_t n;
    while ((n = read(in, buf, sizeof(buf))) > 0)
        assert_int_equal(write(out, buf, (size_t)n), n);
    close(in);
    close(out);
}

static uint8_t *read_all(struct block_dev *bs)
{
    uint8_t *d = malloc(bs->size);
    assert_non_null(d);
    assert_int_equal(block_pread(bs, 0, d, bs->size), 0);
    return d;
}

enum snap_op { OP_CREATE, OP_APPLY, OP_DELETE, OP_CREATE_VM };

static int run_op(struct block_dev *bs, enum snap_op op)
{
    static uint8_t vm[40000];
    for (size_t i = 0; i < sizeof(vm); i++)
        vm[i] = (uint8_t)(i % 7 + 1);
    struct qcow2_vmstate_seg seg = { 4096, vm, sizeof(vm) };
    if (op == OP_CREATE_VM)
        return qcow2_snapshot_create_vm(bs, "vm", &seg, 1, 4096 + sizeof(vm) + 20000, 0);
    return op == OP_CREATE ? qcow2_snapshot_create(bs, "new")
         : op == OP_APPLY  ? qcow2_snapshot_apply(bs, "a")
                           : qcow2_snapshot_delete(bs, "a");
}

/* Run a snapshot operation with the writes cut off after k of them, for every k: each
 * interrupted run (a process killed at that point) must leave an image whose check finds no
 * corruption (leaks at most) and whose content is the one before or the one after. */
static void crash_sweep(const char *base, enum snap_op op)
{
    char *work = tmp_path();
    copy_file(base, work);
    struct block_dev *bs = open_rw(work);
    uint8_t *before = read_all(bs);
    uint64_t w0 = bs->file.writes;
    assert_int_equal(run_op(bs, op), 0);
    uint64_t total = bs->file.writes - w0;
    uint8_t *after = read_all(bs);
    assert_clean(bs);
    block_close(bs);
    assert_true(total > 3);
    for (uint64_t k = 0; k < total; k++) {
        copy_file(base, work);
        bs = open_rw(work);
        bs->file.crash_at = bs->file.writes + k + 1;
        assert_int_not_equal(run_op(bs, op), 0);
        block_close(bs);            /* every write of the "dead" process fails */
        bs = open_rw(work);
        struct qcow2_check_result r;
        assert_int_equal(qcow2_check(bs, 0, &r, true), 0);
        if (r.corruptions || r.check_errors)
            fail_msg("op %d cut after %" PRIu64 " of %" PRIu64 " writes: %" PRId64 " corruptions",
                     (int)op, k, total, r.corruptions);
        uint8_t *now = read_all(bs);
        assert_true(!memcmp(now, before, bs->size) || !memcmp(now, after, bs->size));
        free(now);
        block_close(bs);
    }
    free(before);
    free(after);
    unlink(work);
    free(work);
}

static void test_snapshot_ops_survive_crash_at_every_write(void **state)
{
    (void)state;
    char *p = tmp_path();
    char err[BLOCK_ERR_LEN];
    /* 4 KiB clusters: the 8 MiB disk spans four L2 tables. */
    struct qcow2_create_opts o = { .size = 8 << 20, .cluster_size = 4096 };
    assert_int_equal(qcow2_create(p, &o, err, sizeof(err)), 0);
    struct block_dev *bs = open_rw(p);
    uint8_t buf[8192];
    for (int i = 0; i < 40; i++) {
        memset(buf, i + 1, sizeof(buf));
        assert_int_equal(block_pwrite(bs, (uint64_t)(i * 197) % 1000 * 8192, buf, sizeof(buf)), 0);
    }
    assert_int_equal(qcow2_snapshot_create(bs, "a"), 0);
    for (int i = 0; i < 20; i++) {
        memset(buf, 0x80 + i, sizeof(buf));
        assert_int_equal(block_pwrite(bs, (uint64_t)(i * 331) % 1000 * 8192, buf, 4096), 0);
    }
    assert_clean(bs);
    block_close(bs);
    crash_sweep(p, OP_CREATE);
    crash_sweep(p, OP_APPLY);
    crash_sweep(p, OP_DELETE);
    crash_sweep(p, OP_CREATE_VM);
    unlink(p);
    free(p);
}

static void test_check_finds_and_repairs_leak(void **state)
{
    (void)state;
    char *p = tmp_path();
    create(p, 8 << 20, NULL, NULL);
    struct block_dev *bs = open_rw(p);
    uint8_t a[4096] = { 1 };
    assert_int_equal(block_pwrite(bs, 0, a, sizeof(a)), 0);
    block_close(bs);
    /* Append an unreferenced cluster with refcount 1: a leak. */
    int fd = open(p, O_WRONLY);
    off_t end = lseek(fd, 0, SEEK_END);
    assert_int_equal(ftruncate(fd, end + 65536), 0);
    close(fd);
    file_put_be(p, (file_be(p, file_be(p, 48, 8), 8) & ~511ull) + 2 * (uint64_t)(end >> 16), 1, 2);
    bs = open_rw(p);
    struct qcow2_check_result r;
    assert_int_equal(qcow2_check(bs, 0, &r, false), 0);
    assert_int_equal(r.leaks, 1);
    assert_int_equal(r.corruptions, 0);
    assert_int_equal(qcow2_check(bs, QCOW2_FIX_LEAKS, &r, false), 0);
    assert_int_equal(r.leaks_fixed, 1);
    assert_clean(bs);
    block_close(bs);
    /* A referenced cluster with refcount 0 is a corruption. */
    uint64_t host = l2_entry(p, 0) & OFFSET_MASK;
    file_put_be(p, (file_be(p, file_be(p, 48, 8), 8) & ~511ull) + 2 * (host >> 16), 0, 2);
    char err[BLOCK_ERR_LEN];
    bs = block_open(p, "qcow2", 0, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_non_null(bs);
    assert_int_equal(qcow2_check(bs, 0, &r, false), 0);
    assert_true(r.corruptions >= 1);
    block_close(bs);
    unlink(p);
    free(p);
}

static void test_compressed_cluster(void **state)
{
    (void)state;
    char *p = tmp_path();
    create(p, 1 << 20, NULL, NULL);
    struct block_dev *bs = open_rw(p);
    uint8_t c[65536], rd[65536];
    for (int i = 0; i < 65536; i++)
        c[i] = (uint8_t)("compressible "[i % 13]);
    assert_int_equal(qcow2_write_compressed(bs, 65536, c, sizeof(c)), 0);
    assert_int_equal(qcow2_write_compressed(bs, 131072, c, sizeof(c)), 0);
    uint64_t e = l2_entry(p, 65536);
    assert_true(e & COMPRESSED);
    assert_false(e & COPIED);
    assert_int_equal(block_pread(bs, 65536, rd, sizeof(rd)), 0);
    assert_memory_equal(rd, c, sizeof(c));
    /* Both compressed clusters share one host cluster: refcount 2. */
    uint64_t host = (e & ((1ull << 54) - 1)) >> 16;
    assert_int_equal(refcount(p, host), 2);
    assert_clean(bs);
    /* Overwriting part of a compressed cluster decompresses it into a normal cluster. */
    assert_int_equal(block_pwrite(bs, 65536 + 5, "X", 1), 0);
    assert_int_equal(block_pread(bs, 65536, rd, sizeof(rd)), 0);
    assert_int_equal(rd[5], 'X');
    assert_memory_equal(rd + 6, c + 6, 100);
    assert_false(l2_entry(p, 65536) & COMPRESSED);
    assert_int_equal(refcount(p, host), 1);
    assert_clean(bs);
    block_close(bs);
    unlink(p);
    free(p);
}

static void test_malformed(void **state)
{
    (void)state;
    char *p = tmp_path();
    char err[BLOCK_ERR_LEN];
    create(p, 1 << 20, NULL, NULL);
    file_put_be(p, 0, 0x514649fa, 4);
    /* Nothing is written to a malformed image: its bytes stay as they are. */
    struct block_dev *bs = block_open(p, "qcow2", 0, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_null(bs);
    assert_non_null(strstr(err, "magic"));
    file_put_be(p, 0, 0x514649fb, 4);
    file_put_be(p, 40, 1ull << 40, 8);                 /* L1 table past the end of the file */
    bs = block_open(p, "qcow2", BLOCK_RDWR, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_null(bs);
    assert_non_null(strstr(err, "L1"));
    create(p, 1 << 20, NULL, NULL);
    file_put_be(p, 24, 1ull << 62, 8);                 /* huge virtual size */
    bs = block_open(p, "qcow2", 0, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_null(bs);
    create(p, 1 << 20, NULL, NULL);
    file_put_be(p, 56, 0x7fffffff, 4);                 /* refcount table clusters */
    bs = block_open(p, "qcow2", 0, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_null(bs);
    /* A backing file that is the image itself: a loop, reported once. */
    char *q = tmp_path();
    create(q, 1 << 20, p, "qcow2");
    create(p, 1 << 20, q, "qcow2");
    bs = block_open(p, "qcow2", 0, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_null(bs);
    assert_non_null(strstr(err, "Backing chain too deep or looping"));
    unlink(q);
    free(q);
    unlink(p);
    free(p);
}

static void test_small_clusters_grow_refcount_table(void **state)
{
    (void)state;
    char *p = tmp_path();
    char err[BLOCK_ERR_LEN];
    struct qcow2_create_opts o = { .size = 32 << 20, .cluster_size = 512 };
    assert_int_equal(qcow2_create(p, &o, err, sizeof(err)), 0);
    uint32_t rt_clusters_before = (uint32_t)file_be(p, 56, 4);
    struct block_dev *bs = open_rw(p);
    static uint8_t buf[1 << 20];
    for (int i = 0; i < (1 << 20); i++)
        buf[i] = (uint8_t)(i ^ (i >> 9));
    for (int k = 0; k < 16; k++)
        assert_int_equal(block_pwrite(bs, (uint64_t)k << 21, buf, sizeof(buf)), 0);
    assert_true(file_be(p, 56, 4) > rt_clusters_before);
    static uint8_t rd[1 << 20];
    assert_int_equal(block_pread(bs, 15ull << 21, rd, sizeof(rd)), 0);
    assert_memory_equal(rd, buf, sizeof(rd));
    assert_clean(bs);
    block_close(bs);
    unlink(p);
    free(p);
}

static void test_lazy_refcounts_dirty_bit(void **state)
{
    (void)state;
    char *p = tmp_path();
    char err[BLOCK_ERR_LEN];
    struct qcow2_create_opts o = { .size = 1 << 20, .lazy_refcounts = true };
    assert_int_equal(qcow2_create(p, &o, err, sizeof(err)), 0);
    assert_int_equal(file_be(p, 80, 8) & 1, 1);        /* compatible bit 0: lazy refcounts */
    struct block_dev *bs = open_rw(p);
    assert_int_equal(file_be(p, 72, 8) & 1, 1);        /* dirty while open for writing */
    block_close(bs);
    assert_int_equal(file_be(p, 72, 8) & 1, 0);        /* clean close clears it */
    unlink(p);
    free(p);
}

/* Random writes, compressed writes and snapshot operations checked against a flat shadow
 * copy of the disk, with a consistency check after every step (fixed seed: reproducible). */
static void random_ops(unsigned cluster_size, unsigned seed, bool with_backing)
{
    enum { DISK = 2 << 20, SNAPS = 3 };
    char *p = tmp_path(), *base = tmp_path();
    char err[BLOCK_ERR_LEN];
    uint8_t *shadow = calloc(1, DISK), *rd = malloc(DISK), *snap[SNAPS] = { 0 };
    if (with_backing) {
        int fd = open(base, O_WRONLY);
        for (int i = 0; i < DISK; i++)
            shadow[i] = (uint8_t)(i * 13 + 5);
        assert_int_equal(write(fd, shadow, DISK), DISK);
        close(fd);
    }
    struct qcow2_create_opts o = { .size = DISK, .cluster_size = cluster_size,
                                   .backing_file = with_backing ? base : NULL, .backing_fmt = "raw" };
    assert_int_equal(qcow2_create(p, &o, err, sizeof(err)), 0);
    struct block_dev *bs = open_rw(p);
    uint64_t r = seed;
    static uint8_t buf[200000];
    for (int step = 0; step < 200; step++) {
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        unsigned op = (unsigned)(r >> 60);
        uint64_t off = (r >> 20) % DISK;
        size_t len = (size_t)((r >> 8) % 150000) + 1;
        if (off + len > DISK)
            len = DISK - off;
        if (op < 10) {
            memset(buf, (int)(r >> 40), len);
            buf[0] ^= 0x5a;
            assert_int_equal(block_pwrite(bs, off, buf, len), 0);
            memcpy(shadow + off, buf, len);
        } else if (op < 12) {
            off &= ~(uint64_t)(cluster_size - 1);
            for (unsigned i = 0; i < cluster_size; i++)
                buf[i] = (uint8_t)"abcabcabd"[(i + op) % 9];
            int cr = qcow2_write_compressed(bs, off, buf, cluster_size);
            assert_true(cr == 0 || cr == 1);
            if (cr == 1)
                assert_int_equal(block_pwrite(bs, off, buf, cluster_size), 0);
            memcpy(shadow + off, buf, cluster_size);
        } else if (op == 12 || op == 13) {
            int i = (int)((r >> 30) % SNAPS);
            char name[8];
            snprintf(name, sizeof(name), "s%d", i);
            if (!snap[i]) {
                assert_int_equal(qcow2_snapshot_create(bs, name), 0);
                snap[i] = malloc(DISK);
                memcpy(snap[i], shadow, DISK);
            } else {
                assert_int_equal(qcow2_snapshot_apply(bs, name), 0);
                memcpy(shadow, snap[i], DISK);
            }
        } else if (op == 14) {
            int i = (int)((r >> 30) % SNAPS);
            char name[8];
            snprintf(name, sizeof(name), "s%d", i);
            if (snap[i]) {
                assert_int_equal(qcow2_snapshot_delete(bs, name), 0);
                free(snap[i]);
                snap[i] = NULL;
            }
        } else {
            block_close(bs);
            bs = open_rw(p);
        }
        if (step % 25 == 24 || op >= 12) {
            assert_int_equal(block_pread(bs, 0, rd, DISK), 0);
            assert_memory_equal(rd, shadow, DISK);
            assert_clean(bs);
        }
    }
    assert_int_equal(block_pread(bs, 0, rd, DISK), 0);
    assert_memory_equal(rd, shadow, DISK);
    assert_clean(bs);
    block_close(bs);
    for (int i = 0; i < SNAPS; i++)
        free(snap[i]);
    free(shadow);
    free(rd);
    unlink(p);
    unlink(base);
    free(p);
    free(base);
}

#ifndef RANDOM_SEED_BASE
#define RANDOM_SEED_BASE 0
#endif
static void test_random_ops_512(void **state) { (void)state; random_ops(512, RANDOM_SEED_BASE + 1, false); }
static void test_random_ops_4k_backing(void **state) { (void)state; random_ops(4096, RANDOM_SEED_BASE + 2, true); }
static void test_random_ops_64k(void **state) { (void)state; random_ops(65536, RANDOM_SEED_BASE + 3, false); }

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_header),
        cmocka_unit_test(test_snapshot_ops_survive_crash_at_every_write),
        cmocka_unit_test(test_allocation_and_cow),
        cmocka_unit_test(test_backing_cow_and_zero_flag),
        cmocka_unit_test(test_snapshots_refcounts),
        cmocka_unit_test(test_snapshot_vmstate),
        cmocka_unit_test(test_check_finds_and_repairs_leak),
        cmocka_unit_test(test_compressed_cluster),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_small_clusters_grow_refcount_table),
        cmocka_unit_test(test_lazy_refcounts_dirty_bit),
        cmocka_unit_test(test_random_ops_512),
        cmocka_unit_test(test_random_ops_4k_backing),
        cmocka_unit_test(test_random_ops_64k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
