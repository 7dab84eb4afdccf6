/* Intel 82540EM gigabit Ethernet (PCI 8086:100E) as QEMU presents it: Microwire EEPROM (EECD)
 * and EERD, the M88E1011 PHY behind MDIC, interrupt causes/masks with ITR, RDTR/RADV and
 * TIDV/TADV moderation, legacy receive/transmit descriptors and context/data descriptors with
 * checksum offload and TSO, RA/MTA filtering, promiscuous modes and link up/down.
 * All state is in struct e1000; the network side is its net_port. */
#ifndef PCVM_HW_E1000_H
#define PCVM_HW_E1000_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/devmodel.h"
#include "hw/pci.h"
#include "net/net.h"
#include "util/log.h"
#include "util/vclock.h"

#define E1000_MMIO_SIZE 0x20000
#define E1000_IO_SIZE   0x40
#define E1000_REG_WORDS (0x6000 / 4)    /* registers kept: 0x0000-0x5FFF */
#define E1000_EEPROM_WORDS 64
#define E1000_TX_MAX (0x10000 + 256)    /* a TSO header plus the largest segment */

struct e1000_tx {
    uint8_t data[E1000_TX_MAX];
    uint32_t size;                 /* bytes gathered for the current packet/segment */
    uint8_t header[256];           /* TSO: the headers as the driver gave them */
    bool header_saved;
    /* last context descriptor */
    uint8_t ipcss, ipcso, tucss, tucso, hdr_len, tucmd;
    uint16_t ipcse, tucse, mss;
    uint32_t paylen;
    bool tse;
    /* current packet */
    uint8_t sum_needed;            /* POPTS of its first data descriptor */
    bool cptse;                    /* its data descriptors ask for TSO */
    bool vlan_needed;
    uint16_t vlan_tag;
    uint32_t tso_frames;           /* segments sent so far */
    /* legacy descriptor checksum */
    uint8_t legacy_cso, legacy_css;
    bool legacy_ic;
};

struct e1000 {
    struct pci_device pci;
    struct phys_mem *mem;
    struct vclock *clock;
    struct pcvm_log *log;
    struct net_port port;
    uint8_t mac[6];

    uint32_t regs[E1000_REG_WORDS];
    uint16_t phy[32];
    uint16_t eeprom[E1000_EEPROM_WORDS];
    uint32_t ioaddr;               /* I/O BAR: IOADDR window */

    /* Microwire EEPROM shift state */
    uint32_t eecd_old;
    int ee_bits_in;
    uint32_t ee_val_in;
    int ee_bit_out;
    bool ee_reading;

    /* interrupt moderation */
    int irq_level;
    int64_t next_irq_ns;
    struct vtimer mit_timer, autoneg_timer;
    struct vtimer rdtr_timer, radv_timer, tidv_timer, tadv_timer;

    struct e1000_tx tx;
    bool in_xmit;                  /* start_xmit does not re-enter */
};

/* Register the card at devfn with this MAC; the back end is linked to s->port afterwards. */
int e1000_init(struct e1000 *s, struct pci_bus *bus, uint8_t devfn, struct phys_mem *mem,
               struct vclock *clock, struct pcvm_log *log, const uint8_t mac[6], const char *id);
/* Power-on / PCI reset state (registers, PHY, EEPROM shift state; MAC in RA[0]). */
void e1000_reset(struct e1000 *s);
/* Stop timers and drop queued frames. */
void e1000_destroy(struct e1000 *s);
/* The card's saved state (registers, PHY, EEPROM, timers, the packet being gathered). */
extern const struct vmstate_desc e1000_vmstate;
/* MMIO register access at a BAR0 offset (also used by the fuzz target). */
uint32_t e1000_mmio_read(void *opaque, uint32_t offset, unsigned size);
void e1000_mmio_write(void *opaque, uint32_t offset, uint32_t value, unsigned size);

#endif
