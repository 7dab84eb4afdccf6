/* The RTL8139C+ driven through its registers as Linux's 8139too/8139cp and iPXE drive it:
 * the 93C46 EEPROM bit-banged through 9346CR, the classic four-descriptor transmit path and
 * receive ring buffer (filtering, wrap, flow control through CAPR), the C+ descriptor rings
 * with checksum offload, large send and VLAN tags, loopback, the tally dump, rings a guest
 * points outside RAM, and saved state (save, reset, load, same behaviour). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "hw/rtl8139.h"
#include "net/net.h"
#include "nic_fixture.h"

#define TX_BUF  0x20000
#define RX_BUF  0x40000        /* classic ring buffer (8 KiB + 16 + 1536 of overflow room) */
#define TX_RING 0x10000
#define RX_RING 0x11000
#define RX_BUFS 0x60000

struct fixture {
    struct nic_bench b;        /* first: the bench's callbacks get the fixture */
    struct rtl8139 nic;
};

static const uint8_t MAC[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x57 };

static int setup_chip(void **state, bool cplus)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    nic_bench_init(&f->b, true);
    assert_int_equal(rtl8139_init(&f->nic, &f->b.bus, 4 << 3, &f->b.mem, &f->b.clock, NULL, MAC, "nic0", cplus), 0);
    nic_bench_attach(&f->b, &f->nic.pci, &f->nic.port);
    *state = f;
    return 0;
}

static int setup(void **state) { return setup_chip(state, true); }
/* cplus=off: the RTL8139C, without C+ mode. */
static int setup_classic_chip(void **state) { return setup_chip(state, false); }

static int teardown(void **state)
{
    struct fixture *f = *state;
    rtl8139_destroy(&f->nic);
    nic_bench_destroy(&f->b);
    free(f);
    return 0;
}

static uint32_t rd(struct fixture *f, uint32_t off, unsigned size) { return rtl8139_reg_read(&f->nic, off, size); }
static void wr(struct fixture *f, uint32_t off, uint32_t v, unsigned size) { rtl8139_reg_write(&f->nic, off, v, size); }

/* ---- identity and EEPROM ---- */

/* 8139too's read_eeprom(): command bits out on EEDI with EESK pulses, 16 bits in from EEDO. */
static uint16_t ee_read(struct fixture *f, unsigned location, int addr_len)
{
    const uint8_t enb = 0x80 | 0x08, clk = 0x04, din = 0x02;
    unsigned cmd = location | (6u << addr_len);
    wr(f, 0x50, enb & ~0x08, 1);
    wr(f, 0x50, enb, 1);
    for (int i = 4 + addr_len; i >= 0; i--) {
        uint8_t d = (cmd >> i) & 1 ? din : 0;
        wr(f, 0x50, enb | d, 1);
        wr(f, 0x50, enb | d | clk, 1);
    }
    wr(f, 0x50, enb, 1);
    uint16_t v = 0;
    for (int i = 0; i < 16; i++) {
        wr(f, 0x50, enb | clk, 1);
        v = (uint16_t)(v << 1 | (rd(f, 0x50, 1) & 1));
        wr(f, 0x50, enb, 1);
    }
    wr(f, 0x50, 0, 1);
    return v;
}

static void test_identity_eeprom(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(pci_config_read(&f->b.bus, 4 << 3, 0, 4), 0x813910ec);
    assert_int_equal(pci_config_read(&f->b.bus, 4 << 3, 8, 1), 0x20);       /* revision: C+ */
    assert_int_equal(rd(f, 0x40, 4) & 0x7cc00000, 0x74800000);             /* TCR: RTL8139C+ */
    /* the probe with 8 address bits does not find the signature; 6 bits do, as Linux expects */
    assert_int_not_equal(ee_read(f, 0, 8), 0x8129);
    assert_int_equal(ee_read(f, 0, 6), 0x8129);
    for (int i = 0; i < 3; i++)
        assert_int_equal(ee_read(f, 7 + i, 6), MAC[2 * i] | MAC[2 * i + 1] << 8);
    for (int i = 0; i < 6; i++)
        assert_int_equal(rd(f, i, 1), MAC[i]);
    /* MII: link up, autonegotiation complete, 100 Mb/s full duplex advertised */
    assert_int_equal(rd(f, 0x64, 2) & 0x24, 0x24);
    assert_int_equal(rd(f, 0x66, 2), 0x05e1);
    /* iPXE tells the C+ from the 8169: RMS does not stick, CPCR does */
    wr(f, 0xda, 1536, 2);
    assert_int_equal(rd(f, 0xda, 2), 0);
    wr(f, 0xe0, 0x000b, 2);
    assert_int_equal(rd(f, 0xe0, 2), 0x000b);
    wr(f, 0xe0, 0, 2);
    /* the configuration registers are locked unless 9346CR says otherwise */
    uint8_t c1 = (uint8_t)rd(f, 0x52, 1);
    wr(f, 0x52, c1 | 0x20, 1);
    assert_int_equal(rd(f, 0x52, 1), c1);
    wr(f, 0x50, 0xc0, 1);
    wr(f, 0x52, c1 | 0x20, 1);
    assert_int_equal(rd(f, 0x52, 1), c1 | 0x20);
}

/* ---- classic mode ---- */

static void test_classic_tx(void **state)
{
    struct fixture *f = *state;
    wr(f, 0x37, 0x04, 1);                       /* TE */
    wr(f, 0x3c, 0xffff, 2);
    uint8_t pkt[100];
    for (unsigned i = 0; i < sizeof(pkt); i++)
        pkt[i] = (uint8_t)(i + 1);
    phys_write_block(&f->b.mem, TX_BUF, pkt, sizeof(pkt));
    wr(f, 0x20, TX_BUF, 4);
    wr(f, 0x10, sizeof(pkt), 4);                /* OWN clear: send */
    assert_int_equal(f->b.nsent, 1);
    assert_int_equal(f->b.sent[0].len, 100);
    assert_memory_equal(f->b.sent[0].data, pkt, 100);
    assert_int_equal(rd(f, 0x10, 4) & 0xa000, 0xa000);   /* TOK, OWN */
    assert_true(rd(f, 0x3e, 2) & 0x04);                  /* ISR TOK */
    assert_int_equal(f->b.irq, 1);
    assert_int_equal(rd(f, 0x60, 2) & 0x1001, 0x1001);   /* TSAD summary: TOK0, OWN0 */
    wr(f, 0x3e, 0x04, 2);
    assert_int_equal(f->b.irq, 0);
    /* descriptors go in order: descriptor 2 waits for descriptor 1 */
    wr(f, 0x28, TX_BUF, 4);
    wr(f, 0x18, 60, 4);
    assert_int_equal(f->b.nsent, 1);
    wr(f, 0x24, TX_BUF + 10, 4);
    wr(f, 0x14, 70, 4);
    assert_int_equal(f->b.nsent, 3);
    assert_int_equal(f->b.sent[1].len, 70);
    assert_int_equal(f->b.sent[2].len, 60);
    /* a buffer outside RAM aborts that descriptor */
    wr(f, 0x2c, 0xfffff000u, 4);
    wr(f, 0x1c, 1500, 4);
    assert_int_equal(f->b.nsent, 3);
    assert_true(rd(f, 0x1c, 4) & (1u << 30));            /* TABT */
    assert_true(rd(f, 0x3e, 2) & 0x08);                  /* TER */
}

/* cplus=off: an RTL8139C (revision 0x10, 8139too's "RTL-8139C" version bits) without the C+
 * registers, so iPXE and 8139too find no C+ mode and every frame takes the classic path. */
static void test_rtl8139c_has_no_cplus(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(f->nic.pci.config[8], 0x10);
    assert_int_equal(rd(f, 0x40, 4) & 0x7cc00000u, 0x74000000u);
    wr(f, 0x40, 0x03000700u, 4);
    assert_int_equal(rd(f, 0x40, 4) & 0x7cc00000u, 0x74000000u);   /* TCR writes keep them */
    wr(f, 0xe0, 0x0003, 2);                      /* C+ TX/RX on: absent, reads 0 */
    assert_int_equal(rd(f, 0xe0, 2), 0);
    wr(f, 0x37, 0x0c, 1);
    wr(f, 0xd9, 0xc1, 1);                        /* TPPOLL: nothing polled, no SW interrupt */
    assert_int_equal(f->b.nsent, 0);
    assert_int_equal(rd(f, 0x3e, 2) & 0x100, 0);
}

static void test_rtl8139cplus_identity(void **state)
{
    struct fixture *f = *state;
    assert_int_equal(f->nic.pci.config[8], 0x20);
    assert_int_equal(rd(f, 0x40, 4) & 0x7cc00000u, 0x74800000u);
    wr(f, 0xe0, 0x0003, 2);
    assert_int_equal(rd(f, 0xe0, 2), 0x0003);
}

static void rx_classic_setup(struct fixture *f, uint32_t rcr)
{
    wr(f, 0x30, RX_BUF, 4);
    wr(f, 0x44, rcr, 4);
    wr(f, 0x37, 0x0c, 1);                       /* RE, TE */
    wr(f, 0x3c, 0xffff, 2);
}

static void test_classic_rx(void **state)
{
    struct fixture *f = *state;
    rx_classic_setup(f, 0x02 | 0x08 | 0x80);    /* APM, AB, WRAP; 8 KiB */
    assert_true(rd(f, 0x37, 1) & 1);            /* BUFE */
    uint8_t fr[100];
    memset(fr, 0x77, sizeof(fr));
    memcpy(fr, MAC, 6);
    net_port_send(&f->b.wire, fr, sizeof(fr));
    uint8_t hdr[4], body[100];
    phys_read_block(&f->b.mem, RX_BUF, hdr, 4);
    assert_int_equal(hdr[0] | hdr[1] << 8, 0x4001);      /* ROK, PAM */
    assert_int_equal(hdr[2] | hdr[3] << 8, 104);         /* with the CRC */
    phys_read_block(&f->b.mem, RX_BUF + 4, body, 100);
    assert_memory_equal(body, fr, 100);
    assert_int_equal(rd(f, 0x3a, 2), 108);               /* CBR: header + frame + CRC */
    assert_false(rd(f, 0x37, 1) & 1);
    assert_true(rd(f, 0x3e, 2) & 1);                     /* ROK */
    assert_int_equal(f->b.irq, 1);
    /* another unicast address is filtered; a broadcast is taken; a short one is padded */
    fr[5] ^= 1;
    net_port_send(&f->b.wire, fr, sizeof(fr));
    assert_int_equal(rd(f, 0x3a, 2), 108);
    memset(fr, 0xff, 6);
    net_port_send(&f->b.wire, fr, 20);
    phys_read_block(&f->b.mem, RX_BUF + 108, hdr, 4);
    assert_int_equal(hdr[0] | hdr[1] << 8, 0x2001);      /* ROK, BAR */
    assert_int_equal(hdr[2] | hdr[3] << 8, 64);
    /* multicast through the MAR hash (the top 6 bits of the big-endian CRC) */
    uint8_t mc[64] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb };
    wr(f, 0x44, 0x02 | 0x04 | 0x08 | 0x80, 4);
    uint32_t before = rd(f, 0x3a, 2);
    net_port_send(&f->b.wire, mc, sizeof(mc));
    assert_int_equal(rd(f, 0x3a, 2), before);
    for (int i = 0; i < 8; i++)
        wr(f, 0x08 + i, 0xff, 1);
    net_port_send(&f->b.wire, mc, sizeof(mc));
    assert_int_not_equal(rd(f, 0x3a, 2), before);
    /* the driver reads everything: CAPR = read offset - 16 */
    wr(f, 0x38, rd(f, 0x3a, 2) - 16, 2);
    assert_true(rd(f, 0x37, 1) & 1);
}

static void test_classic_rx_full_and_wrap(void **state)
{
    struct fixture *f = *state;
    rx_classic_setup(f, 0x02);                  /* APM, no WRAP: packets wrap at the end */
    uint8_t fr[1000];
    memcpy(fr, MAC, 6);
    for (int i = 0; i < 12; i++) {
        fr[20] = (uint8_t)i;
        net_port_send(&f->b.wire, fr, sizeof(fr));
    }
    /* 8 KiB holds 8 packets of 1008 bytes; the rest wait in the queue, with the ring overflow
     * reported (RxOverflow wakes a driver that stopped reading with packets left) */
    assert_int_equal(f->nic.port.queue_len, 4);
    assert_int_equal(rd(f, 0x3a, 2), 8 * 1008);
    assert_int_equal(rd(f, 0x3e, 2) & 0x11, 0x11);             /* ROK, RXOVW */
    wr(f, 0x3e, 0x11, 2);                                      /* acked, still full: again */
    assert_int_equal(rd(f, 0x3e, 2) & 0x11, 0x10);
    /* reading two packets makes room for two more */
    wr(f, 0x38, 2 * 1008 - 16, 2);
    assert_int_equal(f->nic.port.queue_len, 2);
    /* that packet wrapped: its header at 8064, its data continuing at the start */
    uint8_t hdr[4], b;
    phys_read_block(&f->b.mem, RX_BUF + 8 * 1008, hdr, 4);
    assert_int_equal(hdr[2] | hdr[3] << 8, 1004);
    phys_read_block(&f->b.mem, RX_BUF + (8 * 1008 + 4 + 20) % 8192, &b, 1);
    assert_int_equal(b, 8);
    assert_int_equal(rd(f, 0x3a, 2), (10 * 1008) % 8192);
}

static void test_loopback_and_bad_ring(void **state)
{
    struct fixture *f = *state;
    rx_classic_setup(f, 0x02 | 0x80);
    wr(f, 0x40, 3u << 17, 4);                   /* TCR loopback */
    uint8_t pkt[80];
    memset(pkt, 0x42, sizeof(pkt));
    memcpy(pkt, MAC, 6);
    phys_write_block(&f->b.mem, TX_BUF, pkt, sizeof(pkt));
    wr(f, 0x20, TX_BUF, 4);
    wr(f, 0x10, sizeof(pkt), 4);
    assert_int_equal(f->b.nsent, 0);              /* not on the wire */
    assert_int_equal(rd(f, 0x3a, 2), 88);       /* but received */
    /* a ring buffer outside RAM: dropped, nothing crashes */
    wr(f, 0x40, 0, 4);
    wr(f, 0x30, 0xfffff000u, 4);
    net_port_send(&f->b.wire, pkt, sizeof(pkt));
    assert_int_equal(rd(f, 0x3a, 2), 88);
}

/* ---- C+ mode ---- */

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

/* An Ethernet + IPv4 + TCP packet of 54 + payload bytes, checksums zero. */
static size_t tcp_packet(uint8_t *pkt, const uint8_t *dst, size_t payload)
{
    memset(pkt, 0, 54 + payload);
    memcpy(pkt, dst, 6);
    memcpy(pkt + 6, "\x52\x55\x0a\x00\x02\x02\x08\x00", 8);
    uint8_t *ip = pkt + 14, *tcp = pkt + 34;
    ip[0] = 0x45;
    ip[2] = (uint8_t)((40 + payload) >> 8);
    ip[3] = (uint8_t)(40 + payload);
    ip[4] = 0x12; ip[5] = 0x34;
    ip[8] = 64;
    ip[9] = 6;
    memcpy(ip + 12, "\x0a\x00\x02\x0f\x0a\x00\x02\x02", 8);
    tcp[0] = 0x80; tcp[3] = 0x50;
    tcp[6] = 0x10;                              /* seq 0x1000 */
    tcp[12] = 0x50;
    tcp[13] = 0x18 | 0x01;                      /* ACK PSH FIN */
    for (size_t i = 0; i < payload; i++)
        pkt[54 + i] = (uint8_t)(i * 7 + 3);
    return 54 + payload;
}

static void put_desc(struct fixture *f, uint32_t ring, unsigned i, uint32_t opts1, uint32_t opts2, uint64_t addr)
{
    uint32_t d[4] = { opts1, opts2, (uint32_t)addr, (uint32_t)(addr >> 32) };
    phys_write_block(&f->b.mem, ring + 16 * i, d, 16);
}

static uint32_t desc_opts1(struct fixture *f, uint32_t ring, unsigned i)
{
    uint32_t v;
    phys_read_block(&f->b.mem, ring + 16 * i, &v, 4);
    return v;
}

/* 8139cp's start: C+ command, ring addresses, then RE|TE. */
static void cplus_setup(struct fixture *f, uint16_t cpcmd)
{
    wr(f, 0xe0, cpcmd, 2);
    wr(f, 0xe4, RX_RING, 4);
    wr(f, 0xe8, 0, 4);
    wr(f, 0x20, TX_RING, 4);
    wr(f, 0x24, 0, 4);
    wr(f, 0x37, 0x0c, 1);
    wr(f, 0x44, 0x02 | 0x08, 4);
    wr(f, 0x3c, 0xffff, 2);
}

static void test_cplus_tx_offload(void **state)
{
    struct fixture *f = *state;
    cplus_setup(f, 0x0023);                     /* TX, RX, RX checksum */
    uint8_t pkt[54 + 300];
    size_t len = tcp_packet(pkt, (const uint8_t *)"\x52\x55\x0a\x00\x02\x02", 300);
    phys_write_block(&f->b.mem, TX_BUF, pkt, len);
    const uint32_t own = 1u << 31, fs = 1u << 29, ls = 1u << 28, cs = (1u << 18) | (1u << 16);
    put_desc(f, TX_RING, 0, own | fs | cs | 100, 0, TX_BUF);
    put_desc(f, TX_RING, 1, own | ls | cs | (uint32_t)(len - 100), 0, TX_BUF + 100);
    wr(f, 0xd9, 0x40, 1);                       /* TxPoll: normal priority */
    assert_int_equal(f->b.nsent, 1);
    const uint8_t *fr = f->b.sent[0].data;
    assert_int_equal(f->b.sent[0].len, len);
    assert_int_equal(csum(0, fr + 14, 20), 0xffff);
    uint32_t pseudo = be16(fr + 26) + be16(fr + 28) + be16(fr + 30) + be16(fr + 32) + 6 + 20 + 300;
    assert_int_equal(csum(pseudo, fr + 34, 320), 0xffff);
    assert_false(desc_opts1(f, TX_RING, 0) & own);      /* handed back */
    assert_false(desc_opts1(f, TX_RING, 1) & own);
    assert_true(rd(f, 0x3e, 2) & 0x04);
    /* a packet whose last descriptor is not handed over yet waits */
    put_desc(f, TX_RING, 2, own | fs | 60, 0, TX_BUF);
    put_desc(f, TX_RING, 3, ls | 40, 0, TX_BUF);
    wr(f, 0xd9, 0x40, 1);
    assert_int_equal(f->b.nsent, 1);
    put_desc(f, TX_RING, 2, own | fs | 60, 0x20000 | 0x0500, TX_BUF);               /* VLAN 5 */
    put_desc(f, TX_RING, 3, own | ls | (1u << 30) | 40, 0x20000 | 0x0500, TX_BUF);   /* EOR */
    wr(f, 0xd9, 0x40, 1);
    assert_int_equal(f->b.nsent, 2);
    assert_int_equal(f->b.sent[1].len, 104);
    assert_int_equal(be16(f->b.sent[1].data + 12), 0x8100);
    assert_int_equal(be16(f->b.sent[1].data + 14), 5);
    /* EOR: the ring starts over at descriptor 0 */
    put_desc(f, TX_RING, 0, own | fs | ls | 64, 0, TX_BUF);
    wr(f, 0xd9, 0x40, 1);
    assert_int_equal(f->b.nsent, 3);
}

static void test_cplus_tso(void **state)
{
    struct fixture *f = *state;
    cplus_setup(f, 0x0003);
    uint8_t pkt[54 + 2500];
    size_t len = tcp_packet(pkt, (const uint8_t *)"\x52\x55\x0a\x00\x02\x02", 2500);
    phys_write_block(&f->b.mem, TX_BUF, pkt, len);
    put_desc(f, TX_RING, 0, (1u << 31) | (1u << 29) | (1u << 28) | (1u << 27) | 1000u << 16 | (uint32_t)len, 0, TX_BUF);
    wr(f, 0xd9, 0x40, 1);
    assert_int_equal(f->b.nsent, 3);
    for (unsigned s = 0; s < 3; s++) {
        const uint8_t *fr = f->b.sent[s].data;
        size_t pay = s < 2 ? 1000 : 500;
        assert_int_equal(f->b.sent[s].len, 54 + pay);
        assert_int_equal(be16(fr + 16), 40 + pay);
        assert_int_equal(be16(fr + 18), 0x1234 + s);
        assert_int_equal(csum(0, fr + 14, 20), 0xffff);
        uint32_t seq = (uint32_t)be16(fr + 38) << 16 | be16(fr + 40);
        assert_int_equal(seq, 0x1000 + 1000 * s);
        assert_int_equal(fr[47] & 0x09, s == 2 ? 0x09 : 0);
        uint32_t pseudo = be16(fr + 26) + be16(fr + 28) + be16(fr + 30) + be16(fr + 32) + 6 + 20 + (uint32_t)pay;
        assert_int_equal(csum(pseudo, fr + 34, 20 + pay), 0xffff);
        assert_memory_equal(fr + 54, pkt + 54 + 1000 * s, pay);
    }
}

static void test_cplus_rx(void **state)
{
    struct fixture *f = *state;
    cplus_setup(f, 0x0063);                     /* TX, RX, RX checksum, VLAN strip */
    const uint32_t own = 1u << 31, eor = 1u << 30;
    put_desc(f, RX_RING, 0, own | 1536, 0, RX_BUFS);
    put_desc(f, RX_RING, 1, own | eor | 1536, 0, RX_BUFS + 2048);
    uint8_t pkt[54 + 100];
    size_t len = tcp_packet(pkt, MAC, 100);
    /* valid checksums, as a sender would put them */
    uint16_t ipc = (uint16_t)~csum(0, pkt + 14, 20);
    pkt[24] = (uint8_t)(ipc >> 8);
    pkt[25] = (uint8_t)ipc;
    uint32_t pseudo = be16(pkt + 26) + be16(pkt + 28) + be16(pkt + 30) + be16(pkt + 32) + 6 + 120;
    uint16_t tc = (uint16_t)~csum(pseudo, pkt + 34, 120);
    pkt[50] = (uint8_t)(tc >> 8);
    pkt[51] = (uint8_t)tc;
    net_port_send(&f->b.wire, pkt, len);
    uint32_t o = desc_opts1(f, RX_RING, 0);
    assert_false(o & own);
    assert_int_equal(o & (3u << 28), 3u << 28);          /* FS, LS */
    assert_int_equal(o & 0x1fff, len + 4);
    assert_int_equal((o >> 16) & 3, 1);                  /* TCP */
    assert_int_equal(o & (7u << 13), 0);                 /* no checksum failure */
    uint8_t got[200];
    phys_read_block(&f->b.mem, RX_BUFS, got, len);
    assert_memory_equal(got, pkt, len);
    assert_true(rd(f, 0x3e, 2) & 1);
    /* a bad TCP checksum is flagged; a VLAN tag is stripped into opts2 */
    uint8_t tagged[54 + 100 + 4];
    memcpy(tagged, pkt, 12);
    memcpy(tagged + 12, "\x81\x00\x00\x07", 4);
    memcpy(tagged + 16, pkt + 12, len - 12);
    tagged[16 + 50 - 12] ^= 0xff;
    net_port_send(&f->b.wire, tagged, len + 4);
    o = desc_opts1(f, RX_RING, 1);
    assert_int_equal(o & eor, eor);
    assert_true(o & (1u << 13));                         /* TCP checksum failed */
    uint32_t opts2;
    phys_read_block(&f->b.mem, RX_RING + 16 + 4, &opts2, 4);
    assert_int_equal(opts2, 0x10000 | 0x0700);           /* tag available, byte-swapped TCI */
    /* no descriptor left: the frame waits until the driver returns one and acknowledges */
    net_port_send(&f->b.wire, pkt, len);
    assert_int_equal(f->nic.port.queue_len, 1);
    put_desc(f, RX_RING, 0, own | 1536, 0, RX_BUFS);
    wr(f, 0x3e, 0xffff, 2);
    assert_int_equal(f->nic.port.queue_len, 0);
    assert_false(desc_opts1(f, RX_RING, 0) & own);
    /* descriptors outside RAM: dropped with an error, nothing crashes */
    wr(f, 0xe4, 0xfffffff0u, 4);
    wr(f, 0x37, 0x04, 1);
    wr(f, 0x37, 0x0c, 1);
    net_port_send(&f->b.wire, pkt, len);
    wr(f, 0x20, 0xfffffff0u, 4);
    wr(f, 0xd9, 0x40, 1);
}

static void test_tally_dump(void **state)
{
    struct fixture *f = *state;
    cplus_setup(f, 0x0003);
    uint8_t pkt[64] = { 0 };
    memcpy(pkt, MAC, 6);
    phys_write_block(&f->b.mem, TX_BUF, pkt, 64);
    put_desc(f, TX_RING, 0, (1u << 31) | (3u << 28) | 64, 0, TX_BUF);
    put_desc(f, TX_RING, 1, (1u << 31) | (3u << 28) | 64, 0, TX_BUF);
    wr(f, 0xd9, 0x40, 1);
    wr(f, 0x14, 0, 4);
    wr(f, 0x10, 0x70000 | 8, 4);                /* DTCCR: dump at 0x70000 */
    assert_false(rd(f, 0x10, 4) & 8);           /* done */
    uint64_t tx_ok;
    phys_read_block(&f->b.mem, 0x70000, &tx_ok, 8);
    assert_int_equal(tx_ok, 2);
}

/* ---- saved state ---- */

static void test_save_reset_load(void **state)
{
    struct fixture *f = *state;
    cplus_setup(f, 0x0003);
    const uint32_t own = 1u << 31;
    put_desc(f, RX_RING, 0, own | 1536, 0, RX_BUFS);
    put_desc(f, RX_RING, 1, own | 1536, 0, RX_BUFS + 2048);
    put_desc(f, RX_RING, 2, own | (1u << 30) | 1536, 0, RX_BUFS + 4096);
    uint8_t pkt[80] = { 0 };
    memcpy(pkt, MAC, 6);
    net_port_send(&f->b.wire, pkt, sizeof(pkt));           /* RX index now 1 */
    phys_write_block(&f->b.mem, TX_BUF, pkt, sizeof(pkt));
    put_desc(f, TX_RING, 0, own | (3u << 28) | 80, 0, TX_BUF);
    wr(f, 0xd9, 0x40, 1);                                /* TX index now 1 */
    wr(f, 0x48, 0, 4);                                   /* TCTR from 0 */
    wr(f, 0x54, 33000, 4);                               /* TimerInt: 1 ms */
    (void)ee_read(f, 3, 6);
    f->b.insns += 300000;
    struct vmbuf saved = { 0 }, again = { 0 };
    vmstate_save(&rtl8139_vmstate, &f->nic, &saved);
    assert_false(saved.failed);
    uint64_t t0 = f->b.insns;
    int irq0 = f->b.irq;
    static uint8_t ram[0x80000];
    phys_read_block(&f->b.mem, 0, ram, sizeof(ram));
    /* what follows: time passes (the timer fires), a frame arrives, a packet leaves */
    uint32_t t1[8], t2[8];
    for (int pass = 0; pass < 2; pass++) {
        uint32_t *t = pass ? t2 : t1;
        unsigned sent0 = f->b.nsent;
        t[0] = rd(f, 0x48, 4);
        f->b.insns += 800000;
        vclock_run_timers(&f->b.clock);
        t[1] = rd(f, 0x3e, 2);
        net_port_send(&f->b.wire, pkt, sizeof(pkt));
        t[2] = desc_opts1(f, RX_RING, 1);
        put_desc(f, TX_RING, 1, own | (3u << 28) | 70, 0, TX_BUF);
        wr(f, 0xd9, 0x40, 1);
        t[3] = f->b.nsent - sent0;
        t[4] = (uint32_t)f->b.irq;
        t[5] = ee_read(f, 8, 6);
        t[6] = rd(f, 0x3e, 2);
        t[7] = rd(f, 0x48, 4);
        if (pass == 0) {
            rtl8139_reset(&f->nic);
            f->b.insns = t0;
            f->b.irq = irq0;
            phys_write_block(&f->b.mem, 0, ram, sizeof(ram));
            struct vmreader r = { saved.data, saved.len };
            char err[256] = "";
            if (vmstate_load(&rtl8139_vmstate, &f->nic, rtl8139_vmstate.version, &r, err, sizeof(err)) < 0)
                fail_msg("load: %s", err);
            assert_int_equal(r.left, 0);
            vmstate_save(&rtl8139_vmstate, &f->nic, &again);
            assert_int_equal(again.len, saved.len);
            assert_memory_equal(again.data, saved.data, saved.len);
        }
    }
    assert_true(t1[1] & 0x4000);                /* the timer fired */
    assert_int_equal(t1[3], 1);
    assert_int_equal(t1[5], MAC[2] | MAC[3] << 8);
    assert_memory_equal(t1, t2, sizeof(t1));
    vmbuf_free(&saved);
    vmbuf_free(&again);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity_eeprom, setup, teardown),
        cmocka_unit_test_setup_teardown(test_classic_tx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_classic_rx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_classic_rx_full_and_wrap, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loopback_and_bad_ring, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cplus_tx_offload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cplus_tso, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cplus_rx, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tally_dump, setup, teardown),
        cmocka_unit_test_setup_teardown(test_save_reset_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rtl8139cplus_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rtl8139c_has_no_cplus, setup_classic_chip, teardown),
        cmocka_unit_test_setup_teardown(test_classic_tx, setup_classic_chip, teardown),
        cmocka_unit_test_setup_teardown(test_classic_rx, setup_classic_chip, teardown),
        cmocka_unit_test_setup_teardown(test_classic_rx_full_and_wrap, setup_classic_chip, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
