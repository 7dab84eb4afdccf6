/* The board's virtio devices: virtio-blk-pci for -drive if=virtio and -device virtio-blk-pci,drive=
 * (over -drive if=none), virtio-rng-pci, virtio-9p-pci for -virtfs and -fsdev + -device, and
 * virtio-serial-pci with its virtconsole and virtserialport ports. */
#ifndef PCVM_MACHINE_PC_VIRTIO_H
#define PCVM_MACHINE_PC_VIRTIO_H

#include <stdbool.h>
#include <stddef.h>

#include "block/block.h"
#include "cli/config.h"
#include "cli/wiring.h"
#include "hw/devmodel.h"
#include "hw/pci.h"
#include "hw/virtio_9p.h"
#include "hw/virtio_blk.h"
#include "hw/virtio_rng.h"
#include "hw/virtio_serial.h"
#include "util/log.h"

#define PC_MAX_VIRTIO 16

struct pc_virtio {
    struct virtio_blk *blk[PC_MAX_VIRTIO];
    struct block_dev *bs[PC_MAX_VIRTIO];   /* opened for blk[i], owned */
    char bs_name[PC_MAX_VIRTIO][64];       /* its drive's id, or virtioN as QEMU names if=virtio */
    unsigned n_blk;
    struct virtio_rng *rng[PC_MAX_VIRTIO];
    unsigned n_rng;
    struct virtio_9p *p9[PC_MAX_VIRTIO];
    const struct vm_fsdev *p9_fsdev[PC_MAX_VIRTIO];   /* the -fsdev each shares */
    unsigned n_9p;
    struct virtio_serial *serial[PC_MAX_VIRTIO];
    char serial_id[PC_MAX_VIRTIO][64];     /* its -device id ("" none): ports name ID.0 as bus */
    unsigned n_serial;
};

/* Open the virtio drives and create the devices on free PCI slots (command-line order: -drive
 * if=virtio first, then -device); 0 or -1 with one line in err. */
int pc_virtio_create(struct pc_virtio *v, const struct vm_config *cfg, const struct vm_chardevs *chardevs,
                     struct pci_bus *pci, struct phys_mem *mem, struct pcvm_log *log,
                     struct block_aio_pool *aio, char *err, size_t errlen);
/* The device-model entry of the i-th virtio device (state, reset, PCI function); false when i
 * is beyond the last. Its id is TYPE.N (N counting devices of that type). */
bool pc_virtio_device(struct pc_virtio *v, unsigned i, struct device *d);
/* System reset of every virtio device. */
void pc_virtio_reset(struct pc_virtio *v);
/* Close the drives and free the devices (after the aio pool has drained). */
void pc_virtio_destroy(struct pc_virtio *v);

#endif
