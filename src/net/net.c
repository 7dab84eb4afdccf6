/* Ports, queues, pcap capture and checksum helpers of the network layer. */
#include "net/net.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/vclock.h"

void net_port_init(struct net_port *p, const char *name, const char *kind,
                   const struct net_port_ops *ops, void *opaque)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->name, sizeof(p->name), "%s", name ? name : "");
    snprintf(p->kind, sizeof(p->kind), "%s", kind ? kind : "");
    p->ops = ops;
    p->opaque = opaque;
}

void net_port_link(struct net_port *a, struct net_port *b)
{
    a->peer = b;
    b->peer = a;
}

static void capture(struct net_port *p, const uint8_t *buf, size_t len)
{
    for (unsigned i = 0; i < 2; i++)
        if (p->dumps[i])
            net_dump_frame(p->dumps[i], buf, len);
}

static bool port_ready(struct net_port *p)
{
    return !p->ops->can_receive || p->ops->can_receive(p->opaque);
}

void net_port_send(struct net_port *p, const uint8_t *buf, size_t len)
{
    struct net_port *to = p->peer;
    if (!to || p->link_down || to->link_down || len == 0 || len > NET_MAX_FRAME) {
        p->dropped++;
        return;
    }
    capture(p, buf, len);
    capture(to, buf, len);
    p->tx_frames++;
    if (!to->queue_head && port_ready(to) && to->ops->receive(to->opaque, buf, len)) {
        to->rx_frames++;
        return;
    }
    if (to->queue_len >= NET_QUEUE_MAX) {
        to->dropped++;
        return;
    }
    struct net_frame *f = malloc(sizeof(*f) + len);
    if (!f) {
        to->dropped++;
        return;
    }
    f->next = NULL;
    f->len = len;
    memcpy(f->data, buf, len);
    if (to->queue_tail)
        to->queue_tail->next = f;
    else
        to->queue_head = f;
    to->queue_tail = f;
    to->queue_len++;
}

void net_port_flush(struct net_port *p)
{
    while (p->queue_head && port_ready(p)) {
        struct net_frame *f = p->queue_head;
        if (!p->link_down) {
            if (!p->ops->receive(p->opaque, f->data, f->len))
                break;
            p->rx_frames++;
        }
        p->queue_head = f->next;
        if (!p->queue_head)
            p->queue_tail = NULL;
        p->queue_len--;
        free(f);
    }
}

void net_port_cleanup(struct net_port *p)
{
    while (p->queue_head) {
        struct net_frame *f = p->queue_head;
        p->queue_head = f->next;
        free(f);
    }
    p->queue_tail = NULL;
    p->queue_len = 0;
    if (p->peer && p->peer->peer == p)
        p->peer->peer = NULL;
    p->peer = NULL;
}

bool net_port_link_up(const struct net_port *p)
{
    return !p->link_down && !(p->peer && p->peer->link_down);
}

void net_port_set_link(struct net_port *p, bool up)
{
    p->link_down = !up;
    if (p->ops->link_changed)
        p->ops->link_changed(p->opaque, up);
    if (p->peer && p->peer->ops->link_changed)
        p->peer->ops->link_changed(p->peer->opaque, up);
}

/* ---- pcap ---- */

struct net_dump {
    FILE *f;
    unsigned maxlen;
};

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }   /* pcap uses host order */
static void put16(uint8_t *p, uint16_t v) { memcpy(p, &v, 2); }

struct net_dump *net_dump_open(const char *path, unsigned maxlen, char *err, size_t errlen)
{
    struct net_dump *d = calloc(1, sizeof(*d));
    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    d->f = fopen(path, "wb");
    if (!d->f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free(d);
        return NULL;
    }
    d->maxlen = maxlen ? maxlen : 65536;
    uint8_t hdr[24];
    put32(hdr, 0xa1b2c3d4u);     /* magic: microsecond time stamps */
    put16(hdr + 4, 2);
    put16(hdr + 6, 4);
    put32(hdr + 8, 0);
    put32(hdr + 12, 0);
    put32(hdr + 16, d->maxlen);
    put32(hdr + 20, 1);          /* LINKTYPE_ETHERNET */
    fwrite(hdr, 1, sizeof(hdr), d->f);
    fflush(d->f);
    return d;
}

void net_dump_frame(struct net_dump *d, const uint8_t *buf, size_t len)
{
    int64_t now = host_realtime_ns();
    size_t caplen = len < d->maxlen ? len : d->maxlen;
    uint8_t rec[16];
    put32(rec, (uint32_t)(now / NS_PER_SEC));
    put32(rec + 4, (uint32_t)(now % NS_PER_SEC / 1000));
    put32(rec + 8, (uint32_t)caplen);
    put32(rec + 12, (uint32_t)len);
    fwrite(rec, 1, sizeof(rec), d->f);
    fwrite(buf, 1, caplen, d->f);
    fflush(d->f);
}

void net_dump_close(struct net_dump *d)
{
    if (!d)
        return;
    fclose(d->f);
    free(d);
}

/* ---- helpers ---- */

uint32_t net_csum_add(uint32_t sum, const uint8_t *buf, size_t len)
{
    uint64_t s = sum;
    size_t i = 0;
    for (; i + 1 < len; i += 2)
        s += (uint32_t)buf[i] << 8 | buf[i + 1];
    if (i < len)
        s += (uint32_t)buf[i] << 8;
    while (s >> 32)
        s = (s & 0xffffffffu) + (s >> 32);
    return (uint32_t)s;
}

uint16_t net_csum_finish(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

void net_default_mac(unsigned n, uint8_t mac[6])
{
    static const uint8_t base[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
    memcpy(mac, base, 6);
    mac[5] = (uint8_t)(0x56 + n);
}
