/* The e1000 driven through its registers as a driver would: EEPROM (Microwire and EERD), PHY
 * through MDIC, legacy transmit, TSO segmentation with checksums, receive filtering, and
 * descriptor rings a guest points outside RAM. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hw/e1000.h"
#include "net/net.h"
#include "nic_fixture.h"

#define TX_RING 0x10000
#define TX_BUF  0x20000
#define RX_RING 0x30000
#define RX_BUF  0x40000

struct fixture {
    struct nic_bench b;        /* first: the bench's callbacks get the fixture */
    struct e1000 nic;
};

static const uint8_t MAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static int setup_clock(void **state, bool icount)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    nic_bench_init(&f->b, icount);
    assert_int_equal(e1000_init(&f->nic, &f->b.bus, 3 << 3, &f->b.mem, &f->b.clock, NULL, MAC, "nic0"), 0);
    nic_bench_attach(&f->b, &f->nic.pci, &f->nic.port);
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_clock(state, false); }
/* Time moves only when the test says so (1 instruction = 1 ns). */
static int setup_icount(void **state) { return setup_clock(state, true); }

static int teardown(void **state)
{
    struct fixture *f = *state;
    e1000_destroy(&f->nic);
    nic_bench_destroy(&f->b);
    free(f);
    return 0;
}

static uint32_t rd(struct fixture *f, uint32_t off) { return e1000_mmio_read(&f->nic, off, 4); }
static void wr(struct fixture *f, uint32_t off, uint32_t v) { e1000_mmio_write(&f->nic, off, v, 4); }

/* ---- EEPROM ---- */

static void ee_clock(struct fixture *f, uint32_t eecd)
{
    wr(f, 0x10, eecd | 0x01);
    wr(f, 0x10, eecd);
}

/* Read one word the way Linux's e1000_read_eeprom does on a Microwire part. */
static uint16_t ee_read_microwire(struct fixture *f, unsigned addr)
{
    uint32_t eecd = 0x40;                     /* REQ */
    wr(f, 0x10, eecd);
    assert_true(rd(f, 0x10) & 0x80);          /* GNT */
    eecd |= 0x02;                             /* CS */
    wr(f, 0x10, eecd);
    unsigned bits = 0x6 << 6 | addr;          /* start, READ, 6 address bits */
    for (int i = 8; i >= 0; i--) {
        uint32_t e = (eecd & ~0x04u) | ((bits >> i) & 1 ? 0x04 : 0);
        wr(f, 0x10, e);
        ee_clock(f, e);
    }
    uint16_t w = 0;
    for (int i = 0; i < 16; i++) {
        wr(f, 0x10, eecd | 0x01);
        w = (uint16_t)(w << 1 | ((rd(f, 0x10) & 0x08) ? 1 : 0));
        wr(f, 0x10, eecd);
    }
    wr(f, 0x10, 0x40);                        /* CS low */
    wr(f, 0x10, 0);
    return w;
}

static void test_eeprom(void **state)
{
    struct fixture *f = *state;
    uint16_t sum = 0;
    for (unsigned a = 0; a < 64; a++) {
        uint16_t w = ee_read_microwire(f, a);
        sum = (uint16_t)(sum + w);
        if (a < 3)
            assert_int_equal(w, MAC[2 * a] | MAC[2 * a + 1] << 8);
    }
    assert_int_equal(sum, 0xbaba);
    wr(f, 0x14, 1 << 8 | 1);                  /* EERD: word 1 */
    uint32_t eerd = rd(f, 0x14);
    assert_true(eerd & 0x10);
    assert_int_equal(eerd >> 16, MAC[2] | MAC[3] << 8);
    /* RA[0] holds the MAC with Address Valid */
    assert_int_equal(rd(f, 0x5400), 0x12005452u);
    assert_int_equal(rd(f, 0x5404), 0x80005634u);
}

static void test_phy(void **state)
{
    struct fixture *f = *state;
    wr(f, 0x20, 2u << 26 | 1u << 21 | 2u << 16);
    uint32_t v = rd(f, 0x20);
    assert_true(v & (1u << 28));
    assert_int_equal(v & 0xffff, 0x0141);
    wr(f, 0x20, 2u << 26 | 1u << 21 | 3u << 16);
    assert_int_equal(rd(f, 0x20) & 0xffff, 0x0c20);
    wr(f, 0x20, 2u << 26 | 1u << 21 | 1u << 16);
    assert_true(rd(f, 0x20) & 0x0024);         /* link up, autonegotiation complete */
    wr(f, 0x20, 2u << 26 | 2u << 21 | 1u << 16);
    assert_true(rd(f, 0x20) & (1u << 30));     /* no PHY at address 2 */
    assert_true(rd(f, 0x08) & 2);              /* STATUS.LU */
}

/* ---- transmit ---- */

static void put_desc(struct fixture *f, uint32_t ring, unsigned i, uint64_t addr, uint32_t lower, uint32_t upper)
{
    uint32_t d[4] = { (uint32_t)addr, (uint32_t)(addr >> 32), lower, upper };
    phys_write_block(&f->b.mem, ring + 16 * i, d, 16);
}

static void tx_setup(struct fixture *f, unsigned n)
{
    wr(f, 0x3800, TX_RING);
    wr(f, 0x3804, 0);
    wr(f, 0x3808, n * 16);
    wr(f, 0x3810, 0);
    wr(f, 0x3818, 0);
    wr(f, 0x0400, 0x2);                        /* TCTL.EN */
    wr(f, 0x00D0, 0x1);                        /* IMS: TXDW */
}

static void test_tx_legacy(void **state)
{
    struct fixture *f = *state;
    tx_setup(f, 8);
    uint8_t pkt[100];
    for (unsigned i = 0; i < sizeof(pkt); i++)
        pkt[i] = (uint8_t)i;
    phys_write_block(&f->b.mem, TX_BUF, pkt, sizeof(pkt));
    put_desc(f, TX_RING, 0, TX_BUF, 60 | (0x01 | 0x08) << 24, 0);           /* EOP|RS */
    put_desc(f, TX_RING, 1, TX_BUF + 60, 40 | (0x01 | 0x08) << 24, 0);
    wr(f, 0x3818, 2);
    assert_int_equal(f->b.nsent, 2);
    assert_int_equal(f->b.sent[0].len, 60);
    assert_memory_equal(f->b.sent[0].data, pkt, 60);
    assert_int_equal(f->b.sent[1].len, 40);
    assert_int_equal(rd(f, 0x3810), 2);        /* TDH caught up */
    uint8_t st;
    phys_read_block(&f->b.mem, TX_RING + 12, &st, 1);
    assert_true(st & 1);                       /* DD */
    assert_int_equal(f->b.irq, 1);
    uint32_t icr = rd(f, 0xC0);
    assert_true(icr & 1);
    assert_int_equal(f->b.irq, 0);               /* reading ICR clears it */
}

static uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint16_t csum(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        sum += be16(p + i);
    if (n & 1)
        sum += (uint32_t)p[n - 1] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

static void test_tso(void **state)
{
    struct fixture *f = *state;
    tx_setup(f, 8);
    /* Ethernet + IPv4 + TCP headers (54 bytes) and 2500 payload bytes, MSS 1000. */
    uint8_t pkt[54 + 2500];
    memset(pkt, 0, sizeof(pkt));
    memcpy(pkt, "\x52\x55\x0a\x00\x02\x02\x52\x54\x00\x12\x34\x56\x08\x00", 14);
    uint8_t *ip = pkt + 14, *tcp = pkt + 34;
    ip[0] = 0x45;
    ip[4] = 0x12; ip[5] = 0x34;                /* id */
    ip[8] = 64;
    ip[9] = 6;
    memcpy(ip + 12, "\x0a\x00\x02\x0f\x0a\x00\x02\x02", 8);
    tcp[0] = 0x80; tcp[1] = 0x00; tcp[2] = 0x00; tcp[3] = 0x50;
    tcp[4] = 0x00; tcp[5] = 0x00; tcp[6] = 0x10; tcp[7] = 0x00;   /* seq 0x1000 */
    tcp[12] = 0x50;
    tcp[13] = 0x18 | 0x01;                     /* ACK PSH FIN */
    /* the driver seeds the pseudo-header sum without the length */
    uint32_t ph = be16(ip + 12) + be16(ip + 14) + be16(ip + 16) + be16(ip + 18) + 6;
    while (ph >> 16)
        ph = (ph & 0xffff) + (ph >> 16);
    tcp[16] = (uint8_t)(ph >> 8);
    tcp[17] = (uint8_t)ph;
    for (unsigned i = 54; i < sizeof(pkt); i++)
        pkt[i] = (uint8_t)(i * 7);
    phys_write_block(&f->b.mem, TX_BUF, pkt, sizeof(pkt));
    /* context: IPCSS 14, IPCSO 24, IPCSE 33; TUCSS 34, TUCSO 50; TSE|IP|TCP|DEXT; HDRLEN 54, MSS 1000 */
    uint32_t d[4] = { 14 | 24 << 8 | 33u << 16, 34 | 50 << 8, 2500 | (0x20u | 0x04 | 0x02 | 0x01) << 24,
                      54 << 8 | 1000u << 16 };
    phys_write_block(&f->b.mem, TX_RING, d, 16);
    /* data in two pieces: TSE|DEXT|EOP|RS, DTYP 1, POPTS IXSM|TXSM */
    put_desc(f, TX_RING, 1, TX_BUF, 1000 | 1u << 20 | (0x20u | 0x04) << 24, 0x3 << 8);
    put_desc(f, TX_RING, 2, TX_BUF + 1000, (sizeof(pkt) - 1000) | 1u << 20 | (0x20u | 0x04 | 0x01 | 0x08) << 24, 0);
    wr(f, 0x3818, 3);
    assert_int_equal(f->b.nsent, 3);
    for (unsigned s = 0; s < 3; s++) {
        const uint8_t *fr = f->b.sent[s].data;
        size_t pay = s < 2 ? 1000 : 500;
        assert_int_equal(f->b.sent[s].len, 54 + pay);
        assert_int_equal(be16(fr + 16), 40 + pay);                 /* IP total length */
        assert_int_equal(be16(fr + 18), 0x1234 + s);               /* IP id counts up */
        assert_int_equal(csum(0, fr + 14, 20), 0xffff);            /* IP checksum valid */
        uint32_t seq = (uint32_t)be16(fr + 38) << 16 | be16(fr + 40);
        assert_int_equal(seq, 0x1000 + 1000 * s);
        assert_int_equal(fr[47] & 0x09, s == 2 ? 0x09 : 0);        /* FIN, PSH on the last only */
        uint32_t pseudo = be16(fr + 26) + be16(fr + 28) + be16(fr + 30) + be16(fr + 32) + 6 + 20 + (uint32_t)pay;
        assert_int_equal(csum(pseudo, fr + 34, 20 + pay), 0xffff); /* TCP checksum valid */
        assert_memory_equal(fr + 54, pkt + 54 + 1000 * s, pay);
    }
}

static void test_tx_bad_rings(void **state)
{
    struct fixture *f = *state;
    tx_setup(f, 8);
    wr(f, 0x3800, 0xfff00000u);                /* ring outside RAM */
    wr(f, 0x3818, 3);
    assert_int_equal(f->b.nsent, 0);
    wr(f, 0x3804, 1);                          /* above 4 GiB */
    wr(f, 0x3818, 5);
    assert_int_equal(f->b.nsent, 0);
    tx_setup(f, 8);
    wr(f, 0x3818, 100);                        /* tail beyond the ring */
    assert_int_equal(f->b.nsent, 0);
    /* a buffer outside RAM and a zero-length frame are dropped, the ring still advances */
    put_desc(f, TX_RING, 0, 0xffff0000u, 1500 | (0x01 | 0x08) << 24, 0);
    put_desc(f, TX_RING, 1, TX_BUF, 0 | (0x01 | 0x08) << 24, 0);
    wr(f, 0x3818, 2);
    assert_int_equal(f->b.nsent, 0);
    assert_int_equal(rd(f, 0x3810), 2);
}

/* ---- receive ---- */

/* A ring of 8 descriptors (RDLEN is a multiple of 128 bytes) with `given` handed over. */
static void rx_setup(struct fixture *f, unsigned given, uint32_t rctl)
{
    for (unsigned i = 0; i < 8; i++)
        put_desc(f, RX_RING, i, RX_BUF + 2048 * i, 0, 0);
    wr(f, 0x2800, RX_RING);
    wr(f, 0x2808, 8 * 16);
    wr(f, 0x2810, 0);
    wr(f, 0x2818, given);
    wr(f, 0x0100, rctl);
}

static void test_rx(void **state)
{
    struct fixture *f = *state;
    rx_setup(f, 7, 0x2 | 0x8000 | 0x04000000);   /* EN, BAM, SECRC */
    uint8_t fr[100];
    memset(fr, 0xab, sizeof(fr));
    memcpy(fr, MAC, 6);
    net_port_send(&f->b.wire, fr, sizeof(fr));
    uint8_t buf[100], d[16];
    phys_read_block(&f->b.mem, RX_BUF, buf, sizeof(buf));
    assert_memory_equal(buf, fr, sizeof(fr));
    phys_read_block(&f->b.mem, RX_RING, d, 16);
    assert_int_equal(d[8] | d[9] << 8, 100);
    assert_int_equal(d[12] & 3, 3);            /* DD, EOP */
    assert_int_equal(rd(f, 0x2810), 1);
    /* another unicast address: filtered; with UPE: taken */
    fr[5] = 0x57;
    net_port_send(&f->b.wire, fr, sizeof(fr));
    assert_int_equal(rd(f, 0x2810), 1);
    wr(f, 0x0100, 0x2 | 0x8000 | 0x04000000 | 0x8);
    net_port_send(&f->b.wire, fr, sizeof(fr));
    assert_int_equal(rd(f, 0x2810), 2);
    /* multicast through the MTA hash (MO = 0: bits 47:36 of the address) */
    wr(f, 0x0100, 0x2 | 0x04000000);
    uint8_t mc[64] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };
    net_port_send(&f->b.wire, mc, sizeof(mc));
    assert_int_equal(rd(f, 0x2810), 2);
    unsigned hash = (0x00 >> 4 | 0xfb << 4) & 0xfff;
    wr(f, 0x5200 + 4 * (hash >> 5), 1u << (hash & 31));
    net_port_send(&f->b.wire, mc, sizeof(mc));
    assert_int_equal(rd(f, 0x2810), 3);
    /* a short frame is padded to 60 bytes; without SECRC the FCS follows */
    wr(f, 0x0100, 0x2 | 0x8);
    net_port_send(&f->b.wire, fr, 20);
    phys_read_block(&f->b.mem, RX_RING + 3 * 16, d, 16);
    assert_int_equal(d[8] | d[9] << 8, 64);
}

/* RXCSUM: with TUOFL/IPOFL the card checks a TCP frame's checksums and says so (TCPCS, IPCS;
 * TCPE for a bad one), as Linux's e1000_rx_checksum reads them; without, "not checked" (IXSM). */
static void test_rx_checksum_offload(void **state)
{
    struct fixture *f = *state;
    rx_setup(f, 7, 0x2 | 0x04000000);          /* EN, SECRC */
    uint8_t fr[54 + 300];
    memset(fr, 0, sizeof(fr));
    memcpy(fr, MAC, 6);
    memcpy(fr + 6, "\x52\x55\x0a\x00\x02\x02\x08\x00", 8);
    uint8_t *ip = fr + 14, *tcp = fr + 34;
    ip[0] = 0x45;
    ip[2] = (uint8_t)((sizeof(fr) - 14) >> 8);
    ip[3] = (uint8_t)(sizeof(fr) - 14);
    ip[8] = 64;
    ip[9] = 6;
    memcpy(ip + 12, "\x0a\x00\x02\x02\x0a\x00\x02\x0f", 8);
    uint16_t ipsum = (uint16_t)~csum(0, ip, 20);
    ip[10] = (uint8_t)(ipsum >> 8);
    ip[11] = (uint8_t)ipsum;
    tcp[12] = 0x50;
    for (unsigned i = 54; i < sizeof(fr); i++)
        fr[i] = (uint8_t)(i * 13);
    uint32_t pseudo = be16(ip + 12) + be16(ip + 14) + be16(ip + 16) + be16(ip + 18) + 6 + 20 + 300;
    uint16_t tcpsum = (uint16_t)~csum(pseudo, tcp, 20 + 300);
    tcp[16] = (uint8_t)(tcpsum >> 8);
    tcp[17] = (uint8_t)tcpsum;
    uint8_t d[16];
    net_port_send(&f->b.wire, fr, sizeof(fr));          /* RXCSUM 0: not checked */
    phys_read_block(&f->b.mem, RX_RING, d, 16);
    assert_int_equal(d[12], 0x01 | 0x02 | 0x04);        /* DD EOP IXSM */
    assert_int_equal(d[13], 0);
    wr(f, 0x5000, 0x300);                               /* IPOFL, TUOFL */
    net_port_send(&f->b.wire, fr, sizeof(fr));
    phys_read_block(&f->b.mem, RX_RING + 16, d, 16);
    assert_int_equal(d[12], 0x01 | 0x02 | 0x20 | 0x40); /* DD EOP TCPCS IPCS */
    assert_int_equal(d[13], 0);
    fr[100] ^= 1;                                       /* a damaged payload */
    net_port_send(&f->b.wire, fr, sizeof(fr));
    phys_read_block(&f->b.mem, RX_RING + 32, d, 16);
    assert_int_equal(d[12], 0x01 | 0x02 | 0x20 | 0x40);
    assert_int_equal(d[13], 0x20);                      /* TCPE */
    ip[10] ^= 1;                                        /* and a damaged IP header */
    net_port_send(&f->b.wire, fr, sizeof(fr));
    phys_read_block(&f->b.mem, RX_RING + 48, d, 16);
    assert_int_equal(d[13], 0x20 | 0x40);               /* TCPE IPE */
    memcpy(fr + 12, "\x86\xdd", 2);                     /* not IPv4: not checked */
    net_port_send(&f->b.wire, fr, sizeof(fr));
    phys_read_block(&f->b.mem, RX_RING + 64, d, 16);
    assert_int_equal(d[12], 0x01 | 0x02 | 0x04);
    assert_int_equal(d[13], 0);
}

static void test_rx_ring_full_queues(void **state)
{
    struct fixture *f = *state;
    rx_setup(f, 3, 0x2 | 0x8 | 0x04000000);     /* 3 free descriptors */
    uint8_t fr[80] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };
    for (int i = 0; i < 5; i++) {
        fr[20] = (uint8_t)i;
        net_port_send(&f->b.wire, fr, sizeof(fr));
    }
    assert_int_equal(rd(f, 0x2810), 3);        /* ring full */
    assert_int_equal(f->nic.port.queue_len, 2);
    wr(f, 0x2818, 5);                          /* the driver hands over two more buffers */
    assert_int_equal(f->nic.port.queue_len, 0);
    uint8_t b;
    phys_read_block(&f->b.mem, RX_BUF + 4 * 2048 + 20, &b, 1);
    assert_int_equal(b, 4);                    /* frame 4 went into descriptor 4, in order */
    /* a ring outside RAM: frames are dropped, nothing crashes */
    wr(f, 0x2800, 0xfffff000u);
    wr(f, 0x2818, 0);
    net_port_send(&f->b.wire, fr, sizeof(fr));
}

/* ---- saved state ---- */

/* Clock the EEPROM once and return DO. */
static int ee_bit(struct fixture *f, uint32_t eecd)
{
    wr(f, 0x10, eecd | 0x01);
    int b = (rd(f, 0x10) & 0x08) != 0;
    wr(f, 0x10, eecd);
    return b;
}

/* What the guest sees after the save point: the rest of an EEPROM read, the in-flight packet
 * finishing, and the moderation and autonegotiation timers firing as time moves. */
static void continuation(struct fixture *f, uint32_t *t, unsigned *n)
{
    *n = 0;
    for (int i = 0; i < 11; i++)
        t[(*n)++] = (uint32_t)ee_bit(f, 0x42);
    unsigned before = f->b.nsent;
    wr(f, 0x3818, 2);                               /* TDT: the packet's last descriptor */
    t[(*n)++] = f->b.nsent - before;
    t[(*n)++] = f->b.nsent ? (uint32_t)f->b.sent[f->b.nsent - 1].len : 0;
    t[(*n)++] = f->b.nsent ? (uint32_t)(f->b.sent[f->b.nsent - 1].data[70] | f->b.sent[f->b.nsent - 1].data[99] << 8) : 0;
    static const uint64_t steps[] = { 10000, 60000, 150000, 300000, 600000000 };
    for (unsigned i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
        f->b.insns += steps[i];
        vclock_run_timers(&f->b.clock);
        t[(*n)++] = (uint32_t)f->b.irq;
        t[(*n)++] = rd(f, 0xC0);                    /* ICR (read clears) */
        t[(*n)++] = rd(f, 0x08);                    /* STATUS */
    }
    t[(*n)++] = rd(f, 0x3810);                      /* TDH */
    t[(*n)++] = rd(f, 0x2810);                      /* RDH */
}

/* Advance the -icount clock to ns after the test's start and run what is due. */
static void run_until(struct fixture *f, uint64_t ns)
{
    f->b.insns = ns;
    vclock_run_timers(&f->b.clock);
}

/* Interrupt moderation as the 82540EM manual describes it, each checked on both sides of its
 * deadline: RDTR (a receive interrupt 1.024 us x RDTR after the last frame, restarted by each
 * frame) capped by RADV (x 1.024 us after the first); TIDV for descriptors with IDE; ITR (at
 * most one interrupt per 256 ns x ITR). */
static void test_interrupt_moderation(void **state)
{
    struct fixture *f = *state;
    uint8_t fr[80];
    memset(fr, 0x5a, sizeof(fr));
    memcpy(fr, MAC, 6);
    rx_setup(f, 7, 0x2 | 0x04000000);
    wr(f, 0x00D0, 0x80);                            /* IMS: RXT0 */
    wr(f, 0x2820, 50);                              /* RDTR: 51.2 us */
    wr(f, 0x282C, 60);                              /* RADV: 61.44 us */
    net_port_send(&f->b.wire, fr, sizeof(fr));      /* at 0 */
    run_until(f, 40000);
    assert_int_equal(f->b.irq, 0);
    net_port_send(&f->b.wire, fr, sizeof(fr));      /* at 40 us: RDTR now ends at 91.2 us */
    run_until(f, 61439);
    assert_int_equal(f->b.irq, 0);
    run_until(f, 61440);                            /* RADV ends first */
    assert_int_equal(f->b.irq, 1);
    assert_int_equal(rd(f, 0xC0) & 0x80, 0x80);     /* ICR: RXT0, cleared by the read */
    assert_int_equal(f->b.irq, 0);

    /* RDTR alone: 51.2 us after the frame. */
    wr(f, 0x282C, 0);
    net_port_send(&f->b.wire, fr, sizeof(fr));      /* at 61.44 us */
    run_until(f, 61440 + 51199);
    assert_int_equal(f->b.irq, 0);
    run_until(f, 61440 + 51200);
    assert_int_equal(f->b.irq, 1);
    rd(f, 0xC0);

    /* ITR 1000 (256 us): an interrupt at once, the next not before 256 us after it. */
    wr(f, 0x2820, 0);
    wr(f, 0x00C4, 1000);
    const uint64_t t0 = 200000;
    run_until(f, t0);
    net_port_send(&f->b.wire, fr, sizeof(fr));
    assert_int_equal(f->b.irq, 1);
    rd(f, 0xC0);
    run_until(f, t0 + 10000);
    net_port_send(&f->b.wire, fr, sizeof(fr));
    assert_int_equal(f->b.irq, 0);
    run_until(f, t0 + 255999);
    assert_int_equal(f->b.irq, 0);
    run_until(f, t0 + 256000);
    assert_int_equal(f->b.irq, 1);
    rd(f, 0xC0);
    wr(f, 0x00C4, 0);

    /* TIDV 20 (20.48 us) for a descriptor with IDE; without IDE, TXDW at once. */
    tx_setup(f, 8);
    wr(f, 0x00D8, 0x80);                            /* IMC: RXT0 off */
    wr(f, 0x3820, 20);
    uint8_t pkt[60] = { 0 };
    phys_write_block(&f->b.mem, TX_BUF, pkt, sizeof(pkt));
    const uint64_t t1 = 600000;
    run_until(f, t1);
    put_desc(f, TX_RING, 0, TX_BUF, 60 | (0x01u | 0x08 | 0x80) << 24, 0);  /* EOP RS IDE */
    wr(f, 0x3818, 1);
    assert_int_equal(f->b.nsent, 1);
    assert_int_equal(f->b.irq, 0);
    run_until(f, t1 + 20479);
    assert_int_equal(f->b.irq, 0);
    run_until(f, t1 + 20480);
    assert_int_equal(f->b.irq, 1);
    assert_int_equal(rd(f, 0xC0) & 0x1, 0x1);       /* ICR: TXDW */
    put_desc(f, TX_RING, 1, TX_BUF, 60 | (0x01u | 0x08) << 24, 0);          /* EOP RS */
    wr(f, 0x3818, 2);
    assert_int_equal(f->b.irq, 1);
}

static void test_save_reset_load(void **state)
{
    struct fixture *f = *state;
    tx_setup(f, 8);
    rx_setup(f, 7, 0x2 | 0x8000 | 0x04000000);
    wr(f, 0x00D0, 0x9f);                            /* IMS: TXDW TXQE LSC RXDMT0 RXT0 */
    wr(f, 0x00C4, 1000);                            /* ITR: 256 us between interrupts */
    wr(f, 0x2820, 50);                              /* RDTR, RADV */
    wr(f, 0x282C, 100);
    wr(f, 0x3820, 100);                             /* TIDV, TADV */
    wr(f, 0x382C, 200);
    /* a packet in two descriptors; the driver has handed over only the first */
    uint8_t pkt[100];
    for (unsigned i = 0; i < sizeof(pkt); i++)
        pkt[i] = (uint8_t)(i * 3);
    phys_write_block(&f->b.mem, TX_BUF, pkt, sizeof(pkt));
    put_desc(f, TX_RING, 0, TX_BUF, 60, 0);
    put_desc(f, TX_RING, 1, TX_BUF + 60, 40 | (0x01u | 0x08 | 0x80) << 24, 0);   /* EOP RS IDE */
    wr(f, 0x3818, 1);
    assert_int_equal(f->b.nsent, 0);
    /* a received frame starts the receive delay timers */
    uint8_t fr[80];
    memset(fr, 0x5a, sizeof(fr));
    memcpy(fr, MAC, 6);
    net_port_send(&f->b.wire, fr, sizeof(fr));
    assert_true(f->nic.rdtr_timer.armed && f->nic.radv_timer.armed);
    /* autonegotiation restarted: the link is down for a while */
    wr(f, 0x20, 1u << 26 | 1u << 21 | 0u << 16 | 0x1340);
    assert_true(f->nic.autoneg_timer.armed);
    /* half of an EEPROM word shifted out */
    uint32_t eecd = 0x42;
    wr(f, 0x10, eecd);
    unsigned bits = 0x6 << 6 | 1;
    for (int i = 8; i >= 0; i--) {
        uint32_t e = (eecd & ~0x04u) | ((bits >> i) & 1 ? 0x04 : 0);
        wr(f, 0x10, e);
        ee_clock(f, e);
    }
    uint32_t first5 = 0;
    for (int i = 0; i < 5; i++)
        first5 = first5 << 1 | (uint32_t)ee_bit(f, eecd);
    f->b.insns += 5000;
    vclock_run_timers(&f->b.clock);

    struct vmbuf saved = { 0 }, again = { 0 };
    vmstate_save(&e1000_vmstate, &f->nic, &saved);
    assert_false(saved.failed);
    uint64_t t0 = f->b.insns;
    int irq0 = f->b.irq;
    static uint8_t ram[0x50000];
    phys_read_block(&f->b.mem, 0, ram, sizeof(ram));

    uint32_t t1[64], t2[64];
    unsigned n1, n2;
    continuation(f, t1, &n1);
    /* the packet went out whole, the EEPROM word is MAC bytes 2-3, autonegotiation ended */
    assert_int_equal(t1[11], 1);
    assert_int_equal(t1[12], 100);
    assert_int_equal(t1[13], (uint32_t)(pkt[70] | pkt[99] << 8));
    uint32_t word = first5;
    for (int i = 0; i < 11; i++)
        word = word << 1 | t1[i];
    assert_int_equal(word, MAC[2] | MAC[3] << 8);
    unsigned nsent1 = f->b.nsent;

    e1000_reset(&f->nic);
    f->b.insns = t0;
    f->b.irq = irq0;
    phys_write_block(&f->b.mem, 0, ram, sizeof(ram));
    struct vmreader r = { saved.data, saved.len };
    char err[256] = "";
    if (vmstate_load(&e1000_vmstate, &f->nic, e1000_vmstate.version, &r, err, sizeof(err)) < 0)
        fail_msg("load: %s", err);
    assert_int_equal(r.left, 0);
    vmstate_save(&e1000_vmstate, &f->nic, &again);
    assert_int_equal(again.len, saved.len);
    assert_memory_equal(again.data, saved.data, saved.len);
    continuation(f, t2, &n2);
    assert_int_equal(n1, n2);
    for (unsigned i = 0; i < n1; i++)
        if (t1[i] != t2[i])
            fail_msg("step %u: 0x%x after loading, 0x%x before", i, t2[i], t1[i]);
    assert_int_equal(f->b.nsent, nsent1 + 1);
    assert_memory_equal(f->b.sent[f->b.nsent - 1].data, pkt, sizeof(pkt));
    vmbuf_free(&again);

    /* state a guest could not have produced is refused */
    f->nic.tx.size = E1000_TX_MAX;
    vmstate_save(&e1000_vmstate, &f->nic, &again);
    r = (struct vmreader){ again.data, again.len };
    assert_int_equal(vmstate_load(&e1000_vmstate, &f->nic, e1000_vmstate.version, &r, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "size"));
    vmbuf_free(&again);
    vmbuf_free(&saved);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_eeprom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_phy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_legacy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tso, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tx_bad_rings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx_checksum_offload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rx_ring_full_queues, setup, teardown),
        cmocka_unit_test_setup_teardown(test_interrupt_moderation, setup_icount, teardown),
        cmocka_unit_test_setup_teardown(test_save_reset_load, setup_icount, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
