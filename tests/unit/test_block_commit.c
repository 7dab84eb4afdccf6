/* block_commit(): a -snapshot overlay's writes land in the user's qcow2 image, the rest of the
 * image is untouched, and reads after the commit see the new data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "block/block.h"

static void test_commit_snapshot_overlay(void **state)
{
    (void)state;
    char dir[] = "/tmp/pcvm-commit.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[256], err[BLOCK_ERR_LEN];
    snprintf(path, sizeof(path), "%s/base.qcow2", dir);
    struct qcow2_create_opts o = { .size = 4 << 20, .cluster_size = 65536, .version = 3 };
    assert_int_equal(qcow2_create(path, &o, err, sizeof(err)), 0);
    uint8_t a[512], b[512], got[512];
    memset(a, 0xaa, sizeof(a));
    memset(b, 0xbb, sizeof(b));
    struct block_dev *bs = block_open(path, "qcow2", BLOCK_RDWR, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_non_null(bs);
    assert_int_equal(block_pwrite(bs, 0, a, sizeof(a)), 0);
    block_close(bs);

    /* -snapshot: writes go to the overlay only */
    struct block_dev *top = block_open(path, "qcow2", BLOCK_RDWR | BLOCK_SNAPSHOT,
                                       BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_non_null(top);
    assert_int_equal(block_pwrite(top, 51200, b, sizeof(b)), 0);
    assert_int_equal(block_pwrite(top, 3 << 20, b, sizeof(b)), 0);
    assert_int_equal(block_commit(top, err, sizeof(err)), 0);
    /* the overlay is empty now: reads come from the freshly opened image */
    uint64_t pnum;
    assert_int_equal(block_status(top, 51200, 512, &pnum) & BLOCK_STATUS_BACKING, BLOCK_STATUS_BACKING);
    assert_int_equal(block_pread(top, 51200, got, sizeof(got)), 0);
    assert_memory_equal(got, b, sizeof(b));
    assert_int_equal(block_pread(top, 0, got, sizeof(got)), 0);
    assert_memory_equal(got, a, sizeof(a));
    /* a write after the commit stays in the overlay */
    assert_int_equal(block_pwrite(top, 0, b, sizeof(b)), 0);
    block_close(top);

    bs = block_open(path, "qcow2", 0, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_non_null(bs);
    assert_int_equal(block_pread(bs, 51200, got, sizeof(got)), 0);
    assert_memory_equal(got, b, sizeof(b));
    assert_int_equal(block_pread(bs, 3 << 20, got, sizeof(got)), 0);
    assert_memory_equal(got, b, sizeof(b));
    assert_int_equal(block_pread(bs, 0, got, sizeof(got)), 0);
    assert_memory_equal(got, a, sizeof(a));
    block_close(bs);

    /* an image without a backing file has nothing to commit to */
    bs = block_open(path, "qcow2", BLOCK_RDWR, BLOCK_CACHE_WRITEBACK, err, sizeof(err));
    assert_int_equal(block_commit(bs, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no backing file"));
    block_close(bs);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_snapshot_overlay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
