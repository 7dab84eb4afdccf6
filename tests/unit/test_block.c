/* Block layer: raw images, cache modes (O_DIRECT bounce buffers), image locking, -snapshot
 * overlays and the aio=threads pool with main-loop completions. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "block/block.h"
#include "util/mainloop.h"

static char *make_raw(size_t size, uint8_t fill)
{
    char *path = strdup("/var/tmp/test_block.XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    uint8_t *b = malloc(size);
    memset(b, fill, size);
    assert_int_equal(write(fd, b, size), (ssize_t)size);
    free(b);
    close(fd);
    return path;
}

static void test_parse_cache(void **state)
{
    (void)state;
    enum block_cache c;
    assert_int_equal(block_parse_cache("none", &c), 0);
    assert_int_equal(c, BLOCK_CACHE_NONE);
    assert_int_equal(block_parse_cache("directsync", &c), 0);
    assert_int_equal(c, BLOCK_CACHE_DIRECTSYNC);
    assert_int_equal(block_parse_cache("unsafe", &c), 0);
    assert_int_equal(block_parse_cache("bogus", &c), -1);
}

static void test_raw_rw_and_probe(void **state)
{
    (void)state;
    char *path = make_raw(1 << 20, 0x11);
    char err[BLOCK_ERR_LEN];
    /* No format: probing finds raw (with QEMU's warning on stderr). */
    struct block_dev *bs = block_open(path, NULL, BLOCK_RDWR, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_non_null(bs);
    assert_string_equal(block_format_name(bs), "raw");
    assert_int_equal(bs->size, 1 << 20);
    uint8_t buf[1000];
    memset(buf, 0x77, sizeof(buf));
    assert_int_equal(block_pwrite(bs, 4097, buf, sizeof(buf)), 0);
    /* Past the end: writes fail, reads give zeros. */
    assert_int_equal(block_pwrite(bs, (1 << 20) - 10, buf, 20), -ENOSPC);
    uint8_t rd[32];
    assert_int_equal(block_pread(bs, (1 << 20) - 16, rd, 32), 0);
    assert_int_equal(rd[0], 0x11);
    assert_int_equal(rd[31], 0);
    /* A probed raw image must not be turned into a qcow2 header by its guest. */
    static const uint8_t magic[8] = { 'Q', 'F', 'I', 0xfb, 0, 0, 0, 3 };
    assert_int_equal(block_pwrite(bs, 0, magic, sizeof(magic)), -EPERM);
    assert_int_equal(block_pwrite(bs, 0, buf, 8), 0);
    block_close(bs);
    int fd = open(path, O_RDONLY);
    uint8_t chk[3];
    assert_int_equal(pread(fd, chk, 3, 4096), 3);
    close(fd);
    assert_int_equal(chk[0], 0x11);
    assert_int_equal(chk[1], 0x77);
    (void)0;
    assert_int_equal(chk[2], 0x77);
    /* Read-only opens refuse writes. */
    bs = block_open(path, "raw", 0, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_non_null(bs);
    assert_int_equal(block_pwrite(bs, 0, buf, 1), -EROFS);
    block_close(bs);
    unlink(path);
    free(path);
}

static void test_cache_none_uses_o_direct(void **state)
{
    (void)state;
    char *path = make_raw(1 << 20, 0x22);
    char err[BLOCK_ERR_LEN];
    struct block_dev *bs = block_open(path, "raw", BLOCK_RDWR, BLOCK_CACHE_NONE, err, sizeof(err));
    if (!bs) {
        /* File systems without O_DIRECT (tmpfs) refuse cache=none, as with QEMU. */
        assert_non_null(strstr(err, "Could not open"));
        unlink(path);
        free(path);
        return;
    }
    assert_true(fcntl(bs->file.fd, F_GETFL) & O_DIRECT);
    assert_true(bs->wce);
    /* Unaligned offset, length and buffer go through aligned bounce buffers. */
    uint8_t *mem = malloc(700);
    memset(mem, 0x99, 700);
    assert_int_equal(block_pwrite(bs, 12345, mem + 1, 333), 0);
    uint8_t back[400];
    assert_int_equal(block_pread(bs, 12344, back, 335), 0);
    assert_int_equal(back[0], 0x22);
    assert_int_equal(back[1], 0x99);
    assert_int_equal(back[333], 0x99);
    assert_int_equal(back[334], 0x22);
    assert_int_equal(block_flush(bs), 0);
    free(mem);
    block_close(bs);
    struct stat st;
    stat(path, &st);
    assert_int_equal(st.st_size, 1 << 20);  /* read-modify-write did not grow the file */

    bs = block_open(path, "raw", BLOCK_RDWR, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_non_null(bs);
    assert_false(fcntl(bs->file.fd, F_GETFL) & O_DIRECT);
    block_close(bs);
    bs = block_open(path, "raw", BLOCK_RDWR, BLOCK_CACHE_WRITETHROUGH, err, sizeof(err));
    assert_non_null(bs);
    assert_false(bs->wce);                  /* writethrough: no volatile write cache */
    block_close(bs);
    unlink(path);
    free(path);
}

static void test_locking(void **state)
{
    (void)state;
    char *path = make_raw(65536, 0);
    char err[BLOCK_ERR_LEN] = "";
    struct block_dev *a = block_open(path, "raw", BLOCK_RDWR, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_non_null(a);
    struct block_dev *b = block_open(path, "raw", BLOCK_RDWR, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_null(b);
    assert_non_null(strstr(err, "Failed to get \"write\" lock"));
    /* Readers refuse to share "write" too, like qemu-img without -U. */
    b = block_open(path, "raw", 0, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_null(b);
    b = block_open(path, "raw", BLOCK_NO_LOCK, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_non_null(b);
    block_close(b);
    block_close(a);
    /* After close the lock is gone. */
    b = block_open(path, "raw", BLOCK_RDWR, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_non_null(b);
    block_close(b);
    unlink(path);
    free(path);
}

static void test_snapshot_overlay(void **state)
{
    (void)state;
    char *path = make_raw(1 << 20, 0x33);
    char err[BLOCK_ERR_LEN];
    struct block_dev *bs = block_open(path, "raw", BLOCK_RDWR | BLOCK_SNAPSHOT, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_non_null(bs);
    assert_string_equal(block_format_name(bs), "qcow2");
    assert_int_equal(bs->size, 1 << 20);
    uint8_t buf[5000];
    memset(buf, 0x44, sizeof(buf));
    assert_int_equal(block_pwrite(bs, 70000, buf, sizeof(buf)), 0);
    uint8_t rd[5002];
    assert_int_equal(block_pread(bs, 69999, rd, sizeof(rd)), 0);
    assert_int_equal(rd[0], 0x33);
    assert_int_equal(rd[1], 0x44);
    assert_int_equal(rd[5000], 0x44);
    assert_int_equal(rd[5001], 0x33);
    block_close(bs);
    /* The image itself is untouched. */
    int fd = open(path, O_RDONLY);
    uint8_t chk;
    assert_int_equal(pread(fd, &chk, 1, 70000), 1);
    close(fd);
    assert_int_equal(chk, 0x33);
    unlink(path);
    free(path);
}

struct aio_done {
    int count;
    int last_ret;
};

static void aio_cb(void *opaque, int ret)
{
    struct aio_done *d = opaque;
    d->count++;
    d->last_ret = ret;
}

static void test_aio_pool_mainloop(void **state)
{
    (void)state;
    char *path = make_raw(1 << 20, 0);
    char err[BLOCK_ERR_LEN];
    struct block_dev *bs = block_open(path, "raw", BLOCK_RDWR, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_non_null(bs);
    struct mainloop ml;
    assert_int_equal(mainloop_init(&ml), 0);
    struct block_aio_pool pool;
    assert_int_equal(block_aio_pool_init(&pool, &ml), 0);
    static uint8_t wbuf[65536], rbuf[65536];
    memset(wbuf, 0x5e, sizeof(wbuf));
    struct aio_done w = { 0 }, r = { 0 }, fl = { 0 };
    block_aio_submit(&pool, bs, BLOCK_AIO_WRITE, 8192, wbuf, sizeof(wbuf), aio_cb, &w);
    /* Callbacks never run on the worker: only when the loop polls. */
    for (int i = 0; i < 200 && !w.count; i++)
        mainloop_poll(&ml, 10 * 1000 * 1000);
    assert_int_equal(w.count, 1);
    assert_int_equal(w.last_ret, 0);
    block_aio_submit(&pool, bs, BLOCK_AIO_READ, 8192, rbuf, sizeof(rbuf), aio_cb, &r);
    block_aio_submit(&pool, bs, BLOCK_AIO_FLUSH, 0, NULL, 0, aio_cb, &fl);
    block_aio_drain(&pool);
    assert_int_equal(r.count, 1);
    assert_int_equal(fl.count, 1);
    assert_memory_equal(rbuf, wbuf, sizeof(wbuf));
    /* Errors come back through the callback. */
    block_aio_submit(&pool, bs, BLOCK_AIO_WRITE, 2 << 20, wbuf, 512, aio_cb, &w);
    block_aio_drain(&pool);
    assert_int_equal(w.count, 2);
    assert_int_equal(w.last_ret, -ENOSPC);
    block_aio_pool_destroy(&pool);
    mainloop_destroy(&ml);
    /* Without a pool the request completes before submit returns. */
    struct aio_done s = { 0 };
    block_aio_submit(NULL, bs, BLOCK_AIO_READ, 0, rbuf, 512, aio_cb, &s);
    assert_int_equal(s.count, 1);
    block_close(bs);
    unlink(path);
    free(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_cache),
        cmocka_unit_test(test_raw_rw_and_probe),
        cmocka_unit_test(test_cache_none_uses_o_direct),
        cmocka_unit_test(test_locking),
        cmocka_unit_test(test_snapshot_overlay),
        cmocka_unit_test(test_aio_pool_mainloop),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
