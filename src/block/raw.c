/* raw format: the file is the disk. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "block/block.h"

static int raw_probe(const uint8_t *buf, size_t len)
{
    (void)buf;
    (void)len;
    return 1;
}

static int raw_open(struct block_dev *bs, unsigned flags, char *err, size_t errlen)
{
    (void)flags;
    int64_t len = bfile_length(&bs->file);
    if (len < 0) {
        snprintf(err, errlen, "Could not get size of '%s': %s", bs->file.filename, strerror((int)-len));
        return -1;
    }
    bs->size = (uint64_t)len;
    return 0;
}

static void raw_close(struct block_dev *bs)
{
    (void)bs;
}

static int raw_pread(struct block_dev *bs, uint64_t off, void *buf, size_t len)
{
    return bfile_pread(&bs->file, off, buf, len);
}

static int raw_pwrite(struct block_dev *bs, uint64_t off, const void *buf, size_t len)
{
    return bfile_pwrite(&bs->file, off, buf, len);
}

static int raw_flush(struct block_dev *bs)
{
    return bfile_flush(&bs->file);
}

static int raw_truncate(struct block_dev *bs, uint64_t size, bool shrink)
{
    if (size < bs->size && !shrink)
        return -EPERM;
    int r = bfile_truncate(&bs->file, size);
    if (!r)
        bs->size = size;
    return r;
}

static int raw_block_status(struct block_dev *bs, uint64_t off, uint64_t len, uint64_t *pnum)
{
    /* Holes in a sparse file read as zeros. */
    off_t data = lseek(bs->file.fd, (off_t)off, SEEK_DATA);
    if (data < 0) {
        if (errno == ENXIO) {
            *pnum = len;
            return BLOCK_STATUS_ZERO;
        }
        *pnum = len;
        return BLOCK_STATUS_DATA;
    }
    if ((uint64_t)data > off) {
        uint64_t n = (uint64_t)data - off;
        *pnum = n < len ? n : len;
        return BLOCK_STATUS_ZERO;
    }
    off_t hole = lseek(bs->file.fd, (off_t)off, SEEK_HOLE);
    uint64_t n = hole > (off_t)off ? (uint64_t)hole - off : len;
    *pnum = n < len ? n : len;
    return BLOCK_STATUS_DATA;
}

int raw_create(const char *filename, uint64_t size, char *err, size_t errlen)
{
    int fd = open(filename, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(err, errlen, "Could not create '%s': %s", filename, strerror(errno));
        return -1;
    }
    if (ftruncate(fd, (off_t)size) < 0) {
        snprintf(err, errlen, "Could not resize file: %s", strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

const struct block_driver block_driver_raw = {
    .name = "raw",
    .probe = raw_probe,
    .open = raw_open,
    .close = raw_close,
    .pread = raw_pread,
    .pwrite = raw_pwrite,
    .flush = raw_flush,
    .truncate = raw_truncate,
    .block_status = raw_block_status,
};
