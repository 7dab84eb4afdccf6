/* Host files for images: cache modes (O_DIRECT with aligned bounce buffers, fdatasync policy)
 * and QEMU-compatible OFD image locks. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "block/block.h"
#include "util/fdio.h"

#define DIRECT_ALIGN 4096u

int block_parse_cache(const char *s, enum block_cache *out)
{
    static const struct { const char *name; enum block_cache c; } modes[] = {
        { "writeback", BLOCK_CACHE_WRITEBACK }, { "writethrough", BLOCK_CACHE_WRITETHROUGH },
        { "none", BLOCK_CACHE_NONE }, { "off", BLOCK_CACHE_NONE }, { "unsafe", BLOCK_CACHE_UNSAFE },
        { "directsync", BLOCK_CACHE_DIRECTSYNC },
    };
    for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        if (!strcmp(s, modes[i].name)) {
            *out = modes[i].c;
            return 0;
        }
    }
    return -1;
}

const char *block_cache_name(enum block_cache c)
{
    switch (c) {
    case BLOCK_CACHE_WRITEBACK: return "writeback";
    case BLOCK_CACHE_WRITETHROUGH: return "writethrough";
    case BLOCK_CACHE_NONE: return "none";
    case BLOCK_CACHE_UNSAFE: return "unsafe";
    case BLOCK_CACHE_DIRECTSYNC: return "directsync";
    }
    return "?";
}

int bfile_open(struct bfile *f, const char *filename, bool rdwr, enum block_cache cache)
{
    memset(f, 0, sizeof(*f));
    f->fd = -1;
    f->cache = cache;
    f->direct = cache == BLOCK_CACHE_NONE || cache == BLOCK_CACHE_DIRECTSYNC;
    f->readonly = !rdwr;
    f->align = f->direct ? DIRECT_ALIGN : 1;
    int flags = (rdwr ? O_RDWR : O_RDONLY) | O_CLOEXEC | (f->direct ? O_DIRECT : 0);
    f->fd = open(filename, flags);
    if (f->fd < 0)
        return -errno;
    f->filename = strdup(filename);
    if (!f->filename) {
        close(f->fd);
        f->fd = -1;
        return -ENOMEM;
    }
    return 0;
}

void bfile_close(struct bfile *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    free(f->filename);
    f->filename = NULL;
}

/* pread of all len bytes; past the end of the file reads as zeros. */
static int full_pread(int fd, uint64_t off, uint8_t *buf, size_t len)
{
    ssize_t n = fd_pread_full(fd, buf, len, off);
    if (n < 0)
        return (int)n;
    memset(buf + n, 0, len - (size_t)n);
    return 0;
}

static bool is_aligned(const struct bfile *f, uint64_t off, const void *buf, size_t len)
{
    uint64_t a = f->align;
    return !(off % a) && !(len % a) && !((uintptr_t)buf % a);
}

int bfile_pread(struct bfile *f, uint64_t off, void *buf, size_t len)
{
    if (!len)
        return 0;
    if (!f->direct || is_aligned(f, off, buf, len))
        return full_pread(f->fd, off, buf, len);
    uint64_t start = off & ~(uint64_t)(f->align - 1);
    uint64_t end = (off + len + f->align - 1) & ~(uint64_t)(f->align - 1);
    void *bounce;
    if (posix_memalign(&bounce, f->align, end - start))
        return -ENOMEM;
    int ret = full_pread(f->fd, start, bounce, end - start);
    if (!ret)
        memcpy(buf, (uint8_t *)bounce + (off - start), len);
    free(bounce);
    return ret;
}

/* Simulated death for crash tests: this write and all after it are lost. */
static bool crashed(struct bfile *f)
{
    f->writes++;
    return f->crash_at && f->writes >= f->crash_at;
}

int bfile_pwrite(struct bfile *f, uint64_t off, const void *buf, size_t len)
{
    if (f->readonly)
        return -EROFS;
    if (!len)
        return 0;
    if (crashed(f))
        return -EIO;
    if (!f->direct || is_aligned(f, off, buf, len))
        return fd_pwrite_all(f->fd, buf, len, off);
    /* O_DIRECT needs aligned offset, length and memory: read-modify-write a bounce buffer. */
    uint64_t start = off & ~(uint64_t)(f->align - 1);
    uint64_t end = (off + len + f->align - 1) & ~(uint64_t)(f->align - 1);
    void *bounce;
    if (posix_memalign(&bounce, f->align, end - start))
        return -ENOMEM;
    int64_t flen = bfile_length(f);
    int ret = flen < 0 ? (int)flen : full_pread(f->fd, start, bounce, end - start);
    if (!ret) {
        memcpy((uint8_t *)bounce + (off - start), buf, len);
        ret = fd_pwrite_all(f->fd, bounce, end - start, start);
    }
    /* Do not leave the file longer than the caller wrote. */
    if (!ret && end > (uint64_t)flen && off + len < end)
        ret = bfile_truncate(f, (uint64_t)flen > off + len ? (uint64_t)flen : off + len);
    free(bounce);
    return ret;
}

int bfile_flush(struct bfile *f)
{
    if (f->crash_at && f->writes >= f->crash_at)
        return -EIO;
    if (f->cache == BLOCK_CACHE_UNSAFE || f->readonly)
        return 0;
    if (fdatasync(f->fd) < 0)
        return -errno;
    return 0;
}

int64_t bfile_length(struct bfile *f)
{
    struct stat st;
    if (fstat(f->fd, &st) < 0)
        return -errno;
    if (S_ISBLK(st.st_mode)) {
        off_t end = lseek(f->fd, 0, SEEK_END);
        return end < 0 ? -errno : (int64_t)end;
    }
    return (int64_t)st.st_size;
}

int bfile_truncate(struct bfile *f, uint64_t len)
{
    if (f->readonly)
        return -EROFS;
    if (crashed(f))
        return -EIO;
    if (ftruncate(f->fd, (off_t)len) < 0)
        return -errno;
    return 0;
}

int64_t bfile_allocated(struct bfile *f)
{
    struct stat st;
    if (fstat(f->fd, &st) < 0)
        return -errno;
    return (int64_t)st.st_blocks * 512;
}

/* QEMU's lock protocol: byte 100+i is read-locked while we hold permission i; byte 200+i is
 * read-locked while we refuse to share permission i with other users. */
enum { LOCK_PERM_BASE = 100, LOCK_SHARED_BASE = 200 };
enum { PERM_CONSISTENT_READ = 0, PERM_WRITE = 1, PERM_WRITE_UNCHANGED = 2, PERM_RESIZE = 3,
       PERM_COUNT = 5 };
static const char *const perm_names[PERM_COUNT] = {
    "consistent read", "write", "write unchanged", "resize", "change children",
};

static int ofd_lock(int fd, int cmd, short type, off_t start, struct flock *out)
{
    struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = 1 };
    int r = fcntl(fd, cmd, &fl);
    if (out)
        *out = fl;
    return r;
}

int bfile_lock(struct bfile *f, bool rdwr, char *err, size_t errlen)
{
    unsigned perms = 1u << PERM_CONSISTENT_READ;
    if (rdwr)
        perms |= 1u << PERM_WRITE | 1u << PERM_WRITE_UNCHANGED | 1u << PERM_RESIZE;
    unsigned unshared = 1u << PERM_WRITE | 1u << PERM_RESIZE;
    if (!rdwr)
        unshared = 1u << PERM_WRITE;
    for (int i = 0; i < PERM_COUNT; i++) {
        struct flock fl;
        if ((perms >> i) & 1) {
            if (ofd_lock(f->fd, F_OFD_SETLK, F_RDLCK, LOCK_PERM_BASE + i, NULL) < 0)
                goto fail_perm;
            if (ofd_lock(f->fd, F_OFD_GETLK, F_WRLCK, LOCK_SHARED_BASE + i, &fl) < 0)
                goto fail_errno;
            if (fl.l_type != F_UNLCK) {
            fail_perm:
                snprintf(err, errlen, "Failed to get \"%s\" lock\nIs another process using the image [%s]?",
                         perm_names[i], f->filename);
                goto unlock;
            }
        }
        if ((unshared >> i) & 1) {
            if (ofd_lock(f->fd, F_OFD_SETLK, F_RDLCK, LOCK_SHARED_BASE + i, NULL) < 0)
                goto fail_shared;
            if (ofd_lock(f->fd, F_OFD_GETLK, F_WRLCK, LOCK_PERM_BASE + i, &fl) < 0)
                goto fail_errno;
            if (fl.l_type != F_UNLCK) {
            fail_shared:
                snprintf(err, errlen, "Failed to get shared \"%s\" lock\nIs another process using the image [%s]?",
                         perm_names[i], f->filename);
                goto unlock;
            }
        }
    }
    return 0;
fail_errno:
    if (errno == EINVAL || errno == ENOTSUP || errno == ENOLCK)
        return 0; /* file system without OFD locks: proceed unlocked like QEMU's auto mode */
    snprintf(err, errlen, "Failed to lock image: %s", strerror(errno));
unlock:
    {
        struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
        fcntl(f->fd, F_OFD_SETLK, &fl);
    }
    return -1;
}
