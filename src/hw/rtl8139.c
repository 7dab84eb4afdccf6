/* Realtek RTL8139C+.  Register layout, descriptor formats and the EEPROM protocol follow
 * Realtek's "RTL8139C(L)+ Advanced PCI/Mini-PCI/CardBus 3.3V Single-Chip 10/100M Fast
 * Ethernet Controller" datasheet and the 93C46 Microwire EEPROM datasheet. */
#include "hw/rtl8139.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "hw/dma.h"

/* registers (byte offsets) */
enum {
    IDR0 = 0x00, MAR0 = 0x08, TSD0 = 0x10, DTCCR = 0x10, TSAD0 = 0x20, TNPDS = 0x20, THPDS = 0x28,
    RBSTART = 0x30, ERBCR = 0x34, ERSR = 0x36, CR = 0x37, CAPR = 0x38, CBR = 0x3A, IMR = 0x3C,
    ISR = 0x3E, TCR = 0x40, RCR = 0x44, TCTR = 0x48, MPC = 0x4C, CR9346 = 0x50, CONFIG0 = 0x51,
    CONFIG1 = 0x52, TIMERINT = 0x54, MSR = 0x58, CONFIG3 = 0x59, CONFIG4 = 0x5A, MULINT = 0x5C,
    RERID = 0x5E, TSAD = 0x60, BMCR = 0x62, BMSR = 0x64, ANAR = 0x66, ANLPAR = 0x68, ANER = 0x6A,
    DIS = 0x6C, FCSC = 0x6E, NWAYTR = 0x70, REC = 0x72, CSCR = 0x74, PHY1_PARM = 0x78,
    TW_PARM = 0x7C, PHY2_PARM = 0x80, CONFIG5 = 0xD8, TPPOLL = 0xD9, RMS = 0xDA, CPCR = 0xE0,
    INTRMIT = 0xE2, RDSAR = 0xE4, ETTHR = 0xEC,
};

/* CR */
#define CR_BUFE 0x01
#define CR_TE   0x04
#define CR_RE   0x08
#define CR_RST  0x10
/* ISR / IMR */
#define INT_ROK    0x0001
#define INT_RER    0x0002
#define INT_TOK    0x0004
#define INT_TER    0x0008
#define INT_RXOVW  0x0010      /* classic: ring buffer overflow; C+: RX descriptor unavailable */
#define INT_LINK   0x0020
#define INT_FOVW   0x0040
#define INT_TDU    0x0080
#define INT_SW     0x0100
#define INT_TIMEOUT 0x4000
#define INT_SERR   0x8000
/* TSD */
#define TSD_SIZE   0x1fffu
#define TSD_OWN    (1u << 13)
#define TSD_TUN    (1u << 14)
#define TSD_TOK    (1u << 15)
#define TSD_TABT   (1u << 30)
/* TCR: the chip version bits of an RTL8139C+ and of an RTL8139C (cplus=off) */
#define TCR_HWVER_CPLUS   0x74800000u
#define TCR_HWVER_CLASSIC 0x74000000u
#define TCR_WMASK  0x030707f0u
#define TCR_LOOPBACK (3u << 17)
/* RCR */
#define RCR_AAP  0x01
#define RCR_APM  0x02
#define RCR_AM   0x04
#define RCR_AB   0x08
#define RCR_WRAP 0x80
/* classic receive packet header */
#define RXH_ROK 0x0001
#define RXH_BAR 0x2000
#define RXH_PAM 0x4000
#define RXH_MAR 0x8000
/* 9346CR modes (bits 7:6) and pins */
#define EEM_NORMAL   0
#define EEM_AUTOLOAD 1
#define EEM_PROGRAM  2
#define EEM_CONFIG   3
#define EE_CS 0x08
#define EE_SK 0x04
#define EE_DI 0x02
#define EE_DO 0x01
/* C+ command register */
#define CPCR_TXON   0x0001
#define CPCR_RXON   0x0002
#define CPCR_RXCSUM 0x0020
#define CPCR_RXVLAN 0x0040
/* TPPOLL */
#define TPPOLL_HPQ 0x80
#define TPPOLL_NPQ 0x40
#define TPPOLL_FSW 0x01
/* C+ descriptors */
#define DESC_OWN   (1u << 31)
#define DESC_EOR   (1u << 30)
#define DESC_FS    (1u << 29)
#define DESC_LS    (1u << 28)
#define TXD_LGSEN  (1u << 27)
#define TXD_IPCS   (1u << 18)
#define TXD_UDPCS  (1u << 17)
#define TXD_TCPCS  (1u << 16)
#define TXD_TAGC   (1u << 17)      /* in opts2 */
#define RXD_MAR    (1u << 26)
#define RXD_PAM    (1u << 25)
#define RXD_BAR    (1u << 24)
#define RXD_PID_TCP (1u << 16)
#define RXD_PID_UDP (2u << 16)
#define RXD_PID_IP  (3u << 16)
#define RXD_IPF    (1u << 15)
#define RXD_UDPF   (1u << 14)
#define RXD_TCPF   (1u << 13)
#define RXD_TAVA   (1u << 16)      /* in opts2 */
/* MII */
#define BMCR_RESET   0x8000
#define BMCR_ANE     0x1000
#define BMCR_RESTART 0x0200
#define BMSR_BASE    0x7809        /* 100BASE-TX/10BASE-T full/half, AN able, extended */
#define BMSR_ANDONE  0x0020
#define BMSR_LINK    0x0004
#define MSR_LINKB    0x04
#define CSCR_LINKOK  0x0400

#define ETH_MIN_FRAME 60
#define CP_MAX_FRAGS 64            /* descriptors one packet may span */
#define CP_TX_BUDGET 256           /* descriptors one TxPoll write handles */
#define PCI_CLOCK_MHZ 33           /* TCTR counts the PCI clock */

static inline uint16_t ld16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t ld32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static inline void st16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void st32(uint8_t *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline void st64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }
static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline void stbe16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static inline void stbe32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }
static inline uint16_t bswap16(uint16_t v) { return (uint16_t)(v << 8 | v >> 8); }

#define GUEST_ERR(s, ...) log_printf((s)->log, LOG_GUEST_ERRORS, "rtl8139 " __VA_ARGS__)

static uint16_t r16(const struct rtl8139 *s, unsigned off) { return ld16(s->regs + off); }
static uint32_t r32(const struct rtl8139 *s, unsigned off) { return ld32(s->regs + off); }
static void w16(struct rtl8139 *s, unsigned off, uint16_t v) { st16(s->regs + off, v); }
static void w32(struct rtl8139 *s, unsigned off, uint32_t v) { st32(s->regs + off, v); }
static uint64_t r64(const struct rtl8139 *s, unsigned off) { return (uint64_t)r32(s, off + 4) << 32 | r32(s, off); }

static bool link_up(const struct rtl8139 *s)
{
    return net_port_link_up(&s->port);
}

static uint32_t tcr_hwver(const struct rtl8139 *s) { return s->cplus ? TCR_HWVER_CPLUS : TCR_HWVER_CLASSIC; }
static bool cplus_tx(const struct rtl8139 *s) { return r16(s, CPCR) & CPCR_TXON; }
static bool cplus_rx(const struct rtl8139 *s) { return r16(s, CPCR) & CPCR_RXON; }

/* ---- interrupts ---- */

static void update_irq(struct rtl8139 *s)
{
    int level = (r16(s, ISR) & r16(s, IMR)) != 0;
    if (level != s->irq_level) {
        s->irq_level = level;
        pci_set_irq(&s->pci, level);
    }
}

static void raise(struct rtl8139 *s, uint16_t cause)
{
    w16(s, ISR, r16(s, ISR) | cause);
    update_irq(s);
}

/* ---- timer: TCTR counts the 33 MHz PCI clock; TimeOut when it passes TimerInt ---- */

static uint32_t tctr_now(const struct rtl8139 *s)
{
    int64_t d = vclock_now(s->clock) - s->tctr_base;
    if (d < 0)
        d = 0;
    uint64_t ticks = (uint64_t)(d / 1000) * PCI_CLOCK_MHZ + (uint64_t)(d % 1000) * PCI_CLOCK_MHZ / 1000;
    return (uint32_t)ticks;
}

static void timer_rearm(struct rtl8139 *s)
{
    uint32_t target = r32(s, TIMERINT);
    if (!target) {
        vtimer_del(&s->timer);
        return;
    }
    uint32_t now = tctr_now(s);
    uint64_t ticks = target > now ? target - now : (1ull << 32) - now + target;
    vtimer_mod(&s->timer, vclock_now(s->clock) + (int64_t)(ticks * 1000 / PCI_CLOCK_MHZ) + 1);
}

static void timer_fire(void *opaque)
{
    struct rtl8139 *s = opaque;
    raise(s, INT_TIMEOUT);
    timer_rearm(s);
}

/* ---- link and PHY ---- */

static void set_link_bits(struct rtl8139 *s, bool up)
{
    if (up) {
        w16(s, BMSR, r16(s, BMSR) | BMSR_LINK);
        s->regs[MSR] &= (uint8_t)~MSR_LINKB;
        w16(s, CSCR, r16(s, CSCR) | CSCR_LINKOK);
    } else {
        w16(s, BMSR, r16(s, BMSR) & (uint16_t)~BMSR_LINK);
        s->regs[MSR] |= MSR_LINKB;
        w16(s, CSCR, r16(s, CSCR) & (uint16_t)~CSCR_LINKOK);
    }
}

static void link_changed(void *opaque, bool up)
{
    struct rtl8139 *s = opaque;
    up = up && link_up(s);
    set_link_bits(s, up);
    raise(s, INT_LINK);
    if (up)
        net_port_flush(&s->port);
}

static void phy_reset(struct rtl8139 *s)
{
    w16(s, BMCR, BMCR_ANE | 0x2100);              /* autonegotiation, 100 Mb/s, full duplex */
    w16(s, BMSR, BMSR_BASE | BMSR_ANDONE);
    w16(s, ANAR, 0x05e1);
    w16(s, ANLPAR, 0x05e1);
    w16(s, ANER, 0x0001);
    s->regs[MSR] = 0xd0;                          /* flow control, aux power, 100 Mb/s */
    w16(s, CSCR, 0);
    set_link_bits(s, link_up(s));
}

/* ---- EEPROM (93C46: start bit, 2-bit opcode, 6-bit address, 16-bit words) ---- */

enum { EE_IDLE, EE_CMD, EE_READ, EE_WRITE, EE_DONE };

static void eeprom_build(struct rtl8139 *s)
{
    uint16_t *e = s->eeprom.data;
    memset(e, 0, sizeof(s->eeprom.data));
    e[0] = 0x8129;                  /* the RTL8139 EEPROM signature */
    e[1] = 0x10ec;                  /* vendor, device, subsystem vendor, subsystem */
    e[2] = 0x8139;
    e[3] = 0x10ec;
    e[4] = 0x8139;
    e[5] = 0x4020;                  /* PCI min grant / max latency */
    e[6] = 0xe112;                  /* CONFIG3/CONFIG4 defaults, PCI PMC */
    for (int i = 0; i < 3; i++)
        e[7 + i] = (uint16_t)(s->mac[2 * i] | s->mac[2 * i + 1] << 8);
}

static void eeprom_load_mac(struct rtl8139 *s)
{
    for (int i = 0; i < 3; i++)
        st16(s->regs + IDR0 + 2 * i, s->eeprom.data[7 + i]);
}

static void eeprom_pins(struct rtl8139 *s, bool cs, bool sk, bool di)
{
    struct rtl8139_eeprom *e = &s->eeprom;
    bool rising = sk && !e->sk;
    e->sk = sk;
    if (!cs) {
        e->cs = false;
        e->state = EE_IDLE;
        e->dout = true;             /* ready */
        return;
    }
    if (!e->cs) {
        e->cs = true;
        e->state = EE_IDLE;
        e->bits = 0;
        e->input = 0;
    }
    if (!rising)
        return;
    switch (e->state) {
    case EE_IDLE:
        if (di) {                   /* the start bit; leading zeros are ignored */
            e->state = EE_CMD;
            e->bits = 0;
            e->input = 0;
        }
        break;
    case EE_CMD:
        e->input = (uint16_t)(e->input << 1 | di);
        if (++e->bits < 8)
            break;
        e->addr = e->input & 0x3f;
        unsigned op = e->input >> 6 & 3, sub = e->addr >> 4;
        e->bits = 0;
        e->input = 0;
        e->dout = true;             /* ready, for the commands that do not read */
        e->state = EE_DONE;
        if (op == 2) {              /* READ: a dummy 0, then the words from addr on */
            e->state = EE_READ;
            e->output = e->data[e->addr];
            e->out_bits = 16;
            e->dout = false;
        } else if (op == 1 || (op == 0 && sub == 1)) {    /* WRITE, WRAL: 16 data bits follow */
            e->state = EE_WRITE;
            if (op == 0)
                e->addr = 0xff;     /* every word */
        } else if (op == 3) {       /* ERASE */
            if (e->write_enabled)
                e->data[e->addr] = 0xffff;
        } else if (sub == 3) {      /* EWEN */
            e->write_enabled = true;
        } else if (sub == 0) {      /* EWDS */
            e->write_enabled = false;
        } else if (e->write_enabled) {                     /* ERAL */
            for (int i = 0; i < RTL8139_EEPROM_WORDS; i++)
                e->data[i] = 0xffff;
        }
        break;
    case EE_READ:
        e->dout = (e->output >> 15) & 1;
        e->output = (uint16_t)(e->output << 1);
        if (--e->out_bits == 0) {   /* sequential read continues with the next word */
            e->addr = (e->addr + 1) & 0x3f;
            e->output = e->data[e->addr];
            e->out_bits = 16;
        }
        break;
    case EE_WRITE:
        e->input = (uint16_t)(e->input << 1 | di);
        if (++e->bits < 16)
            break;
        if (e->write_enabled) {
            if (e->addr == 0xff)
                for (int i = 0; i < RTL8139_EEPROM_WORDS; i++)
                    e->data[i] = e->input;
            else
                e->data[e->addr & 0x3f] = e->input;
        }
        e->state = EE_DONE;
        e->dout = true;
        break;
    default:
        break;
    }
}

/* ---- receive ---- */

/* The Ethernet CRC-32 of len bytes, most significant bit first (the multicast hash uses its
 * top 6 bits). */
static uint32_t ether_crc_msb(const uint8_t *p, size_t len)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        uint8_t octet = p[i];
        for (int bit = 0; bit < 8; bit++, octet >>= 1)
            crc = (crc << 1) ^ (((crc >> 31) ^ (octet & 1)) ? 0x04c11db7u : 0);
    }
    return crc;
}

/* Whether the address filter takes the frame; *kind gets the BAR/PAM/MAR classification
 * (0: broadcast, 1: our address, 2: multicast, 3: other unicast). */
static bool rx_filter(struct rtl8139 *s, const uint8_t *buf, int *kind)
{
    uint32_t rcr = r32(s, RCR);
    if (buf[0] & 1) {
        if (!memcmp(buf, "\xff\xff\xff\xff\xff\xff", 6)) {
            *kind = 0;
            return rcr & (RCR_AB | RCR_AAP);
        }
        *kind = 2;
        if (rcr & RCR_AAP)
            return true;
        if (!(rcr & RCR_AM))
            return false;
        unsigned bit = ether_crc_msb(buf, 6) >> 26;
        return (s->regs[MAR0 + (bit >> 3)] >> (bit & 7)) & 1;
    }
    bool mine = !memcmp(buf, s->regs + IDR0, 6);
    *kind = mine ? 1 : 3;
    return (rcr & RCR_AAP) || (mine && (rcr & RCR_APM));
}

static uint32_t rx_buf_len(const struct rtl8139 *s)
{
    return 8192u << ((r32(s, RCR) >> 11) & 3);
}

static void tally_rx(struct rtl8139 *s, int kind)
{
    s->tally.rx_ok++;
    if (kind == 0)
        s->tally.rx_ok_bcast++;
    else if (kind == 1)
        s->tally.rx_ok_phys++;
    else if (kind == 2)
        s->tally.rx_ok_mcast++;
}

static void missed(struct rtl8139 *s, uint16_t cause)
{
    w32(s, MPC, (r32(s, MPC) + 1) & 0xffffff);
    s->tally.missed++;
    raise(s, cause);
}

/* Write len bytes at offset off of the classic ring buffer, wrapping at its end unless WRAP
 * asks for the overflow area past it; false when the guest put the buffer outside RAM. */
static bool ring_write(struct rtl8139 *s, uint32_t off, const uint8_t *p, uint32_t len)
{
    uint32_t size = rx_buf_len(s);
    uint64_t base = r32(s, RBSTART);
    bool linear = (r32(s, RCR) & RCR_WRAP) && size < 65536;
    while (len) {
        uint32_t n = linear || off + len <= size ? len : size - off;
        if (!dma_in_ram(s->mem, base + off, n)) {
            GUEST_ERR(s, "receive buffer 0x%llx+%u is outside RAM\n", (unsigned long long)(base + off), n);
            return false;
        }
        phys_write_block(s->mem, (uint32_t)(base + off), p, n);
        p += n;
        len -= n;
        off = (off + n) % size;
    }
    return true;
}

/* Classic mode: [status, length] header, the frame, its CRC, 32-bit aligned, at CBR. */
static bool rx_classic(struct rtl8139 *s, const uint8_t *frame, uint32_t size, int kind)
{
    uint32_t len = rx_buf_len(s), cbr = r16(s, CBR) % len;
    uint32_t need = (4 + size + 4 + 3) & ~3u;
    uint32_t used = (cbr + len - s->rx_rdptr % len) % len;
    if (need + 16 > len) {
        missed(s, INT_RXOVW);
        return true;                    /* the ring could never hold it */
    }
    if (need >= len - used) {
        /* No room: the chip reports a ring overflow.  It would drop the frame; it stays queued
         * here instead (no TCP retransmit), to arrive once the driver reads (CAPR).  The
         * interrupt matters: 8139too acks RxOK per packet and, after a full NAPI budget,
         * polls again only if RxOK or RxOverflow is set, so a full ring with no overflow
         * report would never be read again. */
        raise(s, INT_RXOVW);
        return false;
    }
    uint8_t hdr[4];
    uint16_t status = RXH_ROK | (kind == 0 ? RXH_BAR : kind == 1 ? RXH_PAM : kind == 2 ? RXH_MAR : 0);
    st16(hdr, status);
    st16(hdr + 2, (uint16_t)(size + 4));
    uint8_t crc[4];
    st32(crc, (uint32_t)crc32(0L, frame, (uInt)size));
    if (!ring_write(s, cbr, hdr, 4) || !ring_write(s, (cbr + 4) % len, frame, size) ||
        !ring_write(s, (cbr + 4 + size) % len, crc, 4))
        return true;                    /* dropped */
    w16(s, CBR, (uint16_t)((cbr + need) % len));
    tally_rx(s, kind);
    raise(s, INT_ROK);
    return true;
}

static uint16_t csum_fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* The ones' complement sum of the IPv4 pseudo-header for an L4 segment of len bytes. */
static uint32_t pseudo_sum(const uint8_t *ip, uint8_t proto, uint32_t len)
{
    return net_csum_add(0, ip + 12, 8) + proto + len;
}

/* C+ receive checksum offload: the protocol and failure bits for a frame. */
static uint32_t rx_csum_bits(const uint8_t *f, uint32_t size)
{
    uint32_t l3 = 14;
    if (size < 34 || be16(f + 12) != 0x0800 || (f[14] >> 4) != 4)
        return 0;
    uint32_t ihl = (uint32_t)(f[14] & 0xf) * 4, tot = be16(f + 16);
    if (ihl < 20 || l3 + ihl > size || tot < ihl || l3 + tot > size)
        return 0;
    const uint8_t *ip = f + l3;
    uint32_t bits = csum_fold(net_csum_add(0, ip, ihl)) != 0xffff ? RXD_IPF : 0;
    bool fragment = (be16(ip + 6) & 0x3fff) != 0;
    const uint8_t *l4 = ip + ihl;
    uint32_t l4len = tot - ihl;
    if (ip[9] == 6 && !fragment && l4len >= 20) {
        bits |= RXD_PID_TCP;
        if (csum_fold(net_csum_add(pseudo_sum(ip, 6, l4len), l4, l4len)) != 0xffff)
            bits |= RXD_TCPF;
    } else if (ip[9] == 17 && !fragment && l4len >= 8) {
        bits |= RXD_PID_UDP;
        if (be16(l4 + 6) && csum_fold(net_csum_add(pseudo_sum(ip, 17, l4len), l4, l4len)) != 0xffff)
            bits |= RXD_UDPF;
    } else {
        bits |= RXD_PID_IP;
    }
    return bits;
}

/* Read C+ descriptor idx of the ring at base; false (logged) when it is outside RAM. */
static bool fetch_desc(struct rtl8139 *s, uint64_t base, uint32_t idx, const char *ring, uint8_t d[16],
                       uint64_t *daddr)
{
    *daddr = base + (uint64_t)idx * 16;
    if (!dma_in_ram(s->mem, *daddr, 16)) {
        GUEST_ERR(s, "%s descriptor at 0x%llx is outside RAM\n", ring, (unsigned long long)*daddr);
        return false;
    }
    phys_read_block(s->mem, (uint32_t)*daddr, d, 16);
    return true;
}

/* C+ mode: the frame and its CRC into the buffers of as many RX descriptors as it needs. */
static bool rx_cplus(struct rtl8139 *s, uint8_t *frame, uint32_t size, int kind)
{
    uint64_t base = r64(s, RDSAR);
    uint32_t opts2 = 0;
    if ((r16(s, CPCR) & CPCR_RXVLAN) && size >= 18 && be16(frame + 12) == 0x8100) {
        opts2 = RXD_TAVA | bswap16(be16(frame + 14));
        memmove(frame + 12, frame + 16, size - 16);
        size -= 4;
    }
    uint32_t status = kind == 0 ? RXD_BAR : kind == 1 ? RXD_PAM : kind == 2 ? RXD_MAR : 0;
    if (r16(s, CPCR) & CPCR_RXCSUM)
        status |= rx_csum_bits(frame, size);
    st32(frame + size, (uint32_t)crc32(0L, frame, (uInt)size));
    uint32_t total = size + 4;
    /* first make sure the driver has handed over enough buffers */
    uint32_t idx = s->cp_rx_idx, have = 0, n = 0;
    uint8_t d[16];
    uint64_t daddr;
    while (have < total) {
        if (n == CP_MAX_FRAGS) {
            GUEST_ERR(s, "receive buffers too small for a %u-byte frame\n", total);
            missed(s, INT_RER);
            return true;
        }
        if (!fetch_desc(s, base, idx, "receive", d, &daddr))
            return true;
        uint32_t opts1 = ld32(d);
        if (!(opts1 & DESC_OWN)) {
            raise(s, INT_RXOVW);            /* descriptor unavailable: the frame waits */
            return false;
        }
        have += opts1 & 0x1fff;
        n++;
        idx = (opts1 & DESC_EOR) ? 0 : idx + 1;
    }
    uint32_t done = 0;
    idx = s->cp_rx_idx;
    for (uint32_t i = 0; i < n; i++) {
        fetch_desc(s, base, idx, "receive", d, &daddr);
        uint32_t opts1 = ld32(d), bufsize = opts1 & 0x1fff;
        uint64_t buf = (uint64_t)ld32(d + 12) << 32 | ld32(d + 8);
        uint32_t chunk = total - done < bufsize ? total - done : bufsize;
        if (dma_in_ram(s->mem, buf, chunk))
            phys_write_block(s->mem, (uint32_t)buf, frame + done, chunk);
        else
            GUEST_ERR(s, "receive buffer 0x%llx+%u is outside RAM\n", (unsigned long long)buf, chunk);
        done += chunk;
        bool last = done == total;
        uint32_t out = (opts1 & DESC_EOR) | (i == 0 ? DESC_FS : 0) | (last ? DESC_LS | status | total : chunk);
        uint8_t wb[8];
        st32(wb, out);
        st32(wb + 4, opts2);
        phys_write_block(s->mem, (uint32_t)daddr + 4, wb + 4, 4);
        phys_write_block(s->mem, (uint32_t)daddr, wb, 4);
        idx = (opts1 & DESC_EOR) ? 0 : idx + 1;
    }
    s->cp_rx_idx = idx;
    tally_rx(s, kind);
    raise(s, INT_ROK);
    return true;
}

static bool rx_enabled(const struct rtl8139 *s)
{
    return link_up(s) && (s->regs[CR] & CR_RE) && (s->pci.config[4] & 4);
}

static bool rtl8139_can_receive(void *opaque)
{
    struct rtl8139 *s = opaque;
    if (!rx_enabled(s))
        return false;
    if (cplus_rx(s)) {
        uint8_t d[16];
        uint64_t daddr;
        if (!dma_in_ram(s->mem, r64(s, RDSAR) + (uint64_t)s->cp_rx_idx * 16, 16))
            return true;                /* receive() drops and logs it */
        fetch_desc(s, r64(s, RDSAR), s->cp_rx_idx, "receive", d, &daddr);
        return ld32(d) & DESC_OWN;
    }
    return true;                        /* rx_classic() keeps what does not fit, reporting it */
}

static void do_receive(struct rtl8139 *s, const uint8_t *buf, size_t len, bool *taken)
{
    uint8_t *frame = s->rxbuf;
    *taken = true;
    if (len < 14 || len > RTL8139_TX_MAX)
        return;
    int kind;
    if (!rx_filter(s, buf, &kind))
        return;
    memcpy(frame, buf, len);
    uint32_t size = (uint32_t)len;
    if (size < ETH_MIN_FRAME) {
        memset(frame + size, 0, ETH_MIN_FRAME - size);
        size = ETH_MIN_FRAME;
    }
    *taken = cplus_rx(s) ? rx_cplus(s, frame, size, kind) : rx_classic(s, frame, size, kind);
}

static bool rtl8139_receive(void *opaque, const uint8_t *buf, size_t len)
{
    struct rtl8139 *s = opaque;
    if (!rx_enabled(s))
        return true;                    /* dropped, as on the wire */
    bool taken;
    do_receive(s, buf, len, &taken);
    return taken;
}

/* ---- transmit ---- */

static void send_frame(struct rtl8139 *s, const uint8_t *data, uint32_t size)
{
    if (size < 14) {
        GUEST_ERR(s, "transmit of a %u-byte frame dropped\n", size);
        s->tally.tx_err++;
        return;
    }
    s->tally.tx_ok++;
    if ((r32(s, TCR) & TCR_LOOPBACK) == TCR_LOOPBACK) {
        bool taken;
        if (s->regs[CR] & CR_RE)
            do_receive(s, data, size, &taken);
        return;
    }
    if (link_up(s))
        net_port_send(&s->port, data, size);
}

/* Classic mode: send the descriptors the driver gave (OWN clear), in order from tx_cur. */
static void tx_classic(struct rtl8139 *s)
{
    if (s->in_xmit)
        return;
    s->in_xmit = true;
    for (int n = 0; n < 4 && (s->regs[CR] & CR_TE); n++) {
        unsigned i = s->tx_cur;
        uint32_t tsd = r32(s, TSD0 + 4 * i);
        if (tsd & (TSD_OWN | TSD_TOK | TSD_TABT))
            break;
        uint32_t size = tsd & TSD_SIZE;
        uint64_t addr = r32(s, TSAD0 + 4 * i);
        if (!size || !dma_in_ram(s->mem, addr, size)) {
            GUEST_ERR(s, "transmit buffer 0x%llx+%u (descriptor %u) is empty or outside RAM\n",
                      (unsigned long long)addr, size, i);
            w32(s, TSD0 + 4 * i, tsd | TSD_OWN | TSD_TABT);
            s->tally.tx_abort++;
            s->tally.tx_err++;
            raise(s, INT_TER);
        } else {
            phys_read_block(s->mem, (uint32_t)addr, s->txbuf, size);
            send_frame(s, s->txbuf, size);
            w32(s, TSD0 + 4 * i, tsd | TSD_OWN | TSD_TOK);
            raise(s, INT_TOK);
        }
        s->tx_cur = (uint8_t)((i + 1) & 3);
    }
    s->in_xmit = false;
}

/* IPv4 header checksum and TCP/UDP checksum of a frame, as the descriptor asks. */
static void tx_csum(struct rtl8139 *s, uint8_t *f, uint32_t size, uint32_t opts1)
{
    uint32_t l3 = 14;
    if (size >= 18 && be16(f + 12) == 0x8100)
        l3 = 18;
    if (size < l3 + 20 || be16(f + l3 - 2) != 0x0800 || (f[l3] >> 4) != 4) {
        GUEST_ERR(s, "checksum offload on a frame that is not IPv4\n");
        return;
    }
    uint8_t *ip = f + l3;
    uint32_t ihl = (uint32_t)(ip[0] & 0xf) * 4, tot = be16(ip + 2);
    if (ihl < 20 || l3 + ihl > size || tot < ihl || l3 + tot > size) {
        GUEST_ERR(s, "checksum offload: IPv4 header lengths %u/%u in a %u-byte frame\n", ihl, tot, size);
        return;
    }
    if (opts1 & TXD_IPCS) {
        stbe16(ip + 10, 0);
        stbe16(ip + 10, net_csum_finish(net_csum_add(0, ip, ihl)));
    }
    uint8_t *l4 = ip + ihl;
    uint32_t l4len = tot - ihl;
    if ((opts1 & TXD_TCPCS) && ip[9] == 6 && l4len >= 20) {
        stbe16(l4 + 16, 0);
        stbe16(l4 + 16, net_csum_finish(net_csum_add(pseudo_sum(ip, 6, l4len), l4, l4len)));
    } else if ((opts1 & TXD_UDPCS) && ip[9] == 17 && l4len >= 8) {
        stbe16(l4 + 6, 0);
        uint16_t c = net_csum_finish(net_csum_add(pseudo_sum(ip, 17, l4len), l4, l4len));
        stbe16(l4 + 6, c ? c : 0xffff);
    }
}

/* Large send: cut an IPv4/TCP packet into MSS-sized segments with their own headers. */
static void tx_tso(struct rtl8139 *s, uint8_t *f, uint32_t size, uint32_t mss)
{
    uint32_t l3 = (size >= 18 && be16(f + 12) == 0x8100) ? 18 : 14;
    uint8_t *ip = f + l3;
    uint32_t ihl = size >= l3 + 20 ? (uint32_t)(ip[0] & 0xf) * 4 : 0;
    if (!mss || size < l3 + 20 || be16(f + l3 - 2) != 0x0800 || (ip[0] >> 4) != 4 || ip[9] != 6 ||
        ihl < 20 || l3 + ihl + 20 > size) {
        GUEST_ERR(s, "large send of a frame that is not IPv4/TCP (or MSS 0): sent as is\n");
        send_frame(s, f, size);
        return;
    }
    uint8_t *tcp = ip + ihl;
    uint32_t thl = (uint32_t)(tcp[12] >> 4) * 4;
    uint32_t hdr = l3 + ihl + thl;
    if (thl < 20 || hdr > size) {
        GUEST_ERR(s, "large send: TCP header length %u in a %u-byte frame\n", thl, size);
        return;
    }
    uint8_t *seg = s->segbuf;
    uint32_t payload = size - hdr, seq = be32(tcp + 4);
    uint16_t id = be16(ip + 4);
    uint8_t flags = tcp[13];
    uint32_t nseg = 0;
    for (uint32_t off = 0; off < payload || (payload == 0 && nseg == 0); off += mss, nseg++) {
        uint32_t n = payload - off < mss ? payload - off : mss;
        bool last = off + n >= payload;
        memcpy(seg, f, hdr);
        memcpy(seg + hdr, f + hdr + off, n);
        uint8_t *sip = seg + l3, *stcp = sip + ihl;
        stbe16(sip + 2, (uint16_t)(ihl + thl + n));
        stbe16(sip + 4, (uint16_t)(id + nseg));
        stbe16(sip + 10, 0);
        stbe16(sip + 10, net_csum_finish(net_csum_add(0, sip, ihl)));
        stbe32(stcp + 4, seq + off);
        stcp[13] = last ? flags : (uint8_t)(flags & ~0x09);   /* FIN and PSH on the last only */
        stbe16(stcp + 16, 0);
        stbe16(stcp + 16, net_csum_finish(net_csum_add(pseudo_sum(sip, 6, thl + n), stcp, thl + n)));
        send_frame(s, seg, hdr + n);
        if (payload == 0)
            break;
    }
}

/* C+ mode: send the packets of one transmit ring whose descriptors the driver owns over. */
static void tx_cplus(struct rtl8139 *s, bool high)
{
    if (s->in_xmit || !(s->regs[CR] & CR_TE) || !cplus_tx(s))
        return;
    s->in_xmit = true;
    uint64_t base = r64(s, high ? THPDS : TNPDS);
    uint32_t *cur = high ? &s->cp_txhp_idx : &s->cp_tx_idx;
    const char *ring = high ? "high priority transmit" : "transmit";
    unsigned sent = 0, budget = CP_TX_BUDGET;
    while (budget) {
        /* the packet's descriptors, first to last, all handed over */
        uint64_t daddr[CP_MAX_FRAGS];
        uint32_t opts1[CP_MAX_FRAGS], opts2 = 0, idx = *cur, n = 0;
        bool complete = false, bad = false;
        uint8_t d[16];
        while (n < CP_MAX_FRAGS) {
            if (!fetch_desc(s, base, idx, ring, d, &daddr[n])) {
                bad = true;
                break;
            }
            uint32_t o = ld32(d);
            if (!(o & DESC_OWN))
                break;
            if (n == 0) {
                opts2 = ld32(d + 4);
                if (!(o & DESC_FS))
                    GUEST_ERR(s, "transmit descriptor %u without FS starts a packet\n", idx);
            }
            opts1[n++] = o;
            idx = (o & DESC_EOR) ? 0 : idx + 1;
            if (o & DESC_LS) {
                complete = true;
                break;
            }
        }
        if (bad || !n)
            break;
        if (!complete) {
            if (n < CP_MAX_FRAGS)
                break;                  /* the rest is not handed over yet */
            GUEST_ERR(s, "transmit packet spans more than %u descriptors: dropped\n", CP_MAX_FRAGS);
        }
        /* gather */
        uint32_t size = 0;
        for (uint32_t i = 0; i < n && complete; i++) {
            uint8_t dd[16];
            phys_read_block(s->mem, (uint32_t)daddr[i], dd, 16);
            uint32_t len = opts1[i] & 0xffff;
            uint64_t buf = (uint64_t)ld32(dd + 12) << 32 | ld32(dd + 8);
            if (size + len > RTL8139_TX_MAX - 4) {
                GUEST_ERR(s, "transmit packet longer than %u bytes: dropped\n", RTL8139_TX_MAX - 4);
                complete = false;
            } else if (len && !dma_in_ram(s->mem, buf, len)) {
                GUEST_ERR(s, "transmit buffer 0x%llx+%u is outside RAM\n", (unsigned long long)buf, len);
                complete = false;
            } else {
                phys_read_block(s->mem, (uint32_t)buf, s->txbuf + size, len);
                size += len;
            }
        }
        if (complete) {
            uint8_t *f = s->txbuf;
            if ((opts2 & TXD_TAGC) && size >= 12) {
                memmove(f + 16, f + 12, size - 12);
                stbe16(f + 12, 0x8100);
                stbe16(f + 14, bswap16((uint16_t)opts2));
                size += 4;
            }
            if (opts1[0] & TXD_LGSEN)
                tx_tso(s, f, size, (opts1[0] >> 16) & 0x7ff);
            else {
                if (opts1[0] & (TXD_IPCS | TXD_TCPCS | TXD_UDPCS))
                    tx_csum(s, f, size, opts1[0]);
                send_frame(s, f, size);
            }
        } else {
            s->tally.tx_err++;
        }
        /* hand the descriptors back */
        for (uint32_t i = 0; i < n; i++) {
            uint8_t wb[4];
            st32(wb, opts1[i] & ~(DESC_OWN | 0x03f00000u));
            phys_write_block(s->mem, (uint32_t)daddr[i], wb, 4);
        }
        *cur = idx;
        sent++;
        budget = budget > n ? budget - n : 0;
    }
    s->in_xmit = false;
    if (sent)
        raise(s, INT_TOK);
}

/* DTCCR: dump the tally counters (64 bytes) at the address the driver gave. */
static void dump_tally(struct rtl8139 *s, uint64_t addr)
{
    uint8_t b[64];
    const struct rtl8139_tally *t = &s->tally;
    st64(b, t->tx_ok);
    st64(b + 8, t->rx_ok);
    st64(b + 16, t->tx_err);
    st32(b + 24, t->rx_err);
    st16(b + 28, t->missed);
    st16(b + 30, t->frame_align);
    st32(b + 32, t->tx_one_col);
    st32(b + 36, t->tx_multi_col);
    st64(b + 40, t->rx_ok_phys);
    st64(b + 48, t->rx_ok_bcast);
    st32(b + 56, t->rx_ok_mcast);
    st16(b + 60, t->tx_abort);
    st16(b + 62, t->tx_underrun);
    if (dma_in_ram(s->mem, addr, 64))
        phys_write_block(s->mem, (uint32_t)addr, b, 64);
    else
        GUEST_ERR(s, "tally counter dump to 0x%llx is outside RAM\n", (unsigned long long)addr);
}

/* ---- registers ---- */

/* The register containing byte off: its first byte and width. */
static unsigned reg_width(unsigned off, unsigned *start)
{
    static const struct { uint8_t first, last, width; } spans[] = {
        { 0x10, 0x33, 4 }, { 0x34, 0x35, 2 }, { 0x38, 0x3f, 2 }, { 0x40, 0x4f, 4 }, { 0x54, 0x57, 4 },
        { 0x5c, 0x5d, 2 }, { 0x60, 0x77, 2 }, { 0x78, 0x7f, 4 }, { 0xda, 0xdb, 2 }, { 0xe0, 0xe3, 2 },
        { 0xe4, 0xeb, 4 },
    };
    for (size_t i = 0; i < sizeof(spans) / sizeof(spans[0]); i++)
        if (off >= spans[i].first && off <= spans[i].last) {
            *start = off & ~(spans[i].width - 1u);
            return spans[i].width;
        }
    *start = off;
    return 1;
}

static uint8_t read_byte(struct rtl8139 *s, unsigned off)
{
    switch (off) {
    case CR: {
        uint8_t v = s->regs[CR] & (CR_RE | CR_TE);
        uint32_t len = rx_buf_len(s);
        if (r16(s, CBR) % len == s->rx_rdptr % len)
            v |= CR_BUFE;
        return v;
    }
    case CAPR: case CAPR + 1:
        return (uint8_t)((s->rx_rdptr - 16) >> (8 * (off - CAPR)));
    case TCTR: case TCTR + 1: case TCTR + 2: case TCTR + 3:
        return (uint8_t)(tctr_now(s) >> (8 * (off - TCTR)));
    case CR9346: {
        uint8_t v = s->regs[CR9346] & 0xce;
        if ((v >> 6) == EEM_PROGRAM && s->eeprom.dout)
            v |= EE_DO;
        return v;
    }
    case TSAD: case TSAD + 1: {
        uint16_t v = 0;
        for (int i = 0; i < 4; i++) {
            uint32_t tsd = r32(s, TSD0 + 4 * i);
            v |= (uint16_t)(((tsd & TSD_TOK) ? 1u << (12 + i) : 0) | ((tsd & TSD_TUN) ? 1u << (8 + i) : 0) |
                            ((tsd & TSD_TABT) ? 1u << (4 + i) : 0) | ((tsd & TSD_OWN) ? 1u << i : 0));
        }
        return (uint8_t)(v >> (8 * (off - TSAD)));
    }
    case TPPOLL: case RMS: case RMS + 1:       /* TPPOLL is write-only; RMS is the 8169's */
        return 0;
    default:
        return s->regs[off];
    }
}

static void soft_reset(struct rtl8139 *s);

/* A write of the whole register at start (width bytes) with value v. */
static void write_reg(struct rtl8139 *s, unsigned start, unsigned width, uint32_t v)
{
    switch (start) {
    case TSD0: case TSD0 + 4: case TSD0 + 8: case TSD0 + 12:
        if (cplus_tx(s)) {
            /* C+ mode: DTCCR, the 64-bit tally dump address; bit 3 starts the dump */
            if (start == DTCCR && (v & 8)) {
                dump_tally(s, (uint64_t)r32(s, DTCCR + 4) << 32 | (v & ~0x3fu));
                v &= ~8u;
            }
            w32(s, start, v);
            return;
        }
        w32(s, start, v & 0x003f3fffu);        /* size, OWN, early TX threshold */
        tx_classic(s);
        return;
    case CR:
        if (v & CR_RST) {
            soft_reset(s);
            return;
        }
        if ((v & CR_RE) && !(s->regs[CR] & CR_RE))
            s->cp_rx_idx = 0;
        if ((v & CR_TE) && !(s->regs[CR] & CR_TE))
            s->cp_tx_idx = s->cp_txhp_idx = 0;
        s->regs[CR] = (uint8_t)(v & (CR_RE | CR_TE));
        if (v & CR_RE)
            net_port_flush(&s->port);
        if (v & CR_TE)
            tx_classic(s);
        return;
    case CAPR:
        s->rx_rdptr = (v + 16) % rx_buf_len(s);
        net_port_flush(&s->port);
        return;
    case CBR: case ERSR: case CONFIG0: case MSR: case RERID: case TSAD: case BMSR: case ANLPAR:
    case ANER: case RMS:
        return;                                 /* read-only (RMS: absent on the 8139C+) */
    case IMR:
        w16(s, IMR, (uint16_t)v);
        update_irq(s);
        net_port_flush(&s->port);
        return;
    case ISR:
        w16(s, ISR, r16(s, ISR) & (uint16_t)~v);
        update_irq(s);
        net_port_flush(&s->port);
        return;
    case TCR:
        w32(s, TCR, (v & TCR_WMASK) | tcr_hwver(s));
        return;
    case RCR:
        w32(s, RCR, v & ~0x40u);                /* 9356SEL: this is a 93C46 */
        net_port_flush(&s->port);
        return;
    case TCTR:
        s->tctr_base = vclock_now(s->clock);
        timer_rearm(s);
        return;
    case MPC:
        w32(s, MPC, 0);
        return;
    case CR9346: {
        unsigned mode = v >> 6;
        if (mode == EEM_AUTOLOAD) {
            eeprom_load_mac(s);
            s->regs[CR9346] = 0;
            return;
        }
        s->regs[CR9346] = (uint8_t)(v & 0xce);
        if (mode == EEM_PROGRAM)
            eeprom_pins(s, v & EE_CS, v & EE_SK, v & EE_DI);
        else
            eeprom_pins(s, false, false, false);
        return;
    }
    case CONFIG1: case CONFIG3: case CONFIG4: case CONFIG5:
        if ((s->regs[CR9346] >> 6) == EEM_CONFIG)
            s->regs[start] = (uint8_t)v;
        return;
    case TIMERINT:
        w32(s, TIMERINT, v);
        timer_rearm(s);
        return;
    case BMCR:
        if (v & BMCR_RESET) {
            phy_reset(s);
            return;
        }
        w16(s, BMCR, (uint16_t)(v & ~(uint32_t)(BMCR_RESET | BMCR_RESTART)));
        return;
    case CSCR:
        w16(s, CSCR, (uint16_t)((v & ~(uint32_t)CSCR_LINKOK) | (r16(s, CSCR) & CSCR_LINKOK)));
        return;
    case TPPOLL:
        if (!s->cplus)
            return;                             /* an RTL8139C has no TPPOLL */
        if (v & TPPOLL_FSW)
            raise(s, INT_SW);
        if (v & TPPOLL_HPQ)
            tx_cplus(s, true);
        if (v & TPPOLL_NPQ)
            tx_cplus(s, false);
        return;
    case CPCR:
        if (!s->cplus)
            return;                             /* nor C+ command register: it reads 0 */
        w16(s, CPCR, (uint16_t)v);
        net_port_flush(&s->port);
        return;
    default:
        for (unsigned i = 0; i < width; i++)
            s->regs[start + i] = (uint8_t)(v >> (8 * i));
        return;
    }
}

uint32_t rtl8139_reg_read(struct rtl8139 *s, uint32_t offset, unsigned size)
{
    uint32_t v = 0;
    if (size != 1 && size != 2 && size != 4)
        size = 4;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)read_byte(s, (offset + i) & (RTL8139_REGS_SIZE - 1)) << (8 * i);
    return v;
}

void rtl8139_reg_write(struct rtl8139 *s, uint32_t offset, uint32_t value, unsigned size)
{
    if (size != 1 && size != 2 && size != 4)
        size = 4;
    offset &= RTL8139_REGS_SIZE - 1;
    unsigned i = 0;
    while (i < size) {
        unsigned start, width = reg_width((offset + i) & (RTL8139_REGS_SIZE - 1), &start);
        /* merge the written bytes into the register; ISR bits not written are not cleared */
        uint32_t v = 0;
        for (unsigned b = 0; b < width; b++) {
            unsigned pos = start + b;
            unsigned rel = (pos - offset) & (RTL8139_REGS_SIZE - 1);
            uint8_t byte = rel < size ? (uint8_t)(value >> (8 * rel)) : start == ISR ? 0 : read_byte(s, pos);
            v |= (uint32_t)byte << (8 * b);
        }
        write_reg(s, start, width, v);
        i += start + width - ((offset + i) & (RTL8139_REGS_SIZE - 1));
    }
}

static uint32_t rtl8139_mmio_read(void *opaque, uint32_t offset, unsigned size)
{
    return rtl8139_reg_read(opaque, offset, size);
}

static void rtl8139_mmio_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    rtl8139_reg_write(opaque, offset, value, size);
}

static uint32_t rtl8139_io_read(void *opaque, uint16_t port, unsigned size)
{
    struct rtl8139 *s = opaque;
    return rtl8139_reg_read(s, (uint32_t)(port - s->pci.bars[0].mapped_addr), size);
}

static void rtl8139_io_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct rtl8139 *s = opaque;
    rtl8139_reg_write(s, (uint32_t)(port - s->pci.bars[0].mapped_addr), value, size);
}

/* The software reset (CR.RST): receive and transmit state back to the start; the station and
 * multicast addresses and the configuration registers stay. */
static void soft_reset(struct rtl8139 *s)
{
    s->regs[CR] = 0;
    w16(s, CBR, 0);
    s->rx_rdptr = 0;
    s->tx_cur = 0;
    for (int i = 0; i < 4; i++)
        w32(s, TSD0 + 4 * i, TSD_OWN);
    s->cp_tx_idx = s->cp_txhp_idx = s->cp_rx_idx = 0;
    w16(s, IMR, 0);
    w16(s, ISR, 0);
    w16(s, CPCR, 0);
    w32(s, TCR, tcr_hwver(s));
    w32(s, RCR, 0);
    update_irq(s);
}

void rtl8139_reset(struct rtl8139 *s)
{
    vtimer_del(&s->timer);
    memset(s->regs, 0, sizeof(s->regs));
    memset(&s->tally, 0, sizeof(s->tally));
    struct rtl8139_eeprom *e = &s->eeprom;
    e->state = EE_IDLE;
    e->bits = e->out_bits = 0;
    e->input = e->output = 0;
    e->addr = 0;
    e->dout = true;
    e->write_enabled = false;
    e->sk = e->cs = false;
    eeprom_load_mac(s);
    s->regs[CONFIG1] = 0x0c;            /* I/O and memory mapping */
    s->regs[CONFIG3] = 0x01;            /* fast back-to-back capable */
    s->tctr_base = vclock_now(s->clock);
    phy_reset(s);
    soft_reset(s);
    if (s->irq_level) {
        s->irq_level = 0;
        pci_set_irq(&s->pci, 0);
    }
}

/* ---- saved state ---- */

static const struct vmstate_field eeprom_fields[] = {
    VMF_ARRAY(struct rtl8139_eeprom, data), VMF_MAX(struct rtl8139_eeprom, state, EE_DONE),
    VMF_MAX(struct rtl8139_eeprom, bits, 16), VMF(struct rtl8139_eeprom, input),
    VMF(struct rtl8139_eeprom, addr), VMF(struct rtl8139_eeprom, output),
    VMF_MAX(struct rtl8139_eeprom, out_bits, 16), VMF(struct rtl8139_eeprom, dout),
    VMF(struct rtl8139_eeprom, write_enabled), VMF(struct rtl8139_eeprom, sk), VMF(struct rtl8139_eeprom, cs),
    VMF_END_OF_LIST,
};
static const struct vmstate_desc eeprom_vmstate = { .name = "rtl8139-eeprom", .version = 1, .fields = eeprom_fields };

static const struct vmstate_field tally_fields[] = {
    VMF(struct rtl8139_tally, tx_ok), VMF(struct rtl8139_tally, rx_ok), VMF(struct rtl8139_tally, tx_err),
    VMF(struct rtl8139_tally, rx_err), VMF(struct rtl8139_tally, missed), VMF(struct rtl8139_tally, frame_align),
    VMF(struct rtl8139_tally, tx_one_col), VMF(struct rtl8139_tally, tx_multi_col),
    VMF(struct rtl8139_tally, rx_ok_phys), VMF(struct rtl8139_tally, rx_ok_bcast),
    VMF(struct rtl8139_tally, rx_ok_mcast), VMF(struct rtl8139_tally, tx_abort),
    VMF(struct rtl8139_tally, tx_underrun),
    VMF_END_OF_LIST,
};
static const struct vmstate_desc tally_vmstate = { .name = "rtl8139-tally", .version = 1, .fields = tally_fields };

static int rtl8139_post_load(void *opaque, char *err, size_t errlen)
{
    struct rtl8139 *s = opaque;
    if (s->eeprom.addr >= RTL8139_EEPROM_WORDS && s->eeprom.addr != 0xff) {
        snprintf(err, errlen, "rtl8139: EEPROM address %u is out of range", s->eeprom.addr);
        return -1;
    }
    s->rx_rdptr %= 65536;
    s->in_xmit = false;
    s->port.link_down = (r16(s, BMSR) & BMSR_LINK) == 0;
    pci_device_post_load(&s->pci);
    return 0;
}

static const struct vmstate_field rtl8139_fields[] = {
    VMF_STRUCT(struct rtl8139, pci, pci_device_vmstate),
    VMF_ARRAY(struct rtl8139, regs), VMF_STRUCT(struct rtl8139, eeprom, eeprom_vmstate),
    VMF_STRUCT(struct rtl8139, tally, tally_vmstate), VMF_MAX(struct rtl8139, tx_cur, 3),
    VMF(struct rtl8139, rx_rdptr), VMF(struct rtl8139, cp_tx_idx), VMF(struct rtl8139, cp_txhp_idx),
    VMF(struct rtl8139, cp_rx_idx), VMF(struct rtl8139, tctr_base), VMF_TIMER(struct rtl8139, timer),
    VMF_MAX(struct rtl8139, irq_level, 1),
    VMF_END_OF_LIST,
};
const struct vmstate_desc rtl8139_vmstate = { .name = "rtl8139", .version = 1, .fields = rtl8139_fields,
                                              .post_load = rtl8139_post_load };

static const struct net_port_ops rtl8139_port_ops = {
    .can_receive = rtl8139_can_receive,
    .receive = rtl8139_receive,
    .link_changed = link_changed,
};

static void rtl8139_free_buffers(struct rtl8139 *s)
{
    free(s->txbuf);
    free(s->segbuf);
    free(s->rxbuf);
    s->txbuf = s->segbuf = s->rxbuf = NULL;
}

int rtl8139_init(struct rtl8139 *s, struct pci_bus *bus, uint8_t devfn, struct phys_mem *mem,
                 struct vclock *clock, struct pcvm_log *log, const uint8_t mac[6], const char *id,
                 bool cplus)
{
    memset(s, 0, sizeof(*s));
    s->cplus = cplus;
    s->mem = mem;
    s->clock = clock;
    s->log = log;
    memcpy(s->mac, mac, 6);
    s->txbuf = malloc(RTL8139_TX_MAX);
    s->segbuf = malloc(RTL8139_TX_MAX);
    s->rxbuf = malloc(RTL8139_TX_MAX + 8);
    if (!s->txbuf || !s->segbuf || !s->rxbuf) {
        rtl8139_free_buffers(s);
        return -1;
    }
    net_port_init(&s->port, id, "rtl8139", &rtl8139_port_ops, s);
    snprintf(s->port.info, sizeof(s->port.info), "model=rtl8139,macaddr=%02x:%02x:%02x:%02x:%02x:%02x",
             mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    vtimer_init(&s->timer, clock, timer_fire, s);
    eeprom_build(s);
    s->pci.opaque = s;
    if (pci_register_device(bus, &s->pci, devfn, "rtl8139", 0x10ec, 0x8139, cplus ? 0x20 : 0x10, 0x020000, 0x00, 1) < 0) {
        rtl8139_free_buffers(s);
        return -1;
    }
    pci_set_word(s->pci.config + 0x2c, 0x1af4);   /* subsystem: QEMU's */
    pci_set_word(s->pci.config + 0x2e, 0x1100);
    struct pci_bar io = { .size = RTL8139_REGS_SIZE, .is_io = true, .opaque = s, .io_read = rtl8139_io_read,
                          .io_write = rtl8139_io_write, .io_sizes = IO_SIZE_ALL };
    pci_register_bar(&s->pci, 0, &io);
    struct pci_bar mmio = { .size = RTL8139_REGS_SIZE, .opaque = s, .mmio_read = rtl8139_mmio_read,
                            .mmio_write = rtl8139_mmio_write };
    pci_register_bar(&s->pci, 1, &mmio);
    rtl8139_reset(s);
    return 0;
}

void rtl8139_destroy(struct rtl8139 *s)
{
    vtimer_del(&s->timer);
    net_port_cleanup(&s->port);
    rtl8139_free_buffers(s);
}
