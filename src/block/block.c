/* Generic block layer: format probing, open/close, request serialization, cache-mode flush
 * policy and -snapshot overlays. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "block/block.h"

const struct block_driver *block_find_driver(const char *name)
{
    if (!strcmp(name, "raw"))
        return &block_driver_raw;
    if (!strcmp(name, "qcow2"))
        return &block_driver_qcow2;
    return NULL;
}

const char *block_format_name(const struct block_dev *bs)
{
    return bs->drv->name;
}

static const struct block_driver *probe_format(struct bfile *f)
{
    uint8_t buf[512];
    if (bfile_pread(f, 0, buf, sizeof(buf)) < 0)
        return NULL;
    if (block_driver_qcow2.probe(buf, sizeof(buf)))
        return &block_driver_qcow2;
    return &block_driver_raw;
}

static struct block_dev *open_snapshot_overlay(struct block_dev *base, enum block_cache cache,
                                               char *err, size_t errlen)
{
    const char *tmpdir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof(path), "%s/pcvm-snapshot.XXXXXX", tmpdir && *tmpdir ? tmpdir : "/var/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        snprintf(err, errlen, "Could not create temporary overlay '%s': %s", path, strerror(errno));
        block_close(base);
        return NULL;
    }
    close(fd);
    char *abs = realpath(base->file.filename, NULL);
    struct qcow2_create_opts o = {
        .size = base->size, .cluster_size = 65536, .version = 3,
        .backing_file = abs ? abs : base->file.filename, .backing_fmt = base->drv->name,
    };
    int r = qcow2_create(path, &o, err, errlen);
    free(abs);
    if (r < 0) {
        unlink(path);
        block_close(base);
        return NULL;
    }
    /* The overlay takes ownership of base as its backing file instead of reopening it. */
    struct block_dev *ov = calloc(1, sizeof(*ov));
    if (!ov) {
        unlink(path);
        block_close(base);
        return NULL;
    }
    pthread_mutex_init(&ov->lock, NULL);
    ov->drv = &block_driver_qcow2;
    ov->depth = base->depth;
    ov->wce = cache != BLOCK_CACHE_WRITETHROUGH && cache != BLOCK_CACHE_DIRECTSYNC;
    /* Overlay contents die with the process, so flushing them buys nothing. */
    r = bfile_open(&ov->file, path, true, BLOCK_CACHE_UNSAFE);
    if (r < 0 || ov->drv->open(ov, BLOCK_RDWR | BLOCK_NO_BACKING, err, errlen) < 0) {
        if (r < 0)
            snprintf(err, errlen, "Could not open overlay '%s': %s", path, strerror(-r));
        bfile_close(&ov->file);
        unlink(path);
        pthread_mutex_destroy(&ov->lock);
        free(ov);
        block_close(base);
        return NULL;
    }
    ov->backing = base;
    /* The overlay is throwaway data: unlink now so even a SIGKILL leaves nothing behind. */
    unlink(path);
    ov->overlay_path = NULL;
    return ov;
}

struct block_dev *block_open_depth(const char *filename, const char *fmt, unsigned flags,
                                   enum block_cache cache, int depth, char *err, size_t errlen)
{
    if (depth > BLOCK_MAX_BACKING_DEPTH) {
        snprintf(err, errlen, "Backing chain too deep or looping at '%s'", filename);
        return NULL;
    }
    bool rdwr = (flags & BLOCK_RDWR) && !(flags & BLOCK_SNAPSHOT);
    struct block_dev *bs = calloc(1, sizeof(*bs));
    if (!bs) {
        snprintf(err, errlen, "Out of memory");
        return NULL;
    }
    pthread_mutex_init(&bs->lock, NULL);
    bs->depth = depth;
    bs->readonly = !rdwr;
    bs->wce = cache != BLOCK_CACHE_WRITETHROUGH && cache != BLOCK_CACHE_DIRECTSYNC;
    int r = bfile_open(&bs->file, filename, rdwr, cache);
    if (r < 0) {
        snprintf(err, errlen, "Could not open '%s': %s", filename, strerror(-r));
        goto fail_free;
    }
    if (!(flags & BLOCK_NO_LOCK) && bfile_lock(&bs->file, rdwr, err, errlen) < 0)
        goto fail_close;
    if (fmt) {
        bs->drv = block_find_driver(fmt);
        if (!bs->drv) {
            snprintf(err, errlen, "Unknown driver '%s'", fmt);
            goto fail_close;
        }
    } else {
        bs->drv = probe_format(&bs->file);
        if (!bs->drv) {
            snprintf(err, errlen, "Could not read '%s'", filename);
            goto fail_close;
        }
        bs->probed_raw = bs->drv == &block_driver_raw;
        /* As QEMU's raw driver: only a writable probed image is worth a warning (not a
         * read-only -cdrom, not pcvm-img info/check/convert's sources). */
        if (bs->drv == &block_driver_raw && depth == 0 && rdwr)
            fprintf(stderr, "WARNING: Image format was not specified for '%s' and probing guessed raw.\n"
                    "         Automatically detecting the format is dangerous for raw images, write operations on block 0 will be restricted.\n"
                    "         Specify the 'raw' format explicitly to remove the restrictions.\n", filename);
    }
    unsigned dflags = (flags & ~(unsigned)BLOCK_RDWR) | (rdwr ? BLOCK_RDWR : 0);
    if (bs->drv->open(bs, dflags, err, errlen) < 0)
        goto fail_close;
    if (flags & BLOCK_SNAPSHOT) {
        struct block_dev *ov = open_snapshot_overlay(bs, cache, err, errlen);
        if (!ov)
            return NULL; /* the overlay code closed bs */
        return ov;
    }
    return bs;
fail_close:
    bfile_close(&bs->file);
fail_free:
    pthread_mutex_destroy(&bs->lock);
    free(bs);
    return NULL;
}

struct block_dev *block_open(const char *filename, const char *fmt, unsigned flags,
                             enum block_cache cache, char *err, size_t errlen)
{
    return block_open_depth(filename, fmt, flags, cache, 0, err, errlen);
}

void block_close(struct block_dev *bs)
{
    if (!bs)
        return;
    if (!bs->readonly)
        block_flush(bs);
    if (bs->drv && bs->drv->close)
        bs->drv->close(bs);
    bfile_close(&bs->file);
    block_close(bs->backing);
    if (bs->overlay_path) {
        unlink(bs->overlay_path);
        free(bs->overlay_path);
    }
    pthread_mutex_destroy(&bs->lock);
    free(bs);
}

int block_pread(struct block_dev *bs, uint64_t off, void *buf, size_t len)
{
    if (off > bs->size || len > bs->size - off) {
        /* Past the end reads zeros, like a short device read padded. */
        uint64_t avail = off >= bs->size ? 0 : bs->size - off;
        memset((uint8_t *)buf + avail, 0, len - avail);
        len = (size_t)avail;
        if (!len)
            return 0;
    }
    pthread_mutex_lock(&bs->lock);
    int r = bs->drv->pread(bs, off, buf, len);
    pthread_mutex_unlock(&bs->lock);
    return r;
}

int block_pread_nowait(struct block_dev *bs, uint64_t off, void *buf, size_t len)
{
    /* Only raw maps guest offsets straight to the file; O_DIRECT never reads the page cache. */
    if (bs->drv != &block_driver_raw || bs->file.direct || !len || off > bs->size || len > bs->size - off)
        return -EAGAIN;
    if (pthread_mutex_trylock(&bs->lock))
        return -EAGAIN;            /* a worker holds the device */
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    ssize_t n = preadv2(bs->file.fd, &iov, 1, (off_t)off, RWF_NOWAIT);
    pthread_mutex_unlock(&bs->lock);
    return n == (ssize_t)len ? 0 : -EAGAIN;   /* short: not cached, or past the file's end */
}

int block_pwrite(struct block_dev *bs, uint64_t off, const void *buf, size_t len)
{
    if (bs->readonly)
        return -EROFS;
    if (off > bs->size || len > bs->size - off)
        return -ENOSPC;
    if (!len)
        return 0;
    if (bs->probed_raw && off < 512) {
        /* Like QEMU: a guest must not turn a probed raw image into, say, a qcow2 header. */
        uint8_t first[512];
        int pr = block_pread(bs, 0, first, sizeof(first));
        if (pr < 0)
            return pr;
        size_t n = len < 512 - off ? len : 512 - (size_t)off;
        memcpy(first + off, buf, n);
        if (block_driver_qcow2.probe(first, sizeof(first)))
            return -EPERM;
    }
    pthread_mutex_lock(&bs->lock);
    int r = bs->drv->pwrite(bs, off, buf, len);
    /* writethrough/directsync: the write is durable before it completes. */
    if (!r && (bs->file.cache == BLOCK_CACHE_WRITETHROUGH || bs->file.cache == BLOCK_CACHE_DIRECTSYNC))
        r = bs->drv->flush(bs);
    pthread_mutex_unlock(&bs->lock);
    return r;
}

int block_flush(struct block_dev *bs)
{
    if (bs->readonly)
        return 0;
    pthread_mutex_lock(&bs->lock);
    int r = bs->drv->flush(bs);
    pthread_mutex_unlock(&bs->lock);
    return r;
}

int block_truncate(struct block_dev *bs, uint64_t size, bool shrink)
{
    if (bs->readonly)
        return -EROFS;
    if (!bs->drv->truncate)
        return -ENOTSUP;
    pthread_mutex_lock(&bs->lock);
    int r = bs->drv->truncate(bs, size, shrink);
    pthread_mutex_unlock(&bs->lock);
    return r;
}

int block_status(struct block_dev *bs, uint64_t off, uint64_t len, uint64_t *pnum)
{
    if (off >= bs->size) {
        *pnum = len;
        return BLOCK_STATUS_ZERO;
    }
    if (len > bs->size - off)
        len = bs->size - off;
    pthread_mutex_lock(&bs->lock);
    int r = bs->drv->block_status(bs, off, len, pnum);
    pthread_mutex_unlock(&bs->lock);
    return r;
}
