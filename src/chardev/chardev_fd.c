/* Buffered file-descriptor back end: output queued and written from the main loop (or in
 * 64 KiB blocks for blocking fds), never one write() per byte; input held until the front
 * end has room. */
#include "chardev/chardev_fd.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util/mainloop.h"

void fd_set_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    fcntl(fd, F_SETFD, FD_CLOEXEC);
}

struct chardev *fdchr_new(const char *label, struct mainloop *ml, enum chardev_kind kind)
{
    struct chardev *chr = calloc(1, sizeof(*chr));
    struct fdchr *f = calloc(1, sizeof(*f));
    if (!chr || !f)
        abort();
    snprintf(chr->label, sizeof(chr->label), "%s", label ? label : "");
    chr->priv = f;
    f->impl.flush = fdchr_flush;
    f->chr = chr;
    f->ml = ml;
    f->kind = kind;
    f->in_fd = f->out_fd = f->listen_fd = f->pty_slave_fd = -1;
    pthread_mutex_init(&f->lock, NULL);
    return chr;
}

/* Hand held input to the front end, as much as it takes. */
static void deliver_input(struct fdchr *f)
{
    struct chardev *chr = f->chr;
    while (f->ilen && chr->fe_read) {
        size_t n = f->ilen;
        if (chr->fe_can_read) {
            size_t room = chr->fe_can_read(chr->fe_opaque);
            if (room == 0)
                return;
            if (room < n)
                n = room;
        }
        chr->fe_read(chr->fe_opaque, f->ibuf + f->ioff, n);
        f->ioff += n;
        f->ilen -= n;
    }
    if (!f->ilen)
        f->ioff = 0;
}

/* Write what the fd takes; caller holds the lock. Returns false on a hard error. */
static bool flush_locked(struct fdchr *f, bool block)
{
    size_t off = 0;
    bool ok = true;
    while (off < f->olen && f->out_fd >= 0) {
        /* sockets: a client that left must not kill pcvm with SIGPIPE */
        ssize_t n = f->kind == CHARDEV_UNIX || f->kind == CHARDEV_TCP
                        ? send(f->out_fd, f->obuf + off, f->olen - off, MSG_NOSIGNAL)
                        : write(f->out_fd, f->obuf + off, f->olen - off);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!block)
                break;
            struct pollfd pfd = { .fd = f->out_fd, .events = POLLOUT };
            if (poll(&pfd, 1, 1000) <= 0)
                break;   /* a reader that never reads: give up rather than hang */
            continue;
        }
        ok = false;      /* EPIPE, EIO: the other side is gone */
        off = f->olen;
    }
    if (off < f->olen)
        memmove(f->obuf, f->obuf + off, f->olen - off);
    f->olen -= off;
    return ok;
}

void fdchr_flush(struct chardev *chr)
{
    struct fdchr *f = chr->priv;
    pthread_mutex_lock(&f->lock);
    bool ok = flush_locked(f, f->out_blocking);
    pthread_mutex_unlock(&f->lock);
    if (!ok && (f->kind == CHARDEV_UNIX || f->kind == CHARDEV_TCP))
        fdchr_disconnect(f);
}

void fdchr_write(struct chardev *chr, const uint8_t *buf, size_t len)
{
    struct fdchr *f = chr->priv;
    bool wake = false;
    pthread_mutex_lock(&f->lock);
    if (f->out_fd < 0) {          /* socket with no client: output is lost, as in QEMU */
        pthread_mutex_unlock(&f->lock);
        return;
    }
    if (!f->out_blocking && f->olen + len > FDCHR_MAX_QUEUE) {
        size_t room = FDCHR_MAX_QUEUE - f->olen;
        f->dropped += len - room;
        len = room;
    }
    if (f->olen + len > f->ocap) {
        size_t cap = f->ocap ? f->ocap : 4096;
        while (cap < f->olen + len)
            cap *= 2;
        uint8_t *nb = realloc(f->obuf, cap);
        if (!nb)
            abort();
        f->obuf = nb;
        f->ocap = cap;
    }
    wake = f->olen == 0 && len > 0;
    memcpy(f->obuf + f->olen, buf, len);
    f->olen += len;
    if (f->out_blocking && f->olen >= FDCHR_SYNC_FLUSH)
        flush_locked(f, true);
    pthread_mutex_unlock(&f->lock);
    if (wake && f->ml)
        mainloop_wake(f->ml);     /* a poll in progress must learn that we want POLLOUT */
}

static short fd_events(void *opaque, int fd)
{
    struct fdchr *f = opaque;
    short ev = 0;
    if (fd == f->in_fd && !f->in_eof) {
        deliver_input(f);
        struct chardev *chr = f->chr;
        bool room = chr->fe_read && (!chr->fe_can_read || chr->fe_can_read(chr->fe_opaque) > 0);
        if (!f->ilen && room)
            ev |= POLLIN;
    }
    if (fd == f->out_fd) {
        pthread_mutex_lock(&f->lock);
        if (f->olen)
            ev |= POLLOUT;
        pthread_mutex_unlock(&f->lock);
    }
    return ev;
}

static void fd_handler(void *opaque, int fd, short revents)
{
    struct fdchr *f = opaque;
    if (fd == f->out_fd && (revents & POLLOUT))
        fdchr_flush(f->chr);
    if (fd == f->in_fd && (revents & (POLLIN | POLLHUP | POLLERR))) {
        ssize_t n = read(fd, f->ibuf, sizeof(f->ibuf));
        if (n > 0) {
            f->ioff = 0;
            f->ilen = (size_t)n;
            deliver_input(f);
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR && errno != EWOULDBLOCK)) {
            if (f->kind == CHARDEV_UNIX || f->kind == CHARDEV_TCP) {
                fdchr_disconnect(f);
            } else {
                f->in_eof = true;    /* stdin closed: keep the output side */
            }
        }
    }
}

void fdchr_register(struct fdchr *f)
{
    if (!f->ml)
        return;
    if (f->in_fd >= 0) {
        mainloop_add_fd(f->ml, f->in_fd, 0, fd_events, fd_handler, f);
        f->in_registered = true;
    }
    if (f->out_fd >= 0 && f->out_fd != f->in_fd) {
        mainloop_add_fd(f->ml, f->out_fd, 0, fd_events, fd_handler, f);
        f->out_registered = true;
    }
}

static void unregister(struct fdchr *f)
{
    if (f->ml && f->in_registered)
        mainloop_remove_fd(f->ml, f->in_fd);
    if (f->ml && f->out_registered)
        mainloop_remove_fd(f->ml, f->out_fd);
    f->in_registered = f->out_registered = false;
}

void fdchr_disconnect(struct fdchr *f)
{
    unregister(f);
    pthread_mutex_lock(&f->lock);
    if (f->in_fd >= 0)
        close(f->in_fd);
    if (f->out_fd >= 0 && f->out_fd != f->in_fd)
        close(f->out_fd);
    f->in_fd = f->out_fd = -1;
    f->olen = 0;
    f->ilen = f->ioff = 0;
    pthread_mutex_unlock(&f->lock);
}

void fdchr_close_common(struct chardev *chr)
{
    struct fdchr *f = chr->priv;
    if (!f)
        return;
    pthread_mutex_lock(&f->lock);
    flush_locked(f, true);
    pthread_mutex_unlock(&f->lock);
    unregister(f);
    if (f->ml && f->listen_registered)
        mainloop_remove_fd(f->ml, f->listen_fd);
    /* stdio's fds 0 and 1 are not ours to close */
    if (f->kind != CHARDEV_STDIO) {
        if (f->in_fd >= 0)
            close(f->in_fd);
        if (f->out_fd >= 0 && f->out_fd != f->in_fd)
            close(f->out_fd);
    }
    if (f->listen_fd >= 0)
        close(f->listen_fd);
    if (f->pty_slave_fd >= 0)
        close(f->pty_slave_fd);
    if (f->unlink_path[0])
        unlink(f->unlink_path);
    pthread_mutex_destroy(&f->lock);
    free(f->obuf);
    free(f);
    chr->priv = NULL;
}
