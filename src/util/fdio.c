/* Whole-buffer file descriptor I/O. */
#include "util/fdio.h"

#include <errno.h>
#include <stdbool.h>
#include <unistd.h>

/* The one loop: read or write len bytes at off (or, with off < 0, at the file position),
 * retrying short transfers and EINTR.  Reads stop at end of file; a write that takes nothing
 * is -EIO.  The bytes moved, or -errno. */
static ssize_t transfer(int fd, uint8_t *buf, size_t len, int64_t off, bool writing)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n;
        if (writing)
            n = off < 0 ? write(fd, buf + done, len - done) : pwrite(fd, buf + done, len - done, (off_t)off + (off_t)done);
        else
            n = off < 0 ? read(fd, buf + done, len - done) : pread(fd, buf + done, len - done, (off_t)off + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0) {
            if (writing)
                return -EIO;
            break;               /* end of file */
        }
        done += (size_t)n;
    }
    return (ssize_t)done;
}

int fd_write_all(int fd, const void *buf, size_t len)
{
    ssize_t n = transfer(fd, (uint8_t *)buf, len, -1, true);
    return n < 0 ? (int)n : 0;
}

int fd_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
    ssize_t n = transfer(fd, (uint8_t *)buf, len, (int64_t)off, true);
    return n < 0 ? (int)n : 0;
}

ssize_t fd_read_full(int fd, void *buf, size_t len)
{
    return transfer(fd, buf, len, -1, false);
}

ssize_t fd_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    return transfer(fd, buf, len, (int64_t)off, false);
}
