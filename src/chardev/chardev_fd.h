/* Internal to src/chardev: a back end over host file descriptors with buffered output and
 * input held until the front end can take it. stdio, file, pty and sockets build on it. */
#ifndef PCVM_CHARDEV_CHARDEV_FD_H
#define PCVM_CHARDEV_CHARDEV_FD_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chardev/chardev.h"
#include "chardev/chardev_spec.h"

/* Every back end's priv starts with this, so chardev_flush() works on any of them. */
struct chardev_impl {
    void (*flush)(struct chardev *chr);
};

#define FDCHR_SYNC_FLUSH  (64 * 1024)    /* blocking fds: write out when this much is queued */
#define FDCHR_MAX_QUEUE   (1024 * 1024)  /* non-blocking fds: drop beyond this (no reader) */

struct fdchr {
    struct chardev_impl impl;
    struct chardev *chr;
    struct mainloop *ml;
    enum chardev_kind kind;
    int in_fd, out_fd;       /* -1: none (in == out for pty and sockets) */
    bool out_blocking;       /* stdout and files: never drop, write synchronously when full */
    bool in_registered, out_registered;

    pthread_mutex_t lock;    /* output queue: the CPU thread writes, the loop flushes */
    uint8_t *obuf;
    size_t olen, ocap;
    uint64_t dropped;

    uint8_t ibuf[4096];      /* input read but not yet taken by the front end */
    size_t ioff, ilen;
    bool in_eof;

    /* sockets */
    int listen_fd;
    bool listen_registered;
    bool nodelay;
    char unlink_path[1024];

    /* pty: the slave kept open so output queues while nobody is attached */
    int pty_slave_fd;

    /* stdio */
    bool stdio_raw;
};

/* Allocate a chardev with an fdchr (fds -1). */
struct chardev *fdchr_new(const char *label, struct mainloop *ml, enum chardev_kind kind);
/* Start watching in_fd/out_fd in the main loop. */
void fdchr_register(struct fdchr *f);
/* Stop watching and close the connection fds (sockets: back to listening). */
void fdchr_disconnect(struct fdchr *f);
/* ops->write of fd back ends. */
void fdchr_write(struct chardev *chr, const uint8_t *buf, size_t len);
/* Write queued output (blocking: everything; else what the fd takes now). */
void fdchr_flush(struct chardev *chr);
/* Common close: flush, unregister, close fds, free priv. */
void fdchr_close_common(struct chardev *chr);
/* Set O_NONBLOCK and FD_CLOEXEC. */
void fd_set_nonblock(int fd);

/* The ops of each back end (chardev_flush() trusts priv only behind these). */
extern const struct chardev_ops chardev_stdio_ops, chardev_pty_ops, chardev_file_ops,
    chardev_socket_ops, chardev_null_ops;

/* Back-end openers, each in its own file. Return NULL with err set on failure. */
struct chardev *chardev_stdio_open(const struct chardev_spec *spec, const char *label,
                                   struct mainloop *ml, char *err, size_t errlen);
struct chardev *chardev_pty_open(const struct chardev_spec *spec, const char *label,
                                 struct mainloop *ml, char *err, size_t errlen);
struct chardev *chardev_file_open(const struct chardev_spec *spec, const char *label,
                                  struct mainloop *ml, char *err, size_t errlen);
struct chardev *chardev_socket_open(const struct chardev_spec *spec, const char *label,
                                    struct mainloop *ml, char *err, size_t errlen);
struct chardev *chardev_null_open(const char *label);
struct chardev *chardev_mux_open(struct chardev *backend, struct mainloop *ml);

#endif
