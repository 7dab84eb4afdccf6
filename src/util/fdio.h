/* Whole-buffer file descriptor I/O: the read, write, pread and pwrite loops that retry short
 * transfers and EINTR, shared by the block layer and the migration streams. */
#ifndef PCVM_UTIL_FDIO_H
#define PCVM_UTIL_FDIO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Write all len bytes at the file position; 0, or -errno (-EIO when nothing more is taken). */
int fd_write_all(int fd, const void *buf, size_t len);
/* Write all len bytes at offset off; 0, or -errno (-EIO when nothing more is taken). */
int fd_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
/* Read up to len bytes at the file position, stopping early only at end of file: the number
 * of bytes read, or -errno. */
ssize_t fd_read_full(int fd, void *buf, size_t len);
/* Read up to len bytes at offset off, stopping early only at end of file: the number of
 * bytes read, or -errno. */
ssize_t fd_pread_full(int fd, void *buf, size_t len, uint64_t off);

#endif
