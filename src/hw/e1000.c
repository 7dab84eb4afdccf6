/* Intel 82540EM (e1000).  Register layout and descriptor formats follow Intel's "PCI/PCI-X
 * Family of Gigabit Ethernet Controllers Software Developer's Manual" (8254x). */
#include "hw/e1000.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "hw/dma.h"

/* registers (byte offsets) */
enum {
    CTRL = 0x0000, STATUS = 0x0008, EECD = 0x0010, EERD = 0x0014, CTRL_EXT = 0x0018,
    MDIC = 0x0020, VET = 0x0038, ICR = 0x00C0, ITR = 0x00C4, ICS = 0x00C8, IMS = 0x00D0,
    IMC = 0x00D8, RCTL = 0x0100, TCTL = 0x0400, TIPG = 0x0410, LEDCTL = 0x0E00, PBA = 0x1000,
    RDBAL = 0x2800, RDBAH = 0x2804, RDLEN = 0x2808, RDH = 0x2810, RDT = 0x2818, RDTR = 0x2820,
    RADV = 0x282C, TDBAL = 0x3800, TDBAH = 0x3804, TDLEN = 0x3808, TDH = 0x3810, TDT = 0x3818,
    TIDV = 0x3820, TADV = 0x382C, RXCSUM = 0x5000, MTA = 0x5200, RA = 0x5400, VFTA = 0x5600,
    MANC = 0x5820,
    /* statistics, cleared on read */
    STATS_FIRST = 0x4000, STATS_LAST = 0x40FC,
    MPC = 0x4010, GPRC = 0x4074, BPRC = 0x4078, MPRC = 0x407C, GPTC = 0x4080, GORCL = 0x4088,
    GORCH = 0x408C, GOTCL = 0x4090, GOTCH = 0x4094, RNBC = 0x40A0, ROC = 0x40AC, TORL = 0x40C0,
    TORH = 0x40C4, TOTL = 0x40C8, TOTH = 0x40CC, TPR = 0x40D0, TPT = 0x40D4, MPTC = 0x40F0,
    BPTC = 0x40F4, TSCTC = 0x40F8,
};

#define R(s, off) ((s)->regs[(off) >> 2])

/* CTRL */
#define CTRL_RST      (1u << 26)
#define CTRL_VME      (1u << 30)
#define CTRL_PHY_RST  (1u << 31)
/* STATUS */
#define STATUS_LU     (1u << 1)
#define STATUS_BASE   0x80080781u  /* GIO master enable, ASDV=1000, MTXCKOK, 1000 Mb/s, FD */
/* EECD */
#define EECD_SK  0x01
#define EECD_CS  0x02
#define EECD_DI  0x04
#define EECD_DO  0x08
#define EECD_REQ 0x40
#define EECD_GNT 0x80
#define EECD_PRES 0x100
#define EECD_FWE_DIS 0x10
/* EERD */
#define EERD_START 0x01
#define EERD_DONE  0x10
/* MDIC */
#define MDIC_OP_WRITE (1u << 26)
#define MDIC_OP_READ  (2u << 26)
#define MDIC_READY    (1u << 28)
#define MDIC_INT_EN   (1u << 29)
#define MDIC_ERROR    (1u << 30)
/* interrupt causes */
#define ICR_TXDW   0x0001
#define ICR_TXQE   0x0002
#define ICR_LSC    0x0004
#define ICR_RXDMT0 0x0010
#define ICR_RXO    0x0040
#define ICR_RXT0   0x0080
#define ICR_MDAC   0x0200
#define ICR_INT_ASSERTED 0x80000000u
/* RCTL */
#define RCTL_EN   (1u << 1)
#define RCTL_UPE  (1u << 3)
#define RCTL_MPE  (1u << 4)
#define RCTL_LPE  (1u << 5)
#define RCTL_BAM  (1u << 15)
#define RCTL_BSEX (1u << 25)
#define RCTL_SECRC (1u << 26)
/* TCTL */
#define TCTL_EN   (1u << 1)
/* RA high */
#define RAH_AV    (1u << 31)
/* descriptor bits */
#define RXD_DD   0x01
#define RXD_EOP  0x02
#define RXD_IXSM 0x04
#define RXD_VP   0x08
#define RXD_TCPCS 0x20       /* TCP/UDP checksum checked (the 82540 has no separate UDPCS) */
#define RXD_IPCS  0x40
#define RXE_TCPE  0x20       /* in the errors byte */
#define RXE_IPE   0x40
/* RXCSUM */
#define RXCSUM_IPOFL 0x100
#define RXCSUM_TUOFL 0x200
#define TXD_EOP  0x01
#define TXD_IC   0x04
#define TXD_RS   0x08
#define TXD_RPS  0x10
#define TXD_DEXT 0x20
#define TXD_VLE  0x40
#define TXD_IDE  0x80
#define TXD_TSE  0x04        /* in DCMD/TUCMD */
#define TUCMD_TCP 0x01
#define TUCMD_IP  0x02
#define POPTS_IXSM 0x01
#define POPTS_TXSM 0x02
#define TXD_STAT_DD 0x01

/* PHY registers (M88E1011) */
enum { PHY_CTRL = 0, PHY_STATUS = 1, PHY_ID1 = 2, PHY_ID2 = 3, PHY_ANAR = 4, PHY_ANLPAR = 5,
       PHY_ANER = 6, PHY_1000T_CTRL = 9, PHY_1000T_STATUS = 10, PHY_SPEC_CTRL = 16,
       PHY_SPEC_STATUS = 17, PHY_EXT_SPEC_CTRL = 20 };
#define PHY_CTRL_RESTART_AN 0x0200
#define PHY_CTRL_AN_ENABLE  0x1000
#define PHY_CTRL_RESET      0x8000
#define PHY_STATUS_LINK     0x0004
#define PHY_STATUS_AN_DONE  0x0020

#define ETH_MIN_FRAME 60
#define ETH_MAX_VLAN_FRAME 1522
#define RX_MAX_FRAME 16384

static inline uint16_t ld16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static inline uint32_t ld32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static inline void st16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline uint16_t be16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline void stbe16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)(v >> 8); p[1] = (uint8_t)v; }
static inline uint32_t be32(const uint8_t *p) { return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]; }
static inline void stbe32(uint8_t *p, uint32_t v) { p[0] = (uint8_t)(v >> 24); p[1] = (uint8_t)(v >> 16); p[2] = (uint8_t)(v >> 8); p[3] = (uint8_t)v; }

#define GUEST_ERR(s, ...) log_printf((s)->log, LOG_GUEST_ERRORS, "e1000 " __VA_ARGS__)

static bool link_up(const struct e1000 *s)
{
    return net_port_link_up(&s->port);
}

/* ---- interrupts ---- */

static void update_irq(struct e1000 *s)
{
    if (!(R(s, ICR) & R(s, IMS))) {
        if (s->irq_level) {
            s->irq_level = 0;
            pci_set_irq(&s->pci, 0);
        }
        return;
    }
    if (s->irq_level || vtimer_pending(&s->mit_timer))
        return;
    /* ITR: at most one interrupt per ITR * 256 ns */
    uint32_t itr = R(s, ITR) & 0xffff;
    int64_t now = vclock_now(s->clock);
    if (itr && now < s->next_irq_ns) {
        vtimer_mod(&s->mit_timer, s->next_irq_ns);
        return;
    }
    s->irq_level = 1;
    pci_set_irq(&s->pci, 1);
    s->next_irq_ns = now + (int64_t)itr * 256;
}

static void set_ics(struct e1000 *s, uint32_t cause)
{
    R(s, ICR) |= cause;
    update_irq(s);
}

static void mit_fire(void *opaque)
{
    update_irq(opaque);
}

static void rx_delay_fire(void *opaque)
{
    struct e1000 *s = opaque;
    vtimer_del(&s->rdtr_timer);
    vtimer_del(&s->radv_timer);
    set_ics(s, ICR_RXT0);
}

static void tx_delay_fire(void *opaque)
{
    struct e1000 *s = opaque;
    vtimer_del(&s->tidv_timer);
    vtimer_del(&s->tadv_timer);
    set_ics(s, ICR_TXDW);
}

/* A receive or transmit interrupt, after the delay timers (units of 1.024 us) if they are set. */
static void delayed_cause(struct e1000 *s, uint32_t delay_reg, uint32_t abs_reg,
                          struct vtimer *delay_t, struct vtimer *abs_t, uint32_t cause)
{
    uint32_t delay = R(s, delay_reg) & 0xffff, absd = R(s, abs_reg) & 0xffff;
    if (!delay) {
        set_ics(s, cause);
        return;
    }
    int64_t now = vclock_now(s->clock);
    vtimer_mod(delay_t, now + (int64_t)delay * 1024);
    if (absd && !vtimer_pending(abs_t))
        vtimer_mod(abs_t, now + (int64_t)absd * 1024);
}

/* ---- link and PHY ---- */

static void set_link_bits(struct e1000 *s, bool up)
{
    if (up) {
        R(s, STATUS) |= STATUS_LU;
        s->phy[PHY_STATUS] |= PHY_STATUS_LINK;
    } else {
        R(s, STATUS) &= ~STATUS_LU;
        s->phy[PHY_STATUS] &= (uint16_t)~PHY_STATUS_LINK;
    }
}

static void autoneg_done(void *opaque)
{
    struct e1000 *s = opaque;
    s->phy[PHY_STATUS] |= PHY_STATUS_AN_DONE;
    s->phy[PHY_ANLPAR] = 0x45e1 | 0x4000;
    if (link_up(s)) {
        set_link_bits(s, true);
        set_ics(s, ICR_LSC);
    }
}

static void link_changed(void *opaque, bool up)
{
    struct e1000 *s = opaque;
    up = up && link_up(s);
    set_link_bits(s, up);
    set_ics(s, ICR_LSC);
    if (up)
        net_port_flush(&s->port);
}

static void phy_reset(struct e1000 *s)
{
    memset(s->phy, 0, sizeof(s->phy));
    s->phy[PHY_CTRL] = 0x1140;            /* autoneg on, full duplex, 1000 Mb/s */
    s->phy[PHY_STATUS] = 0x7949 | PHY_STATUS_AN_DONE | PHY_STATUS_LINK;
    s->phy[PHY_ID1] = 0x0141;             /* Marvell */
    s->phy[PHY_ID2] = 0x0c20;             /* 88E1011 */
    s->phy[PHY_ANAR] = 0x0de1;
    s->phy[PHY_ANLPAR] = 0x45e1 | 0x4000;
    s->phy[PHY_ANER] = 0x0001;
    s->phy[PHY_1000T_CTRL] = 0x0e00;
    s->phy[PHY_1000T_STATUS] = 0x3c00;
    s->phy[PHY_SPEC_CTRL] = 0x0360;
    s->phy[PHY_SPEC_STATUS] = 0xac00;
    s->phy[PHY_EXT_SPEC_CTRL] = 0x0d60;
    if (!link_up(s))
        s->phy[PHY_STATUS] &= (uint16_t)~PHY_STATUS_LINK;
}

static void phy_write(struct e1000 *s, unsigned reg, uint16_t val)
{
    switch (reg) {
    case PHY_CTRL:
        if (val & PHY_CTRL_RESET) {
            val &= (uint16_t)~PHY_CTRL_RESET;
        }
        s->phy[PHY_CTRL] = val & (uint16_t)~PHY_CTRL_RESTART_AN;
        if ((val & PHY_CTRL_RESTART_AN) && (val & PHY_CTRL_AN_ENABLE)) {
            /* autonegotiation takes a while, as on QEMU (500 ms); the link drops meanwhile */
            set_link_bits(s, false);
            s->phy[PHY_STATUS] &= (uint16_t)~PHY_STATUS_AN_DONE;
            vtimer_mod(&s->autoneg_timer, vclock_now(s->clock) + 500 * 1000000LL);
        }
        break;
    case PHY_ANAR: case PHY_1000T_CTRL: case PHY_SPEC_CTRL: case PHY_EXT_SPEC_CTRL:
    case 0x1d: case 0x1e: case 0x18: case 0x19: case 0x1a:
        s->phy[reg] = val;
        break;
    default:
        if (reg >= 32 || (reg != PHY_STATUS && reg != PHY_ID1 && reg != PHY_ID2))
            log_printf(s->log, LOG_UNIMP, "e1000: write to PHY register %u ignored\n", reg);
        break;
    }
}

static void mdic_write(struct e1000 *s, uint32_t val)
{
    unsigned phy_addr = (val >> 21) & 0x1f, reg = (val >> 16) & 0x1f;
    uint32_t op = val & (3u << 26);
    val &= ~(MDIC_READY | MDIC_ERROR);
    if (phy_addr != 1) {
        val |= MDIC_ERROR;
    } else if (op == MDIC_OP_READ) {
        val = (val & ~0xffffu) | s->phy[reg];
    } else if (op == MDIC_OP_WRITE) {
        phy_write(s, reg, (uint16_t)val);
    } else {
        val |= MDIC_ERROR;
    }
    R(s, MDIC) = val | MDIC_READY;
    if (val & MDIC_INT_EN)
        set_ics(s, ICR_MDAC);
}

/* ---- EEPROM ---- */

static void eeprom_build(struct e1000 *s)
{
    uint16_t *e = s->eeprom;
    memset(e, 0, sizeof(s->eeprom));
    for (int i = 0; i < 3; i++)
        e[i] = (uint16_t)(s->mac[2 * i] | s->mac[2 * i + 1] << 8);
    e[0x04] = 0xffff;               /* LED settings: the defaults */
    e[0x08] = 0x3000;               /* PBA number */
    e[0x09] = 0x1000;
    e[0x0a] = 0x6403;               /* initialization control 1 */
    e[0x0b] = 0x100e;               /* subsystem device */
    e[0x0c] = 0x8086;               /* subsystem vendor */
    e[0x0d] = 0x100e;               /* device */
    e[0x0e] = 0x8086;               /* vendor */
    e[0x0f] = 0x3040;               /* initialization control 2: pause capable */
    e[0x14] = 0x0048;
    e[0x20] = 0x0000;
    e[0x24] = 0x0000;               /* control 3 port A: no APM wake-up */
    for (int i = 0x30; i < 0x3f; i++)
        e[i] = 0xffff;
    uint16_t sum = 0;
    for (int i = 0; i < 0x3f; i++)
        sum = (uint16_t)(sum + e[i]);
    e[0x3f] = (uint16_t)(0xbaba - sum);    /* words 0..0x3f add up to 0xBABA */
}

static uint32_t eecd_read(struct e1000 *s)
{
    uint32_t v = (s->eecd_old & (EECD_SK | EECD_CS | EECD_DI | EECD_REQ)) | EECD_PRES | EECD_FWE_DIS;
    if (s->eecd_old & EECD_REQ)
        v |= EECD_GNT;
    if (s->ee_reading && (s->eecd_old & EECD_CS)) {
        int bit = s->ee_bit_out;
        if (bit >= 0) {
            uint16_t w = s->eeprom[(bit >> 4) & (E1000_EEPROM_WORDS - 1)];
            if ((w >> (15 - (bit & 15))) & 1)
                v |= EECD_DO;
        }
    }
    return v;
}

/* Microwire: start bit, 2-bit opcode (10 = read), 6 address bits in on DI at SK rising
 * edges, then data bits out on DO, most significant first, continuing into the next words. */
static void eecd_write(struct e1000 *s, uint32_t val)
{
    uint32_t old = s->eecd_old;
    s->eecd_old = val;
    if (!(val & EECD_CS)) {
        s->ee_bits_in = 0;
        s->ee_val_in = 0;
        s->ee_reading = false;
        return;
    }
    if (!(old & EECD_CS)) {
        s->ee_bits_in = 0;
        s->ee_val_in = 0;
        s->ee_reading = false;
    }
    if ((old & EECD_SK) || !(val & EECD_SK))
        return;                     /* act on rising clock edges only */
    if (s->ee_reading) {
        /* sequential reads continue into the next words and wrap at the end */
        s->ee_bit_out = (s->ee_bit_out + 1) & (E1000_EEPROM_WORDS * 16 - 1);
        return;
    }
    if (s->ee_bits_in == 0 && !(val & EECD_DI))
        return;                     /* waiting for the start bit */
    s->ee_val_in = (s->ee_val_in << 1) | ((val & EECD_DI) ? 1 : 0);
    if (++s->ee_bits_in == 9) {
        if ((s->ee_val_in >> 6) == 6) {   /* 1 10 aaaaaa: read */
            s->ee_reading = true;
            s->ee_bit_out = (int)((s->ee_val_in & 0x3f) << 4) - 1;
        } else {
            log_printf(s->log, LOG_UNIMP, "e1000: EEPROM opcode %u not supported\n",
                       (s->ee_val_in >> 6) & 3);
            s->ee_bits_in = 0;
            s->ee_val_in = 0;
        }
    }
}

/* ---- descriptor rings ---- */

/* Read descriptor `index` of the ring at base into desc (its address in *daddr); false, with
 * the error logged, when the guest placed it outside RAM. */
static bool fetch_desc(struct e1000 *s, uint64_t base, uint32_t index, const char *ring, uint8_t desc[16],
                       uint64_t *daddr)
{
    *daddr = base + (uint64_t)index * 16;
    if (!dma_in_ram(s->mem, *daddr, 16)) {
        GUEST_ERR(s, "%s descriptor at 0x%llx is outside RAM\n", ring, (unsigned long long)*daddr);
        return false;
    }
    phys_read_block(s->mem, (uint32_t)*daddr, desc, 16);
    return true;
}

/* ---- receive ---- */

static unsigned rx_bufsize(uint32_t rctl)
{
    unsigned bs = (rctl >> 16) & 3;
    if (rctl & RCTL_BSEX)
        return bs == 1 ? 16384 : bs == 2 ? 8192 : bs == 3 ? 4096 : 2048;
    return bs == 0 ? 2048 : bs == 1 ? 1024 : bs == 2 ? 512 : 256;
}

/* Descriptors the driver has handed over (RDH up to RDT), or -1 when the ring is invalid. */
static int64_t rx_free_descs(struct e1000 *s)
{
    uint32_t n = R(s, RDLEN) / 16, h = R(s, RDH), t = R(s, RDT);
    if (!n)
        return 0;
    if (h >= n || t >= n)
        return -1;
    return t >= h ? t - h : n - h + t;
}

static bool e1000_can_receive(void *opaque)
{
    struct e1000 *s = opaque;
    return link_up(s) && (R(s, RCTL) & RCTL_EN) && (s->pci.config[4] & 4) && rx_free_descs(s) > 0;
}

static bool rx_filter(struct e1000 *s, const uint8_t *buf)
{
    uint32_t rctl = R(s, RCTL);
    bool mcast = buf[0] & 1;
    bool bcast = !memcmp(buf, "\xff\xff\xff\xff\xff\xff", 6);
    if (!mcast && (rctl & RCTL_UPE))
        return true;
    if (mcast && (rctl & RCTL_MPE))
        return true;
    if (bcast && (rctl & RCTL_BAM))
        return true;
    if (!mcast) {
        uint32_t lo = ld32(buf), hi = ld16(buf + 4);
        for (int i = 0; i < 16; i++) {
            uint32_t rah = R(s, RA + 8 * i + 4);
            if ((rah & RAH_AV) && R(s, RA + 8 * i) == lo && (rah & 0xffff) == hi)
                return true;
        }
        return false;
    }
    /* multicast hash: 12 bits of the address, where MO (RCTL 13:12) says */
    static const int shift[4] = { 4, 3, 2, 0 };
    unsigned mo = (rctl >> 12) & 3;
    uint32_t hash = ((uint32_t)buf[4] >> shift[mo] | (uint32_t)buf[5] << (8 - shift[mo])) & 0xfff;
    return (R(s, MTA + 4 * (hash >> 5)) >> (hash & 31)) & 1;
}

static void stat_add64(struct e1000 *s, uint32_t lo_reg, uint64_t v)
{
    uint64_t cur = (uint64_t)R(s, lo_reg + 4) << 32 | R(s, lo_reg);
    cur += v;
    R(s, lo_reg) = (uint32_t)cur;
    R(s, lo_reg + 4) = (uint32_t)(cur >> 32);
}

static void stat_inc(struct e1000 *s, uint32_t reg)
{
    if (R(s, reg) != 0xffffffffu)
        R(s, reg)++;
}

/* Receive checksum offload (RXCSUM): check the IPv4 header and TCP/UDP checksums of an
 * untagged frame of size bytes (no FCS) and report them in the descriptor's status and errors,
 * so the guest skips checksumming every byte itself.  Anything else stays "not checked"
 * (IXSM). */
static void rx_checksum(const struct e1000 *s, const uint8_t *frame, size_t size, uint8_t *status,
                        uint8_t *errors)
{
    uint32_t rxcsum = R(s, RXCSUM);
    if (!(rxcsum & (RXCSUM_IPOFL | RXCSUM_TUOFL)) || size < 34 || be16(frame + 12) != 0x0800)
        goto not_checked;
    const uint8_t *ip = frame + 14;
    unsigned ihl = (ip[0] & 0x0f) * 4u, total = be16(ip + 2);
    if ((ip[0] >> 4) != 4 || ihl < 20 || total < ihl || 14 + (size_t)total > size)
        goto not_checked;
    if (rxcsum & RXCSUM_IPOFL) {
        *status |= RXD_IPCS;
        if (net_csum_finish(net_csum_add(0, ip, ihl)))
            *errors |= RXE_IPE;
    }
    uint8_t proto = ip[9];
    const uint8_t *l4 = ip + ihl;
    unsigned l4len = total - ihl;
    bool fragment = (be16(ip + 6) & 0x3fff) != 0;
    if ((rxcsum & RXCSUM_TUOFL) && !fragment &&
        ((proto == 6 && l4len >= 20) || (proto == 17 && l4len >= 8 && be16(l4 + 6) != 0))) {
        uint32_t sum = net_csum_add(0, ip + 12, 8) + proto + l4len;   /* pseudo header */
        *status |= RXD_TCPCS;
        if (net_csum_finish(net_csum_add(sum, l4, l4len)))
            *errors |= RXE_TCPE;
    }
    if (*status & (RXD_IPCS | RXD_TCPCS))
        return;
not_checked:
    *status |= RXD_IXSM;
}

static bool e1000_receive(void *opaque, const uint8_t *buf, size_t len)
{
    struct e1000 *s = opaque;
    uint8_t frame[RX_MAX_FRAME + 8];
    uint32_t rctl = R(s, RCTL);
    if (!link_up(s) || !(rctl & RCTL_EN))
        return true;                       /* dropped, as on the wire */
    if (len < 14)
        return true;
    size_t max = (rctl & RCTL_LPE) ? RX_MAX_FRAME : ETH_MAX_VLAN_FRAME;
    if (len > max) {
        stat_inc(s, ROC);
        return true;
    }
    if (!rx_filter(s, buf))
        return true;
    uint16_t special = 0;
    uint8_t status = RXD_DD;
    size_t size = len;
    if ((R(s, CTRL) & CTRL_VME) && be16(buf + 12) == (R(s, VET) & 0xffff)) {
        /* strip the 802.1Q tag into the descriptor */
        special = be16(buf + 14);
        memcpy(frame, buf, 12);
        memcpy(frame + 12, buf + 16, len - 16);
        size = len - 4;
        status |= RXD_VP;
    } else {
        memcpy(frame, buf, len);
    }
    if (size < ETH_MIN_FRAME) {
        memset(frame + size, 0, ETH_MIN_FRAME - size);
        size = ETH_MIN_FRAME;
    }
    uint8_t errors = 0;
    rx_checksum(s, frame, size, &status, &errors);
    if (!(rctl & RCTL_SECRC)) {            /* the frame check sequence, as the wire had it */
        uint32_t crc = (uint32_t)crc32(0L, frame, (uInt)size);
        frame[size] = (uint8_t)crc;
        frame[size + 1] = (uint8_t)(crc >> 8);
        frame[size + 2] = (uint8_t)(crc >> 16);
        frame[size + 3] = (uint8_t)(crc >> 24);
        size += 4;
    }
    unsigned bufsize = rx_bufsize(rctl);
    int64_t free_descs = rx_free_descs(s);
    if (free_descs < 0) {
        GUEST_ERR(s, "receive ring head %u / tail %u outside its %u descriptors\n",
                  R(s, RDH), R(s, RDT), R(s, RDLEN) / 16);
        return true;
    }
    if ((uint64_t)free_descs * bufsize < size) {
        if (free_descs > 0 && (uint64_t)(R(s, RDLEN) / 16 - 1) * bufsize < size) {
            /* the whole ring could never hold it */
            stat_inc(s, MPC);
            set_ics(s, ICR_RXO);
            return true;
        }
        stat_inc(s, RNBC);
        return false;                      /* wait for buffers: the back end keeps it */
    }
    uint32_t n = R(s, RDLEN) / 16;
    uint64_t base = ((uint64_t)R(s, RDBAH) << 32) | (R(s, RDBAL) & ~0xfu);
    size_t done = 0;
    while (done < size) {
        uint32_t h = R(s, RDH);
        uint64_t daddr;
        uint8_t desc[16];
        if (!fetch_desc(s, base, h, "receive", desc, &daddr))
            return true;
        uint64_t baddr = (uint64_t)ld32(desc + 4) << 32 | ld32(desc);
        size_t chunk = size - done < bufsize ? size - done : bufsize;
        if (baddr) {
            if (dma_in_ram(s->mem, baddr, chunk))
                phys_write_block(s->mem, (uint32_t)baddr, frame + done, chunk);
            else
                GUEST_ERR(s, "receive buffer 0x%llx+%zu is outside RAM\n", (unsigned long long)baddr, chunk);
        }
        done += chunk;
        st16(desc + 8, (uint16_t)chunk);
        st16(desc + 10, 0);                /* packet checksum: not computed */
        desc[12] = status | (done == size ? RXD_EOP : 0);
        desc[13] = done == size ? errors : 0;
        st16(desc + 14, special);
        phys_write_block(s->mem, (uint32_t)daddr + 8, desc + 8, 8);
        R(s, RDH) = (h + 1) % n;
    }
    stat_inc(s, GPRC);
    stat_inc(s, TPR);
    stat_add64(s, GORCL, size);
    stat_add64(s, TORL, size);
    if (buf[0] & 1)
        stat_inc(s, !memcmp(buf, "\xff\xff\xff\xff\xff\xff", 6) ? BPRC : MPRC);
    /* RXDMT0 when the free descriptors drop to the RDMTS fraction of the ring */
    uint32_t left = (uint32_t)rx_free_descs(s);
    unsigned rdmts = (rctl >> 8) & 3;
    uint32_t cause = 0;
    if (rdmts < 3 && left <= n >> (rdmts + 1))
        cause |= ICR_RXDMT0;
    if (cause)
        R(s, ICR) |= cause;
    delayed_cause(s, RDTR, RADV, &s->rdtr_timer, &s->radv_timer, ICR_RXT0);
    update_irq(s);
    return true;
}

/* ---- transmit ---- */

/* Store the checksum of bytes css..cse (0 = to the end) at cso. */
static void put_csum(struct e1000 *s, uint8_t *data, uint32_t size, uint32_t css, uint32_t cso, uint32_t cse,
                     uint32_t extra)
{
    if (!cse || cse >= size)
        cse = size - 1;
    if (css > cse || cso + 2 > size) {
        GUEST_ERR(s, "checksum offsets start %u, insert %u, end %u outside a %u-byte frame\n",
                  css, cso, cse, size);
        return;
    }
    uint32_t sum = net_csum_add(extra, data + css, cse - css + 1);
    stbe16(data + cso, net_csum_finish(sum));
}

static void send_frame(struct e1000 *s, uint8_t *data, uint32_t size)
{
    struct e1000_tx *tp = &s->tx;
    if (tp->vlan_needed && (R(s, CTRL) & CTRL_VME) && size >= 12 && size + 4 <= E1000_TX_MAX) {
        memmove(data + 16, data + 12, size - 12);
        stbe16(data + 12, (uint16_t)R(s, VET));
        stbe16(data + 14, tp->vlan_tag);
        size += 4;
    }
    if (size < 14) {
        GUEST_ERR(s, "transmit of a %u-byte frame dropped\n", size);
        return;
    }
    if (link_up(s))
        net_port_send(&s->port, data, size);
    stat_inc(s, GPTC);
    stat_inc(s, TPT);
    stat_add64(s, GOTCL, size);
    stat_add64(s, TOTL, size);
    if (data[0] & 1)
        stat_inc(s, !memcmp(data, "\xff\xff\xff\xff\xff\xff", 6) ? BPTC : MPTC);
    if (tp->vlan_needed && (R(s, CTRL) & CTRL_VME) && size >= 16) {
        memmove(data + 12, data + 16, size - 16);    /* keep the buffer as gathered */
    }
}

/* One packet, or one TSO segment (last: the end of the TSO payload). */
static void xmit_seg(struct e1000 *s, bool last)
{
    struct e1000_tx *tp = &s->tx;
    uint8_t *d = tp->data;
    uint32_t size = tp->size;
    if (tp->cptse) {
        uint32_t css = tp->ipcss, tucss = tp->tucss;
        if (css + 20 > size || tucss + 20 > size) {
            GUEST_ERR(s, "TSO headers (IP at %u, L4 at %u) beyond a %u-byte segment\n", css, tucss, size);
            return;
        }
        if (tp->tucmd & TUCMD_IP) {
            stbe16(d + css + 2, (uint16_t)(size - css));
            stbe16(d + css + 4, (uint16_t)(be16(d + css + 4) + tp->tso_frames));
        } else {
            stbe16(d + css + 4, (uint16_t)(size - css - 40));   /* IPv6 payload length */
        }
        uint32_t l4len = size - tucss;
        if (tp->tucmd & TUCMD_TCP) {
            stbe32(d + tucss + 4, be32(d + tucss + 4) + tp->tso_frames * tp->mss);
            if (!last)
                d[tucss + 13] &= (uint8_t)~0x09;    /* FIN and PSH only on the last segment */
        } else {
            stbe16(d + tucss + 4, (uint16_t)l4len);
        }
        if (tp->sum_needed & POPTS_TXSM) {
            /* the driver seeded the pseudo-header sum without the length: add this segment's */
            uint32_t seeded = be16(d + tp->tucso);
            stbe16(d + tp->tucso, 0);
            put_csum(s, d, size, tucss, tp->tucso, tp->tucse, seeded + l4len);
        }
        if (tp->sum_needed & POPTS_IXSM) {
            stbe16(d + tp->ipcso, 0);
            put_csum(s, d, size, tp->ipcss, tp->ipcso, tp->ipcse, 0);
        }
        tp->tso_frames++;
    } else {
        if (tp->sum_needed & POPTS_TXSM)
            put_csum(s, d, size, tp->tucss, tp->tucso, tp->tucse, 0);
        if (tp->sum_needed & POPTS_IXSM)
            put_csum(s, d, size, tp->ipcss, tp->ipcso, tp->ipcse, 0);
        if (tp->legacy_ic)
            put_csum(s, d, size, tp->legacy_css, tp->legacy_cso, 0, 0);
    }
    send_frame(s, d, size);
}

static void tx_reset_packet(struct e1000_tx *tp)
{
    tp->size = 0;
    tp->header_saved = false;
    tp->tso_frames = 0;
    tp->sum_needed = 0;
    tp->cptse = false;
    tp->legacy_ic = false;
    tp->vlan_needed = false;
}

/* Append len bytes of a data buffer, cutting TSO segments as they fill. */
static void tx_gather(struct e1000 *s, uint64_t addr, uint32_t len)
{
    struct e1000_tx *tp = &s->tx;
    if (len && !dma_in_ram(s->mem, addr, len)) {
        GUEST_ERR(s, "transmit buffer 0x%llx+%u is outside RAM\n", (unsigned long long)addr, len);
        return;
    }
    if (tp->cptse && tp->hdr_len && tp->mss) {
        uint32_t seg_max = (uint32_t)tp->hdr_len + tp->mss;
        if (tp->size > seg_max) {
            /* a context descriptor shrank the segment in the middle of a packet */
            GUEST_ERR(s, "TSO segment of %u bytes already beyond header %u + MSS %u: data dropped\n",
                      tp->size, tp->hdr_len, tp->mss);
            return;
        }
        while (len) {
            uint32_t room = (tp->size < tp->hdr_len ? tp->hdr_len : seg_max) - tp->size;
            uint32_t n = len < room ? len : room;
            phys_read_block(s->mem, (uint32_t)addr, tp->data + tp->size, n);
            tp->size += n;
            addr += n;
            len -= n;
            if (tp->size == tp->hdr_len && !tp->header_saved) {
                memcpy(tp->header, tp->data, tp->hdr_len);
                tp->header_saved = true;
            }
            if (tp->size == seg_max) {
                xmit_seg(s, false);
                memcpy(tp->data, tp->header, tp->hdr_len);
                tp->size = tp->hdr_len;
            }
        }
        return;
    }
    if (tp->cptse)
        GUEST_ERR(s, "TSO with header length %u and MSS %u: sent unsegmented\n", tp->hdr_len, tp->mss);
    uint32_t room = tp->size < E1000_TX_MAX - 4 ? E1000_TX_MAX - 4 - tp->size : 0;
    if (len > room) {
        GUEST_ERR(s, "transmit frame longer than %u bytes: truncated\n", E1000_TX_MAX - 4);
        len = room;
    }
    phys_read_block(s->mem, (uint32_t)addr, tp->data + tp->size, len);
    tp->size += len;
}

/* Handle one descriptor; returns true when it asked for a status report (RS). */
static bool process_tx_desc(struct e1000 *s, uint8_t *desc, bool *ide)
{
    struct e1000_tx *tp = &s->tx;
    uint32_t lower = ld32(desc + 8), upper = ld32(desc + 12);
    uint8_t cmd = (uint8_t)(lower >> 24);
    unsigned dtyp = (lower >> 20) & 0xf;
    bool dext = cmd & TXD_DEXT;
    uint64_t addr = (uint64_t)ld32(desc + 4) << 32 | ld32(desc);
    uint32_t len;
    if (dext && dtyp == 0) {
        /* context descriptor: offsets for checksums and TSO */
        tp->ipcss = desc[0];
        tp->ipcso = desc[1];
        tp->ipcse = ld16(desc + 2);
        tp->tucss = desc[4];
        tp->tucso = desc[5];
        tp->tucse = ld16(desc + 6);
        tp->paylen = lower & 0xfffff;
        tp->tucmd = cmd;
        tp->tse = cmd & TXD_TSE;
        tp->hdr_len = (uint8_t)(upper >> 8);
        tp->mss = (uint16_t)(upper >> 16);
        tp->tso_frames = 0;
        if (tp->tse && (tp->hdr_len < 34 || !tp->mss))
            GUEST_ERR(s, "TSO context with header length %u, MSS %u\n", tp->hdr_len, tp->mss);
        *ide = cmd & TXD_IDE;
        return cmd & (TXD_RS | TXD_RPS);
    }
    if (dext && dtyp == 1) {
        if (tp->size == 0)
            tp->sum_needed = (uint8_t)(upper >> 8);
        tp->cptse = cmd & TXD_TSE;
        len = lower & 0xfffff;
    } else if (!dext) {
        len = lower & 0xffff;
        tp->cptse = false;
        if (cmd & TXD_IC) {
            tp->legacy_ic = true;
            tp->legacy_cso = (uint8_t)(lower >> 16);
            tp->legacy_css = (uint8_t)(upper >> 8);
        }
    } else {
        GUEST_ERR(s, "transmit descriptor type %u is reserved\n", dtyp);
        *ide = false;
        return cmd & (TXD_RS | TXD_RPS);
    }
    if ((cmd & TXD_VLE) && tp->size == 0) {
        tp->vlan_needed = true;
        tp->vlan_tag = (uint16_t)(upper >> 16);
    }
    tx_gather(s, addr, len);
    if (cmd & TXD_EOP) {
        if (!tp->cptse || tp->size > tp->hdr_len)
            xmit_seg(s, true);
        else if (tp->size)
            GUEST_ERR(s, "TSO packet ended with headers only\n");
        tx_reset_packet(tp);
    }
    *ide = cmd & TXD_IDE;
    return cmd & (TXD_RS | TXD_RPS);
}

static void start_xmit(struct e1000 *s)
{
    if (!(R(s, TCTL) & TCTL_EN) || s->in_xmit)
        return;
    uint32_t n = R(s, TDLEN) / 16;
    if (!n)
        return;
    if (R(s, TDH) >= n || R(s, TDT) >= n) {
        GUEST_ERR(s, "transmit ring head %u / tail %u outside its %u descriptors\n",
                  R(s, TDH), R(s, TDT), n);
        return;
    }
    s->in_xmit = true;
    uint64_t base = ((uint64_t)R(s, TDBAH) << 32) | (R(s, TDBAL) & ~0xfu);
    uint32_t cause = 0;
    bool delayed = false;
    /* at most one lap: the head moves towards the tail, one descriptor each time */
    for (uint32_t guard = 0; R(s, TDH) != R(s, TDT) && guard < n; guard++) {
        uint32_t h = R(s, TDH);
        uint64_t daddr;
        uint8_t desc[16];
        if (!fetch_desc(s, base, h, "transmit", desc, &daddr))
            break;
        bool ide = false;
        if (process_tx_desc(s, desc, &ide)) {
            desc[12] = (uint8_t)((desc[12] | TXD_STAT_DD) & ~0x0e);
            phys_write_block(s->mem, (uint32_t)daddr + 12, desc + 12, 1);
            if (ide && (R(s, TIDV) & 0xffff))
                delayed = true;
            else
                cause |= ICR_TXDW;
        }
        R(s, TDH) = (h + 1) % n;
    }
    s->in_xmit = false;
    if (R(s, TDH) == R(s, TDT))
        cause |= ICR_TXQE;
    if (delayed)
        delayed_cause(s, TIDV, TADV, &s->tidv_timer, &s->tadv_timer, ICR_TXDW);
    if (cause)
        set_ics(s, cause);
}

/* ---- registers ---- */

static uint32_t reg_read(struct e1000 *s, uint32_t off)
{
    uint32_t v;
    switch (off) {
    case STATUS:
        return (R(s, STATUS) & STATUS_LU) | STATUS_BASE;
    case EECD:
        return eecd_read(s);
    case ICR:
        v = R(s, ICR);
        if (v & R(s, IMS))
            v |= ICR_INT_ASSERTED;
        R(s, ICR) = 0;
        update_irq(s);
        return v;
    case IMC: case ICS:
        return 0;
    case CTRL:
        return R(s, CTRL) & ~CTRL_RST;
    default:
        break;
    }
    if (off >= E1000_REG_WORDS * 4) {
        log_printf(s->log, LOG_UNIMP, "e1000: read of register 0x%05x\n", off);
        return 0;
    }
    v = R(s, off);
    if (off >= STATS_FIRST && off <= STATS_LAST)
        R(s, off) = 0;                 /* statistics clear on read */
    return v;
}

static void reg_write(struct e1000 *s, uint32_t off, uint32_t val)
{
    switch (off) {
    case CTRL:
        if (val & CTRL_RST) {
            e1000_reset(s);
            return;
        }
        R(s, CTRL) = val & ~CTRL_PHY_RST;
        return;
    case STATUS:
        return;
    case EECD:
        eecd_write(s, val);
        return;
    case EERD: {
        if (!(val & EERD_START))
            return;
        unsigned a = (val >> 8) & 0xff;
        uint16_t data = a < E1000_EEPROM_WORDS ? s->eeprom[a] : 0;
        R(s, EERD) = (uint32_t)data << 16 | a << 8 | EERD_DONE;
        return;
    }
    case MDIC:
        mdic_write(s, val);
        return;
    case ICR:
        R(s, ICR) &= ~val;
        update_irq(s);
        return;
    case ICS:
        set_ics(s, val);
        return;
    case IMS:
        R(s, IMS) |= val;
        update_irq(s);
        return;
    case IMC:
        R(s, IMS) &= ~val;
        update_irq(s);
        return;
    case ITR:
        R(s, ITR) = val & 0xffff;
        return;
    case RCTL:
        R(s, RCTL) = val;
        if (val & RCTL_EN)
            net_port_flush(&s->port);
        return;
    case RDT:
        R(s, RDT) = val & 0xffff;
        net_port_flush(&s->port);
        return;
    case RDH:
        R(s, RDH) = val & 0xffff;
        return;
    case RDTR:
        R(s, RDTR) = val & 0xffff;
        if (val & 0x80000000u)              /* flush partial descriptor block */
            rx_delay_fire(s);
        return;
    case RDLEN: case TDLEN:
        R(s, off) = val & 0xfff80;
        return;
    case RDBAL: case TDBAL:
        R(s, off) = val & ~0xfu;
        return;
    case TDH:
        R(s, TDH) = val & 0xffff;
        return;
    case TDT:
        R(s, TDT) = val & 0xffff;
        start_xmit(s);
        return;
    case TCTL:
        R(s, TCTL) = val;
        start_xmit(s);
        return;
    default:
        break;
    }
    if (off >= E1000_REG_WORDS * 4) {
        log_printf(s->log, LOG_UNIMP, "e1000: write 0x%08x to register 0x%05x ignored\n", val, off);
        return;
    }
    if (off >= STATS_FIRST && off <= STATS_LAST)
        return;
    R(s, off) = val;
}

uint32_t e1000_mmio_read(void *opaque, uint32_t offset, unsigned size)
{
    struct e1000 *s = opaque;
    offset &= E1000_MMIO_SIZE - 1;
    uint32_t v = reg_read(s, offset & ~3u);
    v >>= 8 * (offset & 3);
    return size >= 4 ? v : v & ((1u << (8 * size)) - 1);
}

void e1000_mmio_write(void *opaque, uint32_t offset, uint32_t value, unsigned size)
{
    struct e1000 *s = opaque;
    offset &= E1000_MMIO_SIZE - 1;
    if (size < 4) {
        /* narrow writes merge into the register (reads of clear-on-read ones are not done) */
        uint32_t shift = 8 * (offset & 3), mask = ((1u << (8 * size)) - 1) << shift;
        uint32_t off = offset & ~3u;
        uint32_t cur = off < E1000_REG_WORDS * 4 ? R(s, off) : 0;
        value = (cur & ~mask) | ((value << shift) & mask);
        offset = off;
    }
    reg_write(s, offset & ~3u, value);
}

/* I/O BAR: IOADDR (0) selects a register, IODATA (4) reads or writes it. */
static uint32_t e1000_io_read(void *opaque, uint16_t port, unsigned size)
{
    struct e1000 *s = opaque;
    (void)size;
    unsigned off = (port - s->pci.bars[1].mapped_addr) & (E1000_IO_SIZE - 1);
    if (off == 0)
        return s->ioaddr;
    if (off == 4)
        return e1000_mmio_read(s, s->ioaddr & (E1000_MMIO_SIZE - 4), 4);
    return 0;
}

static void e1000_io_write(void *opaque, uint16_t port, uint32_t value, unsigned size)
{
    struct e1000 *s = opaque;
    (void)size;
    unsigned off = (port - s->pci.bars[1].mapped_addr) & (E1000_IO_SIZE - 1);
    if (off == 0)
        s->ioaddr = value;
    else if (off == 4)
        e1000_mmio_write(s, s->ioaddr & (E1000_MMIO_SIZE - 4), value, 4);
}

static void stop_timers(struct e1000 *s)
{
    struct vtimer *all[] = { &s->mit_timer, &s->autoneg_timer, &s->rdtr_timer,
                             &s->radv_timer, &s->tidv_timer, &s->tadv_timer };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        vtimer_del(all[i]);
}

void e1000_reset(struct e1000 *s)
{
    stop_timers(s);
    memset(s->regs, 0, sizeof(s->regs));
    memset(&s->tx, 0, sizeof(s->tx));
    s->eecd_old = 0;
    s->ee_bits_in = 0;
    s->ee_val_in = 0;
    s->ee_reading = false;
    s->ioaddr = 0;
    s->next_irq_ns = 0;
    phy_reset(s);
    R(s, CTRL) = 0x00000240 | 0x1;        /* SLU, 1000 Mb/s, full duplex */
    R(s, STATUS) = link_up(s) ? STATUS_LU : 0;
    R(s, LEDCTL) = 0x07068302;
    R(s, PBA) = 0x00100030;
    R(s, VET) = 0x8100;
    R(s, TIPG) = 0x0060200a;
    R(s, RA) = ld32(s->mac);
    R(s, RA + 4) = ld16(s->mac + 4) | RAH_AV;
    if (s->irq_level) {
        s->irq_level = 0;
        pci_set_irq(&s->pci, 0);
    }
}

/* ---- saved state ---- */

static const struct vmstate_field e1000_tx_fields[] = {
    VMF_ARRAY(struct e1000_tx, data), VMF_MAX(struct e1000_tx, size, E1000_TX_MAX - 4),
    VMF_ARRAY(struct e1000_tx, header), VMF(struct e1000_tx, header_saved),
    VMF(struct e1000_tx, ipcss), VMF(struct e1000_tx, ipcso), VMF(struct e1000_tx, tucss),
    VMF(struct e1000_tx, tucso), VMF(struct e1000_tx, hdr_len), VMF(struct e1000_tx, tucmd),
    VMF(struct e1000_tx, ipcse), VMF(struct e1000_tx, tucse), VMF(struct e1000_tx, mss),
    VMF(struct e1000_tx, paylen), VMF(struct e1000_tx, tse), VMF(struct e1000_tx, sum_needed),
    VMF(struct e1000_tx, cptse), VMF(struct e1000_tx, vlan_needed), VMF(struct e1000_tx, vlan_tag),
    VMF(struct e1000_tx, tso_frames), VMF(struct e1000_tx, legacy_cso), VMF(struct e1000_tx, legacy_css),
    VMF(struct e1000_tx, legacy_ic),
    VMF_END_OF_LIST,
};
static const struct vmstate_desc e1000_tx_vmstate = { .name = "e1000-tx", .version = 1,
                                                      .fields = e1000_tx_fields };

/* Registers whose loaded value a register write could not have produced are cut back to what
 * the write path keeps, so the ring walkers see the same invariants as after guest writes. */
static int e1000_post_load(void *opaque, char *err, size_t errlen)
{
    struct e1000 *s = opaque;
    if (s->ee_bits_in < 0 || s->ee_bit_out < -1) {
        snprintf(err, errlen, "e1000: EEPROM shift state is corrupt");
        return -1;
    }
    if (s->tx.cptse && s->tx.hdr_len && s->tx.mss && s->tx.size > (uint32_t)s->tx.hdr_len + s->tx.mss) {
        snprintf(err, errlen, "e1000: transmit segment longer than its header and MSS");
        return -1;
    }
    R(s, RDLEN) &= 0xfff80;
    R(s, TDLEN) &= 0xfff80;
    R(s, RDH) &= 0xffff;
    R(s, RDT) &= 0xffff;
    R(s, TDH) &= 0xffff;
    R(s, TDT) &= 0xffff;
    s->in_xmit = false;
    /* the link the guest saw: down while autonegotiation runs, else what STATUS says */
    if (!vtimer_pending(&s->autoneg_timer))
        s->port.link_down = !(R(s, STATUS) & STATUS_LU);
    pci_device_post_load(&s->pci);
    return 0;
}

static const struct vmstate_field e1000_fields[] = {
    VMF_STRUCT(struct e1000, pci, pci_device_vmstate),
    VMF_ARRAY(struct e1000, regs), VMF_ARRAY(struct e1000, phy), VMF_ARRAY(struct e1000, eeprom),
    VMF(struct e1000, ioaddr),
    VMF(struct e1000, eecd_old), VMF_MAX(struct e1000, ee_bits_in, 9), VMF(struct e1000, ee_val_in),
    VMF_MAX(struct e1000, ee_bit_out, E1000_EEPROM_WORDS * 16 - 1), VMF(struct e1000, ee_reading),
    VMF_MAX(struct e1000, irq_level, 1), VMF(struct e1000, next_irq_ns),
    VMF_TIMER(struct e1000, mit_timer), VMF_TIMER(struct e1000, autoneg_timer),
    VMF_TIMER(struct e1000, rdtr_timer), VMF_TIMER(struct e1000, radv_timer),
    VMF_TIMER(struct e1000, tidv_timer), VMF_TIMER(struct e1000, tadv_timer),
    VMF_STRUCT(struct e1000, tx, e1000_tx_vmstate),
    VMF_END_OF_LIST,
};
const struct vmstate_desc e1000_vmstate = { .name = "e1000", .version = 1, .fields = e1000_fields,
                                            .post_load = e1000_post_load };

static const struct net_port_ops e1000_port_ops = {
    .can_receive = e1000_can_receive,
    .receive = e1000_receive,
    .link_changed = link_changed,
};

int e1000_init(struct e1000 *s, struct pci_bus *bus, uint8_t devfn, struct phys_mem *mem,
               struct vclock *clock, struct pcvm_log *log, const uint8_t mac[6], const char *id)
{
    memset(s, 0, sizeof(*s));
    s->mem = mem;
    s->clock = clock;
    s->log = log;
    memcpy(s->mac, mac, 6);
    net_port_init(&s->port, id, "e1000", &e1000_port_ops, s);
    snprintf(s->port.info, sizeof(s->port.info), "model=e1000,macaddr=%02x:%02x:%02x:%02x:%02x:%02x",
             mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    vtimer_init(&s->mit_timer, clock, mit_fire, s);
    vtimer_init(&s->autoneg_timer, clock, autoneg_done, s);
    vtimer_init(&s->rdtr_timer, clock, rx_delay_fire, s);
    vtimer_init(&s->radv_timer, clock, rx_delay_fire, s);
    vtimer_init(&s->tidv_timer, clock, tx_delay_fire, s);
    vtimer_init(&s->tadv_timer, clock, tx_delay_fire, s);
    eeprom_build(s);
    s->pci.opaque = s;
    if (pci_register_device(bus, &s->pci, devfn, "e1000", 0x8086, 0x100e, 0x03, 0x020000, 0x00, 1) < 0)
        return -1;
    pci_set_word(s->pci.config + 0x2c, 0x1af4);   /* subsystem: QEMU's */
    pci_set_word(s->pci.config + 0x2e, 0x1100);
    struct pci_bar mmio = { .size = E1000_MMIO_SIZE, .opaque = s, .mmio_read = e1000_mmio_read,
                            .mmio_write = e1000_mmio_write };
    pci_register_bar(&s->pci, 0, &mmio);
    struct pci_bar io = { .size = E1000_IO_SIZE, .is_io = true, .opaque = s, .io_read = e1000_io_read,
                          .io_write = e1000_io_write, .io_sizes = IO_SIZE_4 };
    pci_register_bar(&s->pci, 1, &io);
    e1000_reset(s);
    return 0;
}

void e1000_destroy(struct e1000 *s)
{
    stop_timers(s);
    net_port_cleanup(&s->port);
}
