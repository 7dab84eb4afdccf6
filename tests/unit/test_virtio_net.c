/* virtio-net: the transmit path's checksum completion and TCP segmentation (every segment's
 * lengths, sequence numbers, IPv4 ids, flags and checksums checked against RFC 791/793 sums),
 * malformed offload headers refused, and the device driven through its 1.0 interface: a frame
 * spread over mergeable receive buffers, frames waiting while the driver has no buffers, and a
 * transmitted frame reaching the back end; MSI-X of the transport; the control queue's receive
 * filter (rx modes, MAC table, MAC address, malformed commands) and its saved state. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hw/virtio_net.h"

#define RAM (4u << 20)
#define QSIZE 8
#define RXD 0x10000u    /* receive queue: desc, avail, used */
#define RXA 0x11000u
#define RXU 0x12000u
#define TXD 0x13000u
#define TXA 0x14000u
#define TXU 0x15000u
#define CTD 0x16000u    /* control queue */
#define CTA 0x17000u
#define CTU 0x18000u
#define CMD 0x19000u    /* a control command and its ack */
#define BUF 0x20000u

/* ---- the transmit path as a pure function ---- */

struct frames {
    unsigned n;
    size_t len[64];
    uint8_t data[64][2048];
};

static void collect(void *ctx, const uint8_t *frame, size_t len)
{
    struct frames *fr = ctx;
    assert_true(fr->n < 64 && len <= 2048);
    fr->len[fr->n] = len;
    memcpy(fr->data[fr->n++], frame, len);
}

static uint16_t rd_be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static uint32_t rd_be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }

/* Ones' complement sum of a header, 0xffff when its checksum is right. */
static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

static uint16_t tcp4_sum(const uint8_t *ip, const uint8_t *l4, size_t l4len, uint8_t proto)
{
    uint8_t pseudo[12];
    memcpy(pseudo, ip + 12, 8);
    pseudo[8] = 0;
    pseudo[9] = proto;
    pseudo[10] = (uint8_t)(l4len >> 8);
    pseudo[11] = (uint8_t)l4len;
    return fold(net_csum_add(net_csum_add(0, pseudo, 12), l4, l4len));
}

/* A 10-byte virtio_net_hdr, then Ethernet, IPv4 (20) and TCP (20) headers and payload bytes. */
static size_t build_tcp4(uint8_t *pkt, size_t payload, uint8_t gso_type, uint16_t gso_size, uint8_t tcp_flags)
{
    memset(pkt, 0, 10);
    pkt[0] = 1;                                   /* NEEDS_CSUM */
    pkt[1] = gso_type;
    pkt[2] = 54;
    pkt[4] = (uint8_t)gso_size;
    pkt[5] = (uint8_t)(gso_size >> 8);
    pkt[6] = 34;                                  /* csum_start: the TCP header */
    pkt[8] = 16;                                  /* csum_offset */
    uint8_t *f = pkt + 10;
    memcpy(f, "\x52\x55\x0a\x00\x02\x02\x52\x54\x00\x12\x34\x56\x08\x00", 14);
    uint8_t *ip = f + 14, *tcp = ip + 20;
    memset(ip, 0, 40);
    ip[0] = 0x45;
    ip[2] = (uint8_t)((40 + payload) >> 8);
    ip[3] = (uint8_t)(40 + payload);
    ip[4] = 0x12;
    ip[5] = 0x30;                                 /* id 0x1230 */
    ip[6] = 0x40;                                 /* DF */
    ip[8] = 64;
    ip[9] = 6;
    memcpy(ip + 12, "\x0a\x00\x02\x0f\x0a\x00\x02\x02", 8);
    tcp[0] = 0x80; tcp[1] = 0x00; tcp[2] = 0x00; tcp[3] = 0x50;
    tcp[4] = 0x01; tcp[5] = 0x02; tcp[6] = 0x03; tcp[7] = 0x04;   /* seq */
    tcp[12] = 0x50;
    tcp[13] = tcp_flags;
    for (size_t i = 0; i < payload; i++)
        tcp[20 + i] = (uint8_t)(i * 13 + 1);
    return 10 + 54 + payload;
}

static void test_tso4(void **state)
{
    (void)state;
    static uint8_t pkt[10 + 54 + 3000], seg[NET_MAX_FRAME];
    static struct frames fr;
    memset(&fr, 0, sizeof(fr));
    size_t len = build_tcp4(pkt, 3000, 1, 1448, 0x80 | 0x08 | 0x01 | 0x10); /* CWR PSH FIN ACK */
    char why[128];
    assert_int_equal(virtio_net_tx_frame(pkt, len, 10, seg, collect, &fr, why, sizeof(why)), 3);
    const size_t want_payload[3] = { 1448, 1448, 104 };
    uint8_t joined[3000];
    size_t off = 0;
    for (unsigned i = 0; i < 3; i++) {
        const uint8_t *ip = fr.data[i] + 14, *tcp = ip + 20;
        assert_int_equal(fr.len[i], 54 + want_payload[i]);
        assert_int_equal(rd_be16(ip + 2), 40 + want_payload[i]);
        assert_int_equal(rd_be16(ip + 4), 0x1230 + i);
        assert_int_equal(fold(net_csum_add(0, ip, 20)), 0xffff);
        assert_int_equal(rd_be32(tcp + 4), 0x01020304u + off);
        uint8_t flags = tcp[13];
        assert_int_equal(!!(flags & 0x80), i == 0);       /* CWR on the first only */
        assert_int_equal(!!(flags & 0x01), i == 2);       /* FIN and PSH on the last only */
        assert_int_equal(!!(flags & 0x08), i == 2);
        assert_true(flags & 0x10);
        assert_int_equal(tcp4_sum(ip, tcp, 20 + want_payload[i], 6), 0xffff);
        memcpy(joined + off, tcp + 20, want_payload[i]);
        off += want_payload[i];
    }
    assert_memory_equal(joined, pkt + 64, 3000);
}

static void test_partial_checksum(void **state)
{
    (void)state;
    static uint8_t pkt[10 + 54 + 100], seg[NET_MAX_FRAME];
    static struct frames fr;
    memset(&fr, 0, sizeof(fr));
    size_t len = build_tcp4(pkt, 100, 0, 0, 0x18);
    /* As Linux: the checksum field holds the pseudo-header sum, not inverted. */
    uint8_t *ip = pkt + 10 + 14, *tcp = ip + 20;
    uint8_t pseudo[12];
    memcpy(pseudo, ip + 12, 8);
    pseudo[8] = 0; pseudo[9] = 6; pseudo[10] = 0; pseudo[11] = 120;
    uint16_t ps = fold(net_csum_add(0, pseudo, 12));
    tcp[16] = (uint8_t)(ps >> 8);
    tcp[17] = (uint8_t)ps;
    char why[128];
    assert_int_equal(virtio_net_tx_frame(pkt, len, 10, seg, collect, &fr, why, sizeof(why)), 1);
    assert_int_equal(fr.len[0], 154);
    assert_int_equal(tcp4_sum(fr.data[0] + 14, fr.data[0] + 34, 120, 6), 0xffff);
}

static void test_bad_offload_headers(void **state)
{
    (void)state;
    static uint8_t pkt[10 + 54 + 100], seg[NET_MAX_FRAME];
    static struct frames fr;
    char why[128];
    size_t len = build_tcp4(pkt, 100, 0, 0, 0x18);
    pkt[6] = 0xf0;                                         /* csum_start beyond the frame */
    assert_int_equal(virtio_net_tx_frame(pkt, len, 10, seg, collect, &fr, why, sizeof(why)), -1);
    len = build_tcp4(pkt, 100, 3, 1000, 0x18);             /* UDP fragmentation: not offered */
    assert_int_equal(virtio_net_tx_frame(pkt, len, 10, seg, collect, &fr, why, sizeof(why)), -1);
    len = build_tcp4(pkt, 100, 1, 0, 0x18);                /* TSO with segment size 0 */
    assert_int_equal(virtio_net_tx_frame(pkt, len, 10, seg, collect, &fr, why, sizeof(why)), -1);
    len = build_tcp4(pkt, 100, 1, 1000, 0x18);
    pkt[10 + 12] = 0x86;                                   /* claims IPv6 */
    assert_int_equal(virtio_net_tx_frame(pkt, len, 10, seg, collect, &fr, why, sizeof(why)), -1);
    len = build_tcp4(pkt, 100, 1, 1000, 0x18);
    pkt[10 + 14 + 20 + 12] = 0xf0;                         /* TCP header of 60 bytes: beyond */
    assert_int_equal(virtio_net_tx_frame(pkt, 60, 10, seg, collect, &fr, why, sizeof(why)), -1);
    assert_int_equal(virtio_net_tx_frame(pkt, 12, 12, seg, collect, &fr, why, sizeof(why)), -1);
    assert_int_equal(fr.n, 0);
}

/* ---- the device ---- */

struct dev_fixture {
    struct phys_mem mem;
    struct io_bus io;
    struct pci_bus bus;
    struct pcvm_log log;
    struct virtio_net net;
    struct net_port peer;          /* the back end's end */
    struct frames got;
    uint32_t msi_addr[8], msi_data[8];
    unsigned n_msi;
    int irq;
};

static void record_msi(void *opaque, uint32_t address, uint32_t data)
{
    struct dev_fixture *f = opaque;
    assert_true(f->n_msi < 8);
    f->msi_addr[f->n_msi] = address;
    f->msi_data[f->n_msi++] = data;
}

static bool peer_receive(void *opaque, const uint8_t *buf, size_t len)
{
    collect(&((struct dev_fixture *)opaque)->got, buf, len);
    return true;
}

static const struct net_port_ops peer_ops = { .receive = peer_receive };

static void record_irq(void *opaque, struct pci_device *dev, int pin, int level)
{
    (void)dev; (void)pin;
    ((struct dev_fixture *)opaque)->irq = level;
}

static void mw(struct virtio_pci *vp, uint32_t off, uint32_t v, unsigned size) { virtio_pci_modern_write(vp, off, v, size); }

static void setup_queue(struct virtio_pci *vp, unsigned n, uint32_t d, uint32_t a, uint32_t u)
{
    mw(vp, 0x16, n, 2);
    mw(vp, 0x18, QSIZE, 2);
    mw(vp, 0x20, d, 4);
    mw(vp, 0x28, a, 4);
    mw(vp, 0x30, u, 4);
    mw(vp, 0x1c, 1, 2);
}

static int dev_setup_msi(void **state, bool msi)
{
    struct dev_fixture *f = calloc(1, sizeof(*f));
    assert_int_equal(phys_mem_init(&f->mem, RAM, RAM), 0);
    io_bus_init(&f->io);
    pci_bus_init(&f->bus, &f->mem, &f->io, record_irq, f);
    if (msi) {
        f->bus.msi_send = record_msi;
        f->bus.msi_opaque = f;
    }
    f->log.mask = LOG_GUEST_ERRORS;
    f->log.out = fopen("/dev/null", "w");
    const uint8_t mac[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
    assert_int_equal(virtio_net_init(&f->net, &f->bus, 3 << 3, &f->mem, &f->log, mac, "nic0", true, true), 0);
    net_port_init(&f->peer, "net0", "test", &peer_ops, f);
    net_port_link(&f->net.port, &f->peer);
    virtio_net_update_link(&f->net);
    struct virtio_pci *vp = &f->net.vp;
    assert_int_equal(virtio_pci_modern_read(vp, VIRTIO_PCI_DEVICE_OFF, 4), 0x12005452u);  /* the MAC */
    assert_int_equal(virtio_pci_modern_read(vp, VIRTIO_PCI_DEVICE_OFF + 6, 2), 1);         /* link up */
    mw(vp, 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
    mw(vp, 0x08, 0, 4);
    mw(vp, 0x0c, (uint32_t)(VIRTIO_NET_F_CSUM | VIRTIO_NET_F_MAC | VIRTIO_NET_F_HOST_TSO4 |
                            VIRTIO_NET_F_MRG_RXBUF | VIRTIO_NET_F_STATUS), 4);
    mw(vp, 0x08, 1, 4);
    mw(vp, 0x0c, 1, 4);
    mw(vp, 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK, 1);
    setup_queue(vp, 0, RXD, RXA, RXU);
    setup_queue(vp, 1, TXD, TXA, TXU);
    mw(vp, 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                 VIRTIO_STATUS_DRIVER_OK, 1);
    *state = f;
    return 0;
}

static int dev_setup(void **state) { return dev_setup_msi(state, false); }
static int dev_setup_msix(void **state) { return dev_setup_msi(state, true); }

static int dev_teardown(void **state)
{
    struct dev_fixture *f = *state;
    virtio_net_destroy(&f->net);
    fclose(f->log.out);
    phys_mem_destroy(&f->mem);
    free(f);
    return 0;
}

static void put_desc(struct phys_mem *pm, uint32_t table, unsigned i, uint32_t addr, uint32_t len, uint16_t flags)
{
    phys_write(pm, table + 16 * i, addr, 4);
    phys_write(pm, table + 16 * i + 4, 0, 4);
    phys_write(pm, table + 16 * i + 8, len, 4);
    phys_write(pm, table + 16 * i + 12, flags, 2);
    phys_write(pm, table + 16 * i + 14, 0, 2);
}

static void offer(struct phys_mem *pm, uint32_t avail, uint16_t head)
{
    uint16_t idx = (uint16_t)phys_read(pm, avail + 2, 2);
    phys_write(pm, avail + 4 + 2 * (idx % QSIZE), head, 2);
    phys_write(pm, avail + 2, (uint16_t)(idx + 1), 2);
}

static void test_rx_mergeable(void **state)
{
    struct dev_fixture *f = *state;
    uint8_t frame[1514];
    for (unsigned i = 0; i < sizeof(frame); i++)
        frame[i] = (uint8_t)(i * 7 + 3);
    /* No buffers yet: the frame waits in the port. */
    net_port_send(&f->peer, frame, sizeof(frame));
    assert_int_equal(f->net.port.queue_len, 1);
    assert_int_equal(phys_read(&f->mem, RXU + 2, 2), 0);
    /* Two 1000-byte buffers, then the driver's notify lets it in across both. */
    put_desc(&f->mem, RXD, 0, BUF, 1000, VIRTQ_DESC_F_WRITE);
    put_desc(&f->mem, RXD, 1, BUF + 0x1000, 1000, VIRTQ_DESC_F_WRITE);
    offer(&f->mem, RXA, 0);
    offer(&f->mem, RXA, 1);
    mw(&f->net.vp, VIRTIO_PCI_NOTIFY_OFF, 0, 2);
    assert_int_equal(f->net.port.queue_len, 0);
    assert_int_equal(phys_read(&f->mem, RXU + 2, 2), 2);
    assert_int_equal(phys_read(&f->mem, RXU + 4, 4), 0);
    assert_int_equal(phys_read(&f->mem, RXU + 8, 4), 1000);
    assert_int_equal(phys_read(&f->mem, RXU + 12, 4), 1);
    assert_int_equal(phys_read(&f->mem, RXU + 16, 4), 12 + 1514 - 1000);
    assert_int_equal(phys_read(&f->mem, BUF + 10, 2), 2);              /* num_buffers */
    assert_memory_equal(&f->mem.ram[BUF + 12], frame, 988);
    assert_memory_equal(&f->mem.ram[BUF + 0x1000], frame + 988, 1514 - 988);
    /* A frame bigger than one free buffer waits (no partial delivery). */
    put_desc(&f->mem, RXD, 2, BUF + 0x2000, 1000, VIRTQ_DESC_F_WRITE);
    offer(&f->mem, RXA, 2);
    net_port_send(&f->peer, frame, sizeof(frame));
    assert_int_equal(f->net.port.queue_len, 1);
    assert_int_equal(phys_read(&f->mem, RXU + 2, 2), 2);
    assert_int_equal(f->net.vp.broken_count, 0);
}

static void test_tx_to_backend(void **state)
{
    struct dev_fixture *f = *state;
    static uint8_t pkt[10 + 54 + 3000];
    size_t len = build_tcp4(pkt, 3000, 1, 1448, 0x18);
    /* The 12-byte header of a 1.0 driver (num_buffers unused on transmit). */
    phys_write_block(&f->mem, BUF, pkt, 10);
    phys_write(&f->mem, BUF + 10, 0, 2);
    phys_write_block(&f->mem, BUF + 0x100, pkt + 10, len - 10);
    phys_write(&f->mem, TXD, BUF, 4);
    phys_write(&f->mem, TXD + 4, 0, 4);
    phys_write(&f->mem, TXD + 8, 12, 4);
    phys_write(&f->mem, TXD + 12, VIRTQ_DESC_F_NEXT, 2);
    phys_write(&f->mem, TXD + 14, 1, 2);
    put_desc(&f->mem, TXD, 1, BUF + 0x100, (uint32_t)(len - 10), 0);
    offer(&f->mem, TXA, 0);
    mw(&f->net.vp, VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT, 1, 2);
    assert_int_equal(f->got.n, 3);
    assert_int_equal(f->got.len[0], 1502);
    assert_int_equal(phys_read(&f->mem, TXU + 2, 2), 1);
    assert_int_equal(virtio_pci_modern_read(&f->net.vp, VIRTIO_PCI_ISR_OFF, 1), 1);  /* used buffers */
    /* Link down: the driver sees it in config space; frames are dropped, buffers still returned. */
    net_port_set_link(&f->peer, false);
    assert_int_equal(virtio_pci_modern_read(&f->net.vp, VIRTIO_PCI_DEVICE_OFF + 6, 2), 0);
    assert_int_equal(virtio_pci_modern_read(&f->net.vp, VIRTIO_PCI_ISR_OFF, 1), 2);
    offer(&f->mem, TXA, 0);
    mw(&f->net.vp, VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT, 1, 2);
    assert_int_equal(f->got.n, 3);
    assert_int_equal(phys_read(&f->mem, TXU + 2, 2), 2);
    net_port_set_link(&f->peer, true);
    assert_int_equal(virtio_pci_modern_read(&f->net.vp, VIRTIO_PCI_DEVICE_OFF + 6, 2), 1);
}

/* MSI-X as Linux drives it: the capability found, the table programmed, vectors assigned per
 * queue, messages sent (and held while masked), INTx silent; off again: INTx. */
static void test_msix(void **state)
{
    struct dev_fixture *f = *state;
    struct virtio_pci *vp = &f->net.vp;
    uint8_t devfn = vp->pci.devfn;
    uint8_t cap = 0;
    for (uint8_t p = vp->pci.config[0x34]; p; p = vp->pci.config[p + 1])
        if (vp->pci.config[p] == 0x11)
            cap = p;
    assert_int_equal(cap, VIRTIO_MSIX_CAP);
    assert_int_equal(pci_config_read(&f->bus, devfn, cap + 2, 2) & 0x7ff, 3);      /* 4 vectors */
    assert_int_equal(pci_config_read(&f->bus, devfn, cap + 4, 4), 1);              /* BAR 1, table at 0 */
    assert_int_equal(pci_config_read(&f->bus, devfn, cap + 8, 4), 0x801);
    /* Program vector 1 (receive queue) and vector 0 (config), enable MSI-X and bus mastering. */
    for (unsigned v = 0; v < 2; v++) {
        virtio_pci_msix_write(vp, 16 * v, 0xfee00000u, 4);
        virtio_pci_msix_write(vp, 16 * v + 4, 0, 4);
        virtio_pci_msix_write(vp, 16 * v + 8, 0x40 + v, 4);
    }
    pci_config_write(&f->bus, devfn, 4, 0x7, 2);
    pci_config_write(&f->bus, devfn, cap + 2, 0x8000 | 2, 2);
    mw(vp, 0x10, 0, 2);
    assert_int_equal(virtio_pci_modern_read(vp, 0x10, 2), 0);
    mw(vp, 0x16, 0, 2);
    mw(vp, 0x1a, 1, 2);
    assert_int_equal(virtio_pci_modern_read(vp, 0x1a, 2), 1);
    mw(vp, 0x1a, 7, 2);                                           /* beyond the table: refused */
    assert_int_equal(virtio_pci_modern_read(vp, 0x1a, 2), VIRTIO_MSIX_NO_VECTOR);
    mw(vp, 0x1a, 1, 2);
    /* Vector 1 is still masked: the frame's interrupt waits in the pending bits. */
    put_desc(&f->mem, RXD, 0, BUF, 2000, VIRTQ_DESC_F_WRITE);
    offer(&f->mem, RXA, 0);
    uint8_t frame[60] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 };
    net_port_send(&f->peer, frame, sizeof(frame));
    assert_int_equal(phys_read(&f->mem, RXU + 2, 2), 1);
    assert_int_equal(f->n_msi, 0);
    assert_int_equal(virtio_pci_msix_read(vp, VIRTIO_MSIX_PBA_OFF, 4), 2);
    virtio_pci_msix_write(vp, 16 + 12, 0, 4);                      /* unmask vector 1 */
    assert_int_equal(f->n_msi, 1);
    assert_int_equal(f->msi_addr[0], 0xfee00000u);
    assert_int_equal(f->msi_data[0], 0x41);
    assert_int_equal(virtio_pci_msix_read(vp, VIRTIO_MSIX_PBA_OFF, 4), 0);
    assert_int_equal(f->irq, 0);
    /* Link change: the config vector (0) once unmasked. */
    virtio_pci_msix_write(vp, 12, 0, 4);
    net_port_set_link(&f->peer, false);
    assert_int_equal(f->n_msi, 2);
    assert_int_equal(f->msi_data[1], 0x40);
    assert_int_equal(f->irq, 0);
    /* MSI-X off: the legacy config moves back to 0x14 and interrupts use INTx. */
    pci_config_write(&f->bus, devfn, cap + 2, 2, 2);
    net_port_set_link(&f->peer, true);
    assert_int_equal(f->n_msi, 2);
    assert_int_equal(f->irq, 1);
    assert_int_equal(vp->broken_count, 0);
}

/* Saved state: after a reset and a load the driver's rings, indices, features and MSI-X
 * vectors are back and the next frame lands after the earlier ones. */
static void test_saved_state(void **state)
{
    struct dev_fixture *f = *state;
    struct virtio_pci *vp = &f->net.vp;
    put_desc(&f->mem, RXD, 0, BUF, 2000, VIRTQ_DESC_F_WRITE);
    put_desc(&f->mem, RXD, 1, BUF + 0x1000, 2000, VIRTQ_DESC_F_WRITE);
    offer(&f->mem, RXA, 0);
    offer(&f->mem, RXA, 1);
    uint8_t frame[60] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56, 1 };
    net_port_send(&f->peer, frame, sizeof(frame));
    mw(vp, 0x16, 1, 2);
    mw(vp, 0x1a, 2, 2);
    struct vmbuf b = { 0 };
    vmstate_save(&virtio_net_vmstate, &f->net, &b);
    assert_false(b.failed);
    virtio_net_reset(&f->net);
    assert_int_equal(vp->status, 0);
    struct vmreader r = { .p = b.data, .left = b.len };
    char err[200];
    assert_int_equal(vmstate_load(&virtio_net_vmstate, &f->net, virtio_net_vmstate.version, &r, err, sizeof(err)), 0);
    assert_int_equal(r.left, 0);
    assert_true(virtio_pci_running(vp));
    assert_true(virtio_has_feature(vp, VIRTIO_NET_F_MRG_RXBUF));
    assert_int_equal(vp->queue_vector[1], 2);
    frame[6] = 2;
    net_port_send(&f->peer, frame, sizeof(frame));
    assert_int_equal(phys_read(&f->mem, RXU + 2, 2), 2);
    assert_int_equal(phys_read(&f->mem, RXU + 12, 4), 1);           /* the second buffer */
    assert_int_equal(phys_read(&f->mem, BUF + 0x1000 + 12 + 6, 1), 2);
    /* A corrupted queue size is refused. */
    vp->vq[0].size = 3;
    assert_int_equal(virtio_pci_post_load(vp, err, sizeof(err)), -1);
    vmbuf_free(&b);
}

/* Renegotiate with the control queue (after a device reset), plus the extra feature bits. */
static void with_ctrl_and(struct dev_fixture *f, uint32_t extra)
{
    struct virtio_pci *vp = &f->net.vp;
    mw(vp, 0x14, 0, 1);
    mw(vp, 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER, 1);
    mw(vp, 0x08, 0, 4);
    mw(vp, 0x0c, (uint32_t)(VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS | VIRTIO_NET_F_CTRL_VQ | VIRTIO_NET_F_CTRL_RX |
                            VIRTIO_NET_F_CTRL_MAC_ADDR) | extra, 4);
    mw(vp, 0x08, 1, 4);
    mw(vp, 0x0c, 1, 4);
    mw(vp, 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK, 1);
    setup_queue(vp, 0, RXD, RXA, RXU);
    setup_queue(vp, 1, TXD, TXA, TXU);
    setup_queue(vp, 2, CTD, CTA, CTU);
    mw(vp, 0x14, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                 VIRTIO_STATUS_DRIVER_OK, 1);
    assert_true(virtio_pci_running(vp));
}

static void with_ctrl(struct dev_fixture *f) { with_ctrl_and(f, 0); }

/* Send one control command (len bytes); returns its ack byte. */
static uint8_t ctrl(struct dev_fixture *f, const uint8_t *cmd, uint32_t len)
{
    static uint16_t n;
    phys_write_block(&f->mem, CMD, cmd, len);
    phys_write(&f->mem, CMD + 0x800, 0xee, 1);
    unsigned d = (unsigned)(n % 4) * 2;
    put_desc(&f->mem, CTD, d, CMD, len, VIRTQ_DESC_F_NEXT);
    phys_write(&f->mem, CTD + 16 * d + 14, d + 1, 2);
    put_desc(&f->mem, CTD, d + 1, CMD + 0x800, 1, VIRTQ_DESC_F_WRITE);
    offer(&f->mem, CTA, (uint16_t)d);
    n++;
    mw(&f->net.vp, VIRTIO_PCI_NOTIFY_OFF + 2 * VIRTIO_PCI_NOTIFY_MULT, 2, 2);
    assert_int_equal(phys_read(&f->mem, CTU + 2, 2), n);
    return (uint8_t)phys_read(&f->mem, CMD + 0x800, 1);
}

/* Deliver a frame to dst; true when the filter let it in. */
static bool delivered(struct dev_fixture *f, const uint8_t dst[6])
{
    uint64_t before = f->net.rx_frames;
    uint8_t frame[60] = { 0 };
    memcpy(frame, dst, 6);
    memcpy(frame + 6, "\x02\x00\x00\x00\x00\x09", 6);
    uint16_t idx = (uint16_t)phys_read(&f->mem, RXA + 2, 2);
    put_desc(&f->mem, RXD, idx % QSIZE, BUF + 0x800 * (idx % QSIZE), 2000, VIRTQ_DESC_F_WRITE);
    offer(&f->mem, RXA, idx % QSIZE);
    net_port_send(&f->peer, frame, sizeof(frame));
    if (f->net.rx_frames == before)        /* not taken: the offered buffer stays unused */
        phys_write(&f->mem, RXA + 2, idx, 2);
    assert_int_equal(f->net.port.queue_len, 0);
    return f->net.rx_frames != before;
}

static void test_ctrl_filter(void **state)
{
    struct dev_fixture *f = *state;
    with_ctrl(f);
    const uint8_t own[6] = { 0x52, 0x54, 0, 0x12, 0x34, 0x56 }, other[6] = { 0x02, 0, 0, 0, 0, 0x77 },
                  listed[6] = { 0x02, 0, 0, 0, 0, 0x01 }, bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
                  mdns[6] = { 0x01, 0, 0x5e, 0, 0, 0xfb }, mother[6] = { 0x01, 0, 0x5e, 0, 0, 0x02 };
    assert_true(delivered(f, other));                     /* promiscuous after reset, as QEMU */
    assert_int_equal(ctrl(f, (const uint8_t[]){ 0, 0, 0 }, 3), 0);   /* PROMISC off */
    assert_false(delivered(f, other));
    assert_true(delivered(f, own));
    assert_true(delivered(f, bcast));
    assert_false(delivered(f, mdns));
    /* MAC table: one unicast, one multicast entry. */
    uint8_t table[2 + 4 + 6 + 4 + 6] = { 1, 0, 1, 0, 0, 0 };
    memcpy(table + 6, listed, 6);
    table[12] = 1;
    memcpy(table + 16, mdns, 6);
    assert_int_equal(ctrl(f, table, sizeof(table)), 0);
    assert_true(delivered(f, listed));
    assert_true(delivered(f, mdns));
    assert_false(delivered(f, mother));
    assert_int_equal(ctrl(f, (const uint8_t[]){ 0, 1, 1 }, 3), 0);   /* ALLMULTI on */
    assert_true(delivered(f, mother));
    assert_int_equal(ctrl(f, (const uint8_t[]){ 0, 5, 1 }, 3), 0);   /* NOBCAST on */
    assert_false(delivered(f, bcast));
    /* Malformed: a count beyond the data, a short RX command, unknown classes: refused, and
     * the filter stays as it was. */
    uint8_t bad[2 + 4 + 6] = { 1, 0, 200, 0, 0, 0 };
    assert_int_equal(ctrl(f, bad, sizeof(bad)), 1);
    assert_int_equal(ctrl(f, (const uint8_t[]){ 0, 0 }, 2), 1);
    assert_int_equal(ctrl(f, (const uint8_t[]){ 0, 9, 1 }, 3), 1);
    assert_int_equal(ctrl(f, (const uint8_t[]){ 2, 0, 1, 0 }, 4), 1);  /* VLAN: not offered */
    assert_true(delivered(f, listed));
    assert_int_equal(f->net.uni_count, 1);
    /* A new MAC address through the control queue shows in config space. */
    const uint8_t addr[8] = { 1, 1, 0x02, 0x11, 0x22, 0x33, 0x44, 0x55 };
    assert_int_equal(ctrl(f, addr, sizeof(addr)), 0);
    assert_int_equal(virtio_pci_modern_read(&f->net.vp, VIRTIO_PCI_DEVICE_OFF, 4), 0x33221102u);
    assert_true(delivered(f, addr + 2));
    assert_false(delivered(f, own));
    /* The filter is saved with the machine. */
    struct vmbuf b = { 0 };
    vmstate_save(&virtio_net_vmstate, &f->net, &b);
    assert_false(b.failed);
    virtio_net_reset(&f->net);
    assert_true(f->net.promisc);
    assert_int_equal(f->net.mac[5], 0x56);                /* a reset restores the card's MAC */
    struct vmreader r = { .p = b.data, .left = b.len };
    char err[200];
    assert_int_equal(vmstate_load(&virtio_net_vmstate, &f->net, virtio_net_vmstate.version, &r, err, sizeof(err)), 0);
    assert_false(f->net.promisc);
    assert_true(f->net.nobcast && f->net.allmulti);
    assert_int_equal(f->net.uni_count, 1);
    assert_int_equal(f->net.mac[0], 0x02);
    vmbuf_free(&b);
    assert_int_equal(f->net.vp.broken_count, 0);
    /* A command with no room for its ack breaks the device. */
    put_desc(&f->mem, CTD, 0, CMD, 3, 0);
    offer(&f->mem, CTA, 0);
    mw(&f->net.vp, VIRTIO_PCI_NOTIFY_OFF + 2 * VIRTIO_PCI_NOTIFY_MULT, 2, 2);
    assert_int_equal(f->net.vp.broken_count, 1);
}

/* A received TCP/IPv4 frame whose checksums pcvm verified is marked DATA_VALID when the driver
 * took GUEST_CSUM; a corrupted one, or a driver without GUEST_CSUM, gets flags 0. */
static void test_rx_checksum(void **state)
{
    struct dev_fixture *f = *state;
    static uint8_t pkt[10 + 54 + 300];
    size_t len = build_tcp4(pkt, 300, 0, 0, 0x18);
    uint8_t *frame = pkt + 10, *ip = frame + 14, *tcp = ip + 20;
    uint16_t ipsum = (uint16_t)~fold(net_csum_add(0, ip, 20));
    ip[10] = (uint8_t)(ipsum >> 8);
    ip[11] = (uint8_t)ipsum;
    uint16_t sum = (uint16_t)~tcp4_sum(ip, tcp, 320, 6);
    tcp[16] = (uint8_t)(sum >> 8);
    tcp[17] = (uint8_t)sum;
    uint8_t want[3] = { 2, 0, 0 };
    for (int round = 0; round < 3; round++) {
        with_ctrl_and(f, round == 2 ? 0 : (uint32_t)VIRTIO_NET_F_GUEST_CSUM);
        if (round == 1)
            tcp[30] ^= 0x40;                              /* a corrupted payload byte */
        put_desc(&f->mem, RXD, 0, BUF, 2000, VIRTQ_DESC_F_WRITE);
        offer(&f->mem, RXA, 0);
        uint64_t before = f->net.rx_frames;
        net_port_send(&f->peer, frame, len - 10);
        assert_int_equal(f->net.rx_frames, before + 1);
        assert_int_equal(phys_read(&f->mem, BUF, 1), want[round]);
        assert_memory_equal(&f->mem.ram[BUF + 12], frame, len - 10);
        if (round == 1)
            tcp[30] ^= 0x40;
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tso4),
        cmocka_unit_test(test_partial_checksum),
        cmocka_unit_test(test_bad_offload_headers),
        cmocka_unit_test_setup_teardown(test_rx_mergeable, dev_setup, dev_teardown),
        cmocka_unit_test_setup_teardown(test_tx_to_backend, dev_setup, dev_teardown),
        cmocka_unit_test_setup_teardown(test_msix, dev_setup_msix, dev_teardown),
        cmocka_unit_test_setup_teardown(test_saved_state, dev_setup_msix, dev_teardown),
        cmocka_unit_test_setup_teardown(test_ctrl_filter, dev_setup, dev_teardown),
        cmocka_unit_test_setup_teardown(test_rx_checksum, dev_setup, dev_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
