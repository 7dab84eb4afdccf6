/* Realtek RTL8139C+ Fast Ethernet (PCI 10EC:8139, revision 0x20) as QEMU presents it: the
 * classic transmit path (four TSD/TSAD descriptors) and receive ring buffer, the C+ mode
 * descriptor rings (transmit normal/high priority, receive) with checksum offload, large send
 * (TSO) and VLAN tags, the 93C46 EEPROM behind 9346CR holding the MAC, the internal PHY's MII
 * registers (BMCR/BMSR/ANAR...), interrupts (ISR/IMR), the timer (TCTR/TimerInt), multicast
 * filtering (MAR) and the tally counter dump.  Registers are in I/O BAR 0 and memory BAR 1.
 * All state is in struct rtl8139; the network side is its net_port.  With cplus=off (pcvm's
 * own property) it is a plain RTL8139C: revision 0x10 and no C+ registers. */
#ifndef PCVM_HW_RTL8139_H
#define PCVM_HW_RTL8139_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/devmodel.h"
#include "hw/pci.h"
#include "net/net.h"
#include "util/log.h"
#include "util/vclock.h"

#define RTL8139_REGS_SIZE 0x100
#define RTL8139_EEPROM_WORDS 64
#define RTL8139_TX_MAX 0x10000           /* the largest C+ packet gathered from descriptors */

/* The 93C46 serial EEPROM (64 words of 16 bits, Microwire). */
struct rtl8139_eeprom {
    uint16_t data[RTL8139_EEPROM_WORDS];
    uint8_t state;        /* idle, command, reading, writing data */
    uint8_t bits;         /* bits shifted in for the current command or data word */
    uint16_t input;       /* the bits shifted in */
    uint8_t addr;
    uint16_t output;      /* the word being shifted out, most significant bit first */
    uint8_t out_bits;     /* bits of output left */
    bool dout;            /* the DO pin */
    bool write_enabled;   /* EWEN given */
    bool sk, cs;          /* last clock and chip select levels */
};

/* Tally counters (the 64-byte block C+ mode dumps through DTCCR). */
struct rtl8139_tally {
    uint64_t tx_ok, rx_ok, tx_err;
    uint32_t rx_err;
    uint16_t missed, frame_align;
    uint32_t tx_one_col, tx_multi_col;
    uint64_t rx_ok_phys, rx_ok_bcast;
    uint32_t rx_ok_mcast;
    uint16_t tx_abort, tx_underrun;
};

struct rtl8139 {
    struct pci_device pci;
    struct phys_mem *mem;
    struct vclock *clock;
    struct pcvm_log *log;
    struct net_port port;
    uint8_t mac[6];
    bool cplus;                        /* an RTL8139C+ (rev 0x20, QEMU's); false: an RTL8139C */

    uint8_t regs[RTL8139_REGS_SIZE];   /* the register file, little endian */
    struct rtl8139_eeprom eeprom;
    struct rtl8139_tally tally;
    uint8_t tx_cur;                    /* classic: next TSD to transmit (0-3) */
    uint32_t rx_rdptr;                 /* classic: read offset in the ring (CAPR + 16) */
    uint32_t cp_tx_idx, cp_txhp_idx;   /* C+: next normal / high priority TX descriptor */
    uint32_t cp_rx_idx;                /* C+: next RX descriptor */
    int64_t tctr_base;                 /* virtual ns when TCTR was 0 */
    struct vtimer timer;               /* TCTR reaching TimerInt */
    int irq_level;

    /* scratch (not state): a packet being sent, a large-send segment, a frame being received */
    uint8_t *txbuf, *segbuf, *rxbuf;
    bool in_xmit;                      /* loopback does not re-enter transmit */
};

/* Register the card at devfn with this MAC (EEPROM words 7-9); the back end is linked to
 * s->port afterwards.  cplus false makes it an RTL8139C (revision 0x10, no C+ registers), the
 * chip Linux's 8139too and iPXE drive through the classic path.  0 or -1. */
int rtl8139_init(struct rtl8139 *s, struct pci_bus *bus, uint8_t devfn, struct phys_mem *mem,
                 struct vclock *clock, struct pcvm_log *log, const uint8_t mac[6], const char *id,
                 bool cplus);
/* Power-on / PCI reset state (the MAC reloaded from the EEPROM). */
void rtl8139_reset(struct rtl8139 *s);
/* Stop the timer, free the scratch buffer and drop queued frames. */
void rtl8139_destroy(struct rtl8139 *s);
/* Register access at an offset in the 256-byte register space, any size 1, 2 or 4 (both BARs
 * and the fuzz target use these). */
uint32_t rtl8139_reg_read(struct rtl8139 *s, uint32_t offset, unsigned size);
void rtl8139_reg_write(struct rtl8139 *s, uint32_t offset, uint32_t value, unsigned size);
/* The card's saved state. */
extern const struct vmstate_desc rtl8139_vmstate;

#endif
