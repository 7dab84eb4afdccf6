/* libFuzzer target: open a mutated qcow2 image, then read, write, check and snapshot through
 * the block layer. Build:
 *   clang -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -Isrc \
 *       tests/fuzz/fuzz_qcow2.c src/block/[a-z]*.c src/util/mainloop.c src/util/fdio.c -lz -lzstd -lpthread -o fuzz_qcow2
 *   ./fuzz_qcow2 -max_total_time=120 tests/fuzz/fuzz_qcow2_corpus */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/block.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > (1u << 20))
        return 0;
    int fd = memfd_create("fuzz-qcow2", MFD_CLOEXEC);
    if (fd < 0)
        return 0;
    if (write(fd, data, size) != (ssize_t)size) {
        close(fd);
        return 0;
    }
    char path[64], err[BLOCK_ERR_LEN];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    /* The last bytes of the input pick the operations (they are also part of the image). */
    uint8_t ops = size ? data[size - 1] : 0;
    struct block_dev *bs = block_open(path, "qcow2", BLOCK_RDWR | BLOCK_NO_LOCK | BLOCK_NO_BACKING,
                                      BLOCK_CACHE_UNSAFE, err, sizeof(err));
    if (bs) {
        static uint8_t buf[65536 * 2];
        uint64_t offs[4] = { 0, bs->size / 2, bs->size > 4096 ? bs->size - 4096 : 0, 12345 };
        for (int i = 0; i < 4; i++) {
            uint64_t pnum;
            block_pread(bs, offs[i], buf, 4096);
            block_status(bs, offs[i], 65536, &pnum);
        }
        if (ops & 1) {
            memset(buf, 0x5a, sizeof(buf));
            uint64_t lim = bs->size < (8u << 20) ? bs->size : (8u << 20);
            for (int i = 0; i < 3 && lim > 8192; i++) {
                uint64_t off = ((uint64_t)(ops * 7919u + (unsigned)i * 104729u)) % (lim - 8192);
                block_pwrite(bs, off, buf, 5000);
                block_pread(bs, off, buf, 8192);
            }
        }
        struct stat st;
        if ((ops & 2) && fstat(fd, &st) == 0 && st.st_size < (64 << 20)) {
            struct qcow2_check_result r;
            qcow2_check(bs, (ops & 4) ? QCOW2_FIX_LEAKS | QCOW2_FIX_ERRORS : 0, &r, false);
        }
        /* Snapshot operations only on images that check clean: a corrupt L2 entry can point
         * 2^28 clusters out, and building the new state then scans that far (seconds, not a
         * bug; pcvm-img check and the crash tests cover corrupt images). */
        struct qcow2_check_result clean;
        if ((ops & 8) && fstat(fd, &st) == 0 && st.st_size < (64 << 20) &&
            qcow2_check(bs, 0, &clean, false) == 0 && !clean.corruptions && !clean.check_errors) {
            struct qcow2_snapshot_info sn[4];
            int n = qcow2_snapshot_list(bs, sn, 4);
            if (qcow2_snapshot_create(bs, "fuzz") == 0 && (ops & 16))
                qcow2_snapshot_apply(bs, n ? sn[0].id : "fuzz");
            if (ops & 32)
                qcow2_snapshot_delete(bs, "fuzz");
        }
        if ((ops & 64) && bs->size < (1ull << 40))
            block_truncate(bs, bs->size + 65536, false);
        block_close(bs);
    }
    close(fd);
    return 0;
}
