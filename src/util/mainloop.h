/* Host event loop: file descriptors watched with poll(), woken by the CPU thread's idle wait.
 * Chardevs, sockets, the monitor, slirp and aio completions register here. */
#ifndef PCVM_UTIL_MAINLOOP_H
#define PCVM_UTIL_MAINLOOP_H

#include <stdbool.h>
#include <stdint.h>

typedef void (*fd_handler_fn)(void *opaque, int fd, short revents);
/* Returns the poll events wanted now (0 = not now), e.g. POLLIN only while a FIFO has room. */
typedef short (*fd_events_fn)(void *opaque, int fd);

#define MAINLOOP_MAX_FDS 64
#define MAINLOOP_MAX_SOURCES 8
#define MAINLOOP_MAX_SOURCE_FDS 512   /* all sources together, per poll */

struct pollfd;

/* A source whose descriptors change from poll to poll (libslirp's sockets): fill adds up to
 * max entries at pfd and may lower *timeout_ns; dispatch gets the same entries back after the
 * poll (revents 0 on a timeout) and returns how many had events. */
struct mainloop_source {
    int (*fill)(void *opaque, struct pollfd *pfd, int max, int64_t *timeout_ns);
    int (*dispatch)(void *opaque, struct pollfd *pfd, int n, bool error);
    void *opaque;
    bool active;
};

struct mainloop_fd {
    int fd;
    short events;            /* used when events_fn is NULL */
    fd_events_fn events_fn;
    fd_handler_fn handler;
    void *opaque;
    bool active;
};

struct mainloop {
    struct mainloop_fd fds[MAINLOOP_MAX_FDS];
    int count;
    struct mainloop_source sources[MAINLOOP_MAX_SOURCES];
    int wake_pipe[2];        /* written by mainloop_wake() from other threads */
    /* thread=multi: called with false before blocking in poll and true after (the board
     * lock is not held while the loop waits). */
    void (*lock)(void *opaque, bool held);
    void *lock_opaque;
    bool quit;
    int exit_status;
};

/* Prepare an empty loop; returns 0 or -1. */
int mainloop_init(struct mainloop *ml);
/* Close the wake pipe. */
void mainloop_destroy(struct mainloop *ml);
/* Watch fd for events (or events_fn's answer); returns a slot >= 0 or -1. */
int mainloop_add_fd(struct mainloop *ml, int fd, short events, fd_events_fn events_fn,
                    fd_handler_fn handler, void *opaque);
/* Add a source polled with the fds (returns 0, or -1 when the table is full). */
int mainloop_add_source(struct mainloop *ml, const struct mainloop_source *src);
/* Remove the source with this opaque. */
void mainloop_remove_source(struct mainloop *ml, void *opaque);
/* Stop watching fd. */
void mainloop_remove_fd(struct mainloop *ml, int fd);
/* Poll for up to timeout_ns (0 = just look, <0 = forever) and run handlers; returns how many ran. */
int mainloop_poll(struct mainloop *ml, int64_t timeout_ns);
/* Wake a poll in progress (thread-safe, async-signal-safe). */
void mainloop_wake(struct mainloop *ml);
/* Ask the emulator to stop with this exit status (guest power-off, Ctrl-A x, debug-exit). */
void mainloop_request_exit(struct mainloop *ml, int status);

#endif
