/* virtio-net device model (see virtio_net.h). */
#include "hw/virtio_net.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RXQ = 0, TXQ = 1 };

/* virtio_net_hdr */
enum { HDR_F_NEEDS_CSUM = 1 };
enum { GSO_NONE = 0, GSO_TCPV4 = 1, GSO_UDP = 3, GSO_TCPV6 = 4, GSO_ECN = 0x80 };
enum { CONFIG_STATUS_LINK_UP = 1 };

#define ETH_HLEN 14
#define TCP_FIN 0x01
#define TCP_PSH 0x08
#define TCP_CWR 0x80

static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static void put_be16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v;
}

static int bad(char *why, size_t whylen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *why, size_t whylen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, whylen, fmt, ap);
    va_end(ap);
    return -1;
}

/* Offset of the IP header after the Ethernet header (one 802.1Q tag allowed) and its type. */
static size_t l3_offset(const uint8_t *f, size_t len, uint16_t *type)
{
    if (len < ETH_HLEN)
        return 0;
    *type = be16(f + 12);
    if (*type == 0x8100) {
        if (len < ETH_HLEN + 4)
            return 0;
        *type = be16(f + 16);
        return ETH_HLEN + 4;
    }
    return ETH_HLEN;
}

/* Cut a TCP super-frame into gso-sized segments with their own lengths, sequence numbers, IPv4
 * ids and checksums. */
static int tso(const uint8_t *f, size_t len, unsigned gso_type, unsigned gso_size, uint8_t *seg,
               void (*emit)(void *ctx, const uint8_t *frame, size_t len), void *ctx, char *why, size_t whylen)
{
    uint16_t type = 0;
    size_t l3 = l3_offset(f, len, &type), l4;
    bool v4 = (gso_type & 0x7f) == GSO_TCPV4;
    if (!l3 || type != (v4 ? 0x0800 : 0x86dd))
        return bad(why, whylen, "TSO frame is not %s", v4 ? "IPv4" : "IPv6");
    if (v4) {
        if (len < l3 + 20 || (f[l3] >> 4) != 4 || (f[l3] & 15) < 5 || f[l3 + 9] != 6)
            return bad(why, whylen, "TSO frame has no IPv4/TCP header");
        l4 = l3 + 4u * (f[l3] & 15);
    } else {
        if (len < l3 + 40 || f[l3 + 6] != 6)
            return bad(why, whylen, "TSO frame has no IPv6/TCP header (extension headers are not cut)");
        l4 = l3 + 40;
    }
    if (len < l4 + 20)
        return bad(why, whylen, "TSO frame shorter than its TCP header");
    size_t thl = 4u * (f[l4 + 12] >> 4);
    size_t hdrs = l4 + thl;
    if (thl < 20 || hdrs > len)
        return bad(why, whylen, "TSO frame with TCP header length %zu", thl);
    if (gso_size == 0 || hdrs + gso_size > NET_MAX_FRAME)
        return bad(why, whylen, "TSO segment size %u", gso_size);
    size_t payload = len - hdrs;
    uint32_t seq = be32(f + l4 + 4);
    uint16_t ip_id = v4 ? be16(f + l3 + 4) : 0;
    uint8_t tcp_flags = f[l4 + 13];
    int count = 0;
    size_t off = 0;
    do {
        size_t n = payload - off < gso_size ? payload - off : gso_size;
        bool last = off + n >= payload;
        memcpy(seg, f, hdrs);
        memcpy(seg + hdrs, f + hdrs + off, n);
        uint8_t *ip = seg + l3, *tcp = seg + l4;
        uint32_t sum;
        if (v4) {
            put_be16(ip + 2, (uint16_t)(l4 - l3 + thl + n));
            put_be16(ip + 4, (uint16_t)(ip_id + count));
            ip[10] = ip[11] = 0;
            put_be16(ip + 10, net_csum_finish(net_csum_add(0, ip, l4 - l3)));
            uint8_t pseudo[12];
            memcpy(pseudo, ip + 12, 8);
            pseudo[8] = 0;
            pseudo[9] = 6;
            put_be16(pseudo + 10, (uint16_t)(thl + n));
            sum = net_csum_add(0, pseudo, sizeof(pseudo));
        } else {
            put_be16(ip + 4, (uint16_t)(thl + n));
            uint8_t pseudo[40];
            memcpy(pseudo, ip + 8, 32);
            put_be32(pseudo + 32, (uint32_t)(thl + n));
            memset(pseudo + 36, 0, 3);
            pseudo[39] = 6;
            sum = net_csum_add(0, pseudo, sizeof(pseudo));
        }
        put_be32(tcp + 4, seq + (uint32_t)off);
        uint8_t fl = tcp_flags;
        if (!last)
            fl &= (uint8_t)~(TCP_FIN | TCP_PSH);
        if (count)
            fl &= (uint8_t)~TCP_CWR;
        tcp[13] = fl;
        tcp[16] = tcp[17] = 0;
        put_be16(tcp + 16, net_csum_finish(net_csum_add(sum, tcp, thl + n)));
        emit(ctx, seg, hdrs + n);
        count++;
        off += n;
    } while (off < payload);
    return count;
}

int virtio_net_tx_frame(uint8_t *pkt, size_t len, size_t hdr_len, uint8_t *seg,
                        void (*emit)(void *ctx, const uint8_t *frame, size_t len), void *ctx,
                        char *why, size_t whylen)
{
    if (len < hdr_len + ETH_HLEN)
        return bad(why, whylen, "frame of %zu bytes with a %zu-byte header", len, hdr_len);
    uint8_t flags = pkt[0], gso_type = pkt[1];
    uint16_t gso_size = le16(pkt + 4), csum_start = le16(pkt + 6), csum_offset = le16(pkt + 8);
    uint8_t *f = pkt + hdr_len;
    size_t flen = len - hdr_len;
    if ((gso_type & 0x7f) == GSO_TCPV4 || (gso_type & 0x7f) == GSO_TCPV6)
        return tso(f, flen, gso_type, gso_size, seg, emit, ctx, why, whylen);
    if ((gso_type & 0x7f) != GSO_NONE)
        return bad(why, whylen, "GSO type %u not offered", gso_type);
    if (flen > NET_MAX_FRAME)
        return bad(why, whylen, "frame of %zu bytes", flen);
    if (flags & HDR_F_NEEDS_CSUM) {
        if ((size_t)csum_start + csum_offset + 2 > flen)
            return bad(why, whylen, "checksum at %u+%u beyond the %zu-byte frame", csum_start, csum_offset, flen);
        /* The field holds the pseudo-header sum: summing over it completes the checksum. */
        uint16_t c = net_csum_finish(net_csum_add(0, f + csum_start, flen - csum_start));
        put_be16(f + csum_start + csum_offset, c);
    }
    emit(ctx, f, flen);
    return 1;
}

static size_t hdr_size(const struct virtio_net *s)
{
    return virtio_has_feature(&s->vp, VIRTIO_F_VERSION_1 | VIRTIO_NET_F_MRG_RXBUF) ? 12 : 10;
}

static void send_to_backend(void *ctx, const uint8_t *frame, size_t len)
{
    struct virtio_net *s = ctx;
    s->tx_frames++;
    net_port_send(&s->port, frame, len);
}

static void flush_tx(struct virtio_net *s)
{
    if (s->in_tx)
        return;
    s->in_tx = true;
    bool done_any = false;
    while (virtio_pci_pop(&s->vp, TXQ, s->tx) > 0) {
        size_t hlen = hdr_size(s);
        size_t n = s->tx->out_len < VIRTIO_NET_TX_MAX ? (size_t)s->tx->out_len : VIRTIO_NET_TX_MAX;
        if (s->tx->out_len > VIRTIO_NET_TX_MAX) {
            log_printf(s->vp.log, LOG_GUEST_ERRORS, "virtio-net: transmit chain of %llu bytes dropped\n",
                       (unsigned long long)s->tx->out_len);
        } else {
            virtq_elem_read(s->vp.mem, s->tx, 0, s->txbuf, n);
            char why[128];
            int r = virtio_net_tx_frame(s->txbuf, n, hlen, s->segbuf, send_to_backend, s, why, sizeof(why));
            if (r < 0)
                log_printf(s->vp.log, LOG_GUEST_ERRORS, "virtio-net: frame dropped: %s\n", why);
            else if (r > 1)
                s->tso_segments += (uint64_t)r;
        }
        virtio_pci_push(&s->vp, TXQ, s->tx->head, 0);
        done_any = true;
    }
    if (done_any)
        virtio_pci_notify_queue(&s->vp, TXQ);
    s->in_tx = false;
}

static bool link_is_up(const struct virtio_net *s)
{
    return net_port_link_up(&s->port);
}

static bool net_can_receive(void *opaque)
{
    struct virtio_net *s = opaque;
    return virtio_pci_running(&s->vp) && link_is_up(s) && virtq_has_avail(&s->vp.vq[RXQ], s->vp.mem);
}

static bool net_receive(void *opaque, const uint8_t *buf, size_t len)
{
    struct virtio_net *s = opaque;
    if (!virtio_pci_running(&s->vp) || !link_is_up(s) || len < ETH_HLEN || len > NET_MAX_FRAME)
        return true;                          /* dropped, as on the wire */
    size_t hlen = hdr_size(s), total = hlen + len, room = 0;
    bool mergeable = virtio_has_feature(&s->vp, VIRTIO_NET_F_MRG_RXBUF);
    unsigned nbufs = 0;
    while (room < total) {
        if (nbufs == (mergeable ? VIRTIO_NET_RX_MAX_BUFS : 1u)) {
            /* The driver's buffers cannot hold this frame: drop it, keep the buffers. */
            virtq_unpop(&s->vp.vq[RXQ], (uint16_t)nbufs);
            s->rx_dropped++;
            return true;
        }
        int r = virtio_pci_pop(&s->vp, RXQ, &s->rx[nbufs]);
        if (r <= 0) {
            if (r == 0)
                virtq_unpop(&s->vp.vq[RXQ], (uint16_t)nbufs);
            return r == 0 ? false : true;     /* no room now: the frame waits in the port */
        }
        room += (size_t)s->rx[nbufs].in_len;
        nbufs++;
    }
    uint8_t hdr[VIRTIO_NET_HDR_MAX] = { 0 };
    hdr[10] = (uint8_t)nbufs;                  /* num_buffers (only in 12-byte headers) */
    hdr[11] = (uint8_t)(nbufs >> 8);
    size_t off = 0;                           /* of header + frame */
    for (unsigned i = 0; i < nbufs; i++) {
        size_t cap = (size_t)s->rx[i].in_len, written = 0;
        if (off < hlen) {
            size_t k = hlen - off < cap ? hlen - off : cap;
            written += virtq_elem_write(s->vp.mem, &s->rx[i], 0, hdr + off, k);
            off += k;
        }
        if (written < cap && off < total) {
            size_t k = total - off < cap - written ? total - off : cap - written;
            written += virtq_elem_write(s->vp.mem, &s->rx[i], written, buf + (off - hlen), k);
            off += k;
        }
        virtio_pci_push(&s->vp, RXQ, s->rx[i].head, (uint32_t)written);
    }
    s->rx_frames++;
    virtio_pci_notify_queue(&s->vp, RXQ);
    return true;
}

static void set_config_status(struct virtio_net *s)
{
    uint8_t st = link_is_up(s) ? CONFIG_STATUS_LINK_UP : 0;
    if (s->config[6] != st) {
        s->config[6] = st;
        s->config[7] = 0;
        virtio_pci_config_changed(&s->vp);
    }
}

static void net_link_changed(void *opaque, bool up)
{
    struct virtio_net *s = opaque;
    (void)up;
    set_config_status(s);
    if (link_is_up(s))
        net_port_flush(&s->port);
}

void virtio_net_update_link(struct virtio_net *s)
{
    set_config_status(s);
}

static void net_notify(struct virtio_pci *vp, unsigned n)
{
    struct virtio_net *s = vp->opaque;
    if (n == RXQ)
        net_port_flush(&s->port);             /* new receive buffers: frames waiting go in */
    else if (n == TXQ)
        flush_tx(s);
}

/* The info network line. */
static void set_info(struct virtio_net *s)
{
    snprintf(s->port.info, sizeof(s->port.info), "model=virtio-net-pci,macaddr=%02x:%02x:%02x:%02x:%02x:%02x",
             s->mac[0], s->mac[1], s->mac[2], s->mac[3], s->mac[4], s->mac[5]);
}

static void net_config_written(struct virtio_pci *vp, unsigned off, unsigned size)
{
    struct virtio_net *s = vp->opaque;
    /* A legacy driver may set the MAC here; the rest of the space is read-only. */
    if (off < 6)
        memcpy(s->mac, s->config, 6);
    if (off + size > 6) {
        s->config[6] = link_is_up(s) ? CONFIG_STATUS_LINK_UP : 0;
        s->config[7] = 0;
        s->config[8] = 1;
        s->config[9] = 0;
    }
    set_info(s);
}

static const struct virtio_device_ops net_ops = {
    .notify = net_notify,
    .config_written = net_config_written,
};

static const struct net_port_ops net_port_ops = {
    .can_receive = net_can_receive,
    .receive = net_receive,
    .link_changed = net_link_changed,
};

int virtio_net_init(struct virtio_net *s, struct pci_bus *bus, uint8_t devfn, struct phys_mem *mem,
                    struct pcvm_log *log, const uint8_t mac[6], const char *id, bool legacy, bool modern)
{
    memset(s, 0, sizeof(*s));
    memcpy(s->mac, mac, 6);
    memcpy(s->config, mac, 6);
    s->config[6] = CONFIG_STATUS_LINK_UP;
    s->config[8] = 1;                         /* max_virtqueue_pairs */
    s->rx = calloc(VIRTIO_NET_RX_MAX_BUFS, sizeof(*s->rx));
    s->tx = calloc(1, sizeof(*s->tx));
    s->txbuf = malloc(VIRTIO_NET_TX_MAX);
    s->segbuf = malloc(NET_MAX_FRAME);
    if (!s->rx || !s->tx || !s->txbuf || !s->segbuf) {
        virtio_net_destroy(s);
        return -1;
    }
    net_port_init(&s->port, id, "virtio-net-pci", &net_port_ops, s);
    set_info(s);
    uint64_t features = VIRTIO_NET_F_CSUM | VIRTIO_NET_F_MAC | VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6 |
                        VIRTIO_NET_F_HOST_ECN | VIRTIO_NET_F_MRG_RXBUF | VIRTIO_NET_F_STATUS;
    if (virtio_pci_init(&s->vp, bus, devfn, mem, log, "virtio-net", VIRTIO_ID_NET, 0x020000, features, 2,
                        VIRTIO_NET_QUEUE_SIZE, s->config, sizeof(s->config), legacy, modern, &net_ops, s) < 0) {
        virtio_net_destroy(s);
        return -1;
    }
    return 0;
}

void virtio_net_reset(void *opaque)
{
    struct virtio_net *s = opaque;
    virtio_pci_reset(&s->vp);
}

static int net_post_load(void *opaque, char *err, size_t errlen)
{
    struct virtio_net *s = opaque;
    if (virtio_pci_post_load(&s->vp, err, errlen) < 0)
        return -1;
    set_info(s);
    set_config_status(s);             /* the link as it is now, not as it was */
    return 0;
}

static const struct vmstate_field virtio_net_fields[] = {
    VMF_STRUCT(struct virtio_net, vp, virtio_pci_vmstate),
    VMF_ARRAY(struct virtio_net, mac), VMF_ARRAY(struct virtio_net, config),
    VMF_END_OF_LIST,
};
const struct vmstate_desc virtio_net_vmstate = { .name = "virtio-net", .version = 1, .fields = virtio_net_fields,
                                                 .post_load = net_post_load };

void virtio_net_destroy(struct virtio_net *s)
{
    net_port_cleanup(&s->port);
    free(s->rx);
    free(s->tx);
    free(s->txbuf);
    free(s->segbuf);
    s->rx = s->tx = NULL;
    s->txbuf = s->segbuf = NULL;
}
