/* unix:PATH and tcp:HOST:PORT back ends, as server (one client at a time) or client. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "chardev/chardev_fd.h"
#include "util/mainloop.h"

const struct chardev_ops chardev_socket_ops = { .write = fdchr_write,
                                               .close = fdchr_close_common };

static void set_nodelay(int fd)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void take_client(struct fdchr *f, int fd, bool nodelay)
{
    fd_set_nonblock(fd);
    if (nodelay && f->kind == CHARDEV_TCP)
        set_nodelay(fd);
    f->in_fd = f->out_fd = fd;
    fdchr_register(f);
    struct chardev *chr = f->chr;
    if (chr->fe_opened)
        chr->fe_opened(chr->fe_opened_opaque);   /* e.g. the monitor's banner and prompt */
}

static short listen_events(void *opaque, int fd)
{
    struct fdchr *f = opaque;
    (void)fd;
    return f->in_fd < 0 ? POLLIN : 0;   /* one client at a time */
}

static void listen_handler(void *opaque, int fd, short revents)
{
    struct fdchr *f = opaque;
    if (!(revents & POLLIN) || f->in_fd >= 0)
        return;
    int c = accept(fd, NULL, NULL);
    if (c >= 0)
        take_client(f, c, f->nodelay);
}

static int unix_addr(const char *path, struct sockaddr_un *sa, char *err, size_t errlen)
{
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sa->sun_path)) {
        snprintf(err, errlen, "socket path too long: '%s'", path);
        return -1;
    }
    strcpy(sa->sun_path, path);
    return 0;
}

static int unix_listen(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    if (unix_addr(path, &sa, err, errlen) < 0)
        return -1;
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "'%s' exists and is not a socket", path);
            return -1;
        }
        unlink(path);   /* a stale socket from an earlier run */
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    /* Created 0600: the monitor on it controls the VM. */
    mode_t old = umask(0177);
    int r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (r < 0 || chmod(path, 0600) < 0 || listen(fd, 1) < 0) {
        snprintf(err, errlen, "cannot listen on '%s': %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int tcp_socket(const struct chardev_spec *spec, bool server, char *err, size_t errlen)
{
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                              .ai_flags = server ? AI_PASSIVE : 0 };
    struct addrinfo *res = NULL;
    char port[16];
    snprintf(port, sizeof(port), "%u", spec->port);
    const char *host = spec->host[0] ? spec->host : (server ? NULL : "localhost");
    if (server && !spec->host[0])
        hints.ai_family = AF_INET;   /* "tcp::PORT": all IPv4 addresses, as users expect */
    int gai = getaddrinfo(host, port, &hints, &res);
    if (gai) {
        snprintf(err, errlen, "cannot resolve '%s': %s", spec->host, gai_strerror(gai));
        return -1;
    }
    int fd = -1, saved = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        int r;
        if (server) {
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
            r = bind(fd, ai->ai_addr, ai->ai_addrlen);
            if (!r)
                r = listen(fd, 1);
        } else {
            r = connect(fd, ai->ai_addr, ai->ai_addrlen);
        }
        if (!r)
            break;
        saved = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        snprintf(err, errlen, "cannot %s %s:%u: %s", server ? "listen on" : "connect to",
                 spec->host, spec->port, strerror(saved));
    return fd;
}

struct chardev *chardev_socket_open(const struct chardev_spec *spec, const char *label,
                                    struct mainloop *ml, char *err, size_t errlen)
{
    bool is_unix = spec->kind == CHARDEV_UNIX;
    int fd;
    if (spec->server) {
        fd = is_unix ? unix_listen(spec->path, err, errlen) : tcp_socket(spec, true, err, errlen);
    } else if (is_unix) {
        struct sockaddr_un sa;
        if (unix_addr(spec->path, &sa, err, errlen) < 0)
            return NULL;
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
            snprintf(err, errlen, "cannot connect to '%s': %s", spec->path, strerror(errno));
            close(fd);
            return NULL;
        }
    } else {
        fd = tcp_socket(spec, false, err, errlen);
    }
    if (fd < 0)
        return NULL;
    struct chardev *chr = fdchr_new(label, ml, spec->kind);
    struct fdchr *f = chr->priv;
    chr->ops = &chardev_socket_ops;
    f->nodelay = spec->nodelay;
    if (!spec->server) {
        take_client(f, fd, spec->nodelay);
        return chr;
    }
    f->listen_fd = fd;
    if (is_unix)
        snprintf(f->unlink_path, sizeof(f->unlink_path), "%s", spec->path);
    fd_set_nonblock(fd);
    if (spec->wait) {
        /* QEMU's default for a server: hold the start until a client connects. */
        if (is_unix)
            fprintf(stderr, "pcvm: waiting for connection on unix:%s,server (label %s)\n",
                    spec->path, chr->label);
        else
            fprintf(stderr, "pcvm: waiting for connection on tcp:%s:%u,server (label %s)\n",
                    spec->host, spec->port, chr->label);
        /* A termination signal ends the wait: it sets ml->quit and writes the wake pipe, which
         * is polled too, so a signal just before poll() is not lost. */
        while (!(ml && ml->quit)) {
            struct pollfd pfd[2] = { { .fd = fd, .events = POLLIN },
                                     { .fd = ml ? ml->wake_pipe[0] : -1, .events = POLLIN } };
            if (poll(pfd, 2, -1) < 0) {
                if (errno == EINTR)
                    continue;
                break;
            }
            if (pfd[1].revents) {
                char buf[64];
                while (read(pfd[1].fd, buf, sizeof(buf)) > 0) {
                }
                continue;
            }
            int c = accept(fd, NULL, NULL);
            if (c >= 0) {
                take_client(f, c, spec->nodelay);
                break;
            }
            if (errno != EAGAIN && errno != EINTR && errno != EWOULDBLOCK)
                break;
        }
    }
    if (ml) {
        mainloop_add_fd(ml, fd, 0, listen_events, listen_handler, f);
        f->listen_registered = true;
    }
    return chr;
}
