/* -netdev socket back end. */
#include "net/socket.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum sock_mode { SOCK_LISTEN, SOCK_CONNECT, SOCK_MCAST };

struct net_socket {
    struct net_port port;
    struct mainloop *ml;
    struct pcvm_log *log;
    enum sock_mode mode;
    int listen_fd;                 /* listen=: waiting for the peer */
    int fd;                        /* the connection or the multicast socket, -1 none */
    struct sockaddr_in group;      /* mcast= destination */
    /* stream reassembly: 4-byte length, then the frame */
    uint8_t len_buf[4];
    unsigned len_have;
    uint32_t frame_len;
    uint32_t frame_have;
    uint8_t frame[NET_MAX_FRAME];
};

static const char *opt(const struct vm_netdev *nd, const char *key)
{
    for (unsigned i = 0; i < nd->n_opts; i++)
        if (!strcmp(nd->opts[i].key, key))
            return nd->opts[i].value;
    return NULL;
}

/* "[host]:port" into an IPv4 address (empty host: any for listen, loopback otherwise). */
static int parse_hostport(const char *s, bool any, struct sockaddr_in *sa)
{
    const char *colon = strrchr(s, ':');
    if (!colon)
        return -1;
    char host[256];
    size_t hl = (size_t)(colon - s);
    if (hl >= sizeof(host))
        return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (end == colon + 1 || *end || port < 1 || port > 65535)
        return -1;
    memset(sa, 0, sizeof(*sa));
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    if (!*host) {
        sa->sin_addr.s_addr = htonl(any ? INADDR_ANY : INADDR_LOOPBACK);
        return 0;
    }
    if (inet_pton(AF_INET, host, &sa->sin_addr) == 1)
        return 0;
    struct addrinfo hints = { .ai_family = AF_INET }, *res;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        return -1;
    sa->sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
    freeaddrinfo(res);
    return 0;
}

static void sock_closed(struct net_socket *s)
{
    mainloop_remove_fd(s->ml, s->fd);
    close(s->fd);
    s->fd = -1;
    s->len_have = 0;
    s->frame_have = s->frame_len = 0;
    log_printf(s->log, LOG_GUEST_ERRORS, "netdev %s: the peer closed the connection\n", s->port.name);
}

static void stream_input(struct net_socket *s, const uint8_t *buf, size_t n)
{
    while (n) {
        if (s->len_have < 4) {
            s->len_buf[s->len_have++] = *buf++;
            n--;
            if (s->len_have == 4) {
                s->frame_len = (uint32_t)s->len_buf[0] << 24 | (uint32_t)s->len_buf[1] << 16 |
                               (uint32_t)s->len_buf[2] << 8 | s->len_buf[3];
                s->frame_have = 0;
                if (s->frame_len > NET_MAX_FRAME) {
                    fprintf(stderr, "pcvm: netdev %s: the peer sent a %u-byte frame; closing\n",
                            s->port.name, s->frame_len);
                    sock_closed(s);
                    return;
                }
            }
            continue;
        }
        uint32_t want = s->frame_len - s->frame_have;
        uint32_t take = n < want ? (uint32_t)n : want;
        memcpy(s->frame + s->frame_have, buf, take);
        s->frame_have += take;
        buf += take;
        n -= take;
        if (s->frame_have == s->frame_len) {
            if (s->frame_len)
                net_port_send(&s->port, s->frame, s->frame_len);
            s->len_have = 0;
        }
    }
}

static void sock_readable(void *opaque, int fd, short revents)
{
    struct net_socket *s = opaque;
    (void)revents;
    uint8_t buf[65536];
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (s->mode == SOCK_MCAST) {
        if (n > 0)
            net_port_send(&s->port, buf, (size_t)n);
        return;
    }
    if (n <= 0) {
        sock_closed(s);
        return;
    }
    stream_input(s, buf, (size_t)n);
}

static void sock_accept(void *opaque, int fd, short revents)
{
    struct net_socket *s = opaque;
    (void)revents;
    int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
    if (c < 0)
        return;
    if (s->fd >= 0) {              /* one peer at a time, as QEMU */
        close(c);
        return;
    }
    int one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    s->fd = c;
    mainloop_add_fd(s->ml, c, POLLIN, NULL, sock_readable, s);
}

static bool sock_receive(void *opaque, const uint8_t *buf, size_t len)
{
    struct net_socket *s = opaque;
    if (s->fd < 0)
        return true;               /* no peer yet: the frame is lost, as on an unplugged wire */
    if (s->mode == SOCK_MCAST) {
        sendto(s->fd, buf, len, 0, (struct sockaddr *)&s->group, sizeof(s->group));
        return true;
    }
    uint8_t hdr[4] = { (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len };
    struct iovec iov[2] = { { hdr, 4 }, { (void *)buf, len } };
    struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 2 };
    size_t total = len + 4, sent = 0;
    while (sent < total) {         /* blocking socket: a slow peer slows the guest, never reorders */
        ssize_t n = sendmsg(s->fd, &msg, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            sock_closed(s);
            return true;
        }
        sent += (size_t)n;
        while (msg.msg_iovlen && (size_t)n >= msg.msg_iov[0].iov_len) {
            n -= (ssize_t)msg.msg_iov[0].iov_len;
            msg.msg_iov++;
            msg.msg_iovlen--;
        }
        if (msg.msg_iovlen) {
            msg.msg_iov[0].iov_base = (uint8_t *)msg.msg_iov[0].iov_base + n;
            msg.msg_iov[0].iov_len -= (size_t)n;
        }
    }
    return true;
}

static const struct net_port_ops sock_ops = { .receive = sock_receive };

struct net_socket *net_socket_create(const struct vm_netdev *nd, const char *label, struct mainloop *ml,
                                     struct pcvm_log *log, char *err, size_t errlen)
{
    struct net_socket *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "pcvm: %s: out of memory", label);
        return NULL;
    }
    s->ml = ml;
    s->log = log;
    s->fd = s->listen_fd = -1;
    net_port_init(&s->port, nd->id, "socket", &sock_ops, s);
    const char *v;
    struct sockaddr_in sa;
    int one = 1;
    if ((v = opt(nd, "listen"))) {
        s->mode = SOCK_LISTEN;
        if (parse_hostport(v, true, &sa) < 0)
            goto bad_addr;
        s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
            listen(s->listen_fd, 1) < 0)
            goto sys_fail;
        mainloop_add_fd(ml, s->listen_fd, POLLIN, NULL, sock_accept, s);
        snprintf(s->port.info, sizeof(s->port.info), "listen=%s", v);
    } else if ((v = opt(nd, "connect"))) {
        s->mode = SOCK_CONNECT;
        if (parse_hostport(v, false, &sa) < 0)
            goto bad_addr;
        s->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s->fd < 0 || connect(s->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
            goto sys_fail;
        setsockopt(s->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        mainloop_add_fd(ml, s->fd, POLLIN, NULL, sock_readable, s);
        snprintf(s->port.info, sizeof(s->port.info), "connect=%s", v);
    } else if ((v = opt(nd, "mcast"))) {
        s->mode = SOCK_MCAST;
        if (parse_hostport(v, false, &sa) < 0 || !IN_MULTICAST(ntohl(sa.sin_addr.s_addr)))
            goto bad_addr;
        s->group = sa;
        struct in_addr local = { .s_addr = htonl(INADDR_ANY) };
        const char *la = opt(nd, "localaddr");
        if (la && inet_pton(AF_INET, la, &local) != 1) {
            snprintf(err, errlen, "pcvm: %s: invalid localaddr= '%s'", label, la);
            goto fail;
        }
        s->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (s->fd < 0)
            goto sys_fail;
        setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        struct sockaddr_in bind_sa = sa;
        if (bind(s->fd, (struct sockaddr *)&bind_sa, sizeof(bind_sa)) < 0)
            goto sys_fail;
        struct ip_mreq mreq = { .imr_multiaddr = sa.sin_addr, .imr_interface = local };
        unsigned char loop = 1;
        if (setsockopt(s->fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, &mreq, sizeof(mreq)) < 0 ||
            setsockopt(s->fd, IPPROTO_IP, IP_MULTICAST_LOOP, &loop, sizeof(loop)) < 0 ||
            (la && setsockopt(s->fd, IPPROTO_IP, IP_MULTICAST_IF, &local, sizeof(local)) < 0))
            goto sys_fail;
        mainloop_add_fd(ml, s->fd, POLLIN, NULL, sock_readable, s);
        snprintf(s->port.info, sizeof(s->port.info), "mcast=%s", v);
    }
    return s;
bad_addr:
    snprintf(err, errlen, "pcvm: %s: invalid address '%s' (expected host:port%s)", label, v,
             s->mode == SOCK_MCAST ? " of a multicast group" : "");
    goto fail;
sys_fail:
    snprintf(err, errlen, "pcvm: %s: %s: %s", label, v, strerror(errno));
fail:
    net_socket_destroy(s);
    return NULL;
}

struct net_port *net_socket_port(struct net_socket *s)
{
    return &s->port;
}

void net_socket_destroy(struct net_socket *s)
{
    if (!s)
        return;
    if (s->fd >= 0) {
        mainloop_remove_fd(s->ml, s->fd);
        close(s->fd);
    }
    if (s->listen_fd >= 0) {
        mainloop_remove_fd(s->ml, s->listen_fd);
        close(s->listen_fd);
    }
    net_port_cleanup(&s->port);
    free(s);
}
