/* The board's network: the back ends from -netdev/-net/-nic and the cards joined to them. */
#ifndef PCVM_MACHINE_PC_NET_H
#define PCVM_MACHINE_PC_NET_H

#include <stddef.h>

#include "cli/config.h"
#include "hw/devmodel.h"
#include "hw/e1000.h"
#include "hw/rtl8139.h"
#include "hw/fw_cfg.h"
#include "hw/pci.h"
#include "hw/virtio_net.h"
#include "net/socket.h"
#include "net/tap.h"
#include "net/user.h"
#include "util/log.h"
#include "util/mainloop.h"
#include "util/vclock.h"

struct monitor;
struct monitor_registry;

struct pc_netdev {
    const struct vm_netdev *cfg;
    char label[96];                /* how messages name it: "-netdev user,id=net0", "-net user" */
    struct net_user *user;         /* one of these three */
    struct net_socket *socket;
    struct net_tap *tap;
    struct net_port *port;         /* the back end's end of the link */
};

struct pc_nic {
    const struct vm_nic *cfg;
    struct e1000 *e1000;           /* one of these three, by model */
    struct rtl8139 *rtl8139;
    struct virtio_net *virtio;
    struct pci_device *pci;        /* the card's PCI function */
    struct net_port *port;
};

struct pc_net {
    struct pc_netdev netdevs[VM_MAX_NETDEVS];
    unsigned n_netdevs;
    struct pc_nic nics[VM_MAX_NICS];
    unsigned n_nics;
    struct net_dump *dumps[VM_MAX_FILTERS];   /* -object filter-dump */
    unsigned n_dumps;
};

/* Create the back ends and the cards (on free PCI slots from slot 2 on); 0 or -1 with err. */
int pc_net_create(struct pc_net *net, const struct vm_config *cfg, struct pci_bus *pci,
                  struct phys_mem *mem, struct vclock *clock, struct mainloop *ml,
                  struct pcvm_log *log, char *err, size_t errlen);
/* Give SeaBIOS each card's option ROM through fw_cfg ("pciVVVV,DDDD.rom": Debian's iPXE from
 * ipxe-qemu, or romfile=); 0 or -1 with err when a romfile= cannot be read. */
int pc_net_add_roms(struct pc_net *net, struct fw_cfg *fw, char *err, size_t errlen);
/* Append each card's firmware boot path (QEMU's "/pci@i0cf8/ethernet@S/ethernet-phy@0") to buf. */
void pc_net_boot_paths(const struct pc_net *net, char *buf, size_t len);
/* Add info network, info usernet, hostfwd_add, hostfwd_remove and set_link to the monitor. */
void pc_net_monitor_register(struct pc_net *net, struct monitor_registry *reg);
/* The device-list entry of card i: type, state, reset, PCI view; the caller adds id and info. */
void pc_net_card_device(struct pc_net *net, unsigned i, struct device *d);
/* Reset every card (system reset). */
void pc_net_reset(struct pc_net *net);
/* Close the back ends and free the cards. */
void pc_net_destroy(struct pc_net *net);

#endif
