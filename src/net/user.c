/* -netdev user through libslirp. */
#include "net/user.h"

#include "hw/devmodel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <slirp/libslirp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chardev/chardev.h"

#define USER_MAX_FWD 64
#define USER_MAX_GUESTFWD 8
#define USER_MAX_DNSSEARCH 8

struct user_fwd {
    bool udp;
    struct in_addr host_addr;
    int host_port;
    char text[96];
};

/* guestfwd=[tcp]:server:port-dev: guest connections to server:port go to a chardev (dev is
 * its spec) or, with dev "cmd:COMMAND", to a command libslirp starts for each connection. */
struct user_guestfwd {
    struct net_user *u;
    struct in_addr addr;
    int port;
    struct chardev *chr;           /* NULL for cmd: */
};

struct user_timer {
    struct vtimer t;
    struct net_user *u;
    SlirpTimerId id;
    void *cb_opaque;
};

struct net_user {
    struct net_port port;
    Slirp *slirp;
    struct vclock *clock;
    struct mainloop *ml;
    struct pcvm_log *log;
    struct in_addr net, mask, host, dhcp, dns;
    struct user_fwd fwd[USER_MAX_FWD];
    unsigned nfwd;
    bool restricted;
    struct user_guestfwd gfwd[USER_MAX_GUESTFWD];
    unsigned ngfwd;
    char *strings[8 + USER_MAX_DNSSEARCH];   /* option values slirp keeps pointers to */
    const char *dnssearch[USER_MAX_DNSSEARCH + 1];
    /* between fill and dispatch */
    struct pollfd *pfd;
    int pfd_max, pfd_n;
};

/* ---- libslirp callbacks ---- */

static ssize_t user_send_packet(const void *buf, size_t len, void *opaque)
{
    struct net_user *u = opaque;
    net_port_send(&u->port, buf, len);
    return (ssize_t)len;
}

static void user_guest_error(const char *msg, void *opaque)
{
    struct net_user *u = opaque;
    log_printf(u->log, LOG_GUEST_ERRORS, "user network %s: %s\n", u->port.name, msg);
}

static int64_t user_clock_ns(void *opaque)
{
    struct net_user *u = opaque;
    return vclock_now(u->clock);
}

static void user_timer_fire(void *opaque)
{
    struct user_timer *t = opaque;
    slirp_handle_timer(t->u->slirp, t->id, t->cb_opaque);
}

static void *user_timer_new_opaque(SlirpTimerId id, void *cb_opaque, void *opaque)
{
    struct net_user *u = opaque;
    struct user_timer *t = calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->u = u;
    t->id = id;
    t->cb_opaque = cb_opaque;
    vtimer_init(&t->t, u->clock, user_timer_fire, t);
    return t;
}

static void user_timer_free(void *timer, void *opaque)
{
    (void)opaque;
    struct user_timer *t = timer;
    if (!t)
        return;
    vtimer_del(&t->t);
    free(t);
}

static void user_timer_mod(void *timer, int64_t expire_ms, void *opaque)
{
    (void)opaque;
    struct user_timer *t = timer;
    if (t)
        vtimer_mod(&t->t, expire_ms * 1000000);
}

static void user_register_fd(int fd, void *opaque) { (void)fd; (void)opaque; }
static void user_unregister_fd(int fd, void *opaque) { (void)fd; (void)opaque; }

static void user_notify(void *opaque)
{
    struct net_user *u = opaque;
    mainloop_wake(u->ml);
}

static const SlirpCb user_callbacks = {
    .send_packet = user_send_packet,
    .guest_error = user_guest_error,
    .clock_get_ns = user_clock_ns,
    .timer_free = user_timer_free,
    .timer_mod = user_timer_mod,
    .register_poll_fd = user_register_fd,
    .unregister_poll_fd = user_unregister_fd,
    .notify = user_notify,
    .timer_new_opaque = user_timer_new_opaque,
};

/* ---- main loop source ---- */

static int user_add_poll(int fd, int events, void *opaque)
{
    struct net_user *u = opaque;
    if (u->pfd_n >= u->pfd_max)
        return -1;
    short ev = 0;
    if (events & SLIRP_POLL_IN)
        ev |= POLLIN;
    if (events & SLIRP_POLL_OUT)
        ev |= POLLOUT;
    if (events & SLIRP_POLL_PRI)
        ev |= POLLPRI;
    u->pfd[u->pfd_n] = (struct pollfd){ .fd = fd, .events = ev };
    return u->pfd_n++;
}

static int user_get_revents(int idx, void *opaque)
{
    struct net_user *u = opaque;
    if (idx < 0 || idx >= u->pfd_n)
        return 0;
    short re = u->pfd[idx].revents;
    int r = 0;
    if (re & POLLIN)
        r |= SLIRP_POLL_IN;
    if (re & POLLOUT)
        r |= SLIRP_POLL_OUT;
    if (re & POLLPRI)
        r |= SLIRP_POLL_PRI;
    if (re & (POLLERR | POLLNVAL))
        r |= SLIRP_POLL_ERR;
    if (re & POLLHUP)
        r |= SLIRP_POLL_HUP;
    return r;
}

static int user_fill(void *opaque, struct pollfd *pfd, int max, int64_t *timeout_ns)
{
    struct net_user *u = opaque;
    u->pfd = pfd;
    u->pfd_max = max;
    u->pfd_n = 0;
    uint32_t ms = UINT32_MAX;
    if (*timeout_ns >= 0)
        ms = *timeout_ns / 1000000 >= UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)((*timeout_ns + 999999) / 1000000);
    uint32_t before = ms;
    slirp_pollfds_fill(u->slirp, &ms, user_add_poll, u);
    if (ms != before && (*timeout_ns < 0 || (int64_t)ms * 1000000 < *timeout_ns))
        *timeout_ns = (int64_t)ms * 1000000;
    return u->pfd_n;
}

static int user_dispatch(void *opaque, struct pollfd *pfd, int n, bool error)
{
    struct net_user *u = opaque;
    u->pfd = pfd;
    u->pfd_n = n;
    int events = 0;
    for (int i = 0; i < n; i++)
        if (pfd[i].revents)
            events++;
    slirp_pollfds_poll(u->slirp, error ? 1 : 0, user_get_revents, u);
    u->pfd = NULL;
    u->pfd_n = 0;
    return events;
}

/* ---- the card's side ---- */

static bool user_receive(void *opaque, const uint8_t *buf, size_t len)
{
    struct net_user *u = opaque;
    slirp_input(u->slirp, buf, (int)len);
    return true;
}

static const struct net_port_ops user_port_ops = { .receive = user_receive };

/* ---- options ---- */

static const char *opt(const struct vm_netdev *nd, const char *key)
{
    const char *v = NULL;
    for (unsigned i = 0; i < nd->n_opts; i++)
        if (!strcmp(nd->opts[i].key, key))
            v = nd->opts[i].value;
    return v;
}

static bool parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "on") || !strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "y")) {
        *out = true;
        return true;
    }
    if (!strcmp(v, "off") || !strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "n")) {
        *out = false;
        return true;
    }
    return false;
}

/* "a.b.c.d[/bits]" or "a.b.c.d/mask" */
static bool parse_net(const char *v, struct in_addr *net, struct in_addr *mask)
{
    char buf[64];
    snprintf(buf, sizeof(buf), "%s", v);
    char *slash = strchr(buf, '/');
    uint32_t m = 0xffffff00u;
    if (slash) {
        *slash++ = '\0';
        struct in_addr ma;
        char *end;
        long bits = strtol(slash, &end, 10);
        if (*slash && !*end && bits >= 0 && bits <= 32)
            m = bits ? 0xffffffffu << (32 - bits) : 0;
        else if (inet_pton(AF_INET, slash, &ma) == 1)
            m = ntohl(ma.s_addr);
        else
            return false;
    }
    if (inet_pton(AF_INET, buf, net) != 1)
        return false;
    if (!slash) {
        /* QEMU's classful default when no mask is given */
        uint32_t a = ntohl(net->s_addr);
        m = (a >> 31) == 0 ? 0xff000000u : (a >> 30) == 2 ? 0xffff0000u : 0xffffff00u;
    }
    mask->s_addr = htonl(m);
    net->s_addr &= mask->s_addr;
    return true;
}

static bool in_net(const struct net_user *u, struct in_addr a)
{
    return (a.s_addr & u->mask.s_addr) == u->net.s_addr;
}

static char *keep(struct net_user *u, const char *s)
{
    for (unsigned i = 0; i < sizeof(u->strings) / sizeof(u->strings[0]); i++)
        if (!u->strings[i])
            return u->strings[i] = strdup(s);
    return NULL;
}

static int add_fwd(struct net_user *u, bool udp, const char *haddr, int hport, const char *gaddr,
                   int gport, const char *text, char *err, size_t errlen)
{
    struct in_addr h = { .s_addr = INADDR_ANY }, g = u->dhcp;
    if (u->nfwd >= USER_MAX_FWD) {
        snprintf(err, errlen, "too many host forwarding rules");
        return -1;
    }
    if ((haddr && *haddr && inet_pton(AF_INET, haddr, &h) != 1) ||
        (gaddr && *gaddr && inet_pton(AF_INET, gaddr, &g) != 1)) {
        snprintf(err, errlen, "invalid host forwarding rule '%s'", text);
        return -1;
    }
    if (slirp_add_hostfwd(u->slirp, udp, h, hport, g, gport) < 0) {
        snprintf(err, errlen, "Could not set up host forwarding rule '%s'", text);
        return -1;
    }
    struct user_fwd *f = &u->fwd[u->nfwd++];
    f->udp = udp;
    f->host_addr = h;
    f->host_port = hport;
    snprintf(f->text, sizeof(f->text), "%s", text);
    return 0;
}

static void fwd_text(const struct vm_hostfwd *fw, char *buf, size_t len)
{
    snprintf(buf, len, "%s:%s:%u-%s:%u", fw->udp ? "udp" : "tcp", fw->host_addr, fw->host_port,
             fw->guest_addr, fw->guest_port);
}

static void update_info(struct net_user *u)
{
    char net[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &u->net, net, sizeof(net));
    int n = snprintf(u->port.info, sizeof(u->port.info), "net=%s,restrict=%s", net,
                     u->restricted ? "on" : "off");
    for (unsigned i = 0; i < u->nfwd && n > 0 && (size_t)n < sizeof(u->port.info); i++)
        n += snprintf(u->port.info + n, sizeof(u->port.info) - (size_t)n, ",hostfwd=%s", u->fwd[i].text);
}

static ssize_t guestfwd_write(const void *buf, size_t len, void *opaque)
{
    struct user_guestfwd *g = opaque;
    chardev_write(g->chr, buf, len);
    return (ssize_t)len;
}

static size_t guestfwd_can_read(void *opaque)
{
    struct user_guestfwd *g = opaque;
    return slirp_socket_can_recv(g->u->slirp, g->addr, g->port);
}

static void guestfwd_read(void *opaque, const uint8_t *buf, size_t len)
{
    struct user_guestfwd *g = opaque;
    slirp_socket_recv(g->u->slirp, g->addr, g->port, buf, (int)len);
}

/* One guestfwd= rule; 0 or -1 with the reason in e. */
static int add_guestfwd(struct net_user *u, const char *rule, char *e, size_t elen)
{
    const char *p = rule;
    if (!strncmp(p, "tcp:", 4))
        p += 4;
    else if (*p == ':')
        p++;
    const char *colon = strchr(p, ':'), *dash = colon ? strchr(colon, '-') : NULL;
    char addr[INET_ADDRSTRLEN], *end = NULL;
    long port = dash ? strtol(colon + 1, &end, 10) : 0;
    if (!strncmp(rule, "udp:", 4)) {
        snprintf(e, elen, "guestfwd= '%s': only tcp guest forwarding is supported", rule);
        return -1;
    }
    if (!dash || (size_t)(colon - p) >= sizeof(addr) || end != dash || port < 1 || port > 65535 || !dash[1]) {
        snprintf(e, elen, "invalid guest forwarding rule '%s' (expected [tcp]:server:port-dev or "
                 "[tcp]:server:port-cmd:command)", rule);
        return -1;
    }
    memcpy(addr, p, (size_t)(colon - p));
    addr[colon - p] = '\0';
    struct in_addr server;
    if (inet_pton(AF_INET, addr, &server) != 1 || !in_net(u, server)) {
        snprintf(e, elen, "guestfwd= '%s': the server address must be inside net=", rule);
        return -1;
    }
    if (u->ngfwd >= USER_MAX_GUESTFWD) {
        snprintf(e, elen, "too many guestfwd= rules (at most %d)", USER_MAX_GUESTFWD);
        return -1;
    }
    struct user_guestfwd *g = &u->gfwd[u->ngfwd];
    g->u = u;
    g->addr = server;
    g->port = (int)port;
    const char *dev = dash + 1;
    if (!strncmp(dev, "cmd:", 4)) {
        if (slirp_add_exec(u->slirp, dev + 4, &server, (int)port) < 0) {
            snprintf(e, elen, "guestfwd= '%s': conflicting guest forwarding rule", rule);
            return -1;
        }
        u->ngfwd++;
        return 0;
    }
    char label[32], why[160] = "";
    snprintf(label, sizeof(label), "guestfwd.tcp.%ld", port);
    g->chr = chardev_open(dev, label, u->ml, why, sizeof(why));
    if (!g->chr) {
        snprintf(e, elen, "guestfwd= '%s': could not open guest forwarding device '%s': %s", rule, dev,
                 why[0] ? why : "no such device");
        return -1;
    }
    if (slirp_add_guestfwd(u->slirp, guestfwd_write, g, &server, (int)port) < 0) {
        chardev_close(g->chr);
        g->chr = NULL;
        snprintf(e, elen, "guestfwd= '%s': conflicting guest forwarding rule", rule);
        return -1;
    }
    chardev_attach(g->chr, guestfwd_can_read, guestfwd_read, g);
    u->ngfwd++;
    return 0;
}

struct net_user *net_user_create(const struct vm_netdev *nd, const char *label, struct vclock *clock,
                                 struct mainloop *ml, struct pcvm_log *log, char *err, size_t errlen)
{
    struct net_user *u = calloc(1, sizeof(*u));
    if (!u) {
        snprintf(err, errlen, "pcvm: %s: out of memory", label);
        return NULL;
    }
    u->clock = clock;
    u->ml = ml;
    u->log = log;
    net_port_init(&u->port, nd->id, "user", &user_port_ops, u);
    inet_pton(AF_INET, "10.0.2.0", &u->net);
    inet_pton(AF_INET, "255.255.255.0", &u->mask);

    SlirpConfig sc;
    memset(&sc, 0, sizeof(sc));
    sc.version = 4;
    sc.in_enabled = true;
    sc.in6_enabled = true;
    const char *v;
    char e[320] = "";
#define BAD(...) do { snprintf(e, sizeof(e), __VA_ARGS__); goto fail; } while (0)
    if ((v = opt(nd, "net")) && !parse_net(v, &u->net, &u->mask))
        BAD("invalid net= '%s' (expected addr[/bits] or addr/mask)", v);
    uint32_t base = ntohl(u->net.s_addr);
    u->host.s_addr = htonl(base | 2);
    u->dhcp.s_addr = htonl(base | 15);
    u->dns.s_addr = htonl(base | 3);
    if ((v = opt(nd, "host")) && inet_pton(AF_INET, v, &u->host) != 1)
        BAD("invalid host= '%s'", v);
    if ((v = opt(nd, "dhcpstart")) && inet_pton(AF_INET, v, &u->dhcp) != 1)
        BAD("invalid dhcpstart= '%s'", v);
    if ((v = opt(nd, "dns")) && inet_pton(AF_INET, v, &u->dns) != 1)
        BAD("invalid dns= '%s'", v);
    if (!in_net(u, u->host) || !in_net(u, u->dhcp) || !in_net(u, u->dns))
        BAD("host=, dhcpstart= and dns= must be inside net=");
    if ((v = opt(nd, "restrict"))) {
        if (!parse_bool(v, &u->restricted))
            BAD("invalid restrict= '%s' (on or off)", v);
    }
    if ((v = opt(nd, "ipv4")) && !parse_bool(v, &sc.in_enabled))
        BAD("invalid ipv4= '%s' (on or off)", v);
    if ((v = opt(nd, "ipv6")) && !parse_bool(v, &sc.in6_enabled))
        BAD("invalid ipv6= '%s' (on or off)", v);
    if (!sc.in_enabled && !sc.in6_enabled)
        BAD("ipv4=off and ipv6=off leave nothing to do");
    sc.restricted = u->restricted;
    sc.vnetwork = u->net;
    sc.vnetmask = u->mask;
    sc.vhost = u->host;
    sc.vdhcp_start = u->dhcp;
    sc.vnameserver = u->dns;
    inet_pton(AF_INET6, "fec0::", &sc.vprefix_addr6);
    sc.vprefix_len = 64;
    inet_pton(AF_INET6, "fec0::2", &sc.vhost6);
    inet_pton(AF_INET6, "fec0::3", &sc.vnameserver6);
    if ((v = opt(nd, "hostname")))
        sc.vhostname = keep(u, v);
    if ((v = opt(nd, "domainname")))
        sc.vdomainname = keep(u, v);
    if ((v = opt(nd, "tftp")))
        sc.tftp_path = keep(u, v);
    if ((v = opt(nd, "bootfile")))
        sc.bootfile = keep(u, v);
    if ((v = opt(nd, "tftp-server-name")))
        sc.tftp_server_name = keep(u, v);
    unsigned nds = 0;
    for (unsigned i = 0; i < nd->n_opts; i++)
        if (!strcmp(nd->opts[i].key, "dnssearch")) {
            if (nds >= USER_MAX_DNSSEARCH)
                BAD("too many dnssearch= domains (at most %d)", USER_MAX_DNSSEARCH);
            u->dnssearch[nds++] = keep(u, nd->opts[i].value);
        }
    if (nds)
        sc.vdnssearch = u->dnssearch;
    sc.if_mtu = 1500;
    sc.if_mru = 1500;
    u->slirp = slirp_new(&sc, &user_callbacks, u);
    if (!u->slirp)
        BAD("libslirp could not start");
    for (unsigned i = 0; i < nd->n_hostfwd; i++) {
        const struct vm_hostfwd *fw = &nd->hostfwd[i];
        char text[96];
        fwd_text(fw, text, sizeof(text));
        if (add_fwd(u, fw->udp, fw->host_addr, fw->host_port, fw->guest_addr, fw->guest_port,
                    text, e, sizeof(e)) < 0) {
            if (errno == EADDRINUSE)
                snprintf(e + strlen(e), sizeof(e) - strlen(e), ": host port %u is in use", fw->host_port);
            goto fail;
        }
    }
    for (unsigned i = 0; i < nd->n_opts; i++)
        if (!strcmp(nd->opts[i].key, "guestfwd") && add_guestfwd(u, nd->opts[i].value, e, sizeof(e)) < 0)
            goto fail;
#undef BAD
    update_info(u);
    struct mainloop_source src = { .fill = user_fill, .dispatch = user_dispatch, .opaque = u };
    if (mainloop_add_source(ml, &src) < 0) {
        snprintf(e, sizeof(e), "too many user networks");
        goto fail;
    }
    return u;
fail:
    snprintf(err, errlen, "pcvm: %s: %s", label, e);
    net_user_destroy(u);
    return NULL;
}

struct net_port *net_user_port(struct net_user *u)
{
    return &u->port;
}

/* Split "[tcp|udp]:haddr:hport" off the front of a rule; returns the rest after hport or NULL. */
static const char *parse_host_side(const char *rule, bool *udp, char *haddr, size_t hlen, int *hport)
{
    const char *c1 = strchr(rule, ':');
    if (!c1)
        return NULL;
    size_t pl = (size_t)(c1 - rule);
    if (pl == 3 && !strncmp(rule, "udp", 3))
        *udp = true;
    else if (pl == 0 || (pl == 3 && !strncmp(rule, "tcp", 3)))
        *udp = false;
    else
        return NULL;
    const char *c2 = strchr(c1 + 1, ':');
    if (!c2 || (size_t)(c2 - c1 - 1) >= hlen)
        return NULL;
    memcpy(haddr, c1 + 1, (size_t)(c2 - c1 - 1));
    haddr[c2 - c1 - 1] = '\0';
    char *end;
    long p = strtol(c2 + 1, &end, 10);
    if (end == c2 + 1 || p < 1 || p > 65535)
        return NULL;
    *hport = (int)p;
    return end;
}

int net_user_hostfwd_add(struct net_user *u, const char *rule, char *err, size_t errlen)
{
    bool udp;
    char haddr[64], gaddr[64];
    int hport;
    const char *rest = parse_host_side(rule, &udp, haddr, sizeof(haddr), &hport);
    const char *c3 = rest && *rest == '-' ? strchr(rest + 1, ':') : NULL;
    char *end = NULL;
    long gport = c3 ? strtol(c3 + 1, &end, 10) : 0;
    if (!c3 || (size_t)(c3 - rest - 1) >= sizeof(gaddr) || end == c3 + 1 || *end || gport < 1 || gport > 65535) {
        snprintf(err, errlen, "invalid host forwarding rule '%s' "
                 "(expected [tcp|udp]:[hostaddr]:hostport-[guestaddr]:guestport)", rule);
        return -1;
    }
    memcpy(gaddr, rest + 1, (size_t)(c3 - rest - 1));
    gaddr[c3 - rest - 1] = '\0';
    int r = add_fwd(u, udp, haddr, hport, gaddr, (int)gport, rule, err, errlen);
    update_info(u);
    return r;
}

int net_user_hostfwd_remove(struct net_user *u, const char *rule, char *err, size_t errlen)
{
    bool udp;
    char haddr[64];
    int hport;
    const char *rest = parse_host_side(rule, &udp, haddr, sizeof(haddr), &hport);
    struct in_addr h = { .s_addr = INADDR_ANY };
    if (!rest || *rest || (*haddr && inet_pton(AF_INET, haddr, &h) != 1)) {
        snprintf(err, errlen, "invalid format '%s' (expected [tcp|udp]:[hostaddr]:hostport)", rule);
        return -1;
    }
    if (slirp_remove_hostfwd(u->slirp, udp, h, hport) < 0) {
        snprintf(err, errlen, "host forwarding rule for %s not found", rule);
        return -1;
    }
    for (unsigned i = 0; i < u->nfwd; i++)
        if (u->fwd[i].udp == udp && u->fwd[i].host_port == hport && u->fwd[i].host_addr.s_addr == h.s_addr) {
            memmove(&u->fwd[i], &u->fwd[i + 1], (u->nfwd - i - 1) * sizeof(u->fwd[0]));
            u->nfwd--;
            break;
        }
    update_info(u);
    return 0;
}

char *net_user_connections(struct net_user *u)
{
    return slirp_connection_info(u->slirp);
}

void net_user_destroy(struct net_user *u)
{
    if (!u)
        return;
    mainloop_remove_source(u->ml, u);
    if (u->slirp)
        slirp_cleanup(u->slirp);
    for (unsigned i = 0; i < u->ngfwd; i++)
        chardev_close(u->gfwd[i].chr);
    net_port_cleanup(&u->port);
    for (unsigned i = 0; i < sizeof(u->strings) / sizeof(u->strings[0]); i++)
        free(u->strings[i]);
    free(u);
}

/* ---- saved state (snapshots): libslirp serialises its own connections ---- */

static ssize_t user_state_write(const void *buf, size_t len, void *opaque)
{
    vmbuf_put(opaque, buf, len);
    return (ssize_t)len;
}

int net_user_state_save(struct net_user *u, struct vmbuf *out, uint32_t *version)
{
    *version = (uint32_t)slirp_state_version();
    slirp_state_save(u->slirp, user_state_write, out);
    return out->failed ? -1 : 0;
}

uint32_t net_user_state_version(void)
{
    return (uint32_t)slirp_state_version();
}

/* libslirp reads with this callback; a short read makes its loader fail instead of reading
 * past the saved bytes. */
static ssize_t user_state_read(void *buf, size_t len, void *opaque)
{
    struct vmreader *r = opaque;
    if (!vmreader_get(r, buf, len))
        return -1;
    return (ssize_t)len;
}

int net_user_state_load(struct net_user *u, uint32_t version, const uint8_t *data, size_t len, char *err,
                        size_t errlen)
{
    if (version > (uint32_t)slirp_state_version()) {
        snprintf(err, errlen, "%s: user network state version %u is newer than this libslirp's (%d)",
                 u->port.name, version, slirp_state_version());
        return -1;
    }
    struct vmreader r = { data, len };
    int rc = slirp_state_load(u->slirp, (int)version, user_state_read, &r);
    if (rc < 0) {
        snprintf(err, errlen, "%s: the user network state is corrupt (libslirp: %s)", u->port.name,
                 strerror(-rc));
        return -1;
    }
    return 0;
}
