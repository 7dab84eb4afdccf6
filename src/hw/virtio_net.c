/* virtio-net device model (see virtio_net.h). */
#include "hw/virtio_net.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { RXQ = 0, TXQ = 1, CTRLQ = 2 };

/* virtio_net_hdr */
enum { HDR_F_NEEDS_CSUM = 1, HDR_F_DATA_VALID = 2 };
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

static bool in_table(const struct virtio_net *s, uint32_t from, uint32_t n, const uint8_t *mac)
{
    for (uint32_t i = from; i < from + n && i < VIRTIO_NET_MAC_TABLE; i++)
        if (!memcmp(s->mac_table[i], mac, 6))
            return true;
    return false;
}

/* Does the receive filter let a frame to dst in? */
static bool rx_accepts(const struct virtio_net *s, const uint8_t *dst)
{
    static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    if (s->promisc)
        return true;
    if (!memcmp(dst, bcast, 6))
        return !s->nobcast;
    if (dst[0] & 1) {
        if (s->nomulti)
            return false;
        return s->allmulti || s->multi_overflow || in_table(s, s->uni_count, s->multi_count, dst);
    }
    if (s->nouni)
        return false;
    return s->alluni || s->uni_overflow || !memcmp(dst, s->mac, 6) || in_table(s, 0, s->uni_count, dst);
}

/* Are the TCP or UDP checksum of an untagged IPv4/IPv6 frame (no IPv6 extension headers, not
 * an IPv4 fragment) and the IPv4 header's correct? Then the driver is told (DATA_VALID) and the
 * guest skips summing every byte itself, as with e1000's RXCSUM. */
static bool rx_checksum_valid(const uint8_t *f, size_t len)
{
    if (len < ETH_HLEN + 20)
        return false;
    uint16_t type = be16(f + 12);
    const uint8_t *ip = f + ETH_HLEN;
    const uint8_t *l4;
    unsigned proto, l4len;
    uint32_t sum;
    if (type == 0x0800) {
        unsigned ihl = (ip[0] & 0x0f) * 4u, total = be16(ip + 2);
        if ((ip[0] >> 4) != 4 || ihl < 20 || total < ihl || ETH_HLEN + (size_t)total > len ||
            (be16(ip + 6) & 0x3fff) || net_csum_finish(net_csum_add(0, ip, ihl)))
            return false;
        proto = ip[9];
        l4 = ip + ihl;
        l4len = total - ihl;
        sum = net_csum_add(0, ip + 12, 8) + proto + l4len;
    } else if (type == 0x86dd && len >= ETH_HLEN + 40) {
        l4len = be16(ip + 4);
        proto = ip[6];
        if ((ip[0] >> 4) != 6 || ETH_HLEN + 40 + (size_t)l4len > len)
            return false;
        l4 = ip + 40;
        sum = net_csum_add(0, ip + 8, 32) + proto + l4len;
    } else {
        return false;
    }
    if (!((proto == 6 && l4len >= 20) || (proto == 17 && l4len >= 8 && be16(l4 + 6) != 0)))
        return false;
    return net_csum_finish(net_csum_add(sum, l4, l4len)) == 0;
}

static bool net_receive(void *opaque, const uint8_t *buf, size_t len)
{
    struct virtio_net *s = opaque;
    if (!virtio_pci_running(&s->vp) || !link_is_up(s) || len < ETH_HLEN || len > NET_MAX_FRAME)
        return true;                          /* dropped, as on the wire */
    if (!rx_accepts(s, buf)) {
        s->rx_filtered++;
        return true;
    }
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
    if (virtio_has_feature(&s->vp, VIRTIO_NET_F_GUEST_CSUM) && rx_checksum_valid(buf, len))
        hdr[0] = HDR_F_DATA_VALID;
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

/* Control commands (class, command; virtio 1.x 5.1.6.5). */
enum { CTRL_RX = 0, CTRL_MAC = 1 };
enum { CTRL_RX_PROMISC, CTRL_RX_ALLMULTI, CTRL_RX_ALLUNI, CTRL_RX_NOMULTI, CTRL_RX_NOUNI, CTRL_RX_NOBCAST };
enum { CTRL_MAC_TABLE_SET = 0, CTRL_MAC_ADDR_SET = 1 };
enum { CTRL_OK = 0, CTRL_ERR = 1 };

static void set_info(struct virtio_net *s);

/* One MAC table (le32 count, count entries) at *off of len bytes into the filter from entry
 * *next; false when it is malformed. */
static bool take_table(struct virtio_net *s, const uint8_t *d, size_t len, size_t *off, uint32_t *next,
                       uint32_t *count, bool *overflow)
{
    if (len - *off < 4)
        return false;
    uint32_t n = (uint32_t)d[*off] | (uint32_t)d[*off + 1] << 8 | (uint32_t)d[*off + 2] << 16 |
                 (uint32_t)d[*off + 3] << 24;
    *off += 4;
    if (n > (len - *off) / 6)
        return false;
    *count = 0;
    *overflow = n > VIRTIO_NET_MAC_TABLE - *next;
    if (!*overflow) {
        memcpy(s->mac_table[*next], d + *off, (size_t)n * 6);
        *count = n;
        *next += n;
    }
    *off += (size_t)n * 6;
    return true;
}

/* Run one command of len bytes (class, command, data); CTRL_OK or CTRL_ERR. */
static uint8_t ctrl_command(struct virtio_net *s, const uint8_t *d, size_t len)
{
    if (len < 2)
        return CTRL_ERR;
    uint8_t cls = d[0], cmd = d[1];
    if (cls == CTRL_RX && virtio_has_feature(&s->vp, VIRTIO_NET_F_CTRL_RX)) {
        if (len != 3 || cmd > CTRL_RX_NOBCAST)
            return CTRL_ERR;
        bool on = d[2] != 0;
        bool *flag[] = { &s->promisc, &s->allmulti, &s->alluni, &s->nomulti, &s->nouni, &s->nobcast };
        *flag[cmd] = on;
        return CTRL_OK;
    }
    if (cls == CTRL_MAC && cmd == CTRL_MAC_ADDR_SET && virtio_has_feature(&s->vp, VIRTIO_NET_F_CTRL_MAC_ADDR)) {
        if (len != 8)
            return CTRL_ERR;
        memcpy(s->mac, d + 2, 6);
        memcpy(s->config, d + 2, 6);
        set_info(s);
        return CTRL_OK;
    }
    if (cls == CTRL_MAC && cmd == CTRL_MAC_TABLE_SET && virtio_has_feature(&s->vp, VIRTIO_NET_F_CTRL_RX)) {
        /* Parsed into a copy first: a malformed command leaves the filter as it was. */
        struct virtio_net t = *s;
        size_t off = 2;
        uint32_t next = 0;
        if (!take_table(&t, d, len, &off, &next, &t.uni_count, &t.uni_overflow) ||
            !take_table(&t, d, len, &off, &next, &t.multi_count, &t.multi_overflow) || off != len)
            return CTRL_ERR;
        memcpy(s->mac_table, t.mac_table, sizeof(s->mac_table));
        s->uni_count = t.uni_count;
        s->multi_count = t.multi_count;
        s->uni_overflow = t.uni_overflow;
        s->multi_overflow = t.multi_overflow;
        return CTRL_OK;
    }
    return CTRL_ERR;                          /* VLAN filtering, announce, multiqueue: not offered */
}

static void handle_ctrl(struct virtio_net *s)
{
    bool done_any = false;
    while (virtio_pci_pop(&s->vp, CTRLQ, s->ctrl) > 0) {
        struct virtq_elem *e = s->ctrl;
        if (e->in_len < 1) {
            virtio_pci_set_broken(&s->vp, "control command without room for its ack");
            return;
        }
        uint8_t ack = CTRL_ERR;
        if (e->out_len <= VIRTIO_NET_CTRL_MAX) {
            size_t n = virtq_elem_read(s->vp.mem, e, 0, s->ctrlbuf, (size_t)e->out_len);
            ack = ctrl_command(s, s->ctrlbuf, n);
        }
        if (ack != CTRL_OK)
            log_printf(s->vp.log, LOG_GUEST_ERRORS, "virtio-net: control command refused\n");
        virtq_elem_write(s->vp.mem, e, 0, &ack, 1);
        virtio_pci_push(&s->vp, CTRLQ, e->head, 1);
        done_any = true;
    }
    if (done_any)
        virtio_pci_notify_queue(&s->vp, CTRLQ);
}

/* Device reset: the filter's defaults (every frame) and the card's own MAC. */
static void net_reset(struct virtio_pci *vp)
{
    struct virtio_net *s = vp->opaque;
    s->promisc = true;
    s->allmulti = s->alluni = s->nomulti = s->nouni = s->nobcast = false;
    s->uni_overflow = s->multi_overflow = false;
    s->uni_count = s->multi_count = 0;
    memcpy(s->mac, s->perm_mac, 6);
    memcpy(s->config, s->perm_mac, 6);
    set_info(s);
}

static void net_notify(struct virtio_pci *vp, unsigned n)
{
    struct virtio_net *s = vp->opaque;
    if (n == RXQ)
        net_port_flush(&s->port);             /* new receive buffers: frames waiting go in */
    else if (n == TXQ)
        flush_tx(s);
    else if (n == CTRLQ)
        handle_ctrl(s);
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
    .reset = net_reset,
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
    memcpy(s->perm_mac, mac, 6);
    memcpy(s->config, mac, 6);
    s->promisc = true;
    s->config[6] = CONFIG_STATUS_LINK_UP;
    s->config[8] = 1;                         /* max_virtqueue_pairs */
    s->rx = calloc(VIRTIO_NET_RX_MAX_BUFS, sizeof(*s->rx));
    s->tx = calloc(1, sizeof(*s->tx));
    s->txbuf = malloc(VIRTIO_NET_TX_MAX);
    s->segbuf = malloc(NET_MAX_FRAME);
    s->ctrl = calloc(1, sizeof(*s->ctrl));
    s->ctrlbuf = malloc(VIRTIO_NET_CTRL_MAX);
    if (!s->rx || !s->tx || !s->txbuf || !s->segbuf || !s->ctrl || !s->ctrlbuf) {
        virtio_net_destroy(s);
        return -1;
    }
    net_port_init(&s->port, id, "virtio-net-pci", &net_port_ops, s);
    set_info(s);
    uint64_t features = VIRTIO_NET_F_CSUM | VIRTIO_NET_F_GUEST_CSUM | VIRTIO_NET_F_MAC | VIRTIO_NET_F_HOST_TSO4 | VIRTIO_NET_F_HOST_TSO6 |
                        VIRTIO_NET_F_HOST_ECN | VIRTIO_NET_F_MRG_RXBUF | VIRTIO_NET_F_STATUS |
                        VIRTIO_NET_F_CTRL_VQ | VIRTIO_NET_F_CTRL_RX | VIRTIO_NET_F_CTRL_MAC_ADDR;
    if (virtio_pci_init(&s->vp, bus, devfn, mem, log, "virtio-net", VIRTIO_ID_NET, 0x020000, features, 3,
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
    if (s->uni_count + s->multi_count > VIRTIO_NET_MAC_TABLE) {
        snprintf(err, errlen, "virtio-net: %u + %u MAC filter entries (at most %d)", s->uni_count,
                 s->multi_count, VIRTIO_NET_MAC_TABLE);
        return -1;
    }
    set_info(s);
    set_config_status(s);             /* the link as it is now, not as it was */
    return 0;
}

/* Version 2 added the receive filter (a version 1 state loads with the reset defaults). */
#define NET_V2(f) { .name = #f, .type = VMF__TYPE(VMF__MEMBER(struct virtio_net, f)), \
                    .offset = offsetof(struct virtio_net, f), .count = 1, .since = 2 }
static const struct vmstate_field virtio_net_fields[] = {
    VMF_STRUCT(struct virtio_net, vp, virtio_pci_vmstate),
    VMF_ARRAY(struct virtio_net, mac), VMF_ARRAY(struct virtio_net, config),
    NET_V2(promisc), NET_V2(allmulti), NET_V2(alluni), NET_V2(nomulti), NET_V2(nouni), NET_V2(nobcast),
    NET_V2(uni_overflow), NET_V2(multi_overflow), NET_V2(uni_count), NET_V2(multi_count),
    { .name = "mac_table", .type = VMF_U8, .offset = offsetof(struct virtio_net, mac_table),
      .count = sizeof(((struct virtio_net *)0)->mac_table), .since = 2 },
    VMF_END_OF_LIST,
};
const struct vmstate_desc virtio_net_vmstate = { .name = "virtio-net", .version = 2, .min_version = 1,
                                                 .fields = virtio_net_fields, .post_load = net_post_load };

void virtio_net_destroy(struct virtio_net *s)
{
    net_port_cleanup(&s->port);
    free(s->rx);
    free(s->tx);
    free(s->txbuf);
    free(s->segbuf);
    free(s->ctrl);
    free(s->ctrlbuf);
    s->ctrl = NULL;
    s->ctrlbuf = NULL;
    s->rx = s->tx = NULL;
    s->txbuf = s->segbuf = NULL;
}
