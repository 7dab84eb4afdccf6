/* Host event loop over poll(). */
#include "util/mainloop.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

int mainloop_init(struct mainloop *ml)
{
    memset(ml, 0, sizeof(*ml));
    if (pipe(ml->wake_pipe) < 0)
        return -1;
    for (int i = 0; i < 2; i++) {
        fcntl(ml->wake_pipe[i], F_SETFL, fcntl(ml->wake_pipe[i], F_GETFL) | O_NONBLOCK);
        fcntl(ml->wake_pipe[i], F_SETFD, FD_CLOEXEC);
    }
    return 0;
}

void mainloop_destroy(struct mainloop *ml)
{
    close(ml->wake_pipe[0]);
    close(ml->wake_pipe[1]);
}

int mainloop_add_fd(struct mainloop *ml, int fd, short events, fd_events_fn events_fn,
                    fd_handler_fn handler, void *opaque)
{
    int slot = -1;
    for (int i = 0; i < ml->count; i++)
        if (!ml->fds[i].active) {
            slot = i;
            break;
        }
    if (slot < 0) {
        if (ml->count >= MAINLOOP_MAX_FDS)
            return -1;
        slot = ml->count++;
    }
    ml->fds[slot] = (struct mainloop_fd){ .fd = fd, .events = events, .events_fn = events_fn,
                                          .handler = handler, .opaque = opaque, .active = true };
    return slot;
}

int mainloop_add_source(struct mainloop *ml, const struct mainloop_source *src)
{
    for (int i = 0; i < MAINLOOP_MAX_SOURCES; i++)
        if (!ml->sources[i].active) {
            ml->sources[i] = *src;
            ml->sources[i].active = true;
            return 0;
        }
    return -1;
}

void mainloop_remove_source(struct mainloop *ml, void *opaque)
{
    for (int i = 0; i < MAINLOOP_MAX_SOURCES; i++)
        if (ml->sources[i].active && ml->sources[i].opaque == opaque)
            ml->sources[i].active = false;
}

void mainloop_remove_fd(struct mainloop *ml, int fd)
{
    for (int i = 0; i < ml->count; i++)
        if (ml->fds[i].active && ml->fds[i].fd == fd)
            ml->fds[i].active = false;
}

int mainloop_poll(struct mainloop *ml, int64_t timeout_ns)
{
    struct pollfd pfd[MAINLOOP_MAX_FDS + 1 + MAINLOOP_MAX_SOURCE_FDS];
    int slot_of[MAINLOOP_MAX_FDS + 1];
    int src_first[MAINLOOP_MAX_SOURCES], src_count[MAINLOOP_MAX_SOURCES];
    int n = 0;
    pfd[n] = (struct pollfd){ .fd = ml->wake_pipe[0], .events = POLLIN };
    slot_of[n++] = -1;
    for (int i = 0; i < ml->count; i++) {
        struct mainloop_fd *f = &ml->fds[i];
        if (!f->active)
            continue;
        short ev = f->events_fn ? f->events_fn(f->opaque, f->fd) : f->events;
        if (!ev)
            continue;
        pfd[n] = (struct pollfd){ .fd = f->fd, .events = ev };
        slot_of[n++] = i;
    }
    int nfd = n;
    for (int i = 0; i < MAINLOOP_MAX_SOURCES; i++) {
        struct mainloop_source *s = &ml->sources[i];
        src_first[i] = nfd;
        src_count[i] = 0;
        if (!s->active)
            continue;
        int room = (int)(sizeof(pfd) / sizeof(pfd[0])) - nfd;
        src_count[i] = s->fill(s->opaque, pfd + nfd, room, &timeout_ns);
        nfd += src_count[i];
    }
    struct timespec ts = { .tv_sec = timeout_ns / 1000000000, .tv_nsec = timeout_ns % 1000000000 };
    if (ml->lock)
        ml->lock(ml->lock_opaque, false);
    int r = timeout_ns < 0 ? ppoll(pfd, (nfds_t)nfd, NULL, NULL) : ppoll(pfd, (nfds_t)nfd, &ts, NULL);
    if (ml->lock)
        ml->lock(ml->lock_opaque, true);
    int ran = 0;
    if (r <= 0)
        for (int i = 0; i < nfd; i++)
            pfd[i].revents = 0;
    for (int i = 0; i < MAINLOOP_MAX_SOURCES; i++)
        if (ml->sources[i].active && (src_count[i] || ml->sources[i].dispatch))
            ran += ml->sources[i].dispatch(ml->sources[i].opaque, pfd + src_first[i], src_count[i], r < 0);
    if (r <= 0)
        return ran;
    if (pfd[0].revents) {
        char buf[64];
        while (read(ml->wake_pipe[0], buf, sizeof(buf)) > 0) {
        }
    }
    for (int i = 1; i < n; i++) {
        if (!pfd[i].revents)
            continue;
        struct mainloop_fd *f = &ml->fds[slot_of[i]];
        if (f->active && f->fd == pfd[i].fd) {
            f->handler(f->opaque, f->fd, pfd[i].revents);
            ran++;
        }
    }
    return ran;
}

void mainloop_wake(struct mainloop *ml)
{
    int saved = errno;
    ssize_t w = write(ml->wake_pipe[1], "", 1);
    (void)w;
    errno = saved;
}

void mainloop_request_exit(struct mainloop *ml, int status)
{
    if (!ml->quit) {
        ml->quit = true;
        ml->exit_status = status;
    }
    mainloop_wake(ml);
}
