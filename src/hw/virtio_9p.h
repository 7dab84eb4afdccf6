/* virtio-9p (virtio 1.x section 5.10 as QEMU and Linux use it) over the virtio-PCI transport:
 * one request queue carrying 9P2000.L messages to a p9 server over a host directory; the
 * mount tag in config space. */
#ifndef PCVM_HW_VIRTIO_9P_H
#define PCVM_HW_VIRTIO_9P_H

#include "fs/p9.h"
#include "hw/virtio_pci.h"

#define VIRTIO_9P_TAG_MAX 255
#define VIRTIO_9P_QUEUE_SIZE 128
#define VIRTIO_9P_F_MOUNT_TAG (1ull << 0)

struct virtio_9p {
    struct virtio_pci vp;
    struct p9_server server;
    uint8_t config[2 + VIRTIO_9P_TAG_MAX];   /* tag length, tag */
    struct virtq_elem *elem;
    uint8_t *req, *reply;                   /* P9_MAX_MSIZE each */
    char blocker[VIRTIO_9P_TAG_MAX + 80];   /* virtio_9p_snapshot_blocker's answer */
};

/* Register the device at devfn sharing path under mount_tag; 0 or -1 with one line in err. */
int virtio_9p_init(struct virtio_9p *s, struct pci_bus *bus, uint8_t devfn, struct phys_mem *mem,
                   struct pcvm_log *log, const char *path, const char *mount_tag, enum p9_security security,
                   bool readonly, bool legacy, bool modern, char *err, size_t errlen);
/* The device model's reset hook (opaque is the struct virtio_9p). */
void virtio_9p_reset(void *opaque);
/* While the guest has the share mounted (holds fids), why the machine cannot be saved (as
 * QEMU, which blocks migration then); NULL once it has unmounted. opaque: the struct virtio_9p. */
const char *virtio_9p_snapshot_blocker(void *opaque);
/* The transport's state (queues, MSI-X); saved only while no fid exists. */
extern const struct vmstate_desc virtio_9p_vmstate;
/* Close the share and free the buffers. */
void virtio_9p_destroy(struct virtio_9p *s);

#endif
