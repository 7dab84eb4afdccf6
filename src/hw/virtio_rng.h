/* virtio-rng (virtio 1.x section 5.4): fills each writable buffer the driver queues with bytes
 * from the host's getrandom(2). */
#ifndef PCVM_HW_VIRTIO_RNG_H
#define PCVM_HW_VIRTIO_RNG_H

#include "hw/virtio_pci.h"

struct virtio_rng {
    struct virtio_pci vp;
    struct virtq_elem elem;
    uint64_t bytes_given;          /* statistics (tests) */
};

/* Saved state (the transport's); the device model's reset hook. */
extern const struct vmstate_desc virtio_rng_vmstate;
void virtio_rng_reset(void *opaque);

/* Register the device at devfn. Returns 0 or -1. */
int virtio_rng_init(struct virtio_rng *s, struct pci_bus *bus, uint8_t devfn, struct phys_mem *mem,
                    struct pcvm_log *log, bool legacy, bool modern);

#endif
