/* -netdev tap back end (Linux TUN/TAP, IFF_TAP | IFF_NO_PI: plain Ethernet frames). */
#include "net/tap.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct net_tap {
    struct net_port port;
    struct mainloop *ml;
    int fd;
    bool own_fd;
    uint8_t buf[NET_MAX_FRAME];
};

static const char *opt(const struct vm_netdev *nd, const char *key)
{
    for (unsigned i = 0; i < nd->n_opts; i++)
        if (!strcmp(nd->opts[i].key, key))
            return nd->opts[i].value;
    return NULL;
}

static void tap_readable(void *opaque, int fd, short revents)
{
    struct net_tap *t = opaque;
    (void)revents;
    for (int i = 0; i < 64; i++) {          /* a burst per wake-up, then let the guest run */
        ssize_t n = read(fd, t->buf, sizeof(t->buf));
        if (n <= 0)
            return;
        net_port_send(&t->port, t->buf, (size_t)n);
    }
}

static bool tap_receive(void *opaque, const uint8_t *buf, size_t len)
{
    struct net_tap *t = opaque;
    ssize_t n = write(t->fd, buf, len);
    (void)n;                                 /* a full or down device drops, like a wire */
    return true;
}

static const struct net_port_ops tap_ops = { .receive = tap_receive };

struct net_tap *net_tap_create(const struct vm_netdev *nd, const char *label, struct mainloop *ml,
                               struct pcvm_log *log, char *err, size_t errlen)
{
    (void)log;
    struct net_tap *t = calloc(1, sizeof(*t));
    if (!t) {
        snprintf(err, errlen, "pcvm: %s: out of memory", label);
        return NULL;
    }
    t->ml = ml;
    t->fd = -1;
    net_port_init(&t->port, nd->id, "tap", &tap_ops, t);
    const char *fdstr = opt(nd, "fd"), *ifname = opt(nd, "ifname");
    char name[IFNAMSIZ] = "";
    if (fdstr) {
        char *end;
        long fd = strtol(fdstr, &end, 10);
        if (ifname || *end || end == fdstr || fd < 0 || fcntl((int)fd, F_GETFD) < 0) {
            snprintf(err, errlen, "pcvm: %s: fd=%s is not an open descriptor%s", label, fdstr,
                     ifname ? " (and fd= excludes ifname=)" : "");
            goto fail;
        }
        t->fd = (int)fd;
        snprintf(name, sizeof(name), "fd%d", (int)(fd & 0xffff));
    } else {
        t->fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
        if (t->fd < 0) {
            snprintf(err, errlen, "pcvm: %s: could not open /dev/net/tun: %s", label, strerror(errno));
            goto fail;
        }
        t->own_fd = true;
        struct ifreq ifr;
        memset(&ifr, 0, sizeof(ifr));
        ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
        if (ifname)
            snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
        if (ioctl(t->fd, TUNSETIFF, &ifr) < 0) {
            snprintf(err, errlen, "pcvm: %s: could not configure /dev/net/tun (%s): %s", label,
                     ifname ? ifname : "a new device", strerror(errno));
            goto fail;
        }
        snprintf(name, sizeof(name), "%s", ifr.ifr_name);
    }
    fcntl(t->fd, F_SETFL, fcntl(t->fd, F_GETFL) | O_NONBLOCK);
    snprintf(t->port.info, sizeof(t->port.info), "ifname=%s,script=no,downscript=no", name);
    if (mainloop_add_fd(ml, t->fd, POLLIN, NULL, tap_readable, t) < 0) {
        snprintf(err, errlen, "pcvm: %s: too many open descriptors", label);
        goto fail;
    }
    return t;
fail:
    net_tap_destroy(t);
    return NULL;
}

struct net_port *net_tap_port(struct net_tap *t)
{
    return &t->port;
}

void net_tap_destroy(struct net_tap *t)
{
    if (!t)
        return;
    if (t->fd >= 0) {
        mainloop_remove_fd(t->ml, t->fd);
        if (t->own_fd)
            close(t->fd);
    }
    net_port_cleanup(&t->port);
    free(t);
}
