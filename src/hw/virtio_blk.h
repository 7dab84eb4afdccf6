/* virtio-blk (virtio 1.x section 5.2) over the virtio-PCI transport: read, write, flush,
 * get-id, discard and write-zeroes on one request queue, through the block layer's aio threads
 * (pool NULL: synchronously). Cache semantics as IDE: writeback unless the image's cache mode or
 * the driver (CONFIG_WCE / no FLUSH negotiated) asks for writethrough. */
#ifndef PCVM_HW_VIRTIO_BLK_H
#define PCVM_HW_VIRTIO_BLK_H

#include "block/block.h"
#include "hw/virtio_pci.h"

#define VIRTIO_BLK_CONFIG_LEN 60
#define VIRTIO_BLK_QUEUE_SIZE 256

struct virtio_blk {
    struct virtio_pci vp;
    struct block_dev *bs;
    struct block_aio_pool *aio;    /* NULL: requests complete before notify returns */
    uint8_t config[VIRTIO_BLK_CONFIG_LEN];
    char serial[21];               /* GET_ID answer (20 bytes, NUL-padded) */
    uint32_t epoch;                /* bumped by reset: late completions are dropped */
    unsigned in_flight;
};

/* Saved state (requests in flight finish first); the device model's reset hook. */
extern const struct vmstate_desc virtio_blk_vmstate;
void virtio_blk_reset(void *opaque);

/* Register the device at devfn over bs (not owned). Returns 0 or -1. */
int virtio_blk_init(struct virtio_blk *s, struct pci_bus *bus, uint8_t devfn, struct phys_mem *mem,
                    struct pcvm_log *log, struct block_dev *bs, struct block_aio_pool *aio,
                    const char *serial, bool legacy, bool modern);

#endif
